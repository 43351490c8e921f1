/** Memory per device from `/api/system`: loaded models' share, the rest used, free. */

import * as React from 'react';

import { Bar, Section } from './components';
import { formatBytes } from './format';
import type { PanelModel } from './model';
import { deviceBars } from './state';

export function Devices(props: { model: PanelModel }): JSX.Element | null {
  const { system } = props.model;
  if (system === undefined) {
    return null; // not loaded yet
  }
  if (system === null) {
    return (
      <Section title="Devices">
        <div className="jp-Ollama-empty">This server does not report devices (no /api/system).</div>
      </Section>
    );
  }
  return (
    <Section title="Devices">
      {deviceBars(system).map(device => (
        <div key={device.key} className="jp-Ollama-device" data-device={device.key}>
          <div className="jp-Ollama-deviceHeader">
            <span className="jp-Ollama-deviceName" title={device.label}>
              {device.label}
            </span>
            <span className="jp-Ollama-facts">
              {formatBytes(device.used)} / {formatBytes(device.total)}
            </span>
          </div>
          <Bar label={`${device.label} memory`} className="jp-Ollama-memory" parts={device.parts} />
          <div className="jp-Ollama-facts">
            {[
              device.modelNames.length
                ? `models ${formatBytes(device.models)}: ${device.modelNames.join(', ')}`
                : 'no models',
              device.load
            ]
              .filter(Boolean)
              .join(' · ')}
          </div>
        </div>
      ))}
      {system.gpu_error && <div className="jp-Ollama-empty">GPU: {system.gpu_error}</div>}
    </Section>
  );
}
