"""The widgets' front-end modules in Chromium without Jupyter: a fake anywidget model, any state.

What JupyterLab on this GPU-less machine cannot show: GPUs split by model. And the
Markdown rendering (marked, then DOMPurify) against hostile text.
"""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import Page, expect

from jupyter_ollama.widgets import ChatWidget, GpuMonitor

from ..labextension.conftest import ARTIFACTS

GIB = 1 << 30

PAGE = """<!doctype html><html><head><style>{css}</style></head>
<body style="margin: 0; padding: 12px; width: 860px"><div id="view"></div>
<script type="module">
const module = await import(URL.createObjectURL(new Blob([{esm}], {{type: "text/javascript"}})));
const state = {state};
const handlers = {{}};
const model = {{ get: (key) => state[key], set() {{}}, save_changes() {{}}, send() {{}},
                on(event, handler) {{ (handlers[event] = handlers[event] || []).push(handler); }}, off() {{}} }};
window.emit = (event, payload) => (handlers[event] || []).forEach(handler => handler(payload));  // a message from Python
module.default.render({{ model, el: document.getElementById("view") }});
window.widgetModule = module;
window.rendered = true;
</script></body></html>"""


def show(page: Page, widget: type, state: dict[str, Any]) -> None:
    """Render `widget`'s front end (its real ESM and CSS) with `state` as the model's traits."""
    page.set_content(PAGE.format(css=widget._css, esm=json.dumps(widget._esm), state=json.dumps(state)))
    page.wait_for_function("window.rendered === true")


def test_gpus_split_by_model(browser_page: Page) -> None:
    page = browser_page
    system = {
        "gpus": [
            {"index": 0, "name": "NVIDIA H100 80GB HBM3", "memory_total": 80 * GIB, "memory_used": 31 * GIB, "utilization": 37,
             "models": [{"name": "llama3.1:8b", "size": 8 * GIB}, {"name": "qwen2.5:14b", "size": 16 * GIB}]},
            {"index": 1, "name": "NVIDIA L4", "memory_total": 24 * GIB, "memory_used": 2 * GIB, "utilization": None,
             "models": [{"name": "smollm2:latest", "size": GIB}]},
        ],
        "gpu_error": None, "gpu_offload": True,
        "ram": {"total": 128 * GIB, "used": 40 * GIB, "available": 88 * GIB, "models": []},
        "cpu_percent": 12.5,
    }
    show(page, GpuMonitor, {"system": system, "error": ""})
    view = page.locator("#view")
    expect(view.locator(".jo-device-name")).to_have_text(["GPU 0 · NVIDIA H100 80GB HBM3", "GPU 1 · NVIDIA L4", "RAM"])
    h100, l4, ram = view.locator(".jo-device").all()
    # Each model a segment as wide as its share, then what other processes use.
    assert [s.get_attribute("style") for s in h100.locator(".jo-segment").all()] == [
        "width: 10%;", "width: 20%;", "width: 8.75%;"]
    # Sizes in Ollama's decimal units, as the sidebar and the CLI write them.
    assert h100.locator(".jo-segment").nth(0).get_attribute("title") == "llama3.1:8b: 8.6 GB"
    expect(h100.locator(".jo-legend-item")).to_have_text(["llama3.1:8b8.6 GB", "qwen2.5:14b17 GB", "other processes7.5 GB"])
    expect(h100).to_contain_text("37% busy")
    expect(h100).to_contain_text("33 GB / 86 GB used")
    expect(l4).to_contain_text("utilization n/a")
    # A model keeps its colour wherever it is.
    colors = {item.locator(".jo-legend-name").inner_text(): item.locator(".jo-swatch").get_attribute("class")
              for item in view.locator(".jo-legend-item").all()}
    assert len({colors["llama3.1:8b"], colors["qwen2.5:14b"], colors["smollm2:latest"]}) == 3
    expect(ram).to_contain_text("CPU 13%")
    expect(view.locator(".jo-no-gpu")).to_have_count(0)
    expect(view.locator(".jo-error")).to_have_count(0)
    page.locator("#view").screenshot(path=str(ARTIFACTS / "widgets-gpus-fake.png"))


def test_gpus_found_but_a_cpu_build(browser_page: Page) -> None:
    system = {"gpus": [{"index": 0, "name": "NVIDIA L4", "memory_total": GIB, "memory_used": 0, "utilization": 0, "models": []}],
              "gpu_error": None, "gpu_offload": False,
              "ram": {"total": 8 * GIB, "used": GIB, "available": 7 * GIB, "models": []}, "cpu_percent": 0.0}
    show(browser_page, GpuMonitor, {"system": system, "error": "the server did not answer in time"})
    view = browser_page.locator("#view")
    expect(view.locator(".jo-note")).to_have_text("This server's llama.cpp is a CPU build: models run on the CPU.")
    expect(view.locator(".jo-error")).to_have_text("the server did not answer in time")  # the last reading stays


def test_a_model_over_two_gpus_and_the_cpu_with_the_build_and_why(browser_page: Page) -> None:
    system = {
        "gpus": [
            {"index": 0, "name": "NVIDIA H200", "memory_total": 140 * GIB, "memory_used": 139 * GIB, "utilization": 88,
             "models": [{"name": "llama3.1:70b", "size": 60 * GIB, "layers": 38, "estimated": 60 * GIB, "measured": None}]},
            {"index": 1, "name": "NVIDIA H200", "memory_total": 140 * GIB, "memory_used": 132 * GIB, "utilization": 85,
             "models": [{"name": "llama3.1:70b", "size": 52 * GIB, "layers": 33, "estimated": 50 * GIB, "measured": 52 * GIB}]},
        ],
        "gpu_error": None, "gpu_offload": True,
        "llama_build": {"backends": ["CUDA", "CPU"], "gpu_offload": True, "cuda_architectures": "900",
                        "reason": "nvidia-smi found GPUs of CUDA architecture 90 and nvcc is /usr/local/cuda/bin/nvcc",
                        "cmake_args": "-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF -DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=90"},
        "ram": {"total": 256 * GIB, "used": 40 * GIB, "available": 216 * GIB,
                "models": [{"name": "llama3.1:70b", "size": 9 * GIB}]},
        "cpu_percent": 40.0, "evictions": [],
    }
    show(browser_page, GpuMonitor, {"system": system, "error": ""})
    view = browser_page.locator("#view")
    gpu0, gpu1, ram = view.locator(".jo-device").all()
    # The same model on both GPUs, each with its share of the layers, and its CPU part in RAM.
    expect(gpu0.locator(".jo-legend-name").first).to_have_text("llama3.1:70b · 38 layers")
    expect(gpu1.locator(".jo-legend-name").first).to_have_text("llama3.1:70b · 33 layers")
    expect(ram.locator(".jo-legend-name").first).to_have_text("llama3.1:70b")
    expect(view.locator(".jo-build")).to_have_text(
        "llama.cpp: CUDA (architectures 900) + CPU · GPU offload — "
        "nvidia-smi found GPUs of CUDA architecture 90 and nvcc is /usr/local/cuda/bin/nvcc")
    view.screenshot(path=str(ARTIFACTS / "widgets-gpus-placement-fake.png"))


CASES = [
    ("Some **bold**, *it* and `a <b>`", "<p>Some <strong>bold</strong>, <em>it</em> and <code>a &lt;b&gt;</code></p>\n"),
    # HTML a model writes is shown as text, never as markup.
    ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
    ("Hello <b>there</b>", "<p>Hello &lt;b&gt;there&lt;/b&gt;</p>\n"),
    ("[x](javascript:alert(1))", "<p>x</p>\n"),  # only web and mail links are links
    ('[x](https://a.com"onmouseover="alert(1))', None),  # no attribute breaks out; checked below
    ("[docs](https://example.com/a_b?x=1&y=2)",
     '<p><a href="https://example.com/a_b?x=1&amp;y=2" target="_blank" rel="noopener noreferrer">docs</a></p>\n'),
    ("![a cat](http://example.com/cat.png)", "<p>a cat</p>\n"),  # nothing fetched
    ("```python\nprint('<hi>')\n```\nafter", "<pre><code class=\"language-python\">print('&lt;hi&gt;')\n</code></pre>\n<p>after</p>\n"),
    ("```\nstill streaming", "<pre><code>still streaming\n</code></pre>\n"),
    ("- a\n- b\n  - c\n\n1. one\n2. two",
     "<ul>\n<li>a</li>\n<li>b<ul>\n<li>c</li>\n</ul>\n</li>\n</ul>\n<ol>\n<li>one</li>\n<li>two</li>\n</ol>\n"),
    ("# T\n\nline one\nline two\n\n> quoted", "<h1>T</h1>\n<p>line one<br>line two</p>\n<blockquote>\n<p>quoted</p>\n</blockquote>\n"),
    ("| a | b |\n|---|--:|\n| 1 | 2 |", '<table>\n<thead>\n<tr>\n<th>a</th>\n<th align="right">b</th>\n</tr>\n</thead>\n'
                                      '<tbody><tr>\n<td>1</td>\n<td align="right">2</td>\n</tr>\n</tbody></table>\n'),
    ("snake_case_name and 2 * 3 * 4", "<p>snake_case_name and 2 * 3 * 4</p>\n"),
    ("", ""),
]


def test_markdown(browser_page: Page) -> None:
    show(browser_page, ChatWidget, {"messages": [], "models": [], "model": "", "system": "", "options": "",
                                    "streaming": False, "error": ""})
    allowed = {"p", "strong", "em", "del", "code", "pre", "a", "br", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
               "blockquote", "hr", "table", "thead", "tbody", "tr", "th", "td"}
    for source, expected in CASES:
        html = browser_page.evaluate("source => window.widgetModule.renderMarkdown(source)", source)
        if expected is not None:
            assert html == expected, source
        # Whatever the text, the only elements are the renderer's own, with no event handlers or scripts.
        found = browser_page.evaluate("""html => {
            const box = document.createElement('div');
            box.innerHTML = html;
            return [...box.querySelectorAll('*')].map(e => [e.tagName.toLowerCase(), [...e.attributes].map(a => a.name)]);
        }""", html)
        for tag, attributes in found:
            assert tag in allowed and set(attributes) <= {"href", "target", "rel", "class", "align", "start"}, (source, tag)


def test_the_model_picker_lists_a_model_once(browser_page: Page) -> None:
    state = {"messages": [], "models": ["smollm2:latest", "gemma3:latest"], "model": "smollm2", "system": "",
             "options": "", "streaming": False, "error": ""}
    show(browser_page, ChatWidget, state)
    options = browser_page.locator(".jo-select option")
    expect(options).to_have_text(["smollm2:latest", "gemma3:latest"])  # "smollm2" is "smollm2:latest"
    assert browser_page.locator(".jo-select").input_value() == "smollm2:latest"
    show(browser_page, ChatWidget, {**state, "model": "elsewhere"})  # a model the list lacks is still shown
    expect(browser_page.locator(".jo-select option")).to_have_text(["elsewhere", "smollm2:latest", "gemma3:latest"])


THOUGHT = "The user asks for 2+2.\nTwo plus two is four, so the answer is 4."


def test_thinking_folds_above_the_answer(browser_page: Page) -> None:
    page = browser_page
    state = {"messages": [{"role": "user", "content": "What is 2+2?"},
                          {"role": "assistant", "content": "It is **4**.", "thinking": THOUGHT,
                           "stats": {"eval_count": 31, "tokens_per_second": 88.2, "done_reason": "stop"}},
                          {"role": "user", "content": "And <b>3+3</b>?"}],
             "models": ["thinker:latest"], "model": "thinker:latest", "system": "", "options": "", "streaming": True, "error": ""}
    show(page, ChatWidget, state)
    view = page.locator("#view")
    done = view.locator(".jo-message.jo-assistant").first
    thought = done.locator("details.jo-thinking")
    # A finished reply: its thinking folded above the answer, as text; opened with a click.
    expect(thought.locator("summary")).to_have_text("Thinking")
    assert thought.evaluate("d => d.open") is False
    assert thought.evaluate("d => d.nextElementSibling.classList.contains('jo-body')")  # above the answer
    expect(done.locator(".jo-body strong")).to_have_text("4")
    thought.locator("summary").click()
    expect(thought.locator(".jo-thinking-body")).to_have_text(THOUGHT)
    expect(thought.locator(".jo-thinking-body")).to_be_visible()

    # A reply streaming: open while the model thinks (with the text as it arrives), folded once it answers.
    page.evaluate("""() => {
        window.emit('msg:custom', {type: 'delta', id: 3, text: '', thinking: 'Three plus three'});
        window.emit('msg:custom', {type: 'delta', id: 3, text: '', thinking: ' is <b>six</b>.'});
    }""")
    live = view.locator(".jo-live")
    expect(live.locator(".jo-thinking summary")).to_have_text("Thinking…")
    expect(live.locator(".jo-thinking-body")).to_have_text("Three plus three is <b>six</b>.")  # text, never markup
    assert live.locator(".jo-thinking").evaluate("d => d.open") is True
    view.screenshot(path=str(ARTIFACTS / "widgets-chat-thinking-live.png"))
    page.evaluate("() => window.emit('msg:custom', {type: 'delta', id: 3, text: 'It is 6.'})")
    expect(live.locator(".jo-body")).to_have_text("It is 6.")
    expect(live.locator(".jo-thinking summary")).to_have_text("Thinking")
    assert live.locator(".jo-thinking").evaluate("d => d.open") is False
    view.screenshot(path=str(ARTIFACTS / "widgets-chat-thinking.png"))
