"""Which server a kernel talks to, in DESIGN.md's order.

1. `OLLAMA_HOST`, if the user set it (a real Ollama works too);
2. the Jupyter server that started this kernel, if it runs the extension (it
   exports `JUPYTER_OLLAMA_URL` and `JUPYTER_OLLAMA_TOKEN` to its kernels);
3. a kernel-side server, started on first use and stopped with the kernel.
"""

from __future__ import annotations

import atexit
import threading
from dataclasses import dataclass, field

import httpx

from ..client import Client
from ..envconfig import api_key, host_is_set, jupyter_token, jupyter_url, ollama_host
from .embedded import EmbeddedServer


@dataclass(frozen=True)
class Endpoint:
    url: str
    token: str | None = field(repr=False)  # a notebook shows the repr: never print the token into it
    how: str  # how it was found, for `%ollama host`

    def client(self) -> Client:
        return Client(self.url, token=self.token)

    @property
    def headers(self) -> dict[str, str]:
        """What another HTTP client (ollama, openai, LangChain) must send to be let in."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


_lock = threading.Lock()
_endpoint: Endpoint | None = None
_embedded: EmbeddedServer | None = None


def _answers(url: str, token: str | None) -> bool:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        return httpx.get(f"{url.rstrip('/')}/api/version", headers=headers, timeout=3).status_code == 200
    except httpx.TransportError:
        return False


def find_server() -> Endpoint:
    global _endpoint, _embedded
    with _lock:
        if _endpoint is not None:
            return _endpoint
        if host_is_set():
            _endpoint = Endpoint(ollama_host().connectable.url, api_key(), "OLLAMA_HOST")
        elif (url := jupyter_url()) and _answers(url, jupyter_token()):
            _endpoint = Endpoint(url, jupyter_token(), "the Jupyter server's jupyter_ollama extension")
        else:
            _embedded = EmbeddedServer()
            _embedded.start()
            atexit.register(stop_embedded)
            _endpoint = Endpoint(_embedded.url, _embedded.token, "a kernel-side server started by this kernel")
        return _endpoint


def stop_embedded() -> None:
    global _endpoint, _embedded
    with _lock:
        if _embedded is not None:
            _embedded.stop()
            _embedded = None
            _endpoint = None


def forget() -> None:
    """Look again on next use (after the environment changed)."""
    global _endpoint
    with _lock:
        if _embedded is None:
            _endpoint = None
