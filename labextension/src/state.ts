/**
 * Panel state as pure functions: a pull's per-layer progress, a chat's conversation,
 * and the memory bars per device. No DOM and no requests here, so all of it is unit-tested.
 */

import { formatRate, tokensPerSecond } from './format';
import { DeviceMemory, memoryFractions, systemMemory } from './memory';
import type { ChatChunk, ChatMessage, PullEvent, SystemInfo } from './wire';

// -- pull ------------------------------------------------------------------------

export interface LayerProgress {
  digest: string;
  total: number;
  completed: number;
}

export type Phase = 'running' | 'success' | 'error' | 'cancelled';

export interface PullState {
  model: string;
  phase: Phase;
  /** The latest status line: `pulling manifest`, `pulling 3f2a…`, `verifying sha256 digest`. */
  status: string;
  /** Every layer seen, in the order it first appeared. */
  layers: LayerProgress[];
  error: string | null;
}

export type PullAction =
  | { type: 'event'; event: PullEvent }
  | { type: 'failed'; message: string }
  | { type: 'cancelled' }
  /** The stream closed; without a `success` line first, that is a failure. */
  | { type: 'ended' };

export function startPull(model: string): PullState {
  return { model, phase: 'running', status: 'starting', layers: [], error: null };
}

export function reducePull(state: PullState, action: PullAction): PullState {
  if (state.phase !== 'running') {
    return state; // a finished pull keeps its outcome
  }
  switch (action.type) {
    case 'event': {
      const { event } = action;
      const layers = event.digest ? updateLayer(state.layers, event) : state.layers;
      const phase = event.status === 'success' ? 'success' : 'running';
      return { ...state, status: event.status, layers, phase };
    }
    case 'failed':
      return { ...state, phase: 'error', error: action.message };
    case 'cancelled':
      return { ...state, phase: 'cancelled', status: 'cancelled' };
    case 'ended':
      return { ...state, phase: 'error', error: 'the pull stopped before it finished' };
  }
}

function updateLayer(layers: LayerProgress[], event: PullEvent): LayerProgress[] {
  const digest = event.digest as string;
  const index = layers.findIndex(layer => layer.digest === digest);
  const before = index >= 0 ? layers[index] : { digest, total: 0, completed: 0 };
  const layer = {
    digest,
    total: event.total ?? before.total,
    // Progress only moves forward: a retried part restarts its own count, not the layer's.
    completed: Math.max(before.completed, event.completed ?? 0)
  };
  return index >= 0 ? layers.map((old, i) => (i === index ? layer : old)) : [...layers, layer];
}

export function layerFraction(layer: LayerProgress): number {
  return layer.total > 0 ? Math.min(1, layer.completed / layer.total) : 0;
}

/** Bytes done over bytes known, across layers. */
export function pullFraction(state: PullState): number {
  const total = state.layers.reduce((sum, layer) => sum + layer.total, 0);
  const done = state.layers.reduce((sum, layer) => sum + Math.min(layer.completed, layer.total), 0);
  return total > 0 ? done / total : state.phase === 'success' ? 1 : 0;
}

// -- chat ------------------------------------------------------------------------

export interface ChatState {
  /** The conversation; while a reply streams, its last message is the reply so far. */
  messages: ChatMessage[];
  streaming: boolean;
  error: string | null;
  /** `42.1 tokens/s` for the last finished reply. */
  rate: string | null;
}

export type ChatAction =
  | { type: 'send'; content: string }
  | { type: 'chunk'; chunk: ChatChunk }
  | { type: 'failed'; message: string }
  | { type: 'stopped' }
  | { type: 'ended' }
  | { type: 'clear' };

export const emptyChat: ChatState = { messages: [], streaming: false, error: null, rate: null };

export function reduceChat(state: ChatState, action: ChatAction): ChatState {
  switch (action.type) {
    case 'send':
      return {
        messages: [...state.messages, { role: 'user', content: action.content }, { role: 'assistant', content: '' }],
        streaming: true,
        error: null,
        rate: null
      };
    case 'chunk': {
      if (!state.streaming) {
        return state;
      }
      const piece = action.chunk.message?.content ?? '';
      const thought = action.chunk.message?.thinking ?? '';
      const messages = piece || thought ? appendToReply(state.messages, piece, thought) : state.messages;
      if (!action.chunk.done) {
        return { ...state, messages };
      }
      const rate = tokensPerSecond(action.chunk.eval_count, action.chunk.eval_duration);
      return { ...state, messages, streaming: false, rate: rate === null ? null : formatRate(rate) };
    }
    case 'failed':
      return { ...state, messages: dropEmptyReply(state.messages), streaming: false, error: action.message };
    case 'stopped':
      return { ...state, messages: dropEmptyReply(state.messages), streaming: false };
    case 'ended':
      return state.streaming
        ? reduceChat(state, { type: 'failed', message: 'the reply stopped before it finished' })
        : state;
    case 'clear':
      return state.streaming ? state : emptyChat;
  }
}

function appendToReply(messages: ChatMessage[], piece: string, thought: string): ChatMessage[] {
  const last = messages[messages.length - 1];
  const reply = { ...last, content: last.content + piece };
  if (thought) {
    reply.thinking = (last.thinking ?? '') + thought;
  }
  return [...messages.slice(0, -1), reply];
}

function dropEmptyReply(messages: ChatMessage[]): ChatMessage[] {
  const last = messages[messages.length - 1];
  return last && last.role === 'assistant' && !last.content && !last.thinking ? messages.slice(0, -1) : messages;
}

/** What to send for a new user message: the conversation so far plus it. */
export function chatRequest(state: ChatState, content: string): ChatMessage[] {
  return [...state.messages, { role: 'user', content }];
}

// -- devices ---------------------------------------------------------------------

export interface DeviceBar {
  key: string;
  label: string;
  total: number;
  used: number;
  /** Bytes the loaded models hold there (at most `used`), and who they are. */
  models: number;
  modelNames: string[];
  /** `util 35%` for a GPU, `CPU 12%` for RAM; empty when unknown. */
  load: string;
  /** The bar: the models' share of the device, then the rest used (`memoryFractions`). */
  parts: number[];
}

/** One bar per GPU, then RAM, from `/api/system`. */
export function deviceBars(system: SystemInfo): DeviceBar[] {
  const { gpus, ram } = systemMemory(system);
  return [
    ...gpus.map(gpu => bar(gpu, gpu.busy === null ? '' : `util ${Math.round(gpu.busy)}%`)),
    bar(ram, `CPU ${Math.round(system.cpu_percent)}%`)
  ];
}

function bar(device: DeviceMemory, load: string): DeviceBar {
  const { key, label, total, used, byModels, models } = device;
  return {
    key,
    label,
    total,
    used,
    models: byModels,
    modelNames: models.map(model => model.name),
    load,
    parts: memoryFractions(device)
  };
}
