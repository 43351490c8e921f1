"""The sidebar chat's Stop: a long reply stops at once, keeps its text, and the server frees the slot."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from ..conftest import wait_for
from .test_sidebar import ask_in_chat, shot

LONG = "Write a very long story about a dragon, with ten chapters."  # greedy SmolLM2 goes on for 1000+ tokens


def busy_slots(lab, model: str) -> int:  # type: ignore[no-untyped-def]
    return sum(m["slots_busy"] for m in lab.api("GET", "api/ps").json()["models"] if m["name"] == model)


def test_stop_ends_a_long_reply_and_frees_the_slot(jupyter_lab, browser_page: Page) -> None:
    created = jupyter_lab.api(
        "POST", "api/create", json={"model": "rambler", "from": "smollm2", "stream": False, "parameters": {"temperature": 0, "num_predict": 2000}}
    )
    assert created.status_code == 200, created.text
    page = browser_page
    panel = ask_in_chat(page, jupyter_lab, "rambler:latest", LONG)

    reply = panel.locator(".jp-Ollama-message-assistant").last
    expect(reply).not_to_have_text("…")  # text is arriving
    expect(reply).not_to_be_empty()
    stop = panel.get_by_role("button", name="Stop")
    expect(stop).to_be_visible()
    assert busy_slots(jupyter_lab, "rambler:latest") == 1
    shot(page, "8-chat-streaming")
    stop.click()

    expect(panel.get_by_role("button", name="Send")).to_be_visible()  # the reply ended
    expect(panel.locator(".jp-Ollama-chatStatus")).not_to_contain_text("generating")
    kept = reply.text_content() or ""
    assert kept.strip() and kept != "…"  # the text that arrived stays
    wait_for(lambda: busy_slots(jupyter_lab, "rambler:latest") == 0, timeout=10)  # the server stopped generating
    shot(page, "9-chat-stopped")
