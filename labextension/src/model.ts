/**
 * What the panel shows and does: the lists it refreshes while visible, and the
 * actions (delete, copy, unload, pull, chat). Views read it and re-render on `changed`.
 */

import { Signal } from '@lumino/signaling';

import type { OllamaApi } from './api';
import { messageOf } from './errors';
import {
  ChatAction,
  ChatState,
  PullAction,
  PullState,
  chatRequest,
  emptyChat,
  reduceChat,
  reducePull,
  startPull
} from './state';
import { StreamedRequest } from './stream';
import type { LocalModel, PsResponse, RunningModel, SystemInfo } from './wire';

export const REFRESH_MS = 2000;

export type Tab = 'models' | 'chat';

/** What the model asks of the server: `OllamaApi`, or a fake in the unit tests. */
export type OllamaClient = Pick<OllamaApi, 'tags' | 'ps' | 'system' | 'copy' | 'remove' | 'unload' | 'pull' | 'chat'>;

export class PanelModel {
  readonly changed = new Signal<PanelModel, void>(this);

  tab: Tab = 'models';
  models: LocalModel[] = [];
  running: RunningModel[] = [];
  queue: PsResponse['queue'] = undefined;
  /** `undefined` until loaded; `null` when the server has no `/api/system`. */
  system: SystemInfo | null | undefined = undefined;
  /** Whether the lists have been loaded once. */
  loaded = false;
  /** The last refresh's failure, shown until a refresh succeeds. */
  refreshError: string | null = null;
  /** The last failed action (delete, copy, unload), until dismissed or the next action. */
  actionError: string | null = null;
  /** Models with a delete, copy or unload in flight. */
  busy = new Set<string>();
  pull: PullState | null = null;
  chat: ChatState = emptyChat;
  chatModel = '';

  private _timer: ReturnType<typeof setTimeout> | null = null;
  private _polling = false;
  private _refreshing: Promise<void> | null = null;
  private readonly _pullRequest = new StreamedRequest();
  private readonly _chatRequest = new StreamedRequest();

  constructor(readonly api: OllamaClient) {}

  get polling(): boolean {
    return this._polling;
  }

  /** Refresh now and every REFRESH_MS until `stopPolling` (the panel is visible). */
  startPolling(): void {
    if (this._polling) {
      return;
    }
    this._polling = true;
    void this._tick();
  }

  stopPolling(): void {
    this._polling = false;
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private async _tick(): Promise<void> {
    this._timer = null;
    await this.refresh();
    if (this._polling && this._timer === null) {
      this._timer = setTimeout(() => void this._tick(), REFRESH_MS);
    }
  }

  /** Local models, running models and devices; one refresh at a time. */
  refresh(): Promise<void> {
    if (!this._refreshing) {
      this._refreshing = this._refresh().finally(() => {
        this._refreshing = null;
      });
    }
    return this._refreshing;
  }

  private async _refresh(): Promise<void> {
    const [tags, ps, system] = await Promise.allSettled([this.api.tags(), this.api.ps(), this.api.system()]);
    const failures: string[] = [];
    if (tags.status === 'fulfilled') {
      this.models = tags.value.models;
      if (!this.models.some(model => model.name === this.chatModel)) {
        this.chatModel = this.models[0]?.name ?? '';
      }
    } else {
      failures.push(`models: ${messageOf(tags.reason)}`);
    }
    if (ps.status === 'fulfilled') {
      this.running = ps.value.models;
      this.queue = ps.value.queue;
    } else {
      failures.push(`running: ${messageOf(ps.reason)}`);
    }
    if (system.status === 'fulfilled') {
      this.system = system.value;
    } else {
      failures.push(`devices: ${messageOf(system.reason)}`);
    }
    this.loaded = true;
    this.refreshError = failures.length ? failures.join('; ') : null;
    this._emit();
  }

  setTab(tab: Tab): void {
    this.tab = tab;
    this._emit();
  }

  dismissActionError(): void {
    this.actionError = null;
    this._emit();
  }

  remove(name: string): Promise<void> {
    return this._act(name, () => this.api.remove(name));
  }

  copy(source: string, destination: string): Promise<void> {
    return this._act(source, () => this.api.copy(source, destination));
  }

  unload(name: string): Promise<void> {
    return this._act(name, () => this.api.unload(name));
  }

  private async _act(name: string, action: () => Promise<void>): Promise<void> {
    this.busy.add(name);
    this.actionError = null;
    this._emit();
    try {
      await action();
    } catch (error) {
      this.actionError = `${name}: ${messageOf(error)}`;
    } finally {
      this.busy.delete(name);
    }
    await this.refresh();
  }

  // -- pull -----------------------------------------------------------------------

  get pulling(): boolean {
    return this.pull?.phase === 'running';
  }

  async startPull(name: string, insecure: boolean): Promise<void> {
    if (this.pulling || !name.trim()) {
      return;
    }
    const model = name.trim();
    await this._pullRequest.run({
      begin: () => {
        this.pull = startPull(model);
        this._emit();
      },
      open: signal => this.api.pull(model, insecure, signal),
      line: event => this._pullStep({ type: 'event', event }),
      end: end => this._pullStep(end.type === 'stopped' ? { type: 'cancelled' } : end)
    });
    await this.refresh();
  }

  cancelPull(): void {
    this._pullRequest.stop();
  }

  dismissPull(): void {
    if (!this.pulling) {
      this.pull = null;
      this._emit();
    }
  }

  private _pullStep(action: PullAction): void {
    if (this.pull) {
      this.pull = reducePull(this.pull, action);
      this._emit();
    }
  }

  // -- chat -----------------------------------------------------------------------

  setChatModel(name: string): void {
    this.chatModel = name;
    this._emit();
  }

  async send(content: string): Promise<void> {
    const text = content.trim();
    if (this.chat.streaming || !text || !this.chatModel) {
      return;
    }
    const messages = chatRequest(this.chat, text);
    await this._chatRequest.run({
      begin: () => this._chatStep({ type: 'send', content: text }),
      open: signal => this.api.chat(this.chatModel, messages, signal),
      line: chunk => this._chatStep({ type: 'chunk', chunk }),
      end: end => this._chatStep(end)
    });
  }

  stopChat(): void {
    this._chatRequest.stop();
  }

  clearChat(): void {
    this._chatStep({ type: 'clear' });
  }

  private _chatStep(action: ChatAction): void {
    this.chat = reduceChat(this.chat, action);
    this._emit();
  }

  dispose(): void {
    this.stopPolling();
    this._pullRequest.stop();
    this._chatRequest.stop();
    Signal.clearData(this);
  }

  private _emit(): void {
    this.changed.emit();
  }
}
