import { SystemReading, memoryFractions, memorySegments, systemMemory } from '../memory';
import type { SystemInfo } from '../wire';

const GB = 1e9;

const system: SystemInfo = {
  gpus: [
    {
      index: 0,
      name: 'NVIDIA H200',
      memory_total: 140 * GB,
      memory_used: 70 * GB,
      utilization: 88,
      models: [
        { name: 'llama3.1:70b', size: 60 * GB, layers: 38, estimated: 60 * GB, measured: null },
        { name: 'smollm2:latest', size: 1 * GB, layers: 25, estimated: 1 * GB, measured: 1 * GB }
      ]
    },
    // Estimates can pass what NVML counts as used; NVML's used can pass the total it reports.
    {
      index: 1,
      name: 'NVIDIA H200',
      memory_total: 140 * GB,
      memory_used: 141 * GB,
      utilization: null,
      models: [{ name: 'llama3.1:70b', size: 150 * GB, layers: 33, estimated: 150 * GB, measured: null }]
    }
  ],
  gpu_error: null,
  gpu_offload: true,
  llama_build: { backends: ['CUDA', 'CPU'], gpu_offload: true, cuda_architectures: '900', reason: '', cmake_args: '' },
  ram: {
    total: 64 * GB,
    used: 16 * GB,
    available: 48 * GB,
    models: [{ name: 'llama3.1:70b', size: 9 * GB }],
    source: 'cgroup v2 memory.max'
  },
  cpu_percent: 40.5,
  evictions: []
};

describe('systemMemory', () => {
  it('works out each GPU, then the RAM: the models, the rest used, free', () => {
    const { gpus, ram } = systemMemory(system);
    expect(gpus.map(g => [g.key, g.label])).toEqual([
      ['gpu0', 'GPU 0 · NVIDIA H200'],
      ['gpu1', 'GPU 1 · NVIDIA H200']
    ]);
    expect(gpus[0]).toMatchObject({
      total: 140 * GB,
      used: 70 * GB,
      free: 70 * GB,
      held: 61 * GB,
      byModels: 61 * GB,
      byOthers: 9 * GB,
      busy: 88
    });
    expect(gpus[0].models.map(m => [m.name, m.layers])).toEqual([
      ['llama3.1:70b', 38],
      ['smollm2:latest', 25]
    ]);
    expect(ram).toMatchObject({ key: 'cpu', label: 'RAM', free: 48 * GB, held: 9 * GB, byOthers: 7 * GB, busy: 40.5 });
  });

  it('never lets the models pass what is used, nor free go below 0', () => {
    const gpu1 = systemMemory(system).gpus[1];
    expect(gpu1).toMatchObject({ held: 150 * GB, byModels: 141 * GB, byOthers: 0, free: 0, busy: null });
  });

  it('reads a reading with only the RAM (an older server) as no GPUs and no models', () => {
    // The GpuMonitor shows whatever server its kernel polls: this reply lacks what the type says.
    const older = { ram: { total: 8 * GB, used: GB, available: 7 * GB } } as unknown as SystemReading;
    const { gpus, ram } = systemMemory(older);
    expect(gpus).toEqual([]);
    expect(ram).toMatchObject({ models: [], held: 0, byModels: 0, byOthers: GB, free: 7 * GB, busy: null });
  });
});

describe('memorySegments', () => {
  it('is each model as much as it holds, then other processes', () => {
    const [gpu0, gpu1] = systemMemory(system).gpus;
    expect(memorySegments(gpu0)).toEqual([
      { kind: 'model', bytes: 60 * GB, model: gpu0.models[0] },
      { kind: 'model', bytes: 1 * GB, model: gpu0.models[1] },
      { kind: 'other', bytes: 9 * GB }
    ]);
    // The bar draws a model's estimate whole (and caps the bar); nothing is left for others.
    expect(memorySegments(gpu1).map(s => s.bytes)).toEqual([150 * GB, 0]);
  });
});

describe('memoryFractions', () => {
  it("is the models' share of the device, then the rest used", () => {
    const { gpus, ram } = systemMemory(system);
    expect(memoryFractions(gpus[0])).toEqual([61 / 140, 9 / 140]);
    expect(memoryFractions(gpus[1])).toEqual([141 / 140, 0]);
    expect(memoryFractions(ram)).toEqual([9 / 64, 7 / 64]);
  });

  it('is nothing for a device without a size', () => {
    const device = systemMemory({ ...system, gpus: [{ ...system.gpus[0], memory_total: 0 }] }).gpus[0];
    expect(memoryFractions(device)).toEqual([]);
  });
});
