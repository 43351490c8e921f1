"""Settings read from the environment, with Ollama's names, defaults and parsing."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class HostURL:
    scheme: str
    host: str
    port: int
    path: str = ""

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        path = f"/{self.path}" if self.path else ""
        return f"{self.scheme}://{self.netloc}{path}"

    @property
    def connectable(self) -> HostURL:
        """The same address with a wildcard bind host replaced by loopback, for clients."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        return HostURL(self.scheme, host, self.port, self.path)


def parse_ollama_host(value: str | None) -> HostURL:
    """Parse `OLLAMA_HOST` as Ollama does: `[scheme://]host[:port][/path]`, default `127.0.0.1:11434`."""
    text = (value or "").strip()
    default_port = 11434
    scheme, sep, hostport = text.partition("://")
    if not sep:
        scheme, hostport = "http", text
        if text == "ollama.com":
            scheme, hostport = "https", "ollama.com:443"
    elif scheme == "http":
        default_port = 80
    elif scheme == "https":
        default_port = 443
    hostport, _, path = hostport.partition("/")
    host, port = _split_host_port(hostport)
    if host is None:
        host, port = "127.0.0.1", None
        bare = hostport.strip("[]")
        try:
            host = str(ipaddress.ip_address(bare))
        except ValueError:
            if hostport:
                host = hostport
    try:
        number = int(port) if port is not None else default_port
    except ValueError:
        number = default_port
    if not 0 <= number <= 65535:
        number = default_port
    return HostURL(scheme, host, number, path)


def _split_host_port(hostport: str) -> tuple[str | None, str | None]:
    """Go's net.SplitHostPort: requires a port; brackets around IPv6."""
    if hostport.startswith("["):
        end = hostport.find("]")
        if end == -1 or not hostport[end + 1 :].startswith(":"):
            return None, None
        return hostport[1:end], hostport[end + 2 :]
    if hostport.count(":") != 1:
        return None, None
    host, port = hostport.split(":")
    return host, port


def ollama_host() -> HostURL:
    return parse_ollama_host(os.environ.get("OLLAMA_HOST"))
