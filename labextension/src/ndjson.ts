/**
 * Newline-delimited JSON from a fetch body, as Ollama streams `/api/pull` and `/api/chat`.
 *
 * Bytes are decoded as one UTF-8 stream, so a character or a line split across
 * chunks comes out whole. An `{"error": "..."}` line is thrown as an OllamaError.
 * When `signal` fires (the same signal the fetch was given), reading stops quietly:
 * the caller asked for it and knows.
 */

import { OllamaError } from './errors';

/** The part of a `ReadableStreamDefaultReader<Uint8Array>` that is used. */
export interface ByteReader {
  read(): Promise<{ done: boolean; value?: Uint8Array }>;
  cancel(reason?: unknown): Promise<void>;
}

export async function* readNdjson<T>(reader: ByteReader, signal?: AbortSignal): AsyncGenerator<T, void, undefined> {
  const decoder = new TextDecoder();
  let buffer = '';
  let finished = false;
  try {
    for (;;) {
      let chunk: { done: boolean; value?: Uint8Array };
      try {
        chunk = await reader.read();
      } catch (error) {
        if (signal?.aborted) {
          finished = true; // an aborted fetch errors its body: the stream is already gone
          return;
        }
        throw error;
      }
      if (chunk.done) {
        break;
      }
      buffer += decoder.decode(chunk.value, { stream: true });
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        const item = parseLine<T>(line);
        if (item !== undefined) {
          yield item;
        }
        if (signal?.aborted) {
          return;
        }
      }
    }
    finished = true;
    const last = parseLine<T>(buffer + decoder.decode());
    if (last !== undefined) {
      yield last;
    }
  } finally {
    if (!finished) {
      // The consumer stopped early (break, throw, abort): release the connection.
      await reader.cancel().catch(() => undefined); // a stream that already failed has nothing to release
    }
  }
}

/** One line: `undefined` when blank, the parsed value otherwise; `{error}` lines throw. */
export function parseLine<T>(line: string): T | undefined {
  const text = line.trim();
  if (!text) {
    return undefined;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new OllamaError(`invalid JSON in stream: ${text.slice(0, 120)}`);
  }
  if (value !== null && typeof value === 'object' && typeof (value as { error?: unknown }).error === 'string') {
    throw new OllamaError((value as { error: string }).error);
  }
  return value as T;
}
