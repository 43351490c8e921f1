/** Running models from `/api/ps`: where their memory is, slots, queue, expiry; unload. */

import * as React from 'react';

import { Section } from './components';
import { formatBytes, formatProcessor, formatUntil } from './format';
import type { PanelModel } from './model';
import type { RunningModel } from './wire';

export function RunningModels(props: { model: PanelModel; now: number }): JSX.Element {
  const { model, now } = props;
  const queue = model.queue;
  const waiting = queue ? queue.waiting + queue.waiting_for_memory : 0;
  return (
    <Section
      title="Running"
      extra={
        <span className="jp-Ollama-count">
          {waiting ? `${waiting} queued · ` : ''}
          {model.running.length}
        </span>
      }
    >
      {model.loaded && model.running.length === 0 && (
        <div className="jp-Ollama-empty">Nothing loaded: a request loads its model.</div>
      )}
      <ul className="jp-Ollama-list" aria-label="Running models">
        {model.running.map(running => (
          <RunningRow key={running.name} running={running} model={model} now={now} />
        ))}
      </ul>
    </Section>
  );
}

function RunningRow(props: { running: RunningModel; model: PanelModel; now: number }): JSX.Element {
  const { running, model, now } = props;
  const gpu = running.size_vram;
  const cpu = Math.max(0, running.size - gpu);
  // Each GPU it uses with its share (a model split over GPUs shows every one), then the CPU's.
  const gpus = running.placement?.gpus.length
    ? running.placement.gpus.map(g => `GPU${g.index} ${formatBytes(Math.max(g.estimated, g.measured ?? 0))}`)
    : [gpu ? `${running.device.toUpperCase()} ${formatBytes(gpu)}` : ''];
  const where = [...gpus, cpu ? `CPU ${formatBytes(cpu)}` : ''].filter(Boolean).join(' + ');
  const busy = model.busy.has(running.name);
  return (
    <li className="jp-Ollama-row" data-running={running.name}>
      <div className="jp-Ollama-rowMain">
        <span className="jp-Ollama-name">{running.name}</span>
        <span className="jp-Ollama-facts">
          {where || formatBytes(running.size)}
          {gpu && cpu ? ` (${formatProcessor(running.size, running.size_vram)})` : ''} · ctx {running.context_length}
        </span>
        <span className="jp-Ollama-facts">
          slots {running.slots_busy}/{running.slots_total} · queue {running.requests_queued} · expires{' '}
          {formatUntil(running.expires_at, now)}
        </span>
      </div>
      <div className="jp-Ollama-rowActions">
        <button
          type="button"
          className="jp-Ollama-textButton"
          aria-label={`Unload ${running.name}`}
          title="Free its memory now (keep_alive 0)"
          disabled={busy}
          onClick={() => void model.unload(running.name)}
        >
          Unload
        </button>
      </div>
    </li>
  );
}
