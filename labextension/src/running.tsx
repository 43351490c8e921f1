/**
 * Running models from `/api/ps`: where their memory is, slots, queue, expiry; unload. A remote
 * model is marked remote, with each engine of its pool up or down (red, with why) and its capacity.
 */

import * as React from 'react';

import { ModelName, Section } from './components';
import type { PanelModel } from './model';
import { EngineState, EngineView, runningView } from './ps';
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

// Inline, as the badge's: the panel's stylesheet is shared; JupyterLab's theme variables suit both themes.
const ENGINES: React.CSSProperties = { listStyle: 'none', margin: '2px 0 0', padding: 0 };
const ENGINE: React.CSSProperties = {
  display: 'flex',
  flexWrap: 'wrap',
  alignItems: 'baseline',
  columnGap: 6,
  padding: '1px 0 1px 6px',
  borderLeft: '2px solid var(--jp-border-color2)'
};
const STATE_COLOR: Record<EngineState, string> = {
  up: 'var(--jp-success-color1)',
  down: 'var(--jp-error-color1)',
  unknown: 'var(--jp-ui-font-color3)'
};
const HOST: React.CSSProperties = {
  fontFamily: 'var(--jp-code-font-family)',
  fontSize: 'var(--jp-ui-font-size0)',
  overflow: 'hidden',
  textOverflow: 'ellipsis',
  whiteSpace: 'nowrap',
  minWidth: 0
};

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
            className="jp-Ollama-facts"
            style={i === 0 && view.enginesDown ? { color: STATE_COLOR.down } : undefined}
          >
            {line}
          </span>
        ))}
        {view.remote && view.engines.length > 0 && (
          <ul className="jp-Ollama-engines" aria-label={`Engines of ${running.name}`} style={ENGINES}>
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
  const color = STATE_COLOR[engine.state];
  const down = engine.state === 'down';
  return (
    <li
      className="jp-Ollama-engine"
      data-engine={engine.host}
      data-state={engine.state}
      title={engine.title}
      style={down ? { ...ENGINE, borderLeftColor: color } : ENGINE}
    >
      <span aria-hidden="true" style={{ color, fontSize: 'var(--jp-ui-font-size0)' }}>
        ●
      </span>
      <span style={{ ...HOST, color: down ? color : undefined }}>{engine.label}</span>
      <span className="jp-Ollama-facts" style={down ? { color, fontWeight: 600 } : undefined}>
        {engine.text}
      </span>
      {engine.error && (
        <span
          className="jp-Ollama-facts jp-Ollama-engineError"
          style={{ color, flexBasis: '100%', wordBreak: 'break-word' }}
        >
          {engine.error}
        </span>
      )}
    </li>
  );
}
