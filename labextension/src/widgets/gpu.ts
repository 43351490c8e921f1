/**
 * GpuMonitor's view of `system` (GET /api/system): per GPU a memory bar split by model and its
 * utilization; the RAM bar split by the models on the CPU.
 */

import type { RenderProps } from '@anywidget/types';

import { formatBytes } from '../format';
import { errorLine, fill, h, legend, Segment, stackedBar } from './dom';

interface ModelMemory {
  name: string;
  size: number;
  /** On a GPU: how many of the model's layers are there (the rest are on other GPUs or the CPU). */
  layers?: number;
}

interface LlamaBuild {
  backends: string[];
  gpu_offload: boolean;
  cuda_architectures: string;
  reason: string;
}

interface Gpu {
  index: number;
  name: string;
  memory_total: number;
  memory_used: number;
  utilization: number | null;
  models?: ModelMemory[];
}

interface SystemInfo {
  gpus?: Gpu[];
  gpu_error?: string | null;
  gpu_offload?: boolean;
  llama_build?: LlamaBuild;
  ram?: { total: number; used: number; available: number; models?: ModelMemory[] };
  cpu_percent?: number;
}

interface GpuState {
  system: SystemInfo | null;
  error: string;
}

function memorySegments(models: ModelMemory[], used: number, colors: Map<string, number>): Segment[] {
  const segments: Segment[] = models.map(m => ({
    value: m.size,
    label: m.layers === undefined ? m.name : `${m.name} · ${m.layers} layers`,
    kind: 'model',
    color: colors.get(m.name)
  }));
  const held = models.reduce((a, m) => a + m.size, 0);
  segments.push({ value: Math.max(0, used - held), label: 'other processes', kind: 'other' });
  return segments;
}

function device(
  title: string,
  side: HTMLElement | null,
  total: number,
  used: number,
  models: ModelMemory[],
  colors: Map<string, number>
): HTMLElement {
  const segments = memorySegments(models, used, colors);
  return h(
    'div',
    { class: 'jo-device' },
    h(
      'div',
      { class: 'jo-device-head' },
      h('span', { class: 'jo-device-name' }, title),
      h('span', { class: 'jo-spacer' }),
      side
    ),
    stackedBar(total, segments, formatBytes),
    h(
      'div',
      { class: 'jo-device-foot jo-muted' },
      `${formatBytes(used)} / ${formatBytes(total)} used`,
      h('span', { class: 'jo-spacer' }),
      `${formatBytes(Math.max(0, total - used))} free`
    ),
    legend(segments, formatBytes)
  );
}

function meter(percent: number, label: string, text: string): HTMLElement {
  return h('span', { class: 'jo-util' }, h('meter', { min: 0, max: 100, value: percent, 'aria-label': label }), text);
}

function utilization(percent: number | null | undefined): HTMLElement {
  if (percent === null || percent === undefined) {
    return h('span', { class: 'jo-muted', title: "NVML cannot read this GPU's utilization" }, 'utilization n/a');
  }
  return meter(percent, 'GPU utilization', ` ${percent}% busy`);
}

/** What llama.cpp was built with and why, e.g. "llama.cpp: CUDA (architectures 900) + CPU · GPU offload". */
function buildLine(build: LlamaBuild | undefined): HTMLElement | null {
  if (!build) {
    return null;
  }
  const backends = build.backends
    .map(b => (b === 'CUDA' && build.cuda_architectures ? `CUDA (architectures ${build.cuda_architectures})` : b))
    .join(' + ');
  const text = `llama.cpp: ${backends || 'unknown'} · ${build.gpu_offload ? 'GPU offload' : 'CPU only'}`;
  return h('div', { class: 'jo-muted jo-detail jo-build' }, build.reason ? `${text} — ${build.reason}` : text);
}

function render({ model, el }: Pick<RenderProps<GpuState>, 'model' | 'el'>): () => void {
  el.classList.add('jo-widget', 'jo-gpu');

  function draw(): void {
    const info = model.get('system') || {};
    const error = model.get('error');
    const parts: (HTMLElement | null)[] = [];
    const ram = info.ram;
    if (!ram) {
      parts.push(h('div', { class: 'jo-muted jo-waiting' }, error ? '' : "Reading the server's devices…"));
    } else {
      const gpus = info.gpus || [];
      // One colour per model, the same on every device it appears on.
      const names = [...new Set([...gpus.flatMap(g => g.models || []), ...(ram.models || [])].map(m => m.name))].sort();
      const colors = new Map(names.map((name, i) => [name, i]));
      if (gpus.length) {
        for (const gpu of gpus) {
          parts.push(
            device(
              `GPU ${gpu.index} · ${gpu.name}`,
              utilization(gpu.utilization),
              gpu.memory_total,
              gpu.memory_used,
              gpu.models || [],
              colors
            )
          );
        }
        if (!info.gpu_offload) {
          parts.push(h('div', { class: 'jo-note' }, "This server's llama.cpp is a CPU build: models run on the CPU."));
        }
      } else {
        parts.push(
          h(
            'div',
            { class: 'jo-note jo-no-gpu' },
            h('strong', {}, 'No NVIDIA GPU on the server'),
            ' — models run on the CPU.',
            info.gpu_error ? h('div', { class: 'jo-muted jo-detail' }, info.gpu_error) : null
          )
        );
      }
      const cpu =
        typeof info.cpu_percent === 'number'
          ? meter(info.cpu_percent, 'CPU use', ` CPU ${info.cpu_percent.toFixed(0)}%`)
          : null;
      parts.push(device('RAM', cpu, ram.total, ram.used, ram.models || [], colors));
      if (!(ram.models || []).length && !gpus.some(g => (g.models || []).length)) {
        parts.push(h('div', { class: 'jo-muted jo-detail' }, 'No model is loaded right now.'));
      }
      parts.push(buildLine(info.llama_build));
    }
    fill(
      el,
      h(
        'div',
        { class: 'jo-toolbar' },
        h('span', { class: 'jo-title' }, 'Devices'),
        h('span', { class: 'jo-muted' }, 'on the server'),
        h('span', { class: 'jo-spacer' })
      ),
      ...parts,
      errorLine(error)
    );
  }

  model.on('change:system', draw);
  model.on('change:error', draw);
  draw();
  return () => {
    model.off('change:system', draw);
    model.off('change:error', draw);
  };
}

export default { render };
