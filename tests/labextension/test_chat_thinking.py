"""The sidebar chat and a thinking model: its thoughts show apart from the answer, in a "Thinking" part that
is folded once the reply has ended and opens on a click (as the notebook chat widget and `%ollama` show them)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from ..api.templates import THINKING
from .test_sidebar import ask_in_chat, shot


def test_the_sidebar_chat_shows_a_thinking_models_thoughts(jupyter_lab, browser_page: Page) -> None:
    # THINKING opens a <think> part in the prompt: whatever SmolLM2 writes first is the model's thinking.
    created = jupyter_lab.api("POST", "api/create", json={
        "model": "sidebar-thinker", "from": "smollm2", "template": THINKING, "stream": False,
        "parameters": {"temperature": 0, "num_predict": 40}})
    assert created.status_code == 200, created.text
    page = browser_page
    panel = ask_in_chat(page, jupyter_lab, "sidebar-thinker:latest", "What is 2+2?")

    expect(panel.locator(".jp-Ollama-chatStatus")).to_contain_text("tokens/s")  # the reply has ended
    reply = panel.locator(".jp-Ollama-message-assistant").last
    thought = reply.locator("details.jp-Ollama-thinking")
    expect(thought.locator("summary")).to_have_text("Thinking")
    assert thought.evaluate("d => d.open") is False  # folded once the reply ended
    thought.locator("summary").click()
    body = thought.locator(".jp-Ollama-thinkingBody")
    expect(body).to_be_visible()
    expect(body).to_have_text(re.compile(r"\w"))
    thinking = body.inner_text().strip()
    # The answer beside it is what came after the thinking, never the thinking again.
    answer = reply.evaluate("m => [...m.childNodes].filter(n => n.nodeType === Node.TEXT_NODE).map(n => n.textContent).join('')")
    assert thinking not in answer
    assert "<think>" not in (reply.text_content() or "")
    shot(page, "10-chat-thinking")
