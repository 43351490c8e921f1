import { OllamaError } from '../errors';
import { OllamaClient, PanelModel, REFRESH_MS } from '../model';
import type { ChatChunk, ChatMessage, LocalModel, PullEvent } from '../wire';

import { aborted } from './aborted';

const local = (name: string): LocalModel => ({
  name,
  model: name,
  modified_at: '2026-11-22T12:00:00Z',
  size: 1000,
  digest: 'd',
  details: { family: 'llama', parameter_size: '135M', quantization_level: 'Q4_1' }
});

class FakeApi implements OllamaClient {
  tags = jest.fn(async () => ({ models: [local('smollm2:latest'), local('other:latest')] }));
  ps = jest.fn(async () => ({ models: [], queue: { waiting: 0, waiting_for_memory: 0, capacity: 512 } }));
  system = jest.fn(async () => null);
  copy = jest.fn(async (_source: string, _destination: string) => undefined);
  remove = jest.fn(async (_model: string) => undefined);
  unload = jest.fn(async (_model: string) => undefined);
  pullEvents: PullEvent[] = [];
  /** After the events: end (false) or wait for the abort (true). */
  pullHangs = false;
  chatChunks: ChatChunk[] = [];
  chatHangs = false;
  chatSent: ChatMessage[][] = [];

  async *pull(_model: string, _insecure: boolean, signal: AbortSignal): AsyncGenerator<PullEvent, void, undefined> {
    yield* this.pullEvents;
    if (this.pullHangs) {
      await aborted(signal);
    }
  }

  async *chat(
    _model: string,
    messages: ChatMessage[],
    signal: AbortSignal
  ): AsyncGenerator<ChatChunk, void, undefined> {
    this.chatSent.push(messages);
    yield* this.chatChunks;
    if (this.chatHangs) {
      await aborted(signal);
    }
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await Promise.resolve();
  }
}

describe('PanelModel refresh', () => {
  it('loads the lists, picks a chat model and tells the views', async () => {
    const api = new FakeApi();
    const model = new PanelModel(api);
    const changed = jest.fn();
    model.changed.connect(changed);
    await model.refresh();
    expect(model.models.map(m => m.name)).toEqual(['smollm2:latest', 'other:latest']);
    expect(model.chatModel).toBe('smollm2:latest');
    expect(model.system).toBeNull(); // no /api/system on this server
    expect(model.refreshError).toBeNull();
    expect(changed).toHaveBeenCalled();
  });

  it('shows what failed, and keeps what loaded', async () => {
    const api = new FakeApi();
    api.ps.mockRejectedValueOnce(new OllamaError('server busy', 503));
    const model = new PanelModel(api);
    await model.refresh();
    expect(model.refreshError).toBe('running: server busy');
    expect(model.models).toHaveLength(2);
    await model.refresh();
    expect(model.refreshError).toBeNull();
  });

  it('polls only between start and stop', async () => {
    jest.useFakeTimers();
    try {
      const api = new FakeApi();
      const model = new PanelModel(api);
      model.startPolling();
      await settle();
      expect(api.tags).toHaveBeenCalledTimes(1);
      jest.advanceTimersByTime(REFRESH_MS);
      await settle();
      expect(api.tags).toHaveBeenCalledTimes(2);
      model.stopPolling();
      jest.advanceTimersByTime(10 * REFRESH_MS);
      await settle();
      expect(api.tags).toHaveBeenCalledTimes(2);
    } finally {
      jest.useRealTimers();
    }
  });
});

describe('PanelModel actions', () => {
  it('reports a failed delete inline and refreshes', async () => {
    const api = new FakeApi();
    api.remove.mockRejectedValueOnce(new OllamaError("model 'x' not found", 404));
    const model = new PanelModel(api);
    await model.remove('x');
    expect(model.actionError).toBe("x: model 'x' not found");
    expect(model.busy.size).toBe(0);
    expect(api.tags).toHaveBeenCalledTimes(1);
    model.dismissActionError();
    expect(model.actionError).toBeNull();
  });

  it('copies and unloads through the API', async () => {
    const api = new FakeApi();
    const model = new PanelModel(api);
    await model.copy('smollm2:latest', 'mine');
    await model.unload('smollm2:latest');
    expect(api.copy).toHaveBeenCalledWith('smollm2:latest', 'mine');
    expect(api.unload).toHaveBeenCalledWith('smollm2:latest');
    expect(model.actionError).toBeNull();
  });
});

describe('PanelModel pull', () => {
  it('follows a pull to success, then refreshes the list', async () => {
    const api = new FakeApi();
    api.pullEvents = [
      { status: 'pulling manifest' },
      { status: 'pulling aaaa', digest: 'sha256:aaaa', total: 10, completed: 10 },
      { status: 'success' }
    ];
    const model = new PanelModel(api);
    await model.startPull(' tiny ', true);
    expect(model.pull).toMatchObject({ model: 'tiny', phase: 'success' });
    expect(model.pull?.layers).toHaveLength(1);
    expect(api.tags).toHaveBeenCalledTimes(1);
  });

  it('cancels a running pull', async () => {
    const api = new FakeApi();
    api.pullEvents = [{ status: 'pulling aaaa', digest: 'sha256:aaaa', total: 10, completed: 3 }];
    api.pullHangs = true;
    const model = new PanelModel(api);
    const done = model.startPull('tiny', false);
    await settle();
    expect(model.pulling).toBe(true);
    model.cancelPull();
    await done;
    expect(model.pull).toMatchObject({ phase: 'cancelled', error: null });
    expect(model.pull?.layers[0].completed).toBe(3);
  });

  it('shows an error line from the stream', async () => {
    const api = new FakeApi();
    api.pull = async function* () {
      yield { status: 'pulling manifest' };
      throw new OllamaError('pull model manifest: file does not exist');
    };
    const model = new PanelModel(api);
    await model.startPull('nope', false);
    expect(model.pull).toMatchObject({ phase: 'error', error: 'pull model manifest: file does not exist' });
  });
});

describe('PanelModel chat', () => {
  it('streams a reply and sends the conversation so far', async () => {
    const api = new FakeApi();
    const model = new PanelModel(api);
    await model.refresh();
    api.chatChunks = [
      { model: 'smollm2', message: { role: 'assistant', content: 'Hi' }, done: false },
      {
        model: 'smollm2',
        message: { role: 'assistant', content: ' there' },
        done: true,
        eval_count: 4,
        eval_duration: 1e9
      }
    ];
    await model.send('Hello');
    await model.send('Again');
    expect(api.chatSent[1]).toEqual([
      { role: 'user', content: 'Hello' },
      { role: 'assistant', content: 'Hi there' },
      { role: 'user', content: 'Again' }
    ]);
    expect(model.chat.rate).toBe('4.0 tokens/s');
  });

  it('stops a reply and keeps what came', async () => {
    const api = new FakeApi();
    const model = new PanelModel(api);
    await model.refresh();
    api.chatChunks = [{ model: 'smollm2', message: { role: 'assistant', content: 'Once upon' }, done: false }];
    api.chatHangs = true;
    const done = model.send('A story');
    await settle();
    expect(model.chat.streaming).toBe(true);
    model.stopChat();
    await done;
    expect(model.chat).toMatchObject({ streaming: false, error: null });
    expect(model.chat.messages[1]).toEqual({ role: 'assistant', content: 'Once upon' });
  });

  it('does not send without a model', async () => {
    const api = new FakeApi();
    api.tags.mockResolvedValueOnce({ models: [] });
    const model = new PanelModel(api);
    await model.refresh();
    await model.send('Hello');
    expect(api.chatSent).toHaveLength(0);
  });
});
