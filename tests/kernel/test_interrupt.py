"""Kernel > Interrupt during a streaming `%ollama run` / `%ollama chat`, in a real kernel.

The interrupt is the real one (SIGINT to the kernel, as JupyterLab sends it): the reply
keeps the text that arrived, the cell says "interrupted" in one line with no traceback,
and the server sees the client go and frees the slot.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from queue import Empty
from typing import Any

import httpx
import pytest
from jupyter_client.manager import KernelManager

from ..conftest import wait_for
from .conftest import clean_env

LONG = "Write a very long story about a dragon, with ten chapters."  # greedy SmolLM2 goes on for 1000+ tokens


def busy_slots(server, model: str) -> int:  # type: ignore[no-untyped-def]
    models = httpx.get(server.url + "/api/ps", timeout=30).json()["models"]
    return sum(m["slots_busy"] for m in models if m["name"] == model)


class Kernel:
    """A python3 kernel and the iopub messages of each cell it runs."""

    def __init__(self, manager: KernelManager) -> None:
        self.manager = manager
        self.client = manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def messages(self, msg_id: str, timeout: float = 120) -> Iterator[dict[str, Any]]:
        """The cell's iopub messages as they come, until it is idle again."""
        while True:
            try:
                msg = self.client.get_iopub_msg(timeout=timeout)
            except Empty:
                raise AssertionError("the kernel went quiet") from None
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return
            yield msg

    def run(self, code: str) -> list[dict[str, Any]]:
        return list(self.messages(self.client.execute(code)))

    def interrupted(
        self, code: str, ready: Callable[[list[dict[str, Any]]], bool] | None = None, delay: float = 0
    ) -> tuple[list[dict[str, Any]], str]:
        """Run `code`, interrupt it `delay` seconds after `ready` (by default: once reply text is on
        screen); its messages and the shell reply's status."""
        msg_id = self.client.execute(code)
        seen = []
        for msg in self.messages(msg_id):
            seen.append(msg)
            if (ready or (lambda messages: bool(shown(messages).strip())))(seen):
                time.sleep(delay)
                self.manager.interrupt_kernel()  # Kernel > Interrupt
                break
        seen += self.messages(msg_id)
        reply = self.client.get_shell_msg(timeout=30)
        return seen, reply["content"]["status"]


def shown(messages: list[dict[str, Any]]) -> str:
    """The live reply's text as it last appeared (the display updated in place)."""
    text = ""
    for msg in messages:
        if msg["msg_type"] in ("display_data", "update_display_data"):
            text = msg["content"]["data"].get("text/markdown", text)
    return text


def printed(messages: list[dict[str, Any]]) -> str:
    return "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream")


@pytest.fixture
def kernel(server, tmp_path) -> Iterator[Kernel]:  # type: ignore[no-untyped-def]
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(env=clean_env(OLLAMA_HOST=server.host), cwd=str(tmp_path))
    running = Kernel(manager)
    try:
        yield running
    finally:
        running.client.stop_channels()
        manager.shutdown_kernel(now=True)


@pytest.mark.parametrize("magic", ["run", "chat"])
def test_interrupt_keeps_the_text_says_so_and_frees_the_slot(kernel, server, smollm2, magic):
    kernel.run("%load_ext jupyter_ollama")
    messages, status = kernel.interrupted(f'answer = %ollama {magic} {smollm2} "{LONG}" -o temperature=0 -o num_predict=3000')
    assert status == "ok"  # the cell ended normally: no KeyboardInterrupt, no traceback
    assert not [m for m in messages if m["msg_type"] == "error"]
    assert printed(messages) == "interrupted\n"
    kept = shown(messages)
    assert kept.strip() and "Traceback" not in kept  # the text that arrived is still the cell's output
    wait_for(lambda: busy_slots(server, smollm2) == 0, timeout=10)  # the server stopped generating

    # The partial reply is the value, and the kernel takes the next request at once.
    value = printed(kernel.run("print(type(answer).__name__, len(answer))")).split()
    assert value == ["PartialReply", str(len(kept))]
    after = kernel.run(f'%ollama {magic} {smollm2} "Say hi." -o num_predict=5')
    assert [m for m in after if m["msg_type"] == "execute_result"] and not [m for m in after if m["msg_type"] == "error"]


WIDGET_CELL = f"""import time
from jupyter_ollama.widgets import ChatWidget
chat = ChatWidget("smollm2:latest", options={{"temperature": 0, "num_predict": 3000}})
chat.send_message("{LONG}")
while not chat._current.parts:  # the first words have arrived
    time.sleep(0.05)
print("streaming", flush=True)
answer = chat.wait()"""


def test_interrupt_during_a_chat_widgets_wait_stops_the_reply(kernel, server, smollm2):
    # The interrupt lands in wait(), a moment after the cell said the reply was streaming.
    messages, status = kernel.interrupted(WIDGET_CELL, ready=lambda seen: "streaming" in printed(seen), delay=1)
    assert status == "ok", [m["content"] for m in messages if m["msg_type"] == "error"] and not [m for m in messages if m["msg_type"] == "error"]
    assert printed(messages) == "streaming\ninterrupted\n"
    wait_for(lambda: busy_slots(server, smollm2) == 0, timeout=10)
    state = printed(kernel.run('print(bool(answer), answer == chat.messages[-1]["content"], chat.streaming, chat.messages[-1]["stats"]["stopped"])'))
    assert state.split() == ["True", "True", "False", "True"]  # wait() gave the text so far, as Stop keeps it
