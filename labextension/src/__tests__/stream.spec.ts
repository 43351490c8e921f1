import { OllamaError } from '../errors';
import { StreamEnd, StreamedRequest } from '../stream';

import { aborted } from './aborted';

/** A stream of `lines`; then it closes, fails with `error`, or (`hang`) waits until stopped. */
function stream(lines: string[], after: { error?: Error; hang?: boolean } = {}) {
  const signals: AbortSignal[] = [];
  async function* open(signal: AbortSignal): AsyncGenerator<string, void, undefined> {
    signals.push(signal);
    yield* lines;
    if (after.error) {
      throw after.error;
    }
    if (after.hang) {
      await aborted(signal);
    }
  }
  return { open, signals };
}

/** Runs `request` over `open`, recording what the steps were told, in order. */
function record(request: StreamedRequest, open: (signal: AbortSignal) => AsyncIterable<string>) {
  const told: (string | StreamEnd)[] = [];
  const done = request.run({
    begin: () => told.push('begin'),
    open,
    line: line => told.push(line),
    end: end => told.push(end)
  });
  return { told, done };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await Promise.resolve();
  }
}

describe('StreamedRequest', () => {
  it('tells begin, each line in order, then that the stream ended', async () => {
    const { open } = stream(['a', 'b', 'c']);
    const { told, done } = record(new StreamedRequest(), open);
    await done;
    expect(told).toEqual(['begin', 'a', 'b', 'c', { type: 'ended' }]);
  });

  it('stops a request in flight: its signal fires and it ends as stopped, not failed', async () => {
    const request = new StreamedRequest();
    const { open, signals } = stream(['a'], { hang: true });
    const { told, done } = record(request, open);
    await settle();
    expect(told).toEqual(['begin', 'a']);
    expect(signals[0].aborted).toBe(false);
    request.stop();
    await done;
    expect(signals[0].aborted).toBe(true);
    expect(told).toEqual(['begin', 'a', { type: 'stopped' }]);
  });

  it('ends as stopped when the stream closes quietly after a stop', async () => {
    const request = new StreamedRequest();
    async function* open(signal: AbortSignal): AsyncGenerator<string, void, undefined> {
      yield 'a';
      request.stop(); // readNdjson returns without an error once its signal fired
      if (!signal.aborted) {
        yield 'never';
      }
    }
    const { told, done } = record(request, open);
    await done;
    expect(told).toEqual(['begin', 'a', { type: 'stopped' }]);
  });

  it('reports a failure with its message', async () => {
    const { open } = stream(['a'], { error: new OllamaError('pull model manifest: file does not exist') });
    const { told, done } = record(new StreamedRequest(), open);
    await done;
    expect(told).toEqual(['begin', 'a', { type: 'failed', message: 'pull model manifest: file does not exist' }]);
  });

  it('reports a request that fails to open', async () => {
    const open = (): AsyncIterable<string> => {
      throw new OllamaError('model "nope" not found', 404);
    };
    const { told, done } = record(new StreamedRequest(), open);
    await done;
    expect(told).toEqual(['begin', { type: 'failed', message: 'model "nope" not found' }]);
  });

  it('lets a stop during begin reach the request', async () => {
    const request = new StreamedRequest();
    const { open, signals } = stream(['a'], { hang: true });
    const told: (string | StreamEnd)[] = [];
    await request.run({ begin: () => request.stop(), open, line: line => told.push(line), end: end => told.push(end) });
    expect(signals[0].aborted).toBe(true);
    expect(told).toEqual(['a', { type: 'stopped' }]);
  });

  it('forgets a finished request: a later stop does not reach the next one', async () => {
    const request = new StreamedRequest();
    request.stop(); // nothing in flight: nothing happens
    const first = stream(['a']);
    await record(request, first.open).done;
    request.stop();
    expect(first.signals[0].aborted).toBe(false);
    const second = stream(['b']);
    const { told, done } = record(request, second.open);
    await done;
    expect(told).toEqual(['begin', 'b', { type: 'ended' }]);
  });
});
