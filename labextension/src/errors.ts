/** Errors the panel shows inline: Ollama's `{"error": "..."}` replies and stream lines. */

export class OllamaError extends Error {
  /** `status` is the HTTP status, or `undefined` for an error line inside a stream. */
  constructor(
    message: string,
    readonly status?: number
  ) {
    super(message);
    this.name = 'OllamaError';
  }
}

/** True for the rejection a fetch (or a read of its body) gives once its AbortSignal fired. */
export function isAbort(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

/** A one-line message for any thrown value. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) {
    return error.message || error.name;
  }
  return String(error);
}

/** The part of a fetch `Response` that `errorMessage` reads. */
export interface ErrorReply {
  status: number;
  statusText: string;
  text(): Promise<string>;
}

/** What a non-2xx reply says: Ollama's `{"error"}`, Jupyter's `{"message"}`, or else its status line. */
export async function errorMessage(response: ErrorReply): Promise<string> {
  const text = await response.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null; // an HTML error page or an empty body: the status line says it
  }
  if (body !== null && typeof body === 'object') {
    const { error, message } = body as { error?: unknown; message?: unknown };
    if (typeof error === 'string' && error) {
      return error;
    }
    if (typeof message === 'string' && message) {
      return message;
    }
  }
  return `${response.status} ${response.statusText || 'error'}`;
}
