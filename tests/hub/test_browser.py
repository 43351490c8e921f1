"""A user of the hub in a browser: signs in to JupyterHub, opens JupyterLab on their server, sees the hub's
models in the sidebar and runs `%ollama` in a notebook, all served by the hub's one model manager."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from ..labextension.conftest import ARTIFACTS, browser_page  # noqa: F401  (the fixture)
from .conftest import PASSWORD, RunningHub

TIMEOUT = 180_000  # ms: a ceiling for waits on a shared 2-core machine, never a measured time


def sign_in(page: Page, hub: RunningHub, user: str) -> None:
    page.goto(hub.url + "/hub/login")
    page.locator("#username_input").fill(user)
    page.locator("#password_input").fill(PASSWORD)
    page.locator("#login_submit").click()
    page.wait_for_url(lambda url: "/login" not in url, timeout=TIMEOUT)


def test_sidebar_and_magics_under_the_hub(hub: RunningHub, hub_model: str, browser_page: Page) -> None:  # noqa: F811
    page = browser_page
    hub.start_server("carol")
    sign_in(page, hub, "carol")
    page.goto(hub.url + "/user/carol/lab")
    page.locator(".jp-LabShell").wait_for(timeout=TIMEOUT)
    page.locator("#jupyterlab-splash").wait_for(state="detached", timeout=TIMEOUT)
    page.keyboard.press("Control+Shift+C")
    page.locator(".lm-CommandPalette-input").fill("Ollama: Show models panel")
    page.locator(".lm-CommandPalette-item", has_text="Ollama: Show models panel").first.click()
    panel = page.locator("#jupyter-ollama-panel")
    expect(panel.locator('li[data-model="smollm2:latest"]')).to_contain_text("Q4_1", timeout=TIMEOUT)
    # A notebook on carol's server: its kernel reaches the hub's models through the server.
    page.keyboard.press("Control+Shift+C")
    page.locator(".lm-CommandPalette-input").fill("New Notebook")
    page.locator(".lm-CommandPalette-item", has_text="New Notebook").first.click()
    page.locator(".jp-Dialog").get_by_role("button", name="Select").click(timeout=TIMEOUT)  # Python 3
    cell = page.locator(".jp-Notebook .jp-Cell .cm-content").first
    cell.wait_for(timeout=TIMEOUT)
    cell.click()
    page.keyboard.type('%load_ext jupyter_ollama\n%ollama run smollm2 "Name a color." -o num_predict=12 -o temperature=0')
    page.keyboard.press("Shift+Enter")
    # The live view streams into a display that is emptied at the end, when the reply becomes the cell's
    # value (Out[1]); so wait for the cell to finish and read the whole output area, not its first output.
    expect(page.locator(".jp-Notebook .jp-Cell").first.locator(".jp-InputArea-prompt")).to_contain_text("[1]", timeout=TIMEOUT)
    expect(page.locator(".jp-Notebook .jp-Cell").first.locator(".jp-OutputArea")).to_contain_text(re.compile(r"\w"), timeout=TIMEOUT)
    # The sidebar shows the model the kernel's request loaded on the service.
    expect(panel.locator('li[data-running="smollm2:latest"]')).to_be_visible(timeout=TIMEOUT)
    page.screenshot(path=str(ARTIFACTS / "hub-sidebar.png"))
    text = page.locator(".jp-Notebook .jp-Cell").first.locator(".jp-OutputArea").inner_text()
    assert text.strip() and "Error" not in text, text
    log = (hub.tmp / "hub.log").read_text()
    assert "POST /services/ollama/api/chat (carol@" in log  # the kernel's chat went to the service as carol
