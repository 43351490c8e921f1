"""An Ollama-style registry client: `/v2/<namespace>/<model>/{manifests,blobs}/…` over HTTP(S).

What Ollama's `makeRequestWithRetry` does (server/images.go): a 401 answered with
`WWW-Authenticate: Bearer realm=…,service=…,scope=…` fetches a token from the
realm (which must be on the registry's own host) and retries once with
`Authorization: Bearer <token>`; a 404 is `file does not exist`; any other
error status is `<code>: <body>`. `insecure` switches the scheme to http, and a
name that asks for http without `insecure` is refused.

Ollama signs its token requests with `~/.ollama/id_ed25519`; this client sends
them unsigned (enough for public models and for registries with their own auth).
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import httpx

from .._version import __version__
from ..errors import OllamaError
from ..store.manifests import MANIFEST_MEDIA_TYPE
from ..store.names import ModelName

USER_AGENT = f"jupyter-ollama/{__version__}"
TIMEOUT = httpx.Timeout(30.0, read=30.0)


class RegistryError(OllamaError):
    """A registry said no, or could not be reached; the message is Ollama's wording.

    502 where Ollama answers 500: the failure is the registry's, or the network's, not this server's.
    """

    status = 502


class RegistryNotFound(RegistryError):
    status = 404

    def __init__(self) -> None:
        super().__init__("file does not exist")


def parse_challenge(header: str) -> dict[str, str]:
    """`Bearer realm="…",service="…",scope="…"` → its three values (Ollama's getValue)."""
    text = header[len("Bearer "):] if header.startswith("Bearer ") else header
    values = {}
    for key in ("realm", "service", "scope"):
        start = text.find(key + "=")
        if start < 0:
            values[key] = ""
            continue
        start += len(key) + 2  # past `key="`
        end = start
        while end < len(text):
            if text[end] == '"' and (end + 1 >= len(text) or text[end + 1] == ","):
                break
            end += 1
        values[key] = text[start:end]
    return values


class Registry:
    """The registry a model name points at, with its auth state (shared by worker threads)."""

    def __init__(self, name: ModelName, insecure: bool = False, client: httpx.Client | None = None) -> None:
        if name.scheme == "http" and not insecure:
            raise RegistryError("insecure protocol http")
        self.name = name
        scheme = "http" if insecure else name.scheme
        self.base = f"{scheme}://{name.host}"
        self.repository = f"{name.namespace}/{name.model}"
        self.client = client or shared_client()
        self._token: str | None = None
        self._token_lock = threading.Lock()

    # -- urls -----------------------------------------------------------------

    def url(self, kind: str, reference: str) -> str:
        """`<base>/v2/<ns>/<model>/<kind>/<reference>` (kind: manifests, blobs)."""
        return f"{self.base}/v2/{self.repository}/{kind}/{reference}"

    def same_host(self, url: str) -> bool:
        return urlsplit(url).hostname == urlsplit(self.base).hostname

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    # -- requests -------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        headers: dict[str, str] | None = None,
        content: Any = None,
        stream: bool = False,
        follow_redirects: bool = True,
    ) -> httpx.Response:
        """One request with Ollama's 401/404/error handling; `stream` leaves the body unread.

        `content` may be a function returning the body, so that the retry after a
        401 sends it again. The bearer token only goes to the registry's own host.
        """
        for _ in range(2):
            auth = self.auth_headers() if self.same_host(url) else {}
            body = content() if callable(content) else content
            request = self.client.build_request(method, url, headers={**(headers or {}), **auth}, content=body)
            try:
                response = self.client.send(request, stream=True, follow_redirects=follow_redirects)
            except httpx.HTTPError as err:
                raise RegistryError(f'{method.capitalize()} "{url}": {transport_reason(err)}') from err
            if response.status_code == 401:
                challenge = response.headers.get("www-authenticate", "")
                response.close()
                self._authorize(challenge)
                continue
            if response.status_code == 404:
                response.close()
                raise RegistryNotFound()
            if response.status_code >= 400:
                body = response.read().decode("utf-8", "replace").strip()
                response.close()
                raise RegistryError(f"{response.status_code}: {body}")
            if not stream:
                response.read()
                response.close()
            return response
        raise RegistryError("unauthorized: access denied")

    def get_manifest(self, tag: str) -> bytes:
        response = self.request("GET", self.url("manifests", tag), headers={"Accept": MANIFEST_MEDIA_TYPE})
        return response.content

    # -- auth -----------------------------------------------------------------

    def _authorize(self, header: str) -> None:
        """Fetch a bearer token as the challenge says (Ollama's getAuthorizationToken)."""
        challenge = parse_challenge(header)
        if not challenge["realm"]:
            raise RegistryError("unauthorized: access denied")
        query: list[tuple[str, str]] = [("service", challenge["service"])]
        query += [("scope", scope) for scope in challenge["scope"].split(" ")]
        query += [("ts", str(int(time.time()))), ("nonce", base64.b64encode(secrets.token_bytes(16)).decode())]
        realm = challenge["realm"]
        url = realm + ("&" if "?" in realm else "?") + urlencode(query)
        realm_host, own_host = urlsplit(url).netloc, urlsplit(self.base).netloc
        if realm_host != own_host:
            raise RegistryError(f'realm host "{realm_host}" does not match original host "{own_host}"')
        try:
            response = self.client.get(url)
        except httpx.HTTPError as err:
            raise RegistryError(f'Get "{url}": {transport_reason(err)}') from err
        if response.status_code >= 400:
            raise RegistryError(f"{response.status_code}: {response.text.strip()}".rstrip(": "))
        try:
            token = response.json()["token"]
        except (ValueError, KeyError, TypeError) as err:
            raise RegistryError(f"invalid token response from {realm}") from err
        with self._token_lock:
            self._token = token

    def resolve(self, base: str, location: str) -> str:
        """A `Location` header made absolute."""
        return urljoin(base, location)


_client: httpx.Client | None = None
_client_lock = threading.Lock()


def shared_client() -> httpx.Client:
    """One connection pool for every registry (thread-safe; downloads may outlive a pull)."""
    global _client
    with _client_lock:
        if _client is None:
            _client = httpx.Client(timeout=TIMEOUT, headers={"User-Agent": USER_AGENT})
        return _client


# How the resolver says a name does not resolve (glibc, musl, macOS): no network, or no such registry.
NAME_NOT_RESOLVED = ("name or service not known", "temporary failure in name resolution", "nodename nor servname",
                     "no address associated", "name does not resolve")
OFFLINE_HINT = ("no network? Pulls need the registry or Hugging Face; set HF_ENDPOINT for a mirror, "
                "or create the model from a local GGUF file: FROM ./model.gguf")


def transport_reason(err: httpx.HTTPError) -> str:
    """What went wrong on the wire, in a few words (`connection refused`, `timeout`)."""
    text = str(err) or type(err).__name__
    if isinstance(err, httpx.ConnectError) and "refused" in text.lower():
        return "connect: connection refused"
    if isinstance(err, httpx.ConnectError) and any(w in text.lower() for w in NAME_NOT_RESOLVED):
        try:
            host = err.request.url.host
        except RuntimeError:  # an error raised outside a request
            host = "the registry"
        return f"dial tcp: lookup {host}: no such host ({OFFLINE_HINT})"
    if isinstance(err, httpx.TimeoutException):
        return f"timeout: {text}" if text else "timeout"
    return text
