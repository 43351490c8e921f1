import {
  PullAction,
  PullState,
  chatRequest,
  deviceBars,
  emptyChat,
  layerFraction,
  pullFraction,
  reduceChat,
  reducePull,
  startPull
} from '../state';
import type { ChatChunk, SystemInfo } from '../wire';

const A = 'sha256:' + 'a'.repeat(64);
const B = 'sha256:' + 'b'.repeat(64);

function run(actions: PullAction[]): PullState {
  return actions.reduce(reducePull, startPull('smol'));
}

const event = (status: string, digest?: string, total?: number, completed?: number): PullAction => ({
  type: 'event',
  event: { status, digest, total, completed }
});

describe('pull progress', () => {
  it('tracks each layer in the order it first appears', () => {
    const state = run([
      event('pulling manifest'),
      event('pulling aaaaaaaaaaaa', A, 1000),
      event('pulling bbbbbbbbbbbb', B, 10, 10),
      event('pulling aaaaaaaaaaaa', A, 1000, 400)
    ]);
    expect(state.phase).toBe('running');
    expect(state.status).toBe('pulling aaaaaaaaaaaa');
    expect(state.layers).toEqual([
      { digest: A, total: 1000, completed: 400 },
      { digest: B, total: 10, completed: 10 }
    ]);
    expect(layerFraction(state.layers[0])).toBe(0.4);
    expect(pullFraction(state)).toBeCloseTo(410 / 1010);
  });

  it('never moves a layer backwards', () => {
    const state = run([event('pulling a', A, 100, 80), event('pulling a', A, 100, 30)]);
    expect(state.layers[0].completed).toBe(80);
  });

  it('succeeds on the success line and then ignores anything else', () => {
    const state = run([
      event('pulling a', A, 100, 100),
      event('verifying sha256 digest'),
      event('writing manifest'),
      event('success'),
      { type: 'failed', message: 'late' }
    ]);
    expect(state.phase).toBe('success');
    expect(state.error).toBeNull();
    expect(pullFraction(state)).toBe(1);
  });

  it('keeps the message of a failure', () => {
    const state = run([event('pulling manifest'), { type: 'failed', message: 'pull model manifest: 404' }]);
    expect(state).toMatchObject({ phase: 'error', error: 'pull model manifest: 404' });
  });

  it('calls a stream that ends without success a failure', () => {
    expect(run([event('pulling a', A, 100, 50), { type: 'ended' }])).toMatchObject({
      phase: 'error',
      error: 'the pull stopped before it finished'
    });
  });

  it('records a cancel', () => {
    const state = run([event('pulling a', A, 100, 50), { type: 'cancelled' }]);
    expect(state.phase).toBe('cancelled');
    expect(state.layers[0].completed).toBe(50);
  });

  it('has no fraction before sizes are known', () => {
    expect(pullFraction(startPull('x'))).toBe(0);
    expect(layerFraction({ digest: A, total: 0, completed: 0 })).toBe(0);
  });
});

const chunk = (content: string, done = false, extra: Partial<ChatChunk> = {}): ChatChunk => ({
  model: 'smollm2',
  message: { role: 'assistant', content },
  done,
  ...extra
});

describe('chat', () => {
  it('streams a reply into the conversation and reports its speed', () => {
    let state = reduceChat(emptyChat, { type: 'send', content: 'Hi' });
    expect(state.streaming).toBe(true);
    state = reduceChat(state, { type: 'chunk', chunk: chunk('Hel') });
    state = reduceChat(state, { type: 'chunk', chunk: chunk('lo!') });
    expect(state.messages).toEqual([
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello!' }
    ]);
    state = reduceChat(state, {
      type: 'chunk',
      chunk: chunk('', true, { eval_count: 30, eval_duration: 1_500_000_000 })
    });
    expect(state).toMatchObject({ streaming: false, rate: '20.0 tokens/s', error: null });
  });

  it('sends the whole conversation with the new message', () => {
    let state = reduceChat(emptyChat, { type: 'send', content: 'one' });
    state = reduceChat(state, { type: 'chunk', chunk: chunk('1', true) });
    expect(chatRequest(state, 'two')).toEqual([
      { role: 'user', content: 'one' },
      { role: 'assistant', content: '1' },
      { role: 'user', content: 'two' }
    ]);
  });

  it('keeps a stopped partial reply and drops an empty one', () => {
    let state = reduceChat(emptyChat, { type: 'send', content: 'Hi' });
    state = reduceChat(state, { type: 'chunk', chunk: chunk('Hel') });
    expect(reduceChat(state, { type: 'stopped' }).messages[1]).toEqual({ role: 'assistant', content: 'Hel' });
    const empty = reduceChat(reduceChat(emptyChat, { type: 'send', content: 'Hi' }), { type: 'stopped' });
    expect(empty.messages).toEqual([{ role: 'user', content: 'Hi' }]);
    expect(empty.streaming).toBe(false);
  });

  it('shows failures and replies cut short', () => {
    const sent = reduceChat(emptyChat, { type: 'send', content: 'Hi' });
    expect(reduceChat(sent, { type: 'failed', message: "model 'x' not found" })).toMatchObject({
      streaming: false,
      error: "model 'x' not found"
    });
    expect(reduceChat(sent, { type: 'ended' }).error).toBe('the reply stopped before it finished');
    const finished = reduceChat(sent, { type: 'chunk', chunk: chunk('ok', true) });
    expect(reduceChat(finished, { type: 'ended' })).toBe(finished);
  });

  it("keeps a thinking model's thoughts apart from its answer, and sends them back", () => {
    const thought = (thinking: string): ChatChunk => ({
      model: 'qwen3',
      message: { role: 'assistant', content: '', thinking },
      done: false
    });
    let state = reduceChat(emptyChat, { type: 'send', content: '2+2?' });
    state = reduceChat(state, { type: 'chunk', chunk: thought('Two and ') });
    state = reduceChat(state, { type: 'chunk', chunk: thought('two.') });
    expect(state.messages[1]).toEqual({ role: 'assistant', content: '', thinking: 'Two and two.' });
    state = reduceChat(state, { type: 'chunk', chunk: chunk('4', true) });
    expect(chatRequest(state, 'and 3+3?')).toEqual([
      { role: 'user', content: '2+2?' },
      { role: 'assistant', content: '4', thinking: 'Two and two.' },
      { role: 'user', content: 'and 3+3?' }
    ]);
  });

  it('keeps a reply stopped while it was still thinking', () => {
    let state = reduceChat(emptyChat, { type: 'send', content: 'Hi' });
    state = reduceChat(state, {
      type: 'chunk',
      chunk: { model: 'qwen3', message: { role: 'assistant', content: '', thinking: 'Hmm' }, done: false }
    });
    expect(reduceChat(state, { type: 'stopped' }).messages).toEqual([
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: '', thinking: 'Hmm' }
    ]);
  });

  it('clears the conversation, but not while a reply streams', () => {
    const sent = reduceChat(emptyChat, { type: 'send', content: 'Hi' });
    expect(reduceChat(sent, { type: 'clear' })).toBe(sent);
    const done = reduceChat(sent, { type: 'chunk', chunk: chunk('yo', true) });
    expect(reduceChat(done, { type: 'clear' })).toEqual(emptyChat);
  });
});

describe('deviceBars', () => {
  const system: SystemInfo = {
    gpus: [
      {
        index: 0,
        name: 'NVIDIA H100',
        memory_total: 80e9,
        memory_used: 10e9,
        utilization: 35.4,
        models: [{ name: 'smollm2:latest', size: 4e9, layers: 25, estimated: 4e9, measured: null }]
      },
      { index: 1, name: 'NVIDIA H100', memory_total: 80e9, memory_used: 1e9, utilization: null, models: [] }
    ],
    gpu_error: null,
    gpu_offload: true,
    llama_build: {
      backends: ['CUDA', 'CPU'],
      gpu_offload: true,
      cuda_architectures: '900',
      reason: '',
      cmake_args: ''
    },
    ram: {
      total: 64e9,
      used: 2e9,
      available: 62e9,
      models: [
        { name: 'a', size: 2e9 },
        { name: 'b', size: 1e9 }
      ],
      source: 'host'
    },
    cpu_percent: 12.6,
    evictions: []
  };

  it('makes one bar per GPU, then RAM, with the models share', () => {
    const bars = deviceBars(system);
    expect(bars.map(b => b.key)).toEqual(['gpu0', 'gpu1', 'cpu']);
    expect(bars[0]).toMatchObject({ label: 'GPU 0 · NVIDIA H100', used: 10e9, models: 4e9, load: 'util 35%' });
    expect(bars[1]).toMatchObject({ models: 0, modelNames: [], load: '' });
    // Estimates can exceed what the OS counts as used: the share never passes `used`.
    expect(bars[2]).toMatchObject({ label: 'RAM', models: 2e9, modelNames: ['a', 'b'], load: 'CPU 13%' });
  });

  it("draws each bar as the models' share, then the rest used", () => {
    const bars = deviceBars(system);
    expect(bars.map(b => b.parts)).toEqual([
      [4e9 / 80e9, 6e9 / 80e9],
      [0, 1e9 / 80e9],
      [2e9 / 64e9, 0]
    ]);
  });

  it('makes only the RAM bar without GPUs', () => {
    expect(deviceBars({ ...system, gpus: [], gpu_error: 'NVML not found' }).map(b => b.key)).toEqual(['cpu']);
  });
});
