/** Local models (delete, copy) and the pull box with per-layer progress. */

import * as React from 'react';
import { Dialog, InputDialog, showDialog } from '@jupyterlab/apputils';
import { closeIcon, copyIcon, deleteIcon } from '@jupyterlab/ui-components';

import { Bar, ErrorLine, IconButton, ModelName, Section } from './components';
import { formatAgo, formatBytes, formatPercent, shortDigest } from './format';
import type { PanelModel } from './model';
import { isRemoteLocal, localFacts } from './ps';
import { layerFraction, pullFraction } from './state';
import type { LocalModel } from './wire';

export function LocalModels(props: { model: PanelModel; now: number }): JSX.Element {
  const { model, now } = props;
  return (
    <Section title="Local models" extra={<span className="jp-Ollama-count">{model.models.length}</span>}>
      {model.loaded && model.models.length === 0 && (
        <div className="jp-Ollama-empty">No models yet: pull one below.</div>
      )}
      <ul className="jp-Ollama-list">
        {model.models.map(local => (
          <LocalRow key={local.name} local={local} model={model} now={now} />
        ))}
      </ul>
    </Section>
  );
}

function LocalRow(props: { local: LocalModel; model: PanelModel; now: number }): JSX.Element {
  const { local, model, now } = props;
  const facts = localFacts(local);
  const busy = model.busy.has(local.name);
  return (
    <li className="jp-Ollama-row" data-model={local.name}>
      <div className="jp-Ollama-rowMain">
        <ModelName name={local.name} remote={isRemoteLocal(local)} title={`${local.name}\n${local.digest}`} />
        <span className="jp-Ollama-facts">{facts}</span>
        <span className="jp-Ollama-facts">modified {formatAgo(local.modified_at, now)}</span>
      </div>
      <div className="jp-Ollama-rowActions">
        <IconButton
          icon={copyIcon}
          label={`Copy ${local.name}`}
          disabled={busy}
          onClick={() => void copyModel(model, local.name)}
        />
        <IconButton
          icon={deleteIcon}
          label={`Delete ${local.name}`}
          disabled={busy}
          onClick={() => void deleteModel(model, local.name)}
        />
      </div>
    </li>
  );
}

async function deleteModel(model: PanelModel, name: string): Promise<void> {
  const result = await showDialog({
    title: 'Delete model',
    body: `Delete ${name}? Layers no other model uses are removed from disk.`,
    buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
  });
  if (result.button.accept) {
    await model.remove(name);
  }
}

async function copyModel(model: PanelModel, name: string): Promise<void> {
  const result = await InputDialog.getText({
    title: `Copy ${name} as`,
    text: `${name.split(':')[0]}-copy`,
    okLabel: 'Copy'
  });
  if (result.button.accept && result.value) {
    await model.copy(name, result.value.trim());
  }
}

export function PullBox(props: { model: PanelModel }): JSX.Element {
  const { model } = props;
  const [name, setName] = React.useState('');
  const [insecure, setInsecure] = React.useState(false);
  const submit = (event: React.FormEvent) => {
    event.preventDefault();
    void model.startPull(name, insecure);
  };
  const cancel = (event: React.MouseEvent) => {
    event.preventDefault();
    model.cancelPull();
  };
  return (
    <Section title="Pull a model">
      <form className="jp-Ollama-pullForm" onSubmit={submit}>
        <input
          className="jp-Ollama-input"
          aria-label="Model to pull"
          placeholder="llama3.2, hf.co/user/repo:Q4_K_M"
          value={name}
          onChange={event => setName(event.target.value)}
        />
        {/* Distinct keys: the Cancel button must never turn into the submit button under the pointer. */}
        {model.pulling ? (
          <button key="cancel" type="button" className="jp-Button jp-mod-styled jp-mod-warn" onClick={cancel}>
            Cancel
          </button>
        ) : (
          <button key="pull" type="submit" className="jp-Button jp-mod-styled jp-mod-accept" disabled={!name.trim()}>
            Pull
          </button>
        )}
      </form>
      <label className="jp-Ollama-check">
        <input type="checkbox" checked={insecure} onChange={event => setInsecure(event.target.checked)} />
        insecure (http registry)
      </label>
      <PullProgress model={model} />
    </Section>
  );
}

function PullProgress(props: { model: PanelModel }): JSX.Element | null {
  const { model } = props;
  const pull = model.pull;
  if (!pull) {
    return null;
  }
  const outcome = {
    running: `${pull.status} · ${formatPercent(pullFraction(pull))}`,
    success: 'pulled',
    cancelled: 'cancelled',
    error: 'failed'
  }[pull.phase];
  return (
    <div className={`jp-Ollama-pull jp-Ollama-pull-${pull.phase}`} aria-label={`Pull of ${pull.model}`}>
      <div className="jp-Ollama-pullHeader">
        <span className="jp-Ollama-name" title={pull.model}>
          {pull.model}
        </span>
        {!model.pulling && <IconButton icon={closeIcon} label="Dismiss" onClick={() => model.dismissPull()} />}
      </div>
      <div className="jp-Ollama-facts jp-Ollama-pullStatus">{outcome}</div>
      {pull.layers.map(layer => (
        <div key={layer.digest} className="jp-Ollama-layer">
          <div className="jp-Ollama-layerHead">
            <span>{shortDigest(layer.digest)}</span>
            <span>
              {formatBytes(layer.completed)} / {formatBytes(layer.total)}
            </span>
          </div>
          <Bar label={`layer ${shortDigest(layer.digest)}`} parts={[layerFraction(layer)]} />
        </div>
      ))}
      {pull.error && <ErrorLine message={pull.error} />}
    </div>
  );
}
