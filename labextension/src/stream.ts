/**
 * One streamed request at a time, as the panel runs a pull and a chat reply: its AbortController,
 * its lines as they come, and how it ended (closed by itself, stopped, or failed).
 */

import { messageOf } from './errors';

/** How a stream ended: it closed (`ended`), `stop()` was called (`stopped`), or it failed. */
export type StreamEnd = { type: 'ended' } | { type: 'stopped' } | { type: 'failed'; message: string };

export interface StreamSteps<T> {
  /** What the caller shows first; by then `stop()` already reaches the request. */
  begin: () => void;
  /** The request, given the signal that stops it (`OllamaApi.pull`, `.chat`: NDJSON lines). */
  open: (signal: AbortSignal) => AsyncIterable<T>;
  /** Each line, in order. */
  line: (line: T) => void;
  /** Then how it ended. Once stopped it is `stopped`, whatever the stream did next. */
  end: (end: StreamEnd) => void;
}

export class StreamedRequest {
  private _abort: AbortController | null = null;

  /** Stop the request in flight, if any: its fetch aborts and `run` ends with `stopped`. */
  stop(): void {
    this._abort?.abort();
  }

  async run<T>(steps: StreamSteps<T>): Promise<void> {
    const abort = new AbortController();
    this._abort = abort;
    steps.begin();
    try {
      for await (const line of steps.open(abort.signal)) {
        steps.line(line);
      }
      steps.end(abort.signal.aborted ? { type: 'stopped' } : { type: 'ended' });
    } catch (error) {
      steps.end(abort.signal.aborted ? { type: 'stopped' } : { type: 'failed', message: messageOf(error) });
    } finally {
      this._abort = null;
    }
  }
}
