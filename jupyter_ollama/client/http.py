"""A small HTTP client for the CLI, kernels and widgets: OLLAMA_HOST, or the Jupyter server it runs under."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import httpx

from ..digests import sha256_file
from ..envconfig import api_key, host_is_set, jupyter_token, jupyter_url, ollama_host


class ClientError(Exception):
    def __init__(self, message: str, status: int = -1) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def default_server() -> tuple[str, str | None, str]:
    """Where the CLI goes, with its token and why: OLLAMA_HOST if set; else the Jupyter server
    whose terminal this is (its extension exports its URL and token); else Ollama's default address."""
    if not host_is_set() and (url := jupyter_url()):
        return url, jupyter_token(), "the Jupyter server's extension, JUPYTER_OLLAMA_URL"
    return ollama_host().connectable.url, api_key(), "OLLAMA_HOST" if host_is_set() else "the default address"


NO_SERVER_HINT = "start one with `jupyter-ollama serve` or JupyterLab (`make run`), or set OLLAMA_HOST to one that runs"


class Client:
    def __init__(self, base_url: str | None = None, timeout: float | None = None, token: str | None = None) -> None:
        found_token, self.found = None, "given"
        if base_url is None:
            base_url, found_token, self.found = default_server()
        self.base_url = base_url.rstrip("/")
        headers = {"User-Agent": "jupyter-ollama"}
        if key := token or found_token or api_key():
            headers["Authorization"] = f"Bearer {key}"
        self.http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    def _unreachable(self) -> ClientError:
        """One line, with what to do: the connection error itself is always "refused" or "unreachable"."""
        where = self.base_url if self.found == "given" else f"{self.base_url} ({self.found})"
        return ClientError(f"could not connect to the server at {where}: {NO_SERVER_HINT}")

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check(self, response: httpx.Response) -> httpx.Response:
        if response.status_code >= 400:
            response.read()
            try:
                message = response.json().get("error") or response.text
            except ValueError:
                message = response.text or response.reason_phrase
            raise ClientError(message, response.status_code)
        return response

    def request(self, method: str, path: str, body: Any = None) -> Any:
        try:
            response = self._check(self.http.request(method, path, json=body))
        except httpx.ConnectError as err:
            raise self._unreachable() from err
        return response.json() if response.content else {}

    def has_model(self, name: str) -> bool:
        """Whether the server has `name` (Ollama's `run` asks before pulling)."""
        try:
            self.request("POST", "/api/show", {"model": name})
        except ClientError as err:
            if err.status == 404:
                return False
            raise
        return True

    def stream(
        self, path: str, body: dict[str, Any], opened: Callable[[httpx.Response], None] | None = None
    ) -> Generator[dict[str, Any], None, None]:
        """POST and yield each NDJSON line; an `error` line raises.

        `opened` gets the live response, so another thread can `hang_up` on it.
        """
        try:
            with self.http.stream("POST", path, json=body) as response:
                self._check(response)
                if opened is not None:
                    opened(response)
                for line in response.iter_lines():
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    if "error" in event:
                        raise ClientError(event["error"])
                    yield event
        except httpx.ConnectError as err:
            raise self._unreachable() from err

    def upload_blob(self, path: Path) -> str:
        """Hash a file and upload it unless the server has it already (Ollama's CLI flow)."""
        digest = sha256_file(path)
        if self.http.head(f"/api/blobs/{digest}").status_code != 200:
            with open(path, "rb") as f:
                self._check(self.http.post(f"/api/blobs/{digest}", content=f))
        return digest


def hang_up(response: httpx.Response) -> None:
    """End a streaming reply from another thread: its reader wakes up with an error at once,
    and the server sees the client go (and frees the slot or stops the download)."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if isinstance(sock, socket.socket):
        try:
            sock.shutdown(socket.SHUT_RDWR)  # close() alone would not wake a blocked recv
        except OSError:  # already closed
            pass

