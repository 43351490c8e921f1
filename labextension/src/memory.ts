/**
 * The memory of each device in an `/api/system` reading, worked out once for the sidebar's Devices
 * section (state.ts, devices.tsx) and the GpuMonitor widget (widgets/gpu.ts): what each loaded model
 * holds, what other processes use, what is free, and the bars' segments.
 *
 * Both builds bundle this module (the sidebar's and the widgets' esbuild), so it stays pure:
 * no DOM, no JupyterLab, only the types of wire.ts.
 */

import type { ModelMemory, SystemInfo } from './wire';

/** A model on a device; on a GPU, how many of its layers are there. */
export type ModelOnDevice = ModelMemory & { layers?: number };

export interface DeviceMemory {
  /** `gpu0`, `gpu1`, ...; `cpu` for RAM. */
  key: string;
  /** `GPU 0 · NVIDIA H100`, or `RAM`. */
  label: string;
  /** Bytes: the device's memory (RAM: the host's, or a container's limit), and what every process uses. */
  total: number;
  used: number;
  /** `total - used`, never below 0. */
  free: number;
  models: ModelOnDevice[];
  /** What the models say they hold there, summed: estimates, so it can pass `used`. */
  held: number;
  /** The part of `used` that is the models': `held`, at most `used`. */
  byModels: number;
  /** The rest of `used`: other processes. */
  byOthers: number;
  /** Percent busy (GPU utilization; CPU use for RAM), or null where unknown. */
  busy: number | null;
}

/**
 * A reading as the front ends get it: the sidebar's is whole, but the GpuMonitor shows whatever
 * server its kernel polls, and one older than this front end may leave out all but the RAM
 * (and a device's model list), which then count as none.
 */
export type SystemReading = Partial<SystemInfo> & Pick<SystemInfo, 'ram'>;

/** Per GPU (in the reading's order), and the RAM. */
export function systemMemory(system: SystemReading): { gpus: DeviceMemory[]; ram: DeviceMemory } {
  const gpus = (system.gpus ?? []).map(gpu =>
    deviceMemory(
      `gpu${gpu.index}`,
      `GPU ${gpu.index} · ${gpu.name}`,
      gpu.memory_total,
      gpu.memory_used,
      gpu.models ?? [],
      gpu.utilization
    )
  );
  const { ram } = system;
  return { gpus, ram: deviceMemory('cpu', 'RAM', ram.total, ram.used, ram.models ?? [], system.cpu_percent ?? null) };
}

function deviceMemory(
  key: string,
  label: string,
  total: number,
  used: number,
  models: ModelOnDevice[],
  busy: number | null
): DeviceMemory {
  const held = models.reduce((sum, model) => sum + model.size, 0);
  const byModels = Math.min(held, used);
  return {
    key,
    label,
    total,
    used,
    free: Math.max(0, total - used),
    models,
    held,
    byModels,
    byOthers: used - byModels,
    busy
  };
}

/** One segment of a device's bar, in bytes: a model, or what other processes use. */
export type MemorySegment = { kind: 'model'; bytes: number; model: ModelOnDevice } | { kind: 'other'; bytes: number };

/** The bar split by model (the GpuMonitor's): each model as much as it holds, then other processes. */
export function memorySegments(device: DeviceMemory): MemorySegment[] {
  return [
    ...device.models.map(model => ({ kind: 'model' as const, bytes: model.size, model })),
    { kind: 'other', bytes: device.byOthers }
  ];
}

/** The bar in two parts (the sidebar's), as fractions of the device: the models', then the rest used. */
export function memoryFractions(device: DeviceMemory): number[] {
  return device.total > 0 ? [device.byModels / device.total, device.byOthers / device.total] : [];
}
