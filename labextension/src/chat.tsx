/** The Chat tab: a model picker, the conversation streaming in, Stop, and the speed of the last reply. */

import * as React from 'react';

import { ErrorLine } from './components';
import type { PanelModel } from './model';

export function Chat(props: { model: PanelModel }): JSX.Element {
  const { model } = props;
  const { chat } = model;
  const [draft, setDraft] = React.useState('');
  const log = React.useRef<HTMLDivElement>(null);
  const last = chat.messages[chat.messages.length - 1];

  React.useEffect(() => {
    // Follow the reply as it grows.
    log.current?.scrollTo({ top: log.current.scrollHeight });
  }, [chat.messages.length, last?.content]);

  const send = () => {
    if (draft.trim() && !chat.streaming && model.chatModel) {
      void model.send(draft);
      setDraft('');
    }
  };
  const onKeyDown = (event: React.KeyboardEvent) => {
    if (event.key === 'Enter' && !event.shiftKey) {
      event.preventDefault(); // Enter sends, Shift+Enter is a new line
      send();
    }
  };

  return (
    <div className="jp-Ollama-chat">
      <div className="jp-Ollama-chatBar">
        <select
          className="jp-Ollama-select"
          aria-label="Chat model"
          value={model.chatModel}
          disabled={chat.streaming}
          onChange={event => model.setChatModel(event.target.value)}
        >
          {model.models.length === 0 && <option value="">no models</option>}
          {model.models.map(local => (
            <option key={local.name} value={local.name}>
              {local.name}
            </option>
          ))}
        </select>
        <button
          type="button"
          className="jp-Button jp-mod-styled jp-mod-reject"
          disabled={chat.streaming || chat.messages.length === 0}
          onClick={() => model.clearChat()}
        >
          New chat
        </button>
      </div>
      <div className="jp-Ollama-chatLog" ref={log} aria-label="Conversation" aria-live="polite">
        {chat.messages.length === 0 && (
          <div className="jp-Ollama-empty">Ask {model.chatModel || 'a model'} something.</div>
        )}
        {chat.messages.map((message, i) => {
          const live = chat.streaming && i === chat.messages.length - 1;
          return (
            <div key={i} className={`jp-Ollama-message jp-Ollama-message-${message.role}`}>
              {message.thinking && <Thought text={message.thinking} answering={!!message.content || !live} />}
              {message.content || (live && !message.thinking ? '…' : '')}
            </div>
          );
        })}
      </div>
      {chat.error && <ErrorLine message={chat.error} />}
      <div className="jp-Ollama-chatStatus">{chat.streaming ? 'generating…' : (chat.rate ?? '')}</div>
      <div className="jp-Ollama-chatInput">
        <textarea
          className="jp-Ollama-textarea"
          aria-label="Message"
          placeholder="Message (Enter to send, Shift+Enter for a new line)"
          rows={3}
          value={draft}
          onChange={event => setDraft(event.target.value)}
          onKeyDown={onKeyDown}
        />
        {chat.streaming ? (
          <button
            key="stop"
            type="button"
            className="jp-Button jp-mod-styled jp-mod-warn"
            onClick={() => model.stopChat()}
          >
            Stop
          </button>
        ) : (
          <button
            key="send"
            type="button"
            className="jp-Button jp-mod-styled jp-mod-accept"
            disabled={!draft.trim() || !model.chatModel}
            onClick={send}
          >
            Send
          </button>
        )}
      </div>
    </div>
  );
}

/** A thinking model's thoughts, folded above its answer: open while it thinks, folded once the answer
 * starts, unless the reader opened or closed it (as the notebook chat widget does). */
function Thought(props: { text: string; answering: boolean }): JSX.Element {
  const [chosen, setChosen] = React.useState<boolean | null>(null);
  const open = chosen ?? !props.answering;
  return (
    <details
      className="jp-Ollama-thinking"
      open={open}
      onToggle={event => {
        // Also fired when `open` changes here; only a reader's click differs from it.
        if (event.currentTarget.open !== open) {
          setChosen(event.currentTarget.open);
        }
      }}
    >
      <summary>{props.answering ? 'Thinking' : 'Thinking…'}</summary>
      <div className="jp-Ollama-thinkingBody">{props.text}</div>
    </details>
  );
}
