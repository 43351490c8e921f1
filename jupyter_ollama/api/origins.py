"""What a web page may do with a server on this machine: Ollama's origin and Host rules.

A page the user visits can make the browser send requests to 127.0.0.1 (to pull,
create or delete models) and, through DNS rebinding, read the replies. So, as Ollama:

- **Origins.** A request with an `Origin` header is served only if that origin is allowed:
  `OLLAMA_ORIGINS` (comma-separated, `*` wildcards) plus localhost, 127.0.0.1 and 0.0.0.0 on
  any port, `app://`, `file://`, `tauri://`, `vscode-webview://`, `vscode-file://` and browser
  extensions. Others get 403. Preflights (`OPTIONS` with `Access-Control-Request-Method`)
  of allowed origins get 204 with the CORS headers. Requests without an `Origin` (curl,
  the Python clients) are not browser requests and pass.
- **Hosts.** While the server listens on loopback only, the `Host` header must name this
  machine: an IP that is loopback, private, unspecified or local, `localhost`, the hostname,
  or a name under `.localhost`, `.local`, `.internal`. Anything else is a rebinding attempt: 403.

The standalone and kernel-side servers apply this; under Jupyter, Jupyter's own rules apply.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from functools import lru_cache

import psutil

from .. import envconfig
from ..envconfig import split_host_port

DEFAULT_ORIGINS = tuple(
    f"{scheme}://{host}{port}"
    for host in ("localhost", "127.0.0.1", "0.0.0.0")
    for scheme in ("http", "https")
    for port in ("", ":*")
) + ("app://*", "file://*", "tauri://*", "vscode-webview://*", "vscode-file://*")
EXTENSION_SCHEMES = ("chrome-extension://", "moz-extension://", "safari-extension://", "ms-browser-extension://")
LOCAL_SUFFIXES = (".localhost", ".local", ".internal")
ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"
ALLOW_HEADERS = ", ".join((
    "Authorization", "Content-Type", "User-Agent", "Accept", "X-Requested-With",
    # What the OpenAI and Anthropic SDKs send from a browser.
    "OpenAI-Beta", "x-stainless-arch", "x-stainless-async", "x-stainless-custom-poll-interval",
    "x-stainless-helper-method", "x-stainless-lang", "x-stainless-os", "x-stainless-package-version",
    "x-stainless-poll-helper", "x-stainless-retry-count", "x-stainless-runtime", "x-stainless-runtime-version",
    "x-stainless-timeout", "anthropic-version", "anthropic-dangerous-direct-browser-access",
))


def _matches(pattern: str, origin: str) -> bool:
    """gin's CORS wildcard: one `*` standing for any text."""
    if pattern == "*":
        return True
    head, star, tail = pattern.partition("*")
    if not star:
        return origin == pattern
    return len(origin) >= len(head) + len(tail) and origin.startswith(head) and origin.endswith(tail)


@lru_cache(maxsize=1)
def _local_addresses() -> frozenset[str]:
    return frozenset(a.address.split("%")[0] for addrs in psutil.net_if_addrs().values() for a in addrs)


def host_allowed(host_header: str) -> bool:
    """Whether `Host` names this machine (Ollama's allowedHostsMiddleware)."""
    name, _ = split_host_port(host_header.strip().lower())
    host = name if name is not None else host_header.strip().lower().strip("[]")  # no port: the whole header
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host in ("", "localhost", socket.gethostname().lower()) or host.endswith(LOCAL_SUFFIXES)
    return ip.is_loopback or ip.is_private or ip.is_unspecified or str(ip) in _local_addresses()


@dataclass(frozen=True)
class BrowserGuard:
    origins: tuple[str, ...]
    check_host: bool  # the server listens on loopback only

    @classmethod
    def for_bind_address(cls, address: str) -> BrowserGuard:
        try:
            loopback = ipaddress.ip_address(address.strip("[]")).is_loopback
        except ValueError:
            loopback = address.lower() == "localhost"
        return cls(tuple(envconfig.origins()) + DEFAULT_ORIGINS, loopback)

    def origin_allowed(self, origin: str, host_header: str) -> bool:
        if origin.startswith(EXTENSION_SCHEMES):
            return True
        if origin in (f"http://{host_header}", f"https://{host_header}"):  # same origin: not cross-site
            return True
        return any(_matches(pattern, origin) for pattern in self.origins)
