/** The sidebar panel: tabs Models | Chat over one PanelModel, refreshed only while visible. */

import * as React from 'react';
import { ReactWidget, UseSignal, refreshIcon } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';

import { OllamaApi } from './api';
import { Chat } from './chat';
import { ErrorLine, IconButton } from './components';
import { Devices } from './devices';
import { ollamaIcon } from './icon';
import { PanelModel, Tab } from './model';
import { LocalModels, PullBox } from './models';
import { RunningModels } from './running';

export const PANEL_ID = 'jupyter-ollama-panel';

export class OllamaPanel extends ReactWidget {
  constructor(readonly model: PanelModel = new PanelModel(new OllamaApi())) {
    super();
    this.id = PANEL_ID;
    this.title.icon = ollamaIcon;
    this.title.caption = 'Ollama models';
    this.addClass('jp-Ollama-panel');
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.model.startPolling();
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.model.stopPolling();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this.isVisible) {
      this.model.startPolling();
    }
  }

  protected onBeforeDetach(msg: Message): void {
    this.model.stopPolling();
    super.onBeforeDetach(msg);
  }

  dispose(): void {
    this.model.dispose();
    super.dispose();
  }

  render(): JSX.Element {
    return <UseSignal signal={this.model.changed}>{() => <PanelView model={this.model} />}</UseSignal>;
  }
}

const TABS: [Tab, string][] = [
  ['models', 'Models'],
  ['chat', 'Chat']
];

function PanelView(props: { model: PanelModel }): JSX.Element {
  const { model } = props;
  const now = Date.now();
  return (
    <div className="jp-Ollama-view">
      <header className="jp-Ollama-header">
        <h2>Ollama</h2>
        <div className="jp-Ollama-tabs" role="tablist">
          {TABS.map(([tab, label]) => (
            <button
              key={tab}
              type="button"
              role="tab"
              aria-selected={model.tab === tab}
              className={`jp-Ollama-tab ${model.tab === tab ? 'jp-mod-current' : ''}`}
              onClick={() => model.setTab(tab)}
            >
              {label}
            </button>
          ))}
        </div>
        <IconButton icon={refreshIcon} label="Refresh" onClick={() => void model.refresh()} />
      </header>
      {model.refreshError && <ErrorLine message={model.refreshError} />}
      <div className="jp-Ollama-body" role="tabpanel" hidden={model.tab !== 'models'}>
        {model.actionError && <ErrorLine message={model.actionError} onDismiss={() => model.dismissActionError()} />}
        <RunningModels model={model} now={now} />
        <Devices model={model} />
        <PullBox model={model} />
        <LocalModels model={model} now={now} />
      </div>
      <div className="jp-Ollama-body jp-Ollama-chatBody" role="tabpanel" hidden={model.tab !== 'chat'}>
        <Chat model={model} />
      </div>
    </div>
  );
}
