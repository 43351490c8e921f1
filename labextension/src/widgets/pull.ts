/** PullWidget's view: a bar per layer, speed and time left, then success or the error. */

import type { RenderProps } from '@anywidget/types';

import { formatBytes, formatSpan, shortDigest } from '../format';
import { errorLine, fill, h } from './dom';

interface Layer {
  digest: string;
  total?: number;
  completed?: number;
}

interface PullState {
  name: string;
  layers: Layer[];
  status: string;
  done: boolean;
  error: string;
  success: boolean;
  completed: number;
  total: number;
  speed: number;
  eta: number | null;
}

function layerRow(layer: Layer): HTMLElement {
  const total = layer.total || 0;
  const completed = Math.min(layer.completed || 0, total);
  const percent = total ? Math.floor((100 * completed) / total) : 0;
  const digest = shortDigest(layer.digest || '');
  return h(
    'div',
    { class: 'jo-layer' },
    h('code', { class: 'jo-digest', title: layer.digest }, digest),
    h('progress', { class: 'jo-progress', max: 100, value: percent, 'aria-label': `layer ${digest}` }),
    h('span', { class: 'jo-amount' }, total ? `${formatBytes(completed)} / ${formatBytes(total)}` : ''),
    h('span', { class: 'jo-percent' }, total ? `${percent}%` : '')
  );
}

function summaryOf(state: PullState): string {
  const { done, success, total, completed, speed, eta, layers } = state;
  if (!done && total) {
    return [
      `${formatBytes(completed)} of ${formatBytes(total)}`,
      speed > 0 ? `${formatBytes(speed)}/s` : null,
      eta !== null && eta !== undefined ? `${formatSpan(eta)} left` : null
    ]
      .filter(Boolean)
      .join(' · ');
  }
  if (done && success && total) {
    return `${formatBytes(total)} in ${layers.length} layer${layers.length === 1 ? '' : 's'}`;
  }
  return '';
}

const TRAITS: (keyof PullState)[] = [
  'layers',
  'status',
  'done',
  'error',
  'success',
  'completed',
  'total',
  'speed',
  'eta',
  'name'
];

function render({ model, el }: Pick<RenderProps<PullState>, 'model' | 'el'>): () => void {
  el.classList.add('jo-widget', 'jo-pull');

  function draw(): void {
    const state = Object.fromEntries(TRAITS.map(name => [name, model.get(name)])) as unknown as PullState;
    const badge = state.done
      ? h('span', { class: `jo-badge ${state.success ? 'jo-ok' : 'jo-bad'}` }, state.success ? '✓ success' : '✗ failed')
      : h('span', { class: 'jo-badge' }, state.status || 'starting');
    const rows = state.layers.map(layerRow);
    const summary = summaryOf(state);
    fill(
      el,
      h(
        'div',
        { class: 'jo-toolbar' },
        h('span', { class: 'jo-title' }, 'Pull'),
        h('code', { class: 'jo-name' }, state.name),
        h('span', { class: 'jo-spacer' }),
        badge
      ),
      rows.length ? h('div', { class: 'jo-layers' }, rows) : null,
      summary ? h('div', { class: 'jo-summary jo-muted' }, summary) : null,
      errorLine(state.error)
    );
  }

  // One update changes several traits: draw once after all of them.
  let queued = false;
  const schedule = (): void => {
    if (queued) {
      return;
    }
    queued = true;
    queueMicrotask(() => {
      queued = false;
      draw();
    });
  };
  for (const name of TRAITS) {
    model.on(`change:${name}`, schedule);
  }
  draw();
  return () => {
    for (const name of TRAITS) {
      model.off(`change:${name}`, schedule);
    }
  };
}

export default { render };
