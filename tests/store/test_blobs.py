"""Blobs and manifests on disk: atomic, verified, never outside the store."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

from jupyter_ollama.errors import BadRequest
from jupyter_ollama.store.blobs import BlobStore, normalize_digest
from jupyter_ollama.store.manifests import Layer, Manifest, ManifestStore
from jupyter_ollama.store.names import ModelName


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_normalize_digest():
    hexd = "AB" * 32
    assert normalize_digest(f"sha256:{hexd}") == f"sha256:{hexd.lower()}"
    assert normalize_digest(f"sha256-{hexd}") == f"sha256:{hexd.lower()}"
    for bad in ["sha256:" + "a" * 63, "sha256:../" + "a" * 61, "sha512:" + "a" * 64, "sha256:" + "g" * 64, None, 5]:
        with pytest.raises(BadRequest, match="^invalid digest format$"):
            normalize_digest(bad)


def test_writer_verifies_and_renames(tmp_path):
    blobs = BlobStore(tmp_path / "blobs")
    data = b"hello" * 1000
    writer = blobs.writer(digest_of(data))
    writer.write(data[:10])
    assert not blobs.exists(digest_of(data))  # nothing visible until committed
    writer.write(data[10:])
    assert writer.commit() == digest_of(data)
    assert blobs.path(digest_of(data)).read_bytes() == data
    assert blobs.path(digest_of(data)).name == "sha256-" + hashlib.sha256(data).hexdigest()
    assert [p.name for p in blobs.root.iterdir()] == [blobs.path(digest_of(data)).name]


def test_writer_mismatch_leaves_nothing(tmp_path):
    blobs = BlobStore(tmp_path / "blobs")
    writer = blobs.writer(digest_of(b"expected"))
    writer.write(b"something else")
    with pytest.raises(BadRequest, match="^digest mismatch"):
        writer.commit()
    assert list(blobs.root.iterdir()) == []


WRITER = """
import os, sys
from pathlib import Path
from jupyter_ollama.store.blobs import BlobStore
writer = BlobStore(Path(sys.argv[1])).writer()
writer.write(b"interrupted")
writer._close()
os._exit(0)  # dies without cleaning up, as a killed server does
"""


def test_sweep_removes_only_the_uploads_of_processes_that_are_gone(tmp_path):
    blobs = BlobStore(tmp_path / "blobs")
    subprocess.run([sys.executable, "-c", WRITER, str(blobs.root)], check=True)
    [abandoned] = list(blobs.root.iterdir())
    live = blobs.writer()  # this process's upload in progress
    live.write(b"in progress")
    assert BlobStore(tmp_path / "blobs").sweep_temporary() == 1  # what the start of another store does
    assert not abandoned.exists() and [p.name for p in blobs.root.iterdir()] == [live._temp.name]
    live.write(b", done")
    assert blobs.exists(live.commit())


def test_put_bytes_reports_reuse(tmp_path):
    blobs = BlobStore(tmp_path / "blobs")
    assert blobs.put_bytes(b"x") == (digest_of(b"x"), True)
    assert blobs.put_bytes(b"x") == (digest_of(b"x"), False)
    assert blobs.digests() == {digest_of(b"x")}


def test_manifest_roundtrip_and_listing(tmp_path):
    store = ManifestStore(tmp_path / "manifests")
    config = Layer("application/vnd.docker.container.image.v1+json", digest_of(b"{}"), 2)
    model = Layer("application/vnd.ollama.image.model", digest_of(b"gguf"), 4, "base:latest")
    name = ModelName.parse("Mixed/Case:Tag")
    store.write(name, Manifest(config, [model]))
    path = tmp_path / "manifests" / "registry.ollama.ai" / "Mixed" / "Case" / "Tag"
    assert path.is_file()
    stored = store.read(name)
    assert stored.manifest.layers == [model] and stored.manifest.size == 6
    assert stored.digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert store.find(ModelName.parse("mixed/case:tag")) == name
    assert [s.name for s in store.all()] == [name]
    store.remove(name)
    assert store.read(name) is None
    assert list((tmp_path / "manifests").iterdir()) == []  # empty folders pruned


def test_listing_skips_broken_manifests(tmp_path):
    store = ManifestStore(tmp_path / "manifests")
    broken = tmp_path / "manifests" / "registry.ollama.ai" / "library" / "broken" / "latest"
    broken.parent.mkdir(parents=True)
    broken.write_text("{not json")
    assert list(store.all()) == []
