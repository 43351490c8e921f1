"""Which process owns a file in progress, and when it counts as abandoned."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from jupyter_ollama.store.owners import STALE_AFTER, Owner, abandoned, owned_name, pid_namespace, this_host


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_name_says_its_owner():
    name = owned_name(".upload-", "0123abcd")
    assert name == f".upload-{this_host()}.{pid_namespace()}.{os.getpid()}.0123abcd"
    owner = Owner.parse(name.removeprefix(".upload-"))
    assert owner == Owner.this_process() and owner.is_local()
    assert Owner.parse("node-3.cluster.example.org.4026531836.77.ff") == Owner("node-3.cluster.example.org", "4026531836", 77)
    for unowned in ("0123abcd0123abcd", "host.ns.12.tok", "host.1.pid.tok", ".1.2.tok"):
        assert Owner.parse(unowned) is None, unowned


def test_a_file_of_this_host_lives_as_long_as_its_process(tmp_path):
    mine = tmp_path / owned_name("", "a")
    mine.write_bytes(b"x")
    os.utime(mine, (0, 0))  # however old: its process runs
    assert not abandoned(mine, mine.name)
    gone = tmp_path / f"{this_host()}.{pid_namespace()}.{dead_pid()}.b"
    gone.write_bytes(b"x")
    assert abandoned(gone, gone.name)  # however fresh: its process is gone


def test_another_hosts_file_waits_a_day_without_writes(tmp_path):
    now = time.time()
    theirs = tmp_path / f"other-host.{pid_namespace()}.1.c"
    other_container = tmp_path / f"{this_host()}.1.{dead_pid()}.d"  # same host name, another pid namespace
    unowned = tmp_path / ".upload-0123abcd0123abcd"  # an older version's name
    for path in (theirs, other_container, unowned):
        path.write_bytes(b"x")
        name = path.name.removeprefix(".upload-")
        assert not abandoned(path, name, now=now)
        assert not abandoned(path, name, now=now + STALE_AFTER - 60)
        assert abandoned(path, name, now=now + STALE_AFTER + 60)
