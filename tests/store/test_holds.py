"""Holds: a prune spares the blobs of a pull or create in progress, and forgets the holds of processes that are gone."""

from __future__ import annotations

import errno
import hashlib
import os

import pytest

from jupyter_ollama.errors import OllamaError
from jupyter_ollama.store.create import ModelCreator
from jupyter_ollama.store.holds import held
from jupyter_ollama.store.manifests import CONFIG_MEDIA_TYPE, MEDIA_MODEL, Layer, Manifest
from jupyter_ollama.store.names import ModelName
from jupyter_ollama.store.owners import pid_namespace, this_host
from jupyter_ollama.store.store import ModelStore

from .test_owners import dead_pid


def stored_model(store: ModelStore, name: str, weights: bytes) -> tuple[str, str]:
    with store.hold() as hold:
        config, _ = store.put_bytes(b"{}", hold)
        model, _ = store.put_bytes(weights, hold)
        store.manifests.write(ModelName.parse(name), Manifest(Layer(CONFIG_MEDIA_TYPE, config, 2), [Layer(MEDIA_MODEL, model, len(weights))]))
    return config, model


def test_a_delete_spares_what_a_hold_names(tmp_path):
    store = ModelStore(tmp_path)
    config, model = stored_model(store, "one", os.urandom(100))
    hold = store.hold({model})  # a pull that found `model` stored and will reference it
    store.delete("one")
    assert store.blobs.exists(model) and not store.blobs.exists(config)
    assert held(store.holds_folder) == {model}
    hold.release()
    assert held(store.holds_folder) == set()
    store.remove_unused({model})
    assert not store.blobs.exists(model)


def test_holds_grow_and_go(tmp_path):
    store = ModelStore(tmp_path)
    with store.hold({"sha256:" + "a" * 64}) as hold:
        hold.add({"sha256:" + "b" * 64})
        assert held(store.holds_folder) == {"sha256:" + "a" * 64, "sha256:" + "b" * 64}
    assert list(store.holds_folder.iterdir()) == []


def test_the_hold_of_a_process_that_is_gone_is_forgotten(tmp_path):
    store = ModelStore(tmp_path)
    config, model = stored_model(store, "one", os.urandom(100))
    store.holds_folder.mkdir(exist_ok=True)
    orphan = store.holds_folder / f"{this_host()}.{pid_namespace()}.{dead_pid()}.0a1b2c"
    orphan.write_text(f"{model}\n")
    store.delete("one")
    assert not store.blobs.exists(model) and not orphan.exists()


def test_a_failed_create_removes_only_what_it_wrote(tmp_path, monkeypatch):
    """Another process's upload, waiting for its create, is not this create's to remove."""
    store = ModelStore(tmp_path)
    _, base_model = stored_model(store, "base", os.urandom(100))
    uploaded: list[str] = []
    real = ModelCreator._merge_parameters

    def upload_elsewhere_then_fill_the_disk(self, layers, new):  # type: ignore[no-untyped-def]
        uploaded.append(store.blobs.put_bytes(b"another client's upload")[0])
        real(self, layers, new)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ModelCreator, "_merge_parameters", upload_elsewhere_then_fill_the_disk)
    with pytest.raises(OllamaError, match="no space left on device") as err:
        ModelCreator(store, lambda event: None).create({"model": "copy", "from": "base", "system": "You are terse."})
    assert err.value.status == 507
    system = "sha256:" + hashlib.sha256(b"You are terse.").hexdigest()
    assert not store.blobs.exists(system)  # what the create wrote went
    assert store.blobs.exists(uploaded[0]) and store.blobs.exists(base_model)  # the rest stayed
    assert list(store.holds_folder.iterdir()) == []
