/**
 * The Ollama API of this Jupyter server, at `{baseUrl}ollama/api/…`, through
 * ServerConnection: Jupyter's token and XSRF cookie go along, and a prefixed
 * base_url works. Errors come back as OllamaError with Ollama's message.
 */

import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { OllamaError, errorMessage, isAbort, messageOf } from './errors';
import { readNdjson } from './ndjson';
import type { ChatChunk, ChatMessage, PsResponse, PullEvent, SystemInfo, TagsResponse } from './wire';

export class OllamaApi {
  constructor(readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings()) {}

  url(endpoint: string): string {
    return URLExt.join(this.settings.baseUrl, 'ollama', 'api', endpoint);
  }

  async tags(): Promise<TagsResponse> {
    return (await this.request('tags', { method: 'GET' })).json();
  }

  async ps(): Promise<PsResponse> {
    return (await this.request('ps', { method: 'GET' })).json();
  }

  /** GPU and RAM per device; `null` where the server has no `/api/system`. */
  async system(): Promise<SystemInfo | null> {
    try {
      return await (await this.request('system', { method: 'GET' })).json();
    } catch (error) {
      if (error instanceof OllamaError && error.status === 404) {
        return null;
      }
      throw error;
    }
  }

  async copy(source: string, destination: string): Promise<void> {
    await this.request('copy', { method: 'POST', body: JSON.stringify({ source, destination }) });
  }

  async remove(model: string): Promise<void> {
    await this.request('delete', { method: 'DELETE', body: JSON.stringify({ model }) });
  }

  /** Unload now, as `ollama stop` does: a generate request with `keep_alive: 0`. */
  async unload(model: string): Promise<void> {
    await this.request('generate', { method: 'POST', body: JSON.stringify({ model, keep_alive: 0 }) });
  }

  pull(model: string, insecure: boolean, signal: AbortSignal): AsyncGenerator<PullEvent, void, undefined> {
    return this.stream<PullEvent>('pull', { model, insecure, stream: true }, signal);
  }

  chat(model: string, messages: ChatMessage[], signal: AbortSignal): AsyncGenerator<ChatChunk, void, undefined> {
    return this.stream<ChatChunk>('chat', { model, messages, stream: true }, signal);
  }

  private async *stream<T>(endpoint: string, body: object, signal: AbortSignal): AsyncGenerator<T, void, undefined> {
    const response = await this.request(endpoint, { method: 'POST', body: JSON.stringify(body), signal });
    if (!response.body) {
      throw new OllamaError(`${endpoint}: the reply has no body`);
    }
    yield* readNdjson<T>(response.body.getReader(), signal);
  }

  /** The response when it is 2xx; otherwise an OllamaError with the server's message. */
  private async request(endpoint: string, init: RequestInit): Promise<Response> {
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(this.url(endpoint), init, this.settings);
    } catch (error) {
      if (isAbort(error)) {
        throw error;
      }
      throw new OllamaError(`cannot reach the Jupyter server: ${messageOf(error)}`);
    }
    if (!response.ok) {
      throw new OllamaError(await errorMessage(response), response.status);
    }
    return response;
  }
}
