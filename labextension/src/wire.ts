/**
 * The JSON the panel and the notebook widgets read and send, declared once here and mirroring the
 * Python side: `store.list_models` (`/api/tags`), `scheduler/report.py` (`/api/ps`),
 * `scheduler/system.py` (`/api/system`), and the pull and chat stream lines.
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

// -- /api/system (`scheduler/system.py`, field for field) ----------------------------
// Read by the sidebar's Devices section and by the GpuMonitor widget (widgets/gpu.ts), so this module
// must compile in both builds: types only, no imports.

export interface ModelMemory {
  /** As `/api/ps` names it, e.g. `smollm2:latest`. */
  name: string;
  /** Bytes this model holds on that device. */
  size: number;
}

/** A model's part on one GPU: `size` is the larger of what placement planned and what NVML measured. */
export interface GpuModelMemory extends ModelMemory {
  /** How many of its layers are on this GPU (the rest are on other GPUs or the CPU). */
  layers: number;
  /** Bytes placement planned here. */
  estimated: number;
  /** Bytes NVML saw its load take here; null where not measured. */
  measured: number | null;
}

export interface EvictionInfo {
  model: string;
  /** `cpu`, `gpu0`, ...; '' when OLLAMA_MAX_LOADED_MODELS made room. */
  device: string;
  reason: string;
  /** Unix time, in seconds. */
  at: number;
}

/** What llama.cpp was built with and why (`scheduler/build.py`). */
export interface LlamaBuild {
  /** ggml's backends in the library, e.g. `["CUDA", "CPU"]`. */
  backends: string[];
  gpu_offload: boolean;
  /** The CUDA architectures compiled for (`900`); '' in a CPU build. */
  cuda_architectures: string;
  /** Why this build, as `make setup` recorded it; '' when it was installed another way. */
  reason: string;
  cmake_args: string;
}

export interface SystemGpu {
  index: number;
  name: string;
  memory_total: number;
  /** By every process, as NVML reports it. */
  memory_used: number;
  /** Percent busy, or null where NVML cannot tell. */
  utilization: number | null;
  models: GpuModelMemory[];
}

export interface SystemRam {
  /** The host's RAM, or a container's memory limit where that is less. */
  total: number;
  /** `total - available`. */
  used: number;
  available: number;
  models: ModelMemory[];
  /** `host`, or the cgroup file of the limit: `cgroup v2 memory.max`, `cgroup v1 memory.limit_in_bytes`. */
  source: string;
}

export interface SystemInfo {
  gpus: SystemGpu[];
  /** Why there are no GPUs; null when some were found. */
  gpu_error: string | null;
  /** Whether this llama.cpp build can put models on a GPU. */
  gpu_offload: boolean;
  llama_build: LlamaBuild;
  ram: SystemRam;
  cpu_percent: number;
  /** The latest models unloaded to make room, newest last. */
  evictions: EvictionInfo[];
}

// -- streams -------------------------------------------------------------------------

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
  /** A thinking model's thoughts, apart from its answer (Ollama's `message.thinking`). */
  thinking?: string;
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
