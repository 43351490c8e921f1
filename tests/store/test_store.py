"""One models folder shared by two real `jupyter-ollama serve` processes, as on a shared home or NFS.

Neither removes what the other has in progress (an upload, a pull's parts, the blobs a
pull will reference); a crashed one's leftovers are still swept.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ..conftest import RunningServer, start_server, wait_for
from ..registry_server import Gate, Registry, sha256_digest

MODEL = "application/vnd.ollama.image.model"
ADAPTER = "application/vnd.ollama.image.adapter"
TEMPLATE = "application/vnd.ollama.image.template"
FAST = {"OLLAMA_PULL_PART_SIZE": str(64 * 1024), "OLLAMA_PULL_RETRIES": "2", "OLLAMA_PULL_RETRY_DELAY": "0.05"}


@pytest.fixture
def registry(tmp_path):
    reg = Registry(tmp_path / "registry")
    yield reg
    reg.close()


@contextlib.contextmanager
def serving(models: Path, **settings: str) -> Iterator[RunningServer]:
    running = start_server(models, **settings)
    try:
        yield running
    finally:
        running.stop()


def blob_file(models: Path, digest: str) -> Path:
    return models / "blobs" / digest.replace(":", "-")


def uploads(models: Path) -> list[Path]:
    return [p for p in (models / "blobs").glob(".upload-*") if p.stat().st_size > 0]


class SlowUpload:
    """POST /api/blobs whose body stops halfway, on an open connection, until `finish()`."""

    def __init__(self, server: RunningServer, data: bytes) -> None:
        self.digest = sha256_digest(data)
        self.rest = threading.Event()
        self.status: int | None = None
        self.error: Exception | None = None

        def body() -> Iterator[bytes]:
            yield data[: len(data) // 2]
            self.rest.wait(60)
            yield data[len(data) // 2 :]

        def send() -> None:
            try:
                response = httpx.post(f"{server.url}/api/blobs/{self.digest}", content=body(),
                                      headers={"Content-Length": str(len(data))}, timeout=60)
                self.status = response.status_code
            except httpx.HTTPError as err:
                self.error = err

        self.thread = threading.Thread(target=send, daemon=True)
        self.thread.start()

    def finish(self) -> None:
        self.rest.set()
        self.thread.join(60)


class Pull:
    """POST /api/pull in a thread, its progress lines collected as they come."""

    def __init__(self, server: RunningServer, name: str) -> None:
        self.lines: list[dict] = []

        def run() -> None:
            with httpx.stream("POST", server.url + "/api/pull", json={"model": name, "insecure": True}, timeout=120) as reply:
                for line in reply.iter_lines():
                    if line:
                        self.lines.append(json.loads(line))

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def result(self) -> list[dict]:
        self.thread.join(120)
        return self.lines


def test_an_upload_in_progress_survives_another_servers_start(tmp_path):
    models, data = tmp_path / "models", os.urandom(2_000_000)
    with serving(models) as a:
        upload = SlowUpload(a, data)
        [temp] = wait_for(lambda: uploads(models))  # A is writing the first half
        with serving(models) as b:  # B's start-up sweeps the temporary files of processes that are gone
            assert temp.exists()
            upload.finish()
            assert upload.error is None and upload.status == 201
            assert httpx.head(f"{b.url}/api/blobs/{upload.digest}").status_code == 200
    assert blob_file(models, upload.digest).read_bytes() == data and uploads(models) == []


def test_the_upload_of_a_killed_server_is_swept_at_the_next_start(tmp_path):
    models = tmp_path / "models"
    with serving(models) as a:
        upload = SlowUpload(a, os.urandom(2_000_000))
        [temp] = wait_for(lambda: uploads(models))
        a.process.kill()
        a.process.wait()
        upload.finish()
        assert upload.status is None and upload.error is not None
    assert temp.exists()  # nobody was left to remove it
    with serving(models):
        assert not temp.exists()


def test_a_prune_spares_a_blob_that_a_pull_on_another_server_will_reference(tmp_path, registry):
    """B deletes `one` while A pulls `two`, which shares its weights: A's pull holds them, B's prune spares them."""
    models, shared, extra = tmp_path / "models", os.urandom(300_000), os.urandom(300_000)
    registry.publish("library/one", "latest", [(MODEL, shared), (TEMPLATE, b"{{ .Prompt }} one")])
    registry.publish("library/two", "latest", [(MODEL, shared), (ADAPTER, extra)])
    one, two = f"{registry.host}/library/one", f"{registry.host}/library/two"
    with serving(models, **FAST) as a, serving(models, **FAST) as b:
        assert Pull(a, one).result()[-1] == {"status": "success"}
        gate = registry.source.gates[sha256_digest(extra)] = Gate(0)
        pulling = Pull(a, two)
        assert gate.reached.wait(60)  # A holds its layers and has found `shared` stored
        assert httpx.request("DELETE", b.url + "/api/delete", json={"model": one}).status_code == 200
        assert not blob_file(models, sha256_digest(b"{{ .Prompt }} one")).exists()  # B did prune
        assert blob_file(models, sha256_digest(shared)).exists()
        gate.opened.set()
        assert pulling.result()[-1] == {"status": "success"}
        assert [m["name"] for m in httpx.get(b.url + "/api/tags").json()["models"]] == [f"{two}:latest"]
    manifest = json.loads((models / "manifests" / registry.host / "library" / "two" / "latest").read_text())
    assert all(blob_file(models, x["digest"]).is_file() for x in [manifest["config"], *manifest["layers"]])
    assert blob_file(models, sha256_digest(shared)).read_bytes() == shared
    assert list((models / ".holds").iterdir()) == []


def test_a_partial_pull_survives_another_servers_start_which_waits_for_it(tmp_path, registry):
    """A's pull stops halfway; B starts (its parts stay) and pulls the same model: it waits for A's download."""
    models, weights = tmp_path / "models", os.urandom(1_000_000)
    registry.publish("library/big", "latest", [(MODEL, weights)])
    digest, name = sha256_digest(weights), f"{registry.host}/library/big"
    gate = registry.source.gates[digest] = Gate(len(weights) // 2)
    with serving(models, **FAST) as a:
        first = Pull(a, name)
        assert gate.reached.wait(60)
        blobs = models / "blobs"
        partial = blob_file(models, digest).name + "-partial"
        records = wait_for(lambda: sorted(p.name for p in blobs.glob(partial + "-*")))
        wait_for(lambda: any(json.loads((blobs / n).read_text())["Completed"] for n in records))  # parts done below the gate
        assert (blobs / partial).is_file()
        with serving(models, **FAST) as b:
            assert (blobs / partial).is_file() and all((blobs / n).is_file() for n in records)
            second = Pull(b, name)
            wait_for(lambda: any(line.get("digest") == digest for line in second.lines))  # B waits on A's parts
            gate.opened.set()
            assert first.result()[-1] == {"status": "success"}
            assert second.result()[-1] == {"status": "success"}
    assert hashlib.sha256(blob_file(models, digest).read_bytes()).hexdigest() == digest[7:]
    assert registry.source.served[digest] == len(weights)  # fetched once, by A
    assert sorted(p.name for p in blobs.iterdir() if "partial" in p.name) == []
