"""A small HTTP client for the CLI, talking to the server at OLLAMA_HOST."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator

import httpx

from .config import ollama_host
from .store.blobs import sha256_file


class ClientError(Exception):
    def __init__(self, message: str, status: int = -1) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class Client:
    def __init__(self, base_url: str | None = None, timeout: float | None = None, token: str | None = None) -> None:
        self.base_url = (base_url or ollama_host().connectable.url).rstrip("/")
        headers = {"User-Agent": "jupyter-ollama"}
        if key := token or os.environ.get("OLLAMA_API_KEY"):
            headers["Authorization"] = f"Bearer {key}"
        self.http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

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
            raise ClientError(f"could not connect to the server at {self.base_url}: {err}") from err
        return response.json() if response.content else {}

    def stream(self, path: str, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """POST and yield each NDJSON line; an `error` line raises."""
        try:
            with self.http.stream("POST", path, json=body) as response:
                self._check(response)
                for line in response.iter_lines():
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    if "error" in event:
                        raise ClientError(event["error"])
                    yield event
        except httpx.ConnectError as err:
            raise ClientError(f"could not connect to the server at {self.base_url}: {err}") from err

    def upload_blob(self, path: Path) -> str:
        """Hash a file and upload it unless the server has it already (Ollama's CLI flow)."""
        digest = sha256_file(path)
        if self.http.head(f"/api/blobs/{digest}").status_code != 200:
            with open(path, "rb") as f:
                self._check(self.http.post(f"/api/blobs/{digest}", content=f))
        return digest
