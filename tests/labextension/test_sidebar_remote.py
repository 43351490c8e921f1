"""The sidebar shows a remote model: a pool of two real llama.cpp servers, one of them killed.

The pool is created on the Jupyter server's own API (`remote_host` a list), used once so its
engines are checked, then one engine is killed: the running list marks the model remote and
shows each engine, the dead one down (red) with why. Screenshots: tests/artifacts/sidebar-10-remote-pool.png,
and sidebar-11-remote-pool-dark.png.
"""

from __future__ import annotations

import time

from playwright.sync_api import Page, expect

from ..remote.engines import start_llama_server
from .test_sidebar import TIMEOUT, open_panel, shot, use_theme


def test_sidebar_shows_a_pool_with_one_engine_down(jupyter_lab, smollm2_gguf, browser_page: Page) -> None:
    lab = jupyter_lab
    engines = [start_llama_server(smollm2_gguf), start_llama_server(smollm2_gguf)]
    alive, killed = engines
    try:
        created = lab.api("POST", "api/create", json={"model": "team", "from": "smollm2", "stream": False,
                                                      "remote_host": [e.url for e in engines]})
        assert created.status_code == 200, created.text
        chat = lab.api("POST", "api/chat", json={"model": "team", "stream": False, "options": {"num_predict": 4},
                                                 "messages": [{"role": "user", "content": "Say hi"}]})
        assert chat.status_code == 200, chat.text
        killed.kill()
        deadline = time.monotonic() + 30
        while True:  # the pool's next check (every 0.5 s here) finds it gone
            [team] = [m for m in lab.api("GET", "api/ps").json()["models"] if m["name"] == "team:latest"]
            if team["remote"]["engines_up"] == 1 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert team["remote"]["engines_up"] == 1, team

        page = browser_page
        page.set_default_timeout(TIMEOUT)
        expect.set_options(timeout=TIMEOUT)
        open_panel(page, lab)
        panel = page.locator("#jupyter-ollama-panel")
        row = panel.locator('li[data-running="team:latest"]')
        expect(row).to_have_attribute("data-remote", "true")
        expect(row.locator(".jp-Ollama-remoteBadge")).to_have_text("remote")
        expect(row).to_contain_text("model smollm2 · 1/2 engines up")
        expect(row).to_contain_text("slots 0/2")
        up = row.locator(f'li[data-engine="{alive.url}"]')
        down = row.locator(f'li[data-engine="{killed.url}"]')
        expect(up).to_have_attribute("data-state", "up")
        expect(up).to_contain_text(f"127.0.0.1:{alive.port}up · openai · in flight 0 · slots 0/2")
        expect(down).to_have_attribute("data-state", "down")
        expect(down).to_contain_text("down · openai")
        error = down.locator(".jp-Ollama-engineError")
        expect(error).not_to_be_empty()
        assert down.get_attribute("title").startswith(f"{killed.url}: down (")  # type: ignore[union-attr]
        # Red: the theme's error colour, on the text and the marker.
        red = error.evaluate("el => getComputedStyle(el).color")
        assert red == down.evaluate("el => getComputedStyle(el).borderLeftColor") != up.evaluate(
            "el => getComputedStyle(el).borderLeftColor")
        r, g, b = (int(c) for c in red[red.index("(") + 1:-1].split(",")[:3])
        assert r > 150 and g < 100 and b < 100, red
        # Nothing of a local model's that a remote one lacks shows as a hole.
        text = row.inner_text()
        for hole in ("undefined", "NaN", "null", "ctx", "expires"):
            assert hole not in text, text
        expect(row.get_by_role("button", name="Unload team:latest")).to_have_count(0)  # no memory here to free
        # Local models: marked remote too, by its engines rather than its manifest's size.
        local = panel.locator('li[data-model="team:latest"]')
        expect(local.locator(".jp-Ollama-remoteBadge")).to_have_text("remote")
        expect(local).to_contain_text("model smollm2 · on 2 engines")
        shot(page, "10-remote-pool")
        use_theme(page, "JupyterLab Dark")
        expect(down).to_have_attribute("data-state", "down")
        shot(page, "11-remote-pool-dark")
        use_theme(page, "JupyterLab Light")  # the choice is saved on the server: leave it as it was
    finally:
        for engine in engines:
            engine.stop()
        lab.api("DELETE", "api/delete", json={"model": "team"})  # the next /api/ps drops its pool
