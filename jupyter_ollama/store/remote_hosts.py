"""Where a remote model's engines are: their URLs, the API each speaks, and the OLLAMA_REMOTES allowlist.

A remote model names one engine or a pool of them. `remote_host` in `POST /api/create` is
Ollama's string, or (ours) a list whose items are URLs or `{"host": url, "api": "openai"}`.
URLs are normalized as Ollama's `remoteURL` does: a bare host gets `http://` and port 11434.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .. import envconfig
from ..errors import BadRequest

APIS = ("ollama", "openai")  # "": find out by asking the engine (`remote.engine`)
NOT_ALLOWED = "this server cannot run this remote model"


@dataclass(frozen=True)
class EngineSpec:
    """One engine of a remote model: its base URL, the API it speaks ("" until detected), and the
    environment variable holding its API key, if it wants one (the key itself is never stored)."""

    url: str
    api: str = ""
    api_key_env: str = ""

    @property
    def hostname(self) -> str:
        return urlsplit(self.url).hostname or ""

    def to_json(self) -> dict[str, str]:
        return {"host": self.url, **({"api": self.api} if self.api else {}),
                **({"api_key_env": self.api_key_env} if self.api_key_env else {})}


def remote_url(raw: str) -> str:
    """Ollama's `remoteURL`: `[scheme://]host[:port][/path]` with http and port 11434 by default."""
    text = raw.strip()
    if text.startswith("/"):
        return f"http://localhost:11434{posixpath.normpath(text)}"
    if "://" not in text:
        text = "http://" + text
    if text in ("http://ollama.com",):
        text = "https://ollama.com:443"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as err:
        raise BadRequest(f"bad remote: {raw!r} ({err})") from None
    if parts.scheme not in ("http", "https"):
        raise BadRequest(f"bad remote: {raw!r} (only http and https engines can be reached)")
    host = parts.hostname or "localhost"
    host = f"[{host}]" if ":" in host else host
    path = posixpath.normpath(parts.path) if parts.path else ""
    return f"{parts.scheme}://{host}:{port or 11434}{'' if path == '/' else path}"


def parse_engines(value: Any) -> list[EngineSpec]:
    """`remote_host` as a create request or a declaration gives it: a URL, or a list of URLs or objects."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise BadRequest("remote_host must name at least one engine")
    engines: list[EngineSpec] = []
    for item in items:
        if isinstance(item, str) and item.strip():
            engine = EngineSpec(remote_url(item))
        elif isinstance(item, dict) and isinstance(item.get("host"), str) and item["host"].strip():
            api = item.get("api") or ""
            if api not in ("", *APIS):
                raise BadRequest(f'remote_host: api must be "ollama" or "openai", not {api!r}')
            key_env = item.get("api_key_env") or ""
            if not isinstance(key_env, str) or (key_env and not key_env.replace("_", "").isalnum()):
                raise BadRequest("remote_host: api_key_env must name an environment variable")
            engine = EngineSpec(remote_url(item["host"]), api, key_env)
        else:
            raise BadRequest('remote_host must be a URL, or a list of URLs or {"host": URL, "api": "ollama"|"openai"}')
        if engine.url not in (e.url for e in engines):
            engines.append(engine)
    return engines


def engines_of(config: dict[str, Any]) -> list[EngineSpec]:
    """The engines a stored model's config names: ours (`remote_hosts`), else Ollama's single `remote_host`."""
    listed = config.get("remote_hosts")
    if isinstance(listed, list) and listed:
        return [EngineSpec(str(x.get("host")), str(x.get("api") or ""), str(x.get("api_key_env") or ""))
                for x in listed if isinstance(x, dict)]
    host = config.get("remote_host")
    return [EngineSpec(host)] if isinstance(host, str) and host else []


def check_allowed(engines: list[EngineSpec], also: frozenset[str] = frozenset()) -> None:
    """Refuse an engine whose host is not in OLLAMA_REMOTES (nor in `also`: hosts an admin declared)."""
    allowed = set(envconfig.remotes()) | also
    for engine in engines:
        if engine.hostname not in allowed:
            raise BadRequest(f"{NOT_ALLOWED}: host {engine.hostname!r} is not in OLLAMA_REMOTES "
                            f"({', '.join(sorted(allowed))})")
