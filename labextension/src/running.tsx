/**
 * Running models from `/api/ps`: where their memory is, slots, queue, expiry; unload. A remote
 * model is marked remote, with each engine of its pool up or down (red, with why) and its capacity.
 */

import * as React from 'react';

import { ModelName, Section } from './components';
import type { PanelModel } from './model';
import { EngineView, runningView } from './ps';
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
  const view = runningView(running, now);
  const busy = model.busy.has(running.name);
  return (
    <li
      className="jp-Ollama-row"
      data-running={running.name}
      data-remote={view.remote ? 'true' : undefined}
      data-engines-down={view.remote ? view.enginesDown : undefined}
    >
      <div className="jp-Ollama-rowMain">
        <ModelName name={running.name} remote={view.remote} />
        {view.facts.map((line, i) => (
          <span
            key={i}
            className={i === 0 && view.enginesDown ? 'jp-Ollama-facts jp-Ollama-enginesDown' : 'jp-Ollama-facts'}
          >
            {line}
          </span>
        ))}
        {view.remote && view.engines.length > 0 && (
          <ul className="jp-Ollama-engines" aria-label={`Engines of ${running.name}`}>
            {view.engines.map((engine, i) => (
              <EngineRow key={`${i} ${engine.host}`} engine={engine} />
            ))}
          </ul>
        )}
      </div>
      {view.unloadable && (
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
      )}
    </li>
  );
}

function EngineRow(props: { engine: EngineView }): JSX.Element {
  const { engine } = props;
  // Colours by state (data-state) are in style/base.css, from JupyterLab's theme variables.
  return (
    <li className="jp-Ollama-engine" data-engine={engine.host} data-state={engine.state} title={engine.title}>
      <span className="jp-Ollama-engineDot" aria-hidden="true">
        ●
      </span>
      <span className="jp-Ollama-engineHost">{engine.label}</span>
      <span className="jp-Ollama-facts jp-Ollama-engineState">{engine.text}</span>
      {engine.error && <span className="jp-Ollama-facts jp-Ollama-engineError">{engine.error}</span>}
    </li>
  );
}
