"""The three widgets in a real JupyterLab, driven by Playwright on Debian's Chromium.

A notebook displays ChatWidget, GpuMonitor and PullWidget; all cells run; then a user's
walk: the pull shows progress and succeeds, the monitor says there is no NVIDIA GPU and
shows the model's RAM, the chat streams a reply (the text grows, then tokens/s shows),
Stop ends a long reply and the server frees the slot, Markdown renders safely, and a
reloaded page shows the conversation again. Screenshots go to tests/artifacts/widgets-*.png.
"""

from __future__ import annotations

import json

import nbformat
import pytest
from playwright.sync_api import Page, expect

from ..conftest import wait_for
from ..labextension.conftest import ARTIFACTS
from ..registry_server import Registry, new_blob

TIMEOUT = 120_000  # ms: a ceiling for waits on a shared 2-core machine, never a measured time
MODEL = "application/vnd.ollama.image.model"
LONG = "Write a very long story about a dragon, with ten chapters."

MARKDOWN = """# Heading

Some **bold**, *italic* and `inline <code>`.

- one
- two

```python
print("<b>not bold</b>")
```

| a | b |
|---|---|
| 1 | 2 |

[a link](https://example.com) and [a trap](javascript:alert(1)) and <script>window.__pwned = 1</script>
"""


@pytest.fixture(scope="module")
def registry(tmp_path_factory, smollm2_gguf):
    """`library/smol`: SmolLM2 with a few bytes more, so its blob is new to the lab's store and really downloads."""
    root = tmp_path_factory.mktemp("registry")
    blob = new_blob(smollm2_gguf, root / "smol.gguf", 64)
    reg = Registry(root)
    reg.publish("library/smol", "latest", [(MODEL, blob)])
    yield reg
    reg.close()


def shot(target, name: str) -> None:  # type: ignore[no-untyped-def]
    target.screenshot(path=str(ARTIFACTS / f"widgets-{name}.png"))


def notebook(registry: Registry) -> dict:
    cells = [
        "from jupyter_ollama.widgets import ChatWidget, GpuMonitor, PullWidget",
        "chat = ChatWidget('smollm2', options='temperature=0')\nchat",
        "monitor = GpuMonitor()\nmonitor",
        f"pull = PullWidget('{registry.host}/library/smol', insecure=True)\npull",
        f"sample = ChatWidget('smollm2', messages=[{{'role': 'user', 'content': 'Markdown, please'}},"
        f" {{'role': 'assistant', 'content': {MARKDOWN!r}}}])\nsample",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return json.loads(nbformat.writes(nb))


def menu(page: Page, *path: str) -> None:
    """Click through the menu bar: menu("Run", "Run All Cells")."""
    page.locator(".lm-MenuBar-itemLabel", has_text=path[0]).first.click()
    for label in path[1:]:
        page.locator(".lm-Menu:visible .lm-Menu-itemLabel").get_by_text(label, exact=True).first.click()


def busy_slots(lab) -> int:  # type: ignore[no-untyped-def]
    return sum(m["slots_busy"] for m in lab.api("GET", "api/ps").json()["models"])


def record_growth(page: Page) -> None:
    """Keep every text the first chat's live reply shows, to see it grow."""
    page.evaluate("""() => {
        window.__live = [];
        const list = document.querySelector('.jo-chat .jo-messages');
        new MutationObserver(() => {
            const live = list.querySelector('.jo-live .jo-body');
            const text = live ? live.textContent.trim() : '';  // marked ends a paragraph with a newline
            if (text && text !== window.__live[window.__live.length - 1]) window.__live.push(text);
        }).observe(list, {subtree: true, childList: true, characterData: true});
    }""")


def test_widgets_in_jupyterlab(jupyter_lab, registry, browser_page: Page) -> None:
    try:
        walk(browser_page, jupyter_lab, registry)
    except BaseException:
        shot(browser_page, "failure")  # what the page showed, for whoever reads the failure
        raise


def walk(page: Page, lab, registry: Registry) -> None:  # type: ignore[no-untyped-def]
    page.set_default_timeout(TIMEOUT)
    expect.set_options(timeout=TIMEOUT)
    assert lab.api("GET", "api/tags").status_code == 200
    headers = {"Authorization": f"token {lab.token}"}
    import httpx

    saved = httpx.put(f"{lab.url}api/contents/widgets.ipynb", headers=headers, timeout=60,
                      json={"type": "notebook", "format": "json", "content": notebook(registry)})
    assert saved.status_code in (200, 201), saved.text

    page.goto(f"{lab.url}lab/tree/widgets.ipynb?token={lab.token}")
    page.locator("#jupyterlab-splash").wait_for(state="detached")
    expect(page.locator(".jp-StatusBar-Widget", has_text="| Idle")).to_have_count(1)  # the kernel is up
    registry.source.rate = 20_000_000  # bytes/s: ~5 s for the model, so the progress is on screen
    try:
        menu(page, "Run", "Run All Cells")
        chats = page.locator(".jo-chat")
        expect(chats).to_have_count(2)
        chat, sample = chats.nth(0), chats.nth(1)
        monitor, pull = page.locator(".jo-gpu"), page.locator(".jo-pull")

        # The pull: a bar per layer moving, speed and time left, then success.
        expect(pull.locator(".jo-name")).to_contain_text("/library/smol")
        page.wait_for_function("""() => [...document.querySelectorAll('.jo-pull progress')]
            .some(p => p.value > 0 && p.value < 100)""", timeout=TIMEOUT)
        expect(pull.locator(".jo-summary")).to_contain_text("/s")
        shot(pull, "pull-progress")
    finally:
        registry.source.rate = None
    expect(pull.locator(".jo-badge")).to_have_text("✓ success")
    expect(pull.locator("progress")).to_have_count(2)  # the model and the config layers
    for bar in pull.locator("progress").all():
        expect(bar).to_have_attribute("value", "100")
    shot(pull, "pull-done")

    # The monitor on this GPU-less machine.
    expect(monitor.locator(".jo-no-gpu")).to_contain_text("No NVIDIA GPU on the server — models run on the CPU.")
    expect(monitor.locator(".jo-no-gpu .jo-detail")).to_contain_text("no NVIDIA GPU found (")
    expect(monitor.locator(".jo-device-name")).to_have_text(["RAM"])

    # The chat: Shift+Enter is a new line (not "run the cell"), Enter sends, the reply streams in.
    prompt = chat.locator(".jo-prompt")
    counts = page.locator(".jp-InputArea-prompt").all_inner_texts()
    prompt.click()
    prompt.press_sequentially("first line")
    prompt.press("Shift+Enter")
    prompt.press_sequentially("second line")
    assert prompt.input_value() == "first line\nsecond line"
    assert page.locator(".jp-InputArea-prompt").all_inner_texts() == counts  # no cell ran
    prompt.fill("Tell me about the sea.")
    record_growth(page)
    prompt.press("Enter")
    expect(chat.locator(".jo-user .jo-body")).to_have_text("Tell me about the sea.")
    expect(chat.locator(".jo-stats")).to_contain_text("tokens/s")
    grown = page.evaluate("() => window.__live")
    assert len(grown) >= 3 and all(b.startswith(a) for a, b in zip(grown, grown[1:], strict=False)), grown  # it grew
    reply = chat.locator(".jo-assistant .jo-body").last
    assert reply.inner_text().strip() and not chat.locator(".jo-error").count()
    assert page.locator(".jp-InputArea-prompt").all_inner_texts() == counts  # Enter did not run the cell either
    shot(chat, "chat")

    # The monitor now shows the model's share of RAM.
    expect(monitor.locator(".jo-legend-name").first).to_have_text("smollm2:latest")
    shot(monitor, "monitor")

    # Stop: a long reply (options from the settings field), stopped midway; the slot is freed.
    chat.locator(".jo-settings summary").click()  # folded until now; its summary shows what is set
    expect(chat.locator(".jo-settings summary")).to_contain_text("temperature=0")
    chat.locator(".jo-options").fill("temperature=0, num_predict=1000")
    prompt.fill(LONG)
    prompt.press("Enter")
    expect(chat.locator(".jo-send")).to_have_text("Stop")
    page.wait_for_function("() => (document.querySelector('.jo-chat .jo-live .jo-body')?.textContent || '').length > 20")
    assert busy_slots(lab) == 1
    chat.locator(".jo-send").click()
    expect(chat.locator(".jo-send")).to_have_text("Send")
    expect(chat.locator(".jo-stats").last).to_contain_text("stopped")
    wait_for(lambda: busy_slots(lab) == 0)
    shot(chat, "chat-stopped")

    # Markdown, rendered from escaped text: formatting yes, injected HTML no.
    body = sample.locator(".jo-assistant .jo-body")
    expect(body.locator("h1")).to_have_text("Heading")
    expect(body.locator("strong")).to_have_text("bold")
    expect(body.locator("pre code")).to_have_text('print("<b>not bold</b>")')
    expect(body.locator("li")).to_have_count(2)
    expect(body.locator("table td").first).to_have_text("1")
    expect(body.locator("a")).to_have_count(1)
    expect(body.locator("a")).to_have_attribute("href", "https://example.com")
    expect(body.locator("script, b")).to_have_count(0)
    expect(body).to_contain_text("<script>window.__pwned = 1</script>")
    assert page.evaluate("() => window.__pwned") is None
    shot(sample, "markdown")
    shot(page, "notebook")

    # A new view of the same widget (the page reloaded) shows the conversation from the synced trait.
    page.locator(".jp-InputArea-prompt").first.click()
    page.keyboard.press("Control+s")
    expect(page.locator(".jp-mod-dirty")).to_have_count(0)
    page.reload()
    page.locator("#jupyterlab-splash").wait_for(state="detached")
    chat = page.locator(".jo-chat").nth(0)
    expect(chat.locator(".jo-message")).to_have_count(4)
    expect(chat.locator(".jo-user .jo-body").first).to_have_text("Tell me about the sea.")
    expect(chat.locator(".jo-stats").first).to_contain_text("tokens/s")
    expect(chat.locator(".jo-stats").last).to_contain_text("stopped")

    # The dark theme: the widgets follow JupyterLab's variables.
    menu(page, "Settings", "Theme", "JupyterLab Dark")
    expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "false")
    page.locator("#jupyterlab-splash").wait_for(state="detached")
    for widget in (chat, page.locator(".jo-gpu")):
        background = widget.evaluate("el => getComputedStyle(el).backgroundColor")
        assert max(int(c) for c in background[background.index("(") + 1:-1].split(",")[:3]) < 100, background
    shot(chat, "chat-dark")
    shot(page.locator(".jo-gpu"), "monitor-dark")
    menu(page, "Settings", "Theme", "JupyterLab Light")
    expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "true")


THINKER_CELL = """from jupyter_ollama.widgets import ChatWidget
# An earlier turn that thought: with it, the tiny model thinks one sentence, closes </think> and answers.
thinking = ChatWidget('lab-thinker', options='temperature=0, num_predict=40', messages=[
    {'role': 'user', 'content': 'What is 2+2?'}, {'role': 'assistant', 'content': '4', 'thinking': '2+2 is 4.'}])
thinking"""


def test_the_chat_widget_shows_a_thinking_models_thoughts(jupyter_lab, browser_page: Page) -> None:
    from ..api.templates import THINKING

    created = jupyter_lab.api("POST", "api/create", json={"model": "lab-thinker", "from": "smollm2", "template": THINKING,
                                                          "stream": False})
    assert created.status_code == 200, created.text
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(THINKER_CELL)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    import httpx

    saved = httpx.put(f"{jupyter_lab.url}api/contents/thinking.ipynb", headers={"Authorization": f"token {jupyter_lab.token}"},
                      timeout=60, json={"type": "notebook", "format": "json", "content": json.loads(nbformat.writes(nb))})
    assert saved.status_code in (200, 201), saved.text
    page = browser_page
    page.set_default_timeout(TIMEOUT)
    expect.set_options(timeout=TIMEOUT)
    try:
        # `reset`: only this notebook, not the ones an earlier test left open in the workspace.
        page.goto(f"{jupyter_lab.url}lab/tree/thinking.ipynb?reset&token={jupyter_lab.token}")
        page.locator("#jupyterlab-splash").wait_for(state="detached")
        expect(page.locator(".jp-StatusBar-Widget", has_text="| Idle")).to_have_count(1)
        menu(page, "Run", "Run All Cells")
        chat = page.locator(".jp-NotebookPanel:visible .jo-chat")
        expect(chat).to_have_count(1)
        # The earlier reply: its thought folded above its answer.
        earlier = chat.locator(".jo-assistant").first.locator("details.jo-thinking")
        expect(earlier.locator("summary")).to_have_text("Thinking")
        assert earlier.evaluate("d => d.open") is False
        prompt = chat.locator(".jo-prompt")
        prompt.fill("What is the capital of France?")
        prompt.press("Enter")
        expect(chat.locator(".jo-stats")).to_have_count(1)  # the reply has ended (the earlier one has no stats)
        reply = chat.locator(".jo-assistant").last
        thought = reply.locator("details.jo-thinking")
        expect(thought.locator("summary")).to_have_text("Thinking")
        assert thought.evaluate("d => d.open") is False  # folded once the answer came
        expect(reply.locator(".jo-body")).to_have_text("4")
        thought.locator("summary").click()
        expect(thought.locator(".jo-thinking-body")).to_have_text("The capital of France is Paris.")
        shot(chat, "chat-thinking-lab")
    except BaseException:
        shot(page, "thinking-failure")
        raise
