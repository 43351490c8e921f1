"""A user of the hub in a browser: signs in to JupyterHub, opens JupyterLab on their server, sees the hub's
models in the sidebar and runs `%ollama` in a notebook, all served by the hub's one model manager."""

from __future__ import annotations

import json
import re

import httpx
import nbformat
from playwright.sync_api import Page, expect

from ..labextension.conftest import ARTIFACTS, browser_page  # noqa: F401  (the fixture)
from ..widgets.test_browser import menu
from .conftest import PASSWORD, RunningHub

TIMEOUT = 180_000  # ms: a ceiling for waits on a shared 2-core machine, never a measured time


def sign_in(page: Page, hub: RunningHub, user: str) -> None:
    page.goto(hub.url + "/hub/login")
    page.locator("#username_input").fill(user)
    page.locator("#password_input").fill(PASSWORD)
    page.locator("#login_submit").click()
    page.wait_for_url(lambda url: "/login" not in url, timeout=TIMEOUT)


CELL = '%load_ext jupyter_ollama\n%ollama run smollm2 "Name a color." -o num_predict=12 -o temperature=0'


def put_notebook(hub: RunningHub, user: str, name: str, source: str) -> None:
    """A one-cell notebook on `user`'s server, through the proxy with the user's own Hub token."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    saved = httpx.put(f"{hub.url}/user/{user}/api/contents/{name}", headers=hub.headers(user), timeout=60,
                      json={"type": "notebook", "format": "json", "content": json.loads(nbformat.writes(nb))})
    assert saved.status_code in (200, 201), saved.text


def test_sidebar_and_magics_under_the_hub(hub: RunningHub, hub_model: str, browser_page: Page) -> None:  # noqa: F811
    page = browser_page
    hub.start_server("carol")
    put_notebook(hub, "carol", "hub.ipynb", CELL)
    sign_in(page, hub, "carol")
    # The notebook opened with its kernel: the run below waits for nothing typed into an editor in time.
    page.goto(hub.url + "/user/carol/lab/tree/hub.ipynb?reset")
    page.locator(".jp-LabShell").wait_for(timeout=TIMEOUT)
    page.locator("#jupyterlab-splash").wait_for(state="detached", timeout=TIMEOUT)
    expect(page.locator(".jp-StatusBar-Widget", has_text="| Idle")).to_have_count(1, timeout=TIMEOUT)
    page.keyboard.press("Control+Shift+C")
    page.locator(".lm-CommandPalette-input").fill("Ollama: Show models panel")
    page.locator(".lm-CommandPalette-item", has_text="Ollama: Show models panel").first.click()
    panel = page.locator("#jupyter-ollama-panel")
    expect(panel.locator('li[data-model="smollm2:latest"]')).to_contain_text("Q4_1", timeout=TIMEOUT)
    # Its kernel on carol's server reaches the hub's models through the server.
    menu(page, "Run", "Run All Cells")
    cell = page.locator(".jp-NotebookPanel:visible .jp-Cell").first
    # The live view streams into a display that is emptied at the end, when the reply becomes the cell's
    # value (Out[1]); so wait for the cell to finish and read the whole output area, not its first output.
    expect(cell.locator(".jp-InputArea-prompt")).to_contain_text("[1]", timeout=TIMEOUT)
    expect(cell.locator(".jp-OutputArea")).to_contain_text(re.compile(r"\w"), timeout=TIMEOUT)
    # The sidebar shows the model the kernel's request loaded on the service.
    expect(panel.locator('li[data-running="smollm2:latest"]')).to_be_visible(timeout=TIMEOUT)
    page.screenshot(path=str(ARTIFACTS / "hub-sidebar.png"))
    text = cell.locator(".jp-OutputArea").inner_text()
    assert text.strip() and "Error" not in text, text
    log = (hub.tmp / "hub.log").read_text()
    assert "POST /services/ollama/api/chat (carol@" in log  # the kernel's chat went to the service as carol
