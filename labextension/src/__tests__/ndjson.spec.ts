import { OllamaError } from '../errors';
import { ByteReader, parseLine, readNdjson } from '../ndjson';

const encode = (text: string) => new TextEncoder().encode(text);

/** A reader over fixed chunks that records whether it was cancelled. */
class ChunkReader implements ByteReader {
  cancelled = false;
  reads = 0;
  constructor(private chunks: Uint8Array[]) {}

  async read(): Promise<{ done: boolean; value?: Uint8Array }> {
    this.reads += 1;
    const value = this.chunks.shift();
    return value === undefined ? { done: true } : { done: false, value };
  }

  async cancel(): Promise<void> {
    this.cancelled = true;
  }
}

/** Like a fetch body: after the given chunks, a read waits, and rejects with AbortError once `signal` fires. */
class HangingReader extends ChunkReader {
  constructor(
    chunks: Uint8Array[],
    private signal: AbortSignal
  ) {
    super(chunks);
  }

  async read(): Promise<{ done: boolean; value?: Uint8Array }> {
    const next = await super.read();
    if (!next.done) {
      return next;
    }
    return new Promise((_, reject) => {
      const fail = () => reject(Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' }));
      if (this.signal.aborted) {
        fail();
      } else {
        this.signal.addEventListener('abort', fail);
      }
    });
  }
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) {
    out.push(item);
  }
  return out;
}

describe('readNdjson', () => {
  it('joins a line split across chunks', async () => {
    const reader = new ChunkReader([
      encode('{"status":"pul'),
      encode('ling manifest"}\n{"sta'),
      encode('tus":"success"}\n')
    ]);
    expect(await collect(readNdjson(reader))).toEqual([{ status: 'pulling manifest' }, { status: 'success' }]);
    expect(reader.cancelled).toBe(false);
  });

  it('decodes a multi-byte character split across chunks', async () => {
    const bytes = encode('{"message":{"content":"héllo 🦙"}}\n');
    const llama = bytes.length - 6; // inside the 4-byte emoji
    const e = bytes.indexOf(0xc3) + 1; // between the two bytes of é
    const reader = new ChunkReader([bytes.slice(0, e), bytes.slice(e, llama), bytes.slice(llama)]);
    expect(await collect(readNdjson(reader))).toEqual([{ message: { content: 'héllo 🦙' } }]);
  });

  it('reads a last line that has no newline, and skips blank lines', async () => {
    const reader = new ChunkReader([encode('{"a":1}\n\n  \r\n{"b":2}')]);
    expect(await collect(readNdjson(reader))).toEqual([{ a: 1 }, { b: 2 }]);
  });

  it('throws an error line as OllamaError, after the lines before it', async () => {
    const reader = new ChunkReader([
      encode('{"status":"pulling manifest"}\n{"error":"pull model manifest: file does not exist"}\n{"status":"x"}\n')
    ]);
    const seen: unknown[] = [];
    await expect(
      (async () => {
        for await (const item of readNdjson(reader)) {
          seen.push(item);
        }
      })()
    ).rejects.toThrow(new OllamaError('pull model manifest: file does not exist'));
    expect(seen).toEqual([{ status: 'pulling manifest' }]);
    expect(reader.cancelled).toBe(true); // the rest of the stream is released
  });

  it('throws on a line that is not JSON', async () => {
    const reader = new ChunkReader([encode('{"ok":true}\nnot json\n')]);
    await expect(collect(readNdjson(reader))).rejects.toThrow('invalid JSON in stream: not json');
  });

  it('stops quietly when the signal fires while waiting for data', async () => {
    const abort = new AbortController();
    const reader = new HangingReader([encode('{"n":1}\n')], abort.signal);
    const seen: unknown[] = [];
    for await (const item of readNdjson(reader, abort.signal)) {
      seen.push(item);
      setTimeout(() => abort.abort(), 0); // the Cancel button, while the next read waits
    }
    expect(seen).toEqual([{ n: 1 }]);
    expect(reader.reads).toBe(2); // it was waiting on the second read when the signal fired
  });

  it('stops between lines of one chunk when the signal fires, and releases the reader', async () => {
    const abort = new AbortController();
    const reader = new ChunkReader([encode('{"n":1}\n{"n":2}\n{"n":3}\n')]);
    const seen: unknown[] = [];
    for await (const item of readNdjson(reader, abort.signal)) {
      seen.push(item);
      abort.abort();
    }
    expect(seen).toEqual([{ n: 1 }]);
    expect(reader.cancelled).toBe(true);
  });

  it('passes on a read failure that was not an abort', async () => {
    const reader: ByteReader = {
      read: () => Promise.reject(new TypeError('network error')),
      cancel: () => Promise.resolve()
    };
    await expect(collect(readNdjson(reader, new AbortController().signal))).rejects.toThrow('network error');
  });
});

describe('parseLine', () => {
  it('returns objects, and undefined for blank lines', () => {
    expect(parseLine('{"done":true}')).toEqual({ done: true });
    expect(parseLine('   ')).toBeUndefined();
  });

  it('treats only a string error field as an error', () => {
    expect(() => parseLine('{"error":"model \\"x\\" not found"}')).toThrow('model "x" not found');
    expect(parseLine('{"error":null,"status":"ok"}')).toEqual({ error: null, status: 'ok' });
  });
});
