/**
 * ChatWidget's view. State lives in the model's traits (messages, model, streaming, error); a
 * reply in progress arrives as {type: "delta", id, text, thinking?} custom messages, appended here
 * and drawn at most once per animation frame. When the reply ends, Python sets it in `messages`.
 * A thinking model's thoughts show in a collapsible "Thinking" part above its answer: open while
 * it thinks, folded once the answer starts (unless the reader opened or closed it).
 */

import type { AnyModel, RenderProps } from '@anywidget/types';

import { formatRate } from '../format';
import { errorLine, fill, h, isolateKeys } from './dom';
import { renderMarkdown } from './markdown';

export { renderMarkdown };

interface Stats {
  stopped?: boolean;
  tokens_per_second?: number;
  eval_count?: number;
  done_reason?: string;
}

interface Message {
  role: string;
  content?: string;
  thinking?: string;
  stats?: Stats;
}

interface ChatState {
  messages: Message[];
  models: string[];
  model: string;
  system: string;
  options: string;
  streaming: boolean;
  error: string;
}

interface Delta {
  type: string;
  id: number;
  text: string;
  thinking?: string;
}

interface Thought {
  root: HTMLDetailsElement;
  label: HTMLElement;
  body: HTMLElement;
  touched: boolean; // the reader opened or closed it: left as they set it
}

function statsLine(stats?: Stats): HTMLElement | null {
  if (!stats) {
    return null;
  }
  const parts: string[] = [];
  if (stats.stopped) {
    parts.push('stopped');
  }
  if (stats.tokens_per_second) {
    parts.push(formatRate(stats.tokens_per_second));
  }
  if (stats.eval_count) {
    parts.push(`${stats.eval_count} ${stats.stopped ? 'chunks' : 'tokens'}`);
  }
  if (!stats.stopped && stats.done_reason === 'length') {
    parts.push('cut at num_predict');
  }
  return parts.length ? h('div', { class: 'jo-stats' }, parts.join(' · ')) : null;
}

function messageNode(role: string, who: string): { root: HTMLElement; body: HTMLElement } {
  const body = h('div', { class: 'jo-body' });
  const root = h('div', { class: `jo-message jo-${role}` }, h('div', { class: 'jo-role' }, who), body);
  return { root, body };
}

/** The collapsible "Thinking" part, put above `body`: the thoughts as plain text, never as markup. */
function thoughtNode(body: HTMLElement, text: string, open: boolean): Thought {
  const label = h('span', {}, 'Thinking');
  const content = h('div', { class: 'jo-thinking-body' });
  content.textContent = text;
  const root = h('details', { class: 'jo-thinking' }, h('summary', {}, label), content) as HTMLDetailsElement;
  root.open = open;
  body.before(root);
  const thought: Thought = { root, label, body: content, touched: false };
  root.querySelector('summary')?.addEventListener('click', () => (thought.touched = true));
  return thought;
}

function render({ model, el }: Pick<RenderProps<ChatState>, 'model' | 'el'>): () => void {
  el.classList.add('jo-widget', 'jo-chat');
  const picker = h('select', { class: 'jo-select', title: 'Model', 'aria-label': 'Model' }) as HTMLSelectElement;
  const refresh = h(
    'button',
    { class: 'jo-button jo-icon', title: "Reload the server's models", 'aria-label': 'Reload models' },
    '⟳'
  );
  const clear = h('button', { class: 'jo-button', title: 'Forget the conversation' }, 'Clear') as HTMLButtonElement;
  const system = h('textarea', {
    class: 'jo-input jo-system',
    rows: 2,
    placeholder: 'System prompt (optional)'
  }) as HTMLTextAreaElement;
  const options = h('input', {
    class: 'jo-input jo-options',
    placeholder: 'Options: temperature=0.7, num_predict=200 (or JSON)'
  }) as HTMLInputElement;
  const hint = h('span', { class: 'jo-hint jo-muted' });
  const settings = h(
    'details',
    { class: 'jo-settings' },
    h('summary', {}, 'System prompt & options', hint),
    h('label', {}, 'System', system),
    h('label', {}, 'Options', options)
  );
  const list = h('div', { class: 'jo-messages', 'aria-live': 'polite' });
  const error = h('div', { class: 'jo-error-slot' });
  const input = h('textarea', {
    class: 'jo-input jo-prompt',
    rows: 2,
    placeholder: 'Message (Enter to send, Shift+Enter for a new line)'
  }) as HTMLTextAreaElement;
  const action = h('button', { class: 'jo-button jo-primary jo-send' }, 'Send');
  el.append(
    h(
      'div',
      { class: 'jo-toolbar' },
      h('span', { class: 'jo-title' }, 'Chat'),
      picker,
      refresh,
      h('span', { class: 'jo-spacer' }),
      clear
    ),
    settings,
    list,
    error,
    h('div', { class: 'jo-compose' }, input, action)
  );
  isolateKeys(el);

  let live: {
    id: number;
    text: string;
    thinking: string;
    node: { root: HTMLElement; body: HTMLElement };
    thought: Thought | null;
    frame: number;
  } | null = null;
  let unsent: { text: string; count: number } | null = null; // restored to the input if the kernel refuses it

  const atBottom = (): boolean => list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const follow = (wasAtBottom: boolean): void => {
    if (wasAtBottom) {
      list.scrollTop = list.scrollHeight;
    }
  };

  function drawPicker(): void {
    const current = model.get('model');
    const names = [...model.get('models')];
    // "smollm2" is "smollm2:latest": one entry, not two.
    const same = (name: string): boolean => name === current || name === `${current}:latest`;
    if (current && !names.some(same)) {
      names.unshift(current);
    }
    picker.replaceChildren(
      ...(names.length ? names : ['']).map(n =>
        h('option', { value: n, selected: !!current && same(n) }, n || 'no models')
      )
    );
  }

  function typingNode(): HTMLElement {
    const { root, body } = messageNode('assistant jo-live', 'Assistant');
    body.append(h('span', { class: 'jo-typing' }, h('span'), h('span'), h('span')));
    return root;
  }

  function drawMessages(): void {
    const stick = atBottom();
    const messages = model.get('messages');
    live = null;
    const nodes = messages.map(m => {
      const role = m.role === 'user' ? 'user' : m.role === 'assistant' ? 'assistant' : 'other';
      const { root, body } = messageNode(role, role === 'user' ? 'You' : role === 'assistant' ? 'Assistant' : m.role);
      if (role === 'assistant') {
        if (m.thinking) {
          thoughtNode(body, m.thinking, false);
        }
        body.innerHTML = renderMarkdown(m.content || '');
        const stats = statsLine(m.stats);
        if (stats) {
          root.append(stats);
        }
      } else {
        body.textContent = m.content || '';
      }
      return root;
    });
    if (!messages.length) {
      nodes.push(h('div', { class: 'jo-empty jo-muted' }, 'Say hello to start the conversation.'));
    }
    list.replaceChildren(...nodes);
    if (model.get('streaming')) {
      list.append(typingNode());
    }
    follow(stick || model.get('streaming'));
  }

  function drawState(): void {
    const streaming = model.get('streaming');
    action.textContent = streaming ? 'Stop' : 'Send';
    action.classList.toggle('jo-stop', streaming);
    action.title = streaming ? 'Stop the reply' : 'Send (Enter)';
    clear.disabled = streaming;
    el.classList.toggle('jo-busy', streaming);
    if (!streaming) {
      list.querySelectorAll('.jo-live').forEach(n => n.remove());
    }
  }

  function drawError(): void {
    const message = model.get('error');
    fill(error, errorLine(message));
    if (message && unsent && model.get('messages').length === unsent.count && !input.value) {
      input.value = unsent.text;
    }
    unsent = null;
  }

  function onDelta(msg: Delta): void {
    if (!msg || msg.type !== 'delta') {
      return;
    }
    if (msg.id < model.get('messages').length) {
      return; // that reply is final already
    }
    if (!live || live.id !== msg.id) {
      list.querySelectorAll('.jo-live').forEach(n => n.remove());
      const node = messageNode('assistant jo-live', 'Assistant');
      live = { id: msg.id, text: '', thinking: '', node, thought: null, frame: 0 };
      list.append(node.root);
    }
    live.text += msg.text || '';
    live.thinking += msg.thinking || '';
    if (!live.frame) {
      const current = live;
      current.frame = requestAnimationFrame(() => {
        current.frame = 0;
        const stick = atBottom();
        if (current.thinking && !current.thought) {
          current.thought = thoughtNode(current.node.body, '', true);
        }
        const thought = current.thought;
        if (thought) {
          thought.body.textContent = current.thinking;
          const answering = current.text.length > 0;
          thought.label.textContent = answering ? 'Thinking' : 'Thinking…';
          if (answering && !thought.touched) {
            thought.root.open = false; // the answer has started: the thoughts fold away
          }
        }
        current.node.body.innerHTML = renderMarkdown(current.text);
        follow(stick);
      });
    }
  }

  function push(): void {
    // The fields' values, before a message, so Python sees what is on screen.
    model.set('system', system.value);
    model.set('options', options.value);
    model.save_changes();
  }

  function submit(): void {
    if (model.get('streaming')) {
      return;
    }
    const text = input.value;
    if (!text.trim()) {
      return;
    }
    push();
    unsent = { text, count: model.get('messages').length };
    model.send({ type: 'send', text });
    input.value = '';
  }

  input.addEventListener('keydown', event => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  action.addEventListener('click', () => (model.get('streaming') ? model.send({ type: 'stop' }) : submit()));
  clear.addEventListener('click', () => model.send({ type: 'clear' }));
  refresh.addEventListener('click', () => model.send({ type: 'refresh' }));
  picker.addEventListener('change', () => {
    model.set('model', picker.value);
    model.save_changes();
  });
  system.addEventListener('change', push);
  options.addEventListener('change', push);

  const onMessages = (): void => {
    drawMessages();
    drawState();
  };
  const onModels = (): void => drawPicker();
  function drawHint(): void {
    // What is set, readable while the settings are folded.
    const set = [model.get('system') && 'system prompt', model.get('options')].filter(Boolean);
    hint.textContent = set.length ? ` · ${set.join(' · ')}` : '';
  }
  const onSystem = (): void => {
    if (document.activeElement !== system) {
      system.value = model.get('system');
    }
    drawHint();
  };
  const onOptions = (): void => {
    if (document.activeElement !== options) {
      options.value = model.get('options');
    }
    drawHint();
  };
  const handlers: [string, () => void][] = [
    ['change:messages', onMessages],
    ['change:streaming', onMessages],
    ['change:models', onModels],
    ['change:model', onModels],
    ['change:error', drawError],
    ['change:system', onSystem],
    ['change:options', onOptions]
  ];
  model.on('msg:custom', onDelta);
  for (const [event, handler] of handlers) {
    model.on(event, handler);
  }

  system.value = model.get('system');
  options.value = model.get('options');
  drawHint();
  drawPicker();
  onMessages();
  drawError();

  return () => {
    if (live && live.frame) {
      cancelAnimationFrame(live.frame);
    }
    (model as AnyModel).off('msg:custom', onDelta);
    for (const [event, handler] of handlers) {
      (model as AnyModel).off(event, handler);
    }
  };
}

export default { render };
