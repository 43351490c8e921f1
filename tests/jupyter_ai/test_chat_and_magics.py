"""Jupyter AI 3 beside the extension, with no setup: its chat offers this server's models and answers through
them, in Chromium; its `%%ai` magic, in a kernel of this server, answers through them; the offer follows the
models as they come and go, and leaves with the server. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import asyncio
import json
import stat
import uuid

import httpx
from playwright.sync_api import Locator, Page, expect
from tornado.websocket import websocket_connect

from ..conftest import wait_for
from .conftest import ARTIFACTS, AiLab, launch_ai_lab

TIMEOUT = 120_000  # ms: a generous ceiling for waits on a shared 2-core machine, never a measured time
# Jupyternaut's prompt (its system prompt, the tools' names) is about 3800 tokens for SmolLM2 to read on the CPU.
REPLY_TIMEOUT = 300_000
OURS = "custom-jupyter-ollama/"


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"jupyter-ai-{name}.png"))


def model_option(page: Page, name: str) -> Locator:
    """The model picker's entry whose name is `name` (its description is part of the item)."""
    return page.get_by_role("menuitem").filter(has=page.locator(".jp-jai-controlMenu-name").get_by_text(name, exact=True))


def loaded(lab: AiLab) -> dict[str, int]:
    """Models loaded in this server, with their busy slots."""
    return {m["name"]: m["slots_busy"] for m in lab.api("GET", "api/ps").json()["models"]}


def test_jupyternauts_picker_offers_our_models_and_they_answer(ai_lab: AiLab, browser_page: Page) -> None:
    lab, page = ai_lab, browser_page
    page.set_default_timeout(TIMEOUT)
    expect.set_options(timeout=TIMEOUT)
    wait_for(lambda: "smollm2-tools" in lab.ours(), timeout=60)
    page.goto(f"{lab.url}lab?reset&token={lab.token}")
    page.locator(".jp-LauncherCard", has_text="Chat").click()
    page.locator("button[title='Model']:visible").click()
    ours = model_option(page, "smollm2-tools")
    expect(ours).to_have_count(1)  # once: not again among LiteLLM's own models
    expect(ours).to_contain_text("134.52M Q4_1, on this Jupyter server (jupyter-ollama)")
    expect(model_option(page, "smollm2")).to_have_count(0)  # no tools: every message would fail
    shot(page, "1-model-picker")

    ours.click()
    message = page.get_by_placeholder("Type a chat message, @ to mention...")
    message.fill("Say hello in one short sentence.")
    message.press("Enter")
    reply = page.locator(".jp-chat-message").nth(1)
    expect(reply).to_contain_text("Jupyternaut", timeout=REPLY_TIMEOUT)
    expect(reply.locator(".jp-chat-rendered-message")).not_to_have_text("")
    wait_for(lambda: loaded(lab).get("smollm2-tools:latest") == 0, timeout=REPLY_TIMEOUT / 1000)  # answered here, now idle
    assert "Error" not in (reply.text_content() or "")
    shot(page, "2-reply")
    page.locator("button[title='Model']:visible").click()  # the picker again, over the conversation
    expect(model_option(page, "smollm2-tools")).to_be_visible()
    shot(page, "3-reply-and-picker")
    page.keyboard.press("Escape")
    # After a reply LiteLLM looks the model up with a blocking request from the server's event loop; were ours
    # not in its model map, that request would be to this same server, which would wait on itself for minutes.
    assert httpx.get(lab.ollama_url + "/api/version", headers={"Authorization": f"token {lab.token}"}, timeout=30).status_code == 200


async def run_in_server_kernel(lab: AiLab, cells: list[str]) -> list[str]:
    """Start a kernel through the Jupyter server's REST API (so it has the server's environment) and run `cells`
    in it over the websocket; each cell's printed and displayed text, and its error."""
    headers = {"Authorization": f"token {lab.token}"}
    async with httpx.AsyncClient(headers=headers, timeout=60) as http:
        kernel = (await http.post(lab.url + "api/kernels", json={"name": "python3"})).json()
        ws = await websocket_connect(lab.url.replace("http", "ws", 1) + f"api/kernels/{kernel['id']}/channels?token={lab.token}")
        session, outputs = uuid.uuid4().hex, []
        try:
            for code in cells:
                msg_id = uuid.uuid4().hex
                header = {"msg_id": msg_id, "msg_type": "execute_request", "username": "t", "session": session, "version": "5.3"}
                content = {"code": code, "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False}
                await ws.write_message(json.dumps({"header": header, "parent_header": {}, "metadata": {}, "content": content, "channel": "shell"}))
                out: list[str] = []
                while True:
                    msg = json.loads(await asyncio.wait_for(ws.read_message(), timeout=300))
                    if msg.get("parent_header", {}).get("msg_id") != msg_id:
                        continue
                    kind, body = msg["msg_type"], msg["content"]
                    if kind == "stream":
                        out.append(body["text"])
                    elif kind in ("execute_result", "display_data"):
                        out.append(body["data"].get("text/markdown") or body["data"].get("text/plain", ""))
                    elif kind == "error":
                        out.append(f"{body['ename']}: {body['evalue']}")
                    elif kind == "status" and body["execution_state"] == "idle":
                        break
                outputs.append("".join(out))
        finally:
            ws.close()
            await http.delete(lab.url + f"api/kernels/{kernel['id']}")
    return outputs


def test_the_ai_magic_in_a_kernel_of_this_server_answers_through_it(ai_lab: AiLab) -> None:
    cells = [
        "import os\nbase = os.environ['OLLAMA_API_BASE']\nprint(base.startswith('http://jupyter:'), base.endswith('/a%40b/ollama'))",
        "%load_ext jupyter_ai_magic_commands\n%ai alias smollm2 ollama_chat/smollm2",  # the one line a user types
        "%%ai smollm2\nSay hello in one short sentence.",
    ]
    inherited, alias, answer = asyncio.run(run_in_server_kernel(ai_lab, cells))
    assert inherited.strip() == "True True"
    assert "Registered new alias `smollm2`" in alias
    assert answer.strip() and "Error" not in answer, answer
    assert "smollm2:latest" in loaded(ai_lab)  # only this test asks the plain smollm2: the answer came from here


def test_the_offer_follows_the_models_and_keeps_the_users_own(ai_lab: AiLab) -> None:
    lab = ai_lab
    headers = {"Authorization": f"token {lab.token}"}
    config_url = lab.url + "api/jupyternaut/config"
    wait_for(lambda: "smollm2-tools" in lab.ours(), timeout=60)
    mine = {"id": "custom-1234/openai/my-model", "name": "my model", "description": None, "model_id": "openai/my-model", "params": {}}
    posted = httpx.post(config_url, headers=headers, json={"custom_models": [mine, *lab.jupyternaut_config["custom_models"]]})
    assert posted.status_code == 204, posted.text

    created = lab.api("POST", "api/create", json={"model": "tiny-tools", "from": "smollm2-tools", "stream": False})
    assert created.status_code == 200, created.text
    entry = wait_for(lambda: lab.ours().get("tiny-tools"), timeout=60)
    assert entry["id"] == OURS + "tiny-tools" and entry["model_id"] == "ollama_chat/tiny-tools"
    assert entry["params"] == {"api_base": lab.ollama_url, "api_key": lab.token}
    assert lab.jupyternaut_config["custom_models"][0]["id"] == mine["id"]  # the user's own, first, as it was
    config_file = lab.data_dir / "jupyter_ai" / "config.json"
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600  # it holds the token now

    assert lab.api("DELETE", "api/delete", json={"model": "tiny-tools"}).status_code == 200
    wait_for(lambda: "tiny-tools" not in lab.ours(), timeout=60)
    assert set(lab.ours()) == {"smollm2-tools"}
    rest = [e for e in lab.jupyternaut_config["custom_models"] if e["id"] != mine["id"]]
    assert httpx.post(config_url, headers=headers, json={"custom_models": rest}).status_code == 204


def test_a_stopped_server_takes_its_models_and_token_out(tmp_path, smollm2_gguf) -> None:
    lab = launch_ai_lab(tmp_path, smollm2_gguf)
    try:
        wait_for(lambda: "smollm2-tools" in lab.ours(), timeout=60)
    finally:
        lab.process.terminate()
        lab.process.wait(timeout=60)
    saved = (lab.data_dir / "jupyter_ai" / "config.json").read_text()
    assert OURS not in saved and lab.token not in saved
