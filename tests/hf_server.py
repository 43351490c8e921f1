"""A loopback Hugging Face Hub that `huggingface_hub` accepts through `HF_ENDPOINT`.

The routes `hf_hub_download` and `HfApi.model_info` call:
- `GET /api/models/<repo>[/revision/<rev>]` → `{"id","sha","siblings":[{"rfilename","size","blobId","lfs"?}]}`;
- `HEAD|GET /<repo>/resolve/<rev>/<file>` → `X-Repo-Commit`, `ETag`, `Content-Length`; LFS files
  (the GGUFs) answer 302 to a CDN path with `X-Linked-Etag` (their sha256) and `X-Linked-Size`,
  as the real Hub does; the CDN path serves `Range` GETs.
Unknown repos and files answer 404 with the Hub's `X-Error-Code` (`RepoNotFound`, `EntryNotFound`).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from .registry_server import BlobSource, Loopback, file_digest, send


@dataclass
class HubFile:
    path: Path
    size: int
    sha256: str  # hex
    git_sha1: str
    lfs: bool


class Hub:
    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.source = BlobSource(root)
        self.repos: dict[str, dict[str, HubFile]] = {}
        self.commits: dict[str, str] = {}
        self.calls: Counter = Counter()  # "info", "head", "get" (resolve), "cdn"
        self.advertised: dict[str, str] = {}  # real sha256 → the (wrong) one the Hub claims
        self.server = Loopback(_handler(self))
        self.url = f"http://127.0.0.1:{self.server.port}"

    def close(self) -> None:
        self.server.close()

    def add_repo(self, repo_id: str, files: dict[str, bytes | Path]) -> None:
        entries = {}
        for name, content in files.items():
            if isinstance(content, bytes):
                path = self.root / hashlib.sha256(content).hexdigest()
                path.write_bytes(content)
            else:
                path = Path(content)
            size = path.stat().st_size
            sha256 = file_digest(path)[7:]
            data_head = f"blob {size}\0".encode()
            git_sha1 = hashlib.sha1(data_head + path.read_bytes()).hexdigest() if size < 1_000_000 else sha256[:40]
            self.source.blobs["sha256:" + sha256] = path
            entries[name] = HubFile(path, size, sha256, git_sha1, lfs=name.endswith(".gguf"))
        self.repos[repo_id] = entries
        self.commits[repo_id] = hashlib.sha1(repo_id.encode() + str(sorted(files)).encode()).hexdigest()

    def served(self, sha256: str) -> int:
        return self.source.served["sha256:" + sha256]

    def info(self, repo_id: str) -> dict[str, Any]:
        siblings = []
        for name, f in self.repos[repo_id].items():
            entry: dict[str, Any] = {"rfilename": name, "size": f.size, "blobId": f.git_sha1}
            if f.lfs:
                entry["lfs"] = {"sha256": self.advertised.get(f.sha256, f.sha256), "size": f.size, "pointerSize": 134}
            siblings.append(entry)
        return {"id": repo_id, "modelId": repo_id, "sha": self.commits[repo_id], "private": False, "siblings": siblings}


def _handler(hub: Hub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.route(head=False)

        def do_HEAD(self) -> None:
            self.route(head=True)

        def route(self, head: bool) -> None:
            path = unquote(urlsplit(self.path).path)
            if m := re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/[^/]+)?", path):
                hub.calls["info"] += 1
                if m.group(1) not in hub.repos:
                    return self.missing("RepoNotFound", head)
                return send(self, 200, hub.info(m.group(1)), head=head)
            if m := re.fullmatch(r"/cdn-lfs/([0-9a-f]{64})", path):
                hub.calls["cdn"] += 1
                return hub.source.serve(self, "sha256:" + m.group(1), head)
            if m := re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path):
                hub.calls["head" if head else "get"] += 1
                repo_id, name = m.group(1), m.group(3)
                if repo_id not in hub.repos:
                    return self.missing("RepoNotFound", head)
                f = hub.repos[repo_id].get(name)
                if f is None:
                    return self.missing("EntryNotFound", head)
                commit = hub.commits[repo_id]
                if f.lfs:
                    headers = {
                        "X-Repo-Commit": commit,
                        "X-Linked-Etag": f'"{hub.advertised.get(f.sha256, f.sha256)}"',
                        "X-Linked-Size": str(f.size),
                        "ETag": f'"{f.git_sha1}"',
                        "Location": f"http://localhost:{hub.server.port}/cdn-lfs/{f.sha256}",  # another host
                    }
                    return send(self, 302, b"", headers, head)
                data = f.path.read_bytes()
                return send(self, 200, data, {"X-Repo-Commit": commit, "ETag": f'"{f.git_sha1}"'}, head)
            self.missing("RepoNotFound", head)

        def missing(self, code: str, head: bool) -> None:
            send(self, 404, {"error": code}, {"X-Error-Code": code, "X-Error-Message": code}, head)

    return Handler
