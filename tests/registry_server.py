"""A loopback Ollama-style registry (with a "CDN" on a second port) that the transfer tests start.

It speaks the routes Ollama's pull and push use: manifests (GET needs the Docker v2
`Accept` header; PUT stores), blobs (HEAD, GET with `Range`), uploads (POST →
`Location`, PUT `?digest=`), and a bearer-token realm. Faults are switched on per
test: redirects to the CDN on another host name (`localhost` vs `127.0.0.1`), a 401
token flow, a connection dropped at a byte offset, a corrupt blob, a rate limit.
Every blob byte served is counted, so tests can assert what a resume re-downloaded.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import socket
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_TYPE = "application/vnd.docker.container.image.v1+json"
CHUNK = 64 * 1024


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def new_blob(model: Path, target: Path, extra: int) -> Path:
    """`model` with `extra` zero bytes more at `target`: a blob that is new to a store, so a pull really downloads it."""
    shutil.copyfile(model, target)
    with open(target, "ab") as f:
        f.write(b"\0" * extra)
    return target


@dataclass
class Gate:
    """Blob bodies stop at `offset` until the test opens the gate; `reached` is set when one gets there."""

    offset: int
    opened: threading.Event = field(default_factory=threading.Event)
    reached: threading.Event = field(default_factory=threading.Event)

    def wait(self, position: int) -> None:
        if position >= self.offset and not self.opened.is_set():
            self.reached.set()
            self.opened.wait()


@dataclass
class BlobSource:
    """What blob bytes are served, with the faults and counters shared by registry and CDN."""

    root: Path
    blobs: dict[str, Path] = field(default_factory=dict)
    corrupt: set[str] = field(default_factory=set)
    drop_at: dict[str, int] = field(default_factory=dict)  # digest → absolute offset where bodies are cut
    drop_once: set[str] = field(default_factory=set)  # digests whose drop fires once only
    rate: float | None = None  # bytes per second over all blob bodies
    gates: dict[str, Gate] = field(default_factory=dict)  # digest → where its bodies wait for the test
    served: Counter = field(default_factory=Counter)  # digest → body bytes sent
    ranges: list[tuple[str, str]] = field(default_factory=list)  # (digest, Range header) of each GET
    lock: threading.Lock = field(default_factory=threading.Lock)
    _next: float = 0.0

    def add_bytes(self, data: bytes) -> str:
        digest = sha256_digest(data)
        path = self.root / digest.replace(":", "-")
        path.write_bytes(data)
        self.blobs[digest] = path
        return digest

    def add_file(self, path: Path) -> str:
        digest = file_digest(path)
        self.blobs[digest] = Path(path)
        return digest

    def size(self, digest: str) -> int:
        return self.blobs[digest].stat().st_size

    def pace(self, n: int) -> None:
        if not self.rate:
            return
        with self.lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + n / self.rate
        time.sleep(max(0.0, start - now))

    def serve(self, handler: BaseHTTPRequestHandler, digest: str, head: bool) -> None:
        path = self.blobs.get(digest)
        if path is None:
            return send(handler, 404, {"errors": [{"code": "BLOB_UNKNOWN"}]}, head=head)
        size = path.stat().st_size
        header = handler.headers.get("Range", "")
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", header)
        start, end = (int(match.group(1)), min(int(match.group(2) or size - 1), size - 1)) if match else (0, size - 1)
        handler.send_response(206 if match else 200)
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Content-Length", str(end - start + 1))
        handler.send_header("Accept-Ranges", "bytes")
        if match:
            handler.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        handler.end_headers()
        if head:
            return
        with self.lock:
            self.ranges.append((digest, header))
        limit, cut = end + 1, self.drop_at.get(digest)
        dropping = cut is not None and start <= cut <= end
        if dropping:
            limit = cut
            if digest in self.drop_once:
                self.drop_at.pop(digest, None)
        try:
            with open(path, "rb") as f:
                f.seek(start)
                offset = start
                while offset < limit:
                    chunk = f.read(min(CHUNK, limit - offset))
                    if not chunk:
                        break
                    if digest in self.corrupt and offset == 0:
                        chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
                    if digest in self.gates and header != "bytes=0-0":
                        self.gates[digest].wait(offset)
                    self.pace(len(chunk))
                    handler.wfile.write(chunk)
                    if header != "bytes=0-0":  # the direct-URL probe is not counted as a download
                        with self.lock:
                            self.served[digest] += len(chunk)
                    offset += len(chunk)
            if dropping:
                handler.wfile.flush()
                handler.connection.shutdown(socket.SHUT_RDWR)
                handler.close_connection = True
        except (BrokenPipeError, ConnectionResetError, OSError):
            handler.close_connection = True


def send(handler: BaseHTTPRequestHandler, code: int, body: Any = None, headers: dict[str, str] | None = None, head: bool = False) -> None:
    data = b"" if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
    handler.send_response(code)
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    if body is not None and not isinstance(body, bytes):
        handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    if not head and data:
        handler.wfile.write(data)


def read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        out = bytearray()
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                handler.rfile.readline()
                return bytes(out)
            out += handler.rfile.read(size)
            handler.rfile.readline()
    return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # 16 parallel parts must not overflow the listen backlog

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # clients hanging up are expected here
            super().handle_error(request, client_address)


class Loopback:
    """A ThreadingHTTPServer on 127.0.0.1 in a daemon thread."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = _Server(("127.0.0.1", 0), handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Registry:
    """The registry (on 127.0.0.1) and its CDN (reached as `localhost`, another host name)."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.source = BlobSource(root)
        self.manifests: dict[tuple[str, str], bytes] = {}
        self.token: str | None = None  # set to require `Authorization: Bearer <token>`
        self.cdn = False  # redirect blob GETs to the CDN
        self.token_requests = 0
        self.requests: list[tuple[str, str]] = []
        self.uploads: dict[str, bool] = {}
        registry, cdn = _handler(self, cdn=False), _handler(self, cdn=True)
        self.server, self.cdn_server = Loopback(registry), Loopback(cdn)
        self.host = f"127.0.0.1:{self.server.port}"

    def close(self) -> None:
        self.server.close()
        self.cdn_server.close()

    def publish(self, repo: str, tag: str, layers: list[tuple[str, bytes | Path]], config: dict[str, Any] | None = None) -> bytes:
        """Store the layers and a manifest for `repo:tag`; returns the manifest bytes."""
        entries = []
        for media_type, content in layers:
            digest = self.source.add_bytes(content) if isinstance(content, bytes) else self.source.add_file(content)
            entries.append({"mediaType": media_type, "digest": digest, "size": self.source.size(digest)})
        config_bytes = json.dumps(config or {"model_format": "gguf", "model_family": "llama"}).encode()
        config_digest = self.source.add_bytes(config_bytes)
        body = {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": {"mediaType": CONFIG_TYPE, "digest": config_digest, "size": len(config_bytes)},
            "layers": entries,
        }
        data = json.dumps(body).encode()
        self.manifests[(repo, tag)] = data
        return data

    def publish_gguf(self, repo: str, gguf: Path, tag: str = "latest") -> bytes:
        """A model that is one GGUF, with the config Ollama's registry gives it."""
        from jupyter_ollama.store.gguf import read_gguf

        config = read_gguf(gguf, max_array_len=1024).config_blob()
        return self.publish(repo, tag, [("application/vnd.ollama.image.model", gguf)], config)

    def served(self) -> int:
        return sum(self.source.served.values())

    def settle(self, quiet: float = 0.3, timeout: float = 10.0) -> int:
        """Wait until no blob bytes have gone out for `quiet` seconds (writes to sockets the
        client already closed still count on this side); returns the bytes served."""
        deadline, last, since = time.monotonic() + timeout, -1, time.monotonic()
        while time.monotonic() < deadline:
            now = self.served()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                break
            time.sleep(0.02)
        return last


def _handler(registry: Registry, cdn: bool) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_HEAD(self) -> None:
            self.route("HEAD")

        def do_GET(self) -> None:
            self.route("GET")

        def do_POST(self) -> None:
            self.route("POST")

        def do_PUT(self) -> None:
            self.route("PUT")

        def route(self, method: str) -> None:
            url = urlsplit(self.path)
            path, query = url.path, parse_qs(url.query)
            registry.requests.append((method, self.path))
            if cdn:
                digest = path.removeprefix("/cdn/")
                return registry.source.serve(self, digest, method == "HEAD")
            if path == "/token":
                registry.token_requests += 1
                return send(self, 200, {"token": registry.token})
            if registry.token and self.headers.get("Authorization") != f"Bearer {registry.token}":
                realm = f"http://{registry.host}/token"
                challenge = f'Bearer realm="{realm}",service="test-registry",scope="repository:x:pull"'
                read_body(self)
                return send(self, 401, {"errors": [{"code": "UNAUTHORIZED"}]}, {"WWW-Authenticate": challenge}, method == "HEAD")
            if m := re.fullmatch(r"/v2/(.+)/manifests/([^/]+)", path):
                return self.manifest(method, m.group(1), m.group(2))
            if m := re.fullmatch(r"/v2/(.+)/blobs/uploads/([^/]*)", path):
                return self.upload(method, m.group(1), m.group(2), query)
            if m := re.fullmatch(r"/v2/(.+)/blobs/(sha256:[0-9a-f]{64})", path):
                digest = m.group(2)
                if method == "GET" and registry.cdn and digest in registry.source.blobs:
                    location = f"http://localhost:{registry.cdn_server.port}/cdn/{digest}?sig=loopback"
                    return send(self, 307, b"", {"Location": location})
                return registry.source.serve(self, digest, method == "HEAD")
            send(self, 404, {"errors": [{"code": "NAME_UNKNOWN"}]}, head=method == "HEAD")

        def manifest(self, method: str, repo: str, tag: str) -> None:
            if method == "PUT":
                registry.manifests[(repo, tag)] = read_body(self)
                return send(self, 201, b"")
            data = registry.manifests.get((repo, tag))
            if data is None:
                return send(self, 404, {"errors": [{"code": "MANIFEST_UNKNOWN"}]}, head=method == "HEAD")
            if MANIFEST_TYPE not in self.headers.get("Accept", ""):
                return send(self, 400, {"errors": [{"code": "MANIFEST_INVALID"}]}, head=method == "HEAD")
            send(self, 200, data, {"Content-Type": MANIFEST_TYPE}, method == "HEAD")

        def upload(self, method: str, repo: str, session: str, query: dict[str, list[str]]) -> None:
            if method == "POST":
                read_body(self)
                mount = (query.get("mount") or [""])[0]
                if mount and mount in registry.source.blobs:
                    return send(self, 201, b"")
                session = uuid.uuid4().hex
                registry.uploads[session] = False
                return send(self, 202, b"", {"Location": f"/v2/{repo}/blobs/uploads/{session}?_state=x"})
            data = read_body(self)
            digest = (query.get("digest") or [""])[0]
            if session not in registry.uploads or sha256_digest(data) != digest:
                return send(self, 400, {"errors": [{"code": "DIGEST_INVALID"}]})
            registry.source.add_bytes(data)
            registry.uploads[session] = True
            send(self, 201, b"", {"Location": f"/v2/{repo}/blobs/{digest}"})

    return Handler
