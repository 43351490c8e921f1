import { engineView, formatSlots, isRemote, isRemoteLocal, localFacts, runningView } from '../ps';
import type { LocalModel, RemoteEngine, RunningModel } from '../wire';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const DETAILS = { family: '', parameter_size: '', quantization_level: '' };

const up: RemoteEngine = {
  host: 'http://127.0.0.1:8081',
  api: 'openai',
  state: 'up',
  in_flight: 1,
  slots_total: 2,
  slots_busy: 1,
  requests_waiting: 0,
  signal: 'slots',
  requests_total: 5,
  failures_total: 0
};
// Down: its slots are the last it reported, and must not read as current.
const down: RemoteEngine = {
  host: 'http://127.0.0.1:8082',
  api: 'openai',
  state: 'down',
  error: 'All connection attempts failed',
  in_flight: 0,
  slots_total: 2,
  slots_busy: 0,
  requests_waiting: 0,
  signal: 'slots',
  requests_total: 3,
  failures_total: 1
};

/** A remote pool as `/api/ps` lists it: no placement, no threads, context length 0. */
const team: RunningModel = {
  name: 'team:latest',
  model: 'team:latest',
  size: 0,
  size_vram: 0,
  digest: 'a'.repeat(64),
  details: DETAILS,
  expires_at: '2318-09-20T13:55:33.193401Z',
  context_length: 0,
  device: 'remote',
  remote_model: 'smollm2',
  remote_host: 'http://127.0.0.1:8081',
  slots_total: 2,
  slots_busy: 1,
  requests_queued: 0,
  remote: {
    remote_model: 'smollm2',
    engines: [up, down],
    engines_up: 1,
    in_flight: 1,
    slots_total: 2,
    slots_busy: 1,
    requests_waiting: 0,
    retries_total: 0
  }
};

const local: RunningModel = {
  name: 'smollm2:latest',
  model: 'smollm2:latest',
  size: 270_898_272,
  size_vram: 0,
  digest: 'b'.repeat(64),
  details: DETAILS,
  expires_at: '2026-01-01T00:04:00Z',
  context_length: 4096,
  device: 'cpu',
  slots_total: 4,
  slots_busy: 0,
  requests_queued: 0
};

function allText(view: ReturnType<typeof runningView>): string {
  return [...view.facts, ...view.engines.flatMap(e => [e.label, e.text, e.error, e.title])].join('\n');
}

describe('a remote model in the running list', () => {
  it('shows the pool and each engine, the down one with why', () => {
    expect(isRemote(team)).toBe(true);
    const view = runningView(team, NOW);
    expect(view.remote).toBe(true);
    expect(view.unloadable).toBe(false); // it holds no memory here
    expect(view.facts).toEqual(['model smollm2 · 1/2 engines up', 'slots 1/2 · in flight 1 · queue 0']);
    expect(view.enginesDown).toBe(1);
    const [first, second] = view.engines;
    expect(first).toMatchObject({
      host: 'http://127.0.0.1:8081',
      label: '127.0.0.1:8081',
      state: 'up',
      text: 'up · openai · in flight 1 · slots 1/2',
      error: ''
    });
    expect(second).toMatchObject({
      label: '127.0.0.1:8082',
      state: 'down',
      text: 'down · openai',
      error: 'All connection attempts failed'
    });
    expect(second.title).toBe(
      'http://127.0.0.1:8082: down (All connection attempts failed)\n' +
        'openai API · capacity from slots · 3 requests · 1 failures'
    );
    expect(allText(view)).not.toMatch(/undefined|NaN|null|ctx/);
  });

  it('says busy/? where the engines do not report their slots', () => {
    const health: RemoteEngine = {
      host: 'https://vllm.example:8000/',
      api: 'unknown',
      state: 'unknown',
      in_flight: 0,
      slots_total: null,
      slots_busy: null,
      requests_waiting: null,
      signal: 'in flight'
    };
    const view = runningView(
      {
        ...team,
        slots_total: 0,
        remote: { ...team.remote!, engines: [health], engines_up: 0, in_flight: 0, slots_total: null, slots_busy: 0 }
      },
      NOW
    );
    expect(view.facts[1]).toBe('slots 0/? · in flight 0 · queue 0');
    expect(view.engines[0]).toMatchObject({
      label: 'https://vllm.example:8000',
      state: 'unknown',
      text: 'not checked yet · in flight 0'
    });
    expect(view.enginesDown).toBe(0);
    expect(allText(view)).not.toMatch(/undefined|NaN|null/);
  });

  it('copes with an entry that has no pool, or fields missing', () => {
    const bare = { name: 'far:latest', model: 'far:latest', device: 'remote', remote_model: 'qwen3' } as RunningModel;
    const view = runningView(bare, NOW);
    expect(view.facts).toEqual(['model qwen3 · 0 engines', 'slots ?/? · in flight 0 · queue 0']);
    expect(view.engines).toEqual([]);
    const odd = engineView({ host: 'http://h:1', state: 'down' } as RemoteEngine);
    expect(odd).toMatchObject({ text: 'down', error: 'not answering' });
    expect(odd.title).not.toMatch(/undefined|NaN/);
  });
});

describe('a local model in the running list', () => {
  it('reads as before', () => {
    const view = runningView(local, NOW);
    expect(isRemote(local)).toBe(false);
    expect(view).toMatchObject({ remote: false, engines: [], unloadable: true });
    expect(view.facts).toEqual(['CPU 271 MB · ctx 4096', 'slots 0/4 · queue 0 · expires in 4 minutes']);
  });

  it('shows a split over GPUs and the CPU', () => {
    const GB = 1e9;
    const split: RunningModel = {
      ...local,
      size: 121 * GB,
      size_vram: 112 * GB,
      device: 'gpu0',
      placement: {
        gpu_layers: 71,
        layers: 81,
        reason: '',
        ram: 9 * GB,
        gpus: [
          { index: 0, layers: 38, estimated: 60 * GB, measured: null },
          { index: 1, layers: 33, estimated: 50 * GB, measured: 52 * GB }
        ]
      }
    };
    expect(runningView(split, NOW).facts[0]).toBe('GPU0 60 GB + GPU1 52 GB + CPU 9 GB (7%/93% CPU/GPU) · ctx 4096');
  });

  it('leaves out what the server did not send', () => {
    const sparse = { name: 'x', model: 'x', size: 1000, size_vram: 0, device: 'cpu' } as RunningModel;
    const view = runningView(sparse, NOW);
    expect(view.facts).toEqual(['CPU 1 KB', 'slots ?/? · queue 0 · expires ?']);
    expect(allText(view)).not.toMatch(/undefined|NaN/);
  });
});

describe('formatSlots', () => {
  it('writes busy/total, with ? for what is unknown', () => {
    expect(formatSlots(1, 4)).toBe('1/4');
    expect(formatSlots(0, 0)).toBe('0/?');
    expect(formatSlots(2, null)).toBe('2/?');
    expect(formatSlots(undefined, undefined)).toBe('?/?');
  });
});

describe('the local models list', () => {
  const base: LocalModel = {
    name: 'smollm2:latest',
    model: 'smollm2:latest',
    modified_at: '2026-01-01T00:00:00Z',
    size: 270_898_272,
    digest: 'b'.repeat(64),
    details: { family: 'llama', parameter_size: '134.52M', quantization_level: 'Q4_1' }
  };
  it('shows size and details of a model here', () => {
    expect(isRemoteLocal(base)).toBe(false);
    expect(localFacts(base)).toBe('271 MB · llama · 134.52M · Q4_1');
  });
  it('shows a remote model by its engines, not its manifest size', () => {
    const empty = { family: '', parameter_size: '', quantization_level: '' };
    const one = { ...base, size: 250, details: empty, remote_model: 'smollm2', remote_host: 'http://127.0.0.1:8081' };
    expect(isRemoteLocal(one)).toBe(true);
    expect(localFacts(one)).toBe('model smollm2 · on 127.0.0.1:8081');
    const pool = {
      ...one,
      remote_hosts: [{ host: 'http://127.0.0.1:8081' }, { host: 'http://127.0.0.1:8082', api: 'openai' }]
    };
    expect(localFacts(pool)).toBe('model smollm2 · on 2 engines');
  });
});
