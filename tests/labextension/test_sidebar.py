"""The sidebar in a real JupyterLab, driven by Playwright on Debian's Chromium.

One walk through what a user does: open the panel from the command palette, see the
local model, chat with it (streaming), see it running, pull another model from a
loopback registry (progress, cancel, resume), copy and delete it, unload the first. Screenshots of each
step go to tests/artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Locator, Page, Route, expect

from ..registry_server import file_digest
from .conftest import ARTIFACTS

TIMEOUT = 120_000  # ms: a generous ceiling for waits on a shared 2-core machine, never a measured time


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"sidebar-{name}.png"))


def open_panel(page: Page, lab) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{lab.url}lab?token={lab.token}")
    page.locator(".jp-LabShell").wait_for(timeout=TIMEOUT)
    page.locator("#jupyterlab-splash").wait_for(state="detached", timeout=TIMEOUT)
    # The command, from the palette.
    page.keyboard.press("Control+Shift+C")
    palette = page.locator(".lm-CommandPalette-input")
    palette.fill("Ollama: Show models panel")
    page.locator(".lm-CommandPalette-item", has_text="Ollama: Show models panel").first.click()
    # Widen the sidebar (drag the split handle) so the screenshots read well.
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle:not(.lm-mod-hidden)").first
    box = handle.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + 120, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()


def ask_in_chat(page: Page, lab, model: str, text: str) -> Locator:  # type: ignore[no-untyped-def]
    """Open the sidebar's Chat tab, pick `model` and send `text`; the panel, for what follows."""
    page.set_default_timeout(TIMEOUT)
    expect.set_options(timeout=TIMEOUT)
    open_panel(page, lab)
    panel = page.locator("#jupyter-ollama-panel")
    panel.get_by_role("tab", name="Chat").click()
    panel.get_by_label("Chat model").select_option(model)
    message = panel.get_by_label("Message")
    message.fill(text)
    message.press("Enter")
    return panel


def test_sidebar_manages_pulls_chats_and_unloads(jupyter_lab, registry, gemma_gguf, browser_page: Page) -> None:
    page = browser_page
    page.set_default_timeout(TIMEOUT)
    expect.set_options(timeout=TIMEOUT)
    open_panel(page, jupyter_lab)

    panel = page.locator("#jupyter-ollama-panel")
    expect(panel).to_be_visible()
    # The sidebar tab carries the panel's icon.
    expect(page.locator('.jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id="jupyter-ollama-panel"]')).to_be_visible()
    expect(panel.locator('li[data-model="smollm2:latest"]')).to_contain_text("Q4_1")
    expect(panel.locator('[data-device="cpu"] [role=progressbar]')).to_be_visible()  # the RAM bar
    shot(page, "1-panel")

    # A pull that fails shows its error inline.
    name_box = panel.get_by_label("Model to pull")
    panel.get_by_label("insecure (http registry)").check()
    name_box.fill(f"{registry.host}/library/nope:latest")
    panel.get_by_role("button", name="Pull", exact=True).click()
    expect(panel.locator(".jp-Ollama-pull .jp-Ollama-error")).to_contain_text("file does not exist")

    # Chat: the reply streams in (the log shows it growing), then the speed.
    panel.get_by_role("tab", name="Chat").click()
    panel.get_by_label("Chat model").select_option("smollm2:latest")
    page.evaluate("""() => {
        window.__replies = new Set();
        const log = document.querySelector('.jp-Ollama-chatLog');
        new MutationObserver(() => {
            const replies = log.querySelectorAll('.jp-Ollama-message-assistant');
            if (replies.length) window.__replies.add(replies[replies.length - 1].textContent);
        }).observe(log, {subtree: true, childList: true, characterData: true});
    }""")
    message = panel.get_by_label("Message")
    message.fill("Count from one to twenty, in words.")  # a reply of many pieces: it streams however busy the machine
    message.press("Enter")
    expect(panel.locator(".jp-Ollama-message-user")).to_have_text("Count from one to twenty, in words.")
    expect(panel.locator(".jp-Ollama-chatStatus")).to_contain_text("tokens/s")
    reply = panel.locator(".jp-Ollama-message-assistant").last
    expect(reply).not_to_be_empty()
    partials = page.evaluate("() => [...window.__replies].filter(t => t && t !== '…')")
    assert len(partials) >= 2, f"the reply did not stream: {partials}"
    assert partials[-1] == reply.text_content()
    shot(page, "2-chat")

    # Back on Models: the chat loaded the model, with its slots, expiry and share of RAM.
    panel.get_by_role("tab", name="Models").click()
    running = panel.locator('li[data-running="smollm2:latest"]')
    expect(running).to_contain_text("slots 0/")
    expect(running).to_contain_text("expires in")
    expect(panel.locator('[data-device="cpu"]')).to_contain_text("smollm2:latest")
    shot(page, "3-running")

    # A slow pull shows per-layer progress, and Cancel stops it.
    tiny = f"{registry.host}/library/tiny:latest"
    registry.source.rate = 8e6  # bytes/s: the 250 MB layer takes a while, so progress is on screen
    name_box.fill(tiny)
    panel.get_by_role("button", name="Pull", exact=True).click()
    layer_bar = panel.get_by_role("progressbar", name=f"layer {file_digest(gemma_gguf)[7:19]}")  # the GGUF's layer
    expect(layer_bar).to_have_attribute("aria-valuenow", re.compile(r"^[2-9][0-9]$"))  # partway: 20% to 99%
    shot(page, "4-pull-progress")
    # Running, devices, a pull, local models: the README's picture (docs/images/sidebar.png).
    page.screenshot(path=str(ARTIFACTS / "sidebar-readme.png"), clip={"x": 0, "y": 0, "width": 720, "height": 540})
    panel.get_by_role("button", name="Cancel").click()
    expect(panel.locator(".jp-Ollama-pullStatus")).to_have_text("cancelled")
    expect(panel.locator(f'li[data-model="{tiny}"]')).to_have_count(0)

    # At full speed it finishes (resuming the part already fetched) and the model is listed.
    registry.source.rate = None
    panel.get_by_role("button", name="Pull", exact=True).click()
    expect(panel.locator(".jp-Ollama-pullStatus")).to_have_text("pulled")
    expect(layer_bar).to_have_attribute("aria-valuenow", "100")
    expect(panel.locator(f'li[data-model="{tiny}"]')).to_be_visible()
    shot(page, "5-pulled")

    # Copy it under a new name, then delete the copy (both through JupyterLab's dialogs).
    panel.get_by_role("button", name=f"Copy {tiny}").click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator("input").fill("tiny-copy")
    dialog.get_by_role("button", name="Copy").click()
    copy_row = panel.locator('li[data-model="tiny-copy:latest"]')
    expect(copy_row).to_be_visible()
    panel.get_by_role("button", name="Delete tiny-copy:latest").click()
    dialog.get_by_role("button", name="Delete").click()
    expect(copy_row).to_have_count(0)

    # Unload takes the model off the running list.
    panel.get_by_role("button", name="Unload smollm2:latest").click()
    expect(running).to_have_count(0)
    expect(panel.locator(".jp-Ollama-error")).to_have_count(0)
    shot(page, "6-unloaded")


def use_theme(page: Page, name: str) -> None:
    """Settings → Theme → `name`, from the menu bar."""
    page.locator(".lm-MenuBar-item", has_text="Settings").click()
    page.locator(".lm-Menu-item", has_text="Theme").first.hover()
    page.locator(".lm-Menu-item", has_text=name).first.click()
    expect(page.locator("body")).to_have_attribute("data-jp-theme-name", name)
    page.locator("#jupyterlab-splash").wait_for(state="detached")  # the theme-change overlay


def test_sidebar_in_the_dark_theme(jupyter_lab, browser_page: Page) -> None:
    """The panel uses JupyterLab's theme variables: in the dark theme it is dark too."""
    page = browser_page
    page.set_default_timeout(TIMEOUT)
    expect.set_options(timeout=TIMEOUT)
    open_panel(page, jupyter_lab)
    panel = page.locator("#jupyter-ollama-panel")
    expect(panel.locator('li[data-model="smollm2:latest"]')).to_be_visible()
    use_theme(page, "JupyterLab Dark")
    # The sidebar's background follows the theme: a dark colour (each RGB channel low).
    background = panel.evaluate("el => getComputedStyle(el).backgroundColor")
    channels = [int(c) for c in re.findall(r"\d+", background)[:3]]
    assert max(channels) < 100, background
    shot(page, "7-dark")
    use_theme(page, "JupyterLab Light")  # the choice is saved on the server: leave it as it was


GIB = 1 << 30
# A 70B model over two H200s and the CPU, as /api/ps and /api/system report one (no GPU on this machine).
SPLIT_PS = {"models": [{
    "name": "llama3.1:70b", "model": "llama3.1:70b", "size": 121 * GIB, "size_vram": 112 * GIB, "digest": "a" * 64,
    "details": {"family": "llama", "parameter_size": "70.6B", "quantization_level": "Q4_K_M"},
    "expires_at": "2099-01-01T00:00:00Z", "context_length": 4096, "device": "gpu0", "slots_total": 4, "slots_busy": 0,
    "requests_queued": 0, "placement": {"gpu_layers": 71, "layers": 81, "reason": "71/81 layers fit on gpu0, gpu1, the rest on the CPU",
                                        "ram": 9 * GIB, "gpus": [{"index": 0, "layers": 38, "estimated": 60 * GIB, "measured": None},
                                                                 {"index": 1, "layers": 33, "estimated": 50 * GIB, "measured": 52 * GIB}]},
}]}
SPLIT_SYSTEM = {
    "gpus": [{"index": i, "name": "NVIDIA H200", "memory_total": 140 * GIB, "memory_used": used * GIB, "utilization": 80,
              "models": [{"name": "llama3.1:70b", "size": size * GIB, "layers": layers, "estimated": size * GIB, "measured": None}]}
             for i, used, size, layers in ((0, 139, 60, 38), (1, 132, 52, 33))],
    "gpu_error": None, "gpu_offload": True,
    "llama_build": {"backends": ["CUDA", "CPU"], "gpu_offload": True, "cuda_architectures": "900", "reason": "", "cmake_args": ""},
    "ram": {"total": 256 * GIB, "used": 40 * GIB, "available": 216 * GIB, "models": [{"name": "llama3.1:70b", "size": 9 * GIB}]},
    "cpu_percent": 40.0, "evictions": [],
}


def test_sidebar_shows_a_model_split_over_gpus_and_the_cpu(jupyter_lab, browser_page: Page) -> None:
    """What this GPU-less machine cannot load: the running row and the device bars of a split model (replies faked)."""
    page = browser_page
    page.set_default_timeout(TIMEOUT)
    expect.set_options(timeout=TIMEOUT)
    def reply(body: dict[str, Any]) -> Callable[[Route], None]:
        return lambda route: route.fulfill(json=body)

    page.route("**/ollama/api/ps*", reply(SPLIT_PS))
    page.route("**/ollama/api/system*", reply(SPLIT_SYSTEM))
    open_panel(page, jupyter_lab)
    panel = page.locator("#jupyter-ollama-panel")
    row = panel.locator('li[data-running="llama3.1:70b"]')
    expect(row).to_contain_text("GPU0 64 GB + GPU1 56 GB + CPU 9.7 GB (7%/93% CPU/GPU)")
    expect(panel.locator('[data-device="gpu1"]')).to_contain_text("llama3.1:70b")
    shot(page, "8-gpu-split-fake")
