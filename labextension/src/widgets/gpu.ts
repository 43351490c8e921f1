/**
 * GpuMonitor's view of `system` (GET /api/system): per GPU a memory bar split by model and its
 * utilization; the RAM bar split by the models on the CPU.
 */

import type { RenderProps } from '@anywidget/types';

import { formatBytes } from '../format';
import { DeviceMemory, memorySegments, systemMemory } from '../memory';
import type { LlamaBuild, SystemInfo } from '../wire';
import { errorLine, fill, h, legend, Segment, stackedBar } from './dom';

interface GpuState {
  /** `{}` until the first reading (and a server older than this front end leaves newer fields out). */
  system: Partial<SystemInfo> | null;
  error: string;
}

/** The bar's segments as dom.ts draws them: a model named with its layers there, in its colour. */
function segments(device: DeviceMemory, colors: Map<string, number>): Segment[] {
  return memorySegments(device).map(segment => {
    if (segment.kind === 'other') {
      return { value: segment.bytes, label: 'other processes', kind: 'other' };
    }
    const { name, layers } = segment.model;
    const label = layers === undefined ? name : `${name} · ${layers} layers`;
    return { value: segment.bytes, label, kind: 'model', color: colors.get(name) };
  });
}

function device(memory: DeviceMemory, side: HTMLElement | null, colors: Map<string, number>): HTMLElement {
  const { label, total, used, free } = memory;
  const bar = segments(memory, colors);
  return h(
    'div',
    { class: 'jo-device' },
    h(
      'div',
      { class: 'jo-device-head' },
      h('span', { class: 'jo-device-name' }, label),
      h('span', { class: 'jo-spacer' }),
      side
    ),
    stackedBar(total, bar, formatBytes),
    h(
      'div',
      { class: 'jo-device-foot jo-muted' },
      `${formatBytes(used)} / ${formatBytes(total)} used`,
      h('span', { class: 'jo-spacer' }),
      `${formatBytes(free)} free`
    ),
    legend(bar, formatBytes)
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
      const memory = systemMemory({ ...info, ram });
      const devices = [...memory.gpus, memory.ram];
      // One colour per model, the same on every device it appears on.
      const names = [...new Set(devices.flatMap(d => d.models).map(m => m.name))].sort();
      const colors = new Map(names.map((name, i) => [name, i]));
      if (memory.gpus.length) {
        for (const gpu of memory.gpus) {
          parts.push(device(gpu, utilization(gpu.busy), colors));
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
      const cpu = memory.ram.busy;
      parts.push(device(memory.ram, cpu === null ? null : meter(cpu, 'CPU use', ` CPU ${cpu.toFixed(0)}%`), colors));
      if (!devices.some(d => d.models.length)) {
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
