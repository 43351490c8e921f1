"""Taking turns between threads and between real processes on one store."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading

from jupyter_ollama.store.locks import FileLock, StoreLock, store_lock

from ..conftest import wait_for

HOLDER = """
import sys
from pathlib import Path
from jupyter_ollama.store.locks import store_lock
with store_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    sys.stdin.read()  # until the test closes our stdin
"""


def holding_process(root) -> subprocess.Popen:
    """Another process holding the store lock of `root` until its stdin is closed."""
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(root)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline() == "locked\n"
    process.stdout.close()
    return process


def test_one_lock_per_store_in_a_process(tmp_path):
    assert store_lock(tmp_path) is store_lock(tmp_path / ".." / tmp_path.name)
    assert store_lock(tmp_path).path == tmp_path.resolve() / ".lock"


def test_reentrant_in_a_thread_exclusive_between_threads(tmp_path):
    lock = store_lock(tmp_path)
    entered = threading.Event()

    def other() -> None:
        with lock:
            entered.set()

    with lock:
        with lock:  # a holder may call code that takes it again
            thread = threading.Thread(target=other)
            thread.start()
        assert not entered.is_set()  # still held by the outer `with`
    thread.join(10)
    assert entered.is_set()


def test_another_process_holding_it_makes_us_wait(tmp_path, caplog):
    holder = holding_process(tmp_path)
    lock = store_lock(tmp_path)
    taken = threading.Event()

    def take() -> None:
        with lock:
            taken.set()

    with caplog.at_level(logging.INFO, logger="jupyter_ollama"):
        thread = threading.Thread(target=take)
        thread.start()
        wait_for(lambda: "waiting for another process's lock" in caplog.text)
        assert not taken.is_set()
        holder.stdin.close()  # the other process lets go and exits
        holder.wait(10)
        thread.join(10)
    assert taken.is_set()


def test_a_file_lock_between_processes_and_its_removal(tmp_path):
    holder = holding_process(tmp_path)
    lock = FileLock(tmp_path / ".lock")
    assert not lock.acquire(blocking=False)  # the other process has it
    holder.stdin.close()
    holder.wait(10)
    assert lock.acquire(blocking=False)
    lock.release(remove=True)
    assert not (tmp_path / ".lock").exists()  # no lock file left behind
    assert lock.acquire(blocking=False)
    lock.release()


def test_where_locks_fail_the_lock_still_serves_this_process(tmp_path, caplog):
    lock = StoreLock(tmp_path / "missing" / ".lock")  # the file cannot be made there
    with caplog.at_level(logging.WARNING, logger="jupyter_ollama"):
        with lock:
            with lock:
                pass
    assert "do not take turns, only threads of this one" in caplog.text


def test_lock_and_hold_files_are_as_writable_as_the_models_folder(tmp_path):
    """Under JupyterHub several users' servers share a group-writable folder: each must take the lock and hold."""
    from jupyter_ollama.store.store import ModelStore

    models = tmp_path / "shared"
    models.mkdir()
    models.chmod(0o2775)
    store = ModelStore(models)
    with store.lock, store.hold({"sha256:" + "a" * 64}):
        assert (models / ".lock").stat().st_mode & 0o777 == 0o664
        assert store.holds_folder.stat().st_mode & 0o777 == 0o775
