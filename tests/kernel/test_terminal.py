"""The CLI in a JupyterLab terminal: on PATH, and talking to the Jupyter server it runs under.

The session's server runs without a terminal of its own, so its terminals are login shells
(`bash -l`), whose /etc/profile sets PATH afresh: the hardest case.
"""

from __future__ import annotations

import asyncio
import json

import httpx
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from jupyter_ollama.extension import terminal_shell

END = "__done__"


async def in_terminal(server, command: str, timeout: float = 60) -> str:  # type: ignore[no-untyped-def]
    """Type `command` into a new terminal of the server; what the terminal showed until it finished."""
    auth = {"Authorization": f"token {server.token}"}
    async with httpx.AsyncClient(headers=auth, timeout=30) as http:
        name = (await http.post(server.url + "api/terminals")).json()["name"]
        ws_url = server.url.replace("http://", "ws://") + f"terminals/websocket/{name}"
        ws = await websocket_connect(HTTPRequest(ws_url, headers=auth))
        try:
            # The marker is echoed as typed; only its printed form (after `echo`) has no quote in it.
            # The first `echo` ends the prompt's line: when the keys arrive before it, sh (SHELL unset)
            # prints its prompt after their echo, and the command's first line would follow "# ".
            ws.write_message(json.dumps(["stdin", f"echo; {command}; echo '{END[:4]}''{END[4:]}' $?\r"]))
            shown = ""
            while END not in shown:
                msg = await asyncio.wait_for(ws.read_message(), timeout=timeout)
                assert msg is not None, shown
                kind, *data = json.loads(msg)
                if kind == "stdout":
                    shown += data[0]
            return shown
        finally:
            ws.close()
            await http.delete(server.url + f"api/terminals/{name}")


def test_the_cli_in_a_terminal_finds_the_jupyter_server(jupyter_server):
    shown = asyncio.run(in_terminal(jupyter_server, "echo url=$JUPYTER_OLLAMA_URL; jupyter-ollama list"))
    assert f"url={jupyter_server.ollama_url}" in shown
    assert "NAME" in shown and "ID" in shown and "SIZE" in shown  # the listing's header: it connected, with the token
    assert "not found" not in shown and "could not connect" not in shown
    assert f"{END} 0" in shown


def test_nothing_answering_is_one_line_with_what_to_do(jupyter_server):
    shown = asyncio.run(in_terminal(jupyter_server, "JUPYTER_OLLAMA_URL=http://127.0.0.1:9/ollama jupyter-ollama ps"))
    error = [line for line in shown.splitlines() if line.startswith("Error:")]
    assert error == [
        "Error: could not connect to the server at http://127.0.0.1:9/ollama (the Jupyter server's extension, "
        "JUPYTER_OLLAMA_URL): start one with `jupyter-ollama serve` or JupyterLab (`make run`), or set OLLAMA_HOST "
        "to one that runs"
    ]
    assert "Traceback" not in shown and f"{END} 1" in shown


def test_terminal_shell_keeps_the_scripts_folder_only_for_default_login_shells():
    login = terminal_shell(["/bin/bash", "-l"], "/venv/bin")
    assert login == ["/bin/bash", "-l", "-c", 'PATH=/venv/bin:"$PATH"; export PATH; exec /bin/bash -i']
    assert terminal_shell(["/bin/bash"], "/venv/bin") == ["/bin/bash"]  # PATH from the environment stands
    assert terminal_shell(["/usr/bin/fish", "-l"], "/venv/bin") == ["/usr/bin/fish", "-l"]
