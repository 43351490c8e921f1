import { LabIcon } from '@jupyterlab/ui-components';

/** A llama's head (ears, eyes, snout), in the theme's icon colour. */
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <path class="jp-icon3" fill="#616161" fill-rule="evenodd" d="M7.2 1.8c1 0 1.6 1.5 1.7 3.7.9-.3 1.9-.5 3.1-.5s2.2.2 3.1.5c.1-2.2.7-3.7 1.7-3.7 1.2 0 1.7 2.2 1.4 5.1 1.6 1.4 2.4 3.4 2.4 5.6v3.3c0 3.6-3.8 6.4-8.6 6.4s-8.6-2.8-8.6-6.4v-3.3c0-2.2.8-4.2 2.4-5.6-.3-2.9.2-5.1 1.4-5.1zM8.3 10.2a1.2 1.2 0 1 0 2.4 0 1.2 1.2 0 1 0-2.4 0zM13.3 10.2a1.2 1.2 0 1 0 2.4 0 1.2 1.2 0 1 0-2.4 0zM8.4 15.6c0 1.7 1.6 2.9 3.6 2.9s3.6-1.2 3.6-2.9-1.6-2.8-3.6-2.8-3.6 1.1-3.6 2.8z"/>
  <path class="jp-icon3" fill="#616161" d="M10.6 15.2a.7.7 0 1 0 1.1 0 .7.7 0 1 0-1.1 0zM12.3 15.2a.7.7 0 1 0 1.1 0 .7.7 0 1 0-1.1 0z"/>
</svg>`;

export const ollamaIcon = new LabIcon({ name: 'jupyter-ollama:llama', svgstr: svg });
