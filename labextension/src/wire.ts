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

export interface RunningModel {
  name: string;
  model: string;
  /** Bytes the model holds in all, and of those on a GPU. */
  size: number;
  size_vram: number;
  digest: string;
  details: ModelDetails;
  expires_at: string;
  context_length: number;
  /** `cpu` or `gpu<index>`: the first GPU it uses. */
  device: string;
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
