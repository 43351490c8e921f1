/**
 * jupyter-ollama's JupyterLab plugin: the Ollama panel in the left sidebar, and the
 * command "Ollama: Show models panel" (in the palette when there is one).
 */

import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';

import { ollamaIcon } from './icon';
import { OllamaPanel, PANEL_ID } from './panel';

export const SHOW_COMMAND = 'jupyter-ollama:show-panel';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-ollama:panel',
  description: 'Local and running Ollama models, pulls, GPU and RAM, and a chat, in the left sidebar.',
  autoStart: true,
  optional: [ILayoutRestorer, ICommandPalette],
  activate: (app: JupyterFrontEnd, restorer: ILayoutRestorer | null, palette: ICommandPalette | null) => {
    const panel = new OllamaPanel();
    app.shell.add(panel, 'left', { rank: 850 });
    restorer?.add(panel, PANEL_ID);

    app.commands.addCommand(SHOW_COMMAND, {
      label: 'Ollama: Show models panel',
      caption: 'Open the Ollama panel in the left sidebar',
      icon: ollamaIcon,
      execute: () => app.shell.activateById(PANEL_ID)
    });
    palette?.addItem({ command: SHOW_COMMAND, category: 'Ollama' });
  }
};

export default plugin;
