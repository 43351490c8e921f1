/**
 * What the model lists say of each model, as text. Running (`/api/ps`): a local model's memory,
 * context, slots and expiry; a remote model's pool and each of its engines. Local (`/api/tags`):
 * size and details, or a remote model's name on its engines. Pure, so jest checks it.
 *
 * A field the server leaves out (a remote model has no placement, threads or context length;
 * an older server no `remote`) shows as `?` or not at all, never as `undefined` or `NaN`.
 */

import { formatBytes, formatProcessor, formatUntil } from './format';
import type { LocalModel, RemoteEngine, RunningModel } from './wire';

export type EngineState = 'up' | 'down' | 'unknown';

export interface EngineView {
  /** The engine's URL: the key, and what the tooltip names. */
  host: string;
  /** The URL without `http://`, as the row shows it. */
  label: string;
  state: EngineState;
  /** `up · openai · in flight 1 · slots 1/2`, or `down · openai`. */
  text: string;
  /** Why it is down; '' when it is not. */
  error: string;
  /** Everything known about it, for the hover. */
  title: string;
}

export interface RunningView {
  remote: boolean;
  /** Lines under the name. */
  facts: string[];
  /** A remote model's engines, in the pool's order; none for a local model. */
  engines: EngineView[];
  /** Engines down (a remote pool only): the row marks them. */
  enginesDown: number;
  /** Whether Unload frees anything: a remote model holds no memory here. */
  unloadable: boolean;
}

export function isRemote(running: RunningModel): boolean {
  return running.device === 'remote' || (running.remote !== undefined && running.remote !== null);
}

/** A URL as the rows show it: `127.0.0.1:8081` for `http://127.0.0.1:8081/`. */
export function shortHost(url: string): string {
  return url.replace(/^http:\/\//, '').replace(/\/+$/, '');
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** A number from the server, or 0 where it sent none. */
function num(value: unknown): number {
  return isCount(value) ? value : 0;
}

/** `busy/total`; `busy/?` where the total is unknown (null, 0 or absent). */
export function formatSlots(busy: unknown, total: unknown): string {
  return `${isCount(busy) ? busy : '?'}/${isCount(total) && total > 0 ? total : '?'}`;
}

function facts(parts: (string | false | null | undefined)[]): string {
  return parts.filter(Boolean).join(' · ');
}

export function engineView(engine: RemoteEngine): EngineView {
  const host = typeof engine.host === 'string' ? engine.host : '?';
  const state: EngineState = engine.state === 'up' || engine.state === 'down' ? engine.state : 'unknown';
  const api = engine.api && engine.api !== 'unknown' ? engine.api : '';
  const error = state === 'down' ? engine.error || 'not answering' : '';
  const inFlight = num(engine.in_flight);
  // A down engine's slots are the last it reported: not shown as if current.
  const slots =
    state !== 'down' && (isCount(engine.slots_total) || isCount(engine.slots_busy))
      ? `slots ${formatSlots(engine.slots_busy, engine.slots_total)}`
      : '';
  const waiting = state !== 'down' && num(engine.requests_waiting) > 0 ? `queue ${engine.requests_waiting}` : '';
  const text = facts([
    state === 'unknown' ? 'not checked yet' : state,
    api,
    (state !== 'down' || inFlight > 0) && `in flight ${inFlight}`,
    slots,
    waiting
  ]);
  const counts = facts([
    api ? `${api} API` : 'API not detected yet',
    engine.signal && `capacity from ${engine.signal}`,
    isCount(engine.requests_total) && `${engine.requests_total} requests`,
    isCount(engine.failures_total) && `${engine.failures_total} failures`
  ]);
  return {
    host,
    label: shortHost(host),
    state,
    text,
    error,
    title: `${host}: ${state === 'unknown' ? 'not checked yet' : state}${error ? ` (${error})` : ''}\n${counts}`
  };
}

function remoteView(running: RunningModel): RunningView {
  const pool = running.remote ?? null;
  const engines = (pool?.engines ?? []).map(engineView);
  const up = engines.filter(e => e.state === 'up').length;
  const total = engines.length || hostsOf(running.remote_host).length;
  const remoteModel = pool?.remote_model || running.remote_model || '';
  const busy = pool ? pool.slots_busy : running.slots_busy;
  const slotsTotal = pool ? pool.slots_total : running.slots_total;
  return {
    remote: true,
    facts: [
      facts([remoteModel && `model ${remoteModel}`, pool ? `${up}/${total} engines up` : `${total} engines`]),
      facts([
        `slots ${formatSlots(busy, slotsTotal)}`,
        `in flight ${num(pool?.in_flight)}`,
        `queue ${num(running.requests_queued)}`
      ])
    ],
    engines,
    enginesDown: engines.filter(e => e.state === 'down').length,
    unloadable: false
  };
}

function localView(running: RunningModel, now: number): RunningView {
  const size = num(running.size);
  const gpu = num(running.size_vram);
  const cpu = Math.max(0, size - gpu);
  const device = typeof running.device === 'string' && running.device ? running.device : 'gpu';
  // Each GPU it uses with its share (a model split over GPUs shows every one), then the CPU's.
  const split = running.placement?.gpus ?? [];
  const gpus = split.length
    ? split.map(g => `GPU${g.index} ${formatBytes(Math.max(num(g.estimated), num(g.measured)))}`)
    : [gpu ? `${device.toUpperCase()} ${formatBytes(gpu)}` : ''];
  const where = [...gpus, cpu ? `CPU ${formatBytes(cpu)}` : ''].filter(Boolean).join(' + ');
  const context = num(running.context_length);
  return {
    remote: false,
    facts: [
      facts([
        `${where || formatBytes(size)}${gpu && cpu ? ` (${formatProcessor(size, gpu)})` : ''}`,
        context > 0 && `ctx ${context}`
      ]),
      facts([
        `slots ${formatSlots(running.slots_busy, running.slots_total)}`,
        `queue ${num(running.requests_queued)}`,
        `expires ${formatUntil(running.expires_at, now)}`
      ])
    ],
    engines: [],
    enginesDown: 0,
    unloadable: true
  };
}

/** What the row of one running model shows. */
export function runningView(running: RunningModel, now: number): RunningView {
  return isRemote(running) ? remoteView(running) : localView(running, now);
}

function hostsOf(remoteHost: unknown): string[] {
  const hosts = Array.isArray(remoteHost) ? remoteHost : [remoteHost];
  return hosts.filter((h): h is string => typeof h === 'string' && h !== '');
}

/** An `/api/tags` entry of a remote model (Ollama's `remote_host`). */
export function isRemoteLocal(local: LocalModel): boolean {
  return hostsOf(local.remote_host).length > 0 || (local.remote_hosts?.length ?? 0) > 0;
}

/** A local model's line: size and details; for a remote one (whose manifest is all it has here), its engines. */
export function localFacts(local: LocalModel): string {
  const hosts = local.remote_hosts?.length ? local.remote_hosts.map(h => h.host) : hostsOf(local.remote_host);
  if (hosts.length) {
    const where = hosts.length === 1 ? `on ${shortHost(hosts[0])}` : `on ${hosts.length} engines`;
    return facts([local.remote_model && `model ${local.remote_model}`, where]);
  }
  const details = local.details ?? {};
  return facts([formatBytes(local.size), details.family, details.parameter_size, details.quantization_level]);
}
