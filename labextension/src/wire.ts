/**
 * The JSON the panel reads and sends, mirroring the Python side: `store.list_models`
 * (`/api/tags`), `scheduler/report.py` (`/api/ps`), `api/system` (`/api/system`), and
 * the pull and chat stream lines.
 */

export interface ModelDetails {
  parent_model?: string;
  format?: string;
  family: string;
  families?: string[] | null;
  parameter_size: string;
  quantization_level: string;
}

export interface LocalModel {
  name: string;
  model: string;
  modified_at: string;
  size: number;
  digest: string;
  details: ModelDetails;
  /** A remote model (Ollama's fields): its name on the engines, and its (first) engine. */
  remote_model?: string;
  remote_host?: string;
  /** Ours, for a pool: every engine, with its API where it was named. */
  remote_hosts?: { host: string; api?: string }[];
}

export interface TagsResponse {
  models: LocalModel[];
}

export interface SlotState {
  id: number;
  state: string;
  n_ctx: number;
  kv_tokens: number;
}

/** One engine of a remote model's pool (`remote/engine.py` describe): its state and capacity where it says. */
export interface RemoteEngine {
  host: string;
  /** `openai`, `ollama` or `unknown` (not detected yet). */
  api: string;
  /** `up`, `down` or `unknown` (not checked yet). */
  state: string;
  /** Why it is down (or the last failure). */
  error?: string;
  in_flight: number;
  /** The engine's own slots, null where it does not report them; last known while down. */
  slots_total: number | null;
  slots_busy: number | null;
  requests_waiting: number | null;
  /** Where the capacity came from: `slots`, `metrics`, `health`, or `in flight` (ours). */
  signal?: string;
  requests_total?: number;
  failures_total?: number;
}

/** A remote model's pool (`remote/pool.py` describe): its engines and their sums. */
export interface RemotePool {
  remote_model: string;
  engines: RemoteEngine[];
  engines_up: number;
  in_flight: number;
  /** Null where some engine up does not say how many slots it has. */
  slots_total: number | null;
  slots_busy: number;
  requests_waiting: number;
  retries_total?: number;
}

export interface RunningModel {
  name: string;
  model: string;
  /** Bytes the model holds in all, and of those on a GPU (0 for a remote model). */
  size: number;
  size_vram: number;
  digest: string;
  details: ModelDetails;
  expires_at: string;
  /** 0 (or absent) where unknown: a remote model's engines choose it. */
  context_length?: number;
  /** `cpu`, `gpu<index>` (the first GPU it uses), or `remote`. */
  device: string;
  /** A remote model: the model's name on its engines, the first engine, and the pool. */
  remote_model?: string;
  remote_host?: string | string[];
  remote?: RemotePool;
  /** Where its layers are (ours): per GPU the layers and bytes planned there, and what NVML measured. */
  placement?: {
    gpu_layers: number;
    layers: number;
    reason: string;
    ram: number;
    gpus: { index: number; layers: number; estimated: number; measured: number | null }[];
  };
  slots_total: number;
  slots_busy: number;
  requests_queued: number;
  memory?: { weights: number; kv_cache: number; compute: number };
  tokens_per_second?: number;
  slots?: SlotState[];
}

export interface PsResponse {
  models: RunningModel[];
  queue?: { waiting: number; waiting_for_memory: number; capacity: number };
}

export interface ModelMemory {
  name: string;
  size: number;
}

export interface GpuInfo {
  index: number;
  name: string;
  memory_total: number;
  memory_used: number;
  /** Percent busy, or null where the driver does not say. */
  utilization: number | null;
  models: ModelMemory[];
}

export interface SystemInfo {
  gpus: GpuInfo[];
  gpu_error: string | null;
  gpu_offload: boolean;
  ram: { total: number; used: number; available: number; models: ModelMemory[] };
  cpu_percent: number;
}

/** One line of `/api/pull`: a status, with byte counts while a layer downloads. */
export interface PullEvent {
  status: string;
  digest?: string;
  total?: number;
  completed?: number;
}

export type Role = 'system' | 'user' | 'assistant' | 'tool';

export interface ChatMessage {
  role: Role;
  content: string;
}

/** One line of `/api/chat`; the last (`done: true`) carries the timings, in nanoseconds. */
export interface ChatChunk {
  model: string;
  message?: ChatMessage;
  done: boolean;
  done_reason?: string;
  eval_count?: number;
  eval_duration?: number;
  prompt_eval_count?: number;
  total_duration?: number;
}
