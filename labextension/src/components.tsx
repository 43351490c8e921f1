/** Small shared pieces of the panel's views. */

import * as React from 'react';
import { LabIcon, closeIcon } from '@jupyterlab/ui-components';

/** A bar of one or two segments (fractions of the whole), with an accessible value. */
export function Bar(props: { label: string; parts: number[]; className?: string }): JSX.Element {
  const parts = props.parts.map(part => Math.min(1, Math.max(0, part)));
  const value = parts.reduce((sum, part) => sum + part, 0);
  return (
    <div
      className={`jp-Ollama-bar ${props.className ?? ''}`}
      role="progressbar"
      aria-label={props.label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={Math.round(Math.min(1, value) * 100)}
    >
      {parts.map((part, i) => (
        <div key={i} className={`jp-Ollama-barPart jp-Ollama-barPart-${i}`} style={{ width: `${part * 100}%` }} />
      ))}
    </div>
  );
}

/** A failure, inline, with an optional dismiss button. */
export function ErrorLine(props: { message: string; onDismiss?: () => void }): JSX.Element {
  return (
    <div className="jp-Ollama-error" role="alert">
      <span className="jp-Ollama-errorText">{props.message}</span>
      {props.onDismiss && <IconButton icon={closeIcon} label="Dismiss" onClick={props.onDismiss} />}
    </div>
  );
}

export function IconButton(props: {
  icon: LabIcon;
  label: string;
  onClick: () => void;
  disabled?: boolean;
}): JSX.Element {
  return (
    <button
      type="button"
      className="jp-Ollama-iconButton"
      title={props.label}
      aria-label={props.label}
      disabled={props.disabled}
      onClick={props.onClick}
    >
      <props.icon.react tag="span" elementSize="small" />
    </button>
  );
}

export function Section(props: { title: string; extra?: React.ReactNode; children: React.ReactNode }): JSX.Element {
  return (
    <section className="jp-Ollama-section" aria-label={props.title}>
      <header className="jp-Ollama-sectionHeader">
        <h3>{props.title}</h3>
        {props.extra}
      </header>
      {props.children}
    </section>
  );
}

/** A model's name, marked `remote` when engines elsewhere serve it. */
export function ModelName(props: { name: string; remote: boolean; title?: string }): JSX.Element {
  const name = (
    <span className="jp-Ollama-name" title={props.title}>
      {props.name}
    </span>
  );
  if (!props.remote) {
    return name;
  }
  return (
    <div className="jp-Ollama-nameLine">
      {name}
      <span className="jp-Ollama-remoteBadge" title="Served by engines elsewhere: no memory here">
        remote
      </span>
    </div>
  );
}
