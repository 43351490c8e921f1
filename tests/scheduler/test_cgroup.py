"""A container's memory limit, read from fake /proc and /sys trees: cgroup v2, v1, none, nested, namespaced."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

import psutil

from jupyter_ollama.scheduler import devices
from jupyter_ollama.scheduler.cgroup import CgroupMemory, memory_limit
from jupyter_ollama.scheduler.cpus import CpuBudget
from jupyter_ollama.scheduler.scheduler import Scheduler
from jupyter_ollama.scheduler.settings import SchedulerSettings
from jupyter_ollama.scheduler.system import system_info
from jupyter_ollama.store.store import ModelStore

GIB = 1 << 30
V1_NO_LIMIT = "9223372036854771712"
V2_MOUNT = "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"
V1_MOUNTS = (
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
)


def tree(root: Path, cgroup: str, mountinfo: str, files: dict[str, str]) -> Path:
    """A fake file system root: /proc/self/cgroup, /proc/self/mountinfo, and the cgroup files given."""
    for path, text in {"proc/self/cgroup": cgroup, "proc/self/mountinfo": mountinfo, **files}.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


def v2(root: Path, leaf: str, **files: str) -> Path:
    return tree(root, f"0::{leaf}\n", V2_MOUNT, {f"sys/fs/cgroup{path}": text for path, text in files.items()})


def test_v2_limit_less_the_working_set(tmp_path):
    root = v2(tmp_path, "/user.slice/jupyter.scope", **{
        "/user.slice/jupyter.scope/memory.max": str(4 * GIB),
        "/user.slice/jupyter.scope/memory.current": str(3 * GIB // 2),
        "/user.slice/jupyter.scope/memory.stat": f"anon 1000\nfile 2000\ninactive_file {GIB // 2}\nactive_file 5\n",
        "/user.slice/memory.max": "max",
    })
    # used 1.5 GiB, of which 0.5 GiB is page cache the kernel drops before it kills: 3 GiB left
    assert memory_limit(root) == CgroupMemory(4 * GIB, 3 * GIB, "cgroup v2 memory.max")


def test_v2_no_limit(tmp_path):
    root = v2(tmp_path, "/user.slice/jupyter.scope", **{"/user.slice/jupyter.scope/memory.max": "max",
                                                       "/user.slice/jupyter.scope/memory.current": "123"})
    assert memory_limit(root) is None
    assert devices.ram(root).source == "host" and devices.ram(root).total == psutil.virtual_memory().total


def test_v2_a_parents_limit_binds(tmp_path):
    """A JupyterHub user's slice limits all of the user's servers; each server's own limit is looser."""
    root = v2(tmp_path, "/hub.slice/user-alice.slice/server.scope", **{
        "/hub.slice/user-alice.slice/server.scope/memory.max": str(8 * GIB),
        "/hub.slice/user-alice.slice/server.scope/memory.current": str(GIB),
        "/hub.slice/user-alice.slice/memory.max": str(2 * GIB),
        "/hub.slice/user-alice.slice/memory.current": str(3 * GIB // 2),  # the user's other server uses some
        "/hub.slice/memory.max": "max",
    })
    assert memory_limit(root) == CgroupMemory(2 * GIB, GIB // 2, "cgroup v2 memory.max")


def test_v2_in_a_container_with_its_own_cgroup_namespace(tmp_path):
    """In a container the cgroup shows as "/" and its own folder is mounted at /sys/fs/cgroup."""
    root = v2(tmp_path, "/", **{"/memory.max": str(GIB), "/memory.current": str(GIB // 4)})
    assert memory_limit(root) == CgroupMemory(GIB, 3 * GIB // 4, "cgroup v2 memory.max")


def test_v1_limit_with_total_inactive_file(tmp_path):
    leaf = "/kubepods/burstable/pod1/ctr"
    files = {
        f"sys/fs/cgroup/memory{leaf}/memory.limit_in_bytes": str(GIB),
        f"sys/fs/cgroup/memory{leaf}/memory.usage_in_bytes": str(GIB // 2),
        f"sys/fs/cgroup/memory{leaf}/memory.stat": f"cache 9\ninactive_file 7\ntotal_inactive_file {GIB // 4}\n",
        "sys/fs/cgroup/memory/kubepods/memory.limit_in_bytes": V1_NO_LIMIT,
        "sys/fs/cgroup/memory/memory.limit_in_bytes": V1_NO_LIMIT,
    }
    root = tree(tmp_path, f"12:pids:{leaf}\n4:memory:{leaf}\n3:cpu,cpuacct:{leaf}\n0::/\n", V1_MOUNTS, files)
    assert memory_limit(root) == CgroupMemory(GIB, 3 * GIB // 4, "cgroup v1 memory.limit_in_bytes")


def test_v1_no_limit_and_a_container_that_sees_its_own_folder(tmp_path):
    unlimited = tree(tmp_path / "a", "4:memory:/process_api/c55c\n", V1_MOUNTS, {
        "sys/fs/cgroup/memory/process_api/c55c/memory.limit_in_bytes": V1_NO_LIMIT,
        "sys/fs/cgroup/memory/memory.limit_in_bytes": V1_NO_LIMIT,
    })
    assert memory_limit(unlimited) is None
    # Docker without a cgroup namespace: the path is the host's, the container's folder mounted as the root.
    mount = "35 31 0:32 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory\n"
    docker = tree(tmp_path / "b", "4:memory:/docker/abc\n", mount, {
        "sys/fs/cgroup/memory/memory.limit_in_bytes": str(512 << 20),
        "sys/fs/cgroup/memory/memory.usage_in_bytes": str(100 << 20),
    })
    assert memory_limit(docker) == CgroupMemory(512 << 20, 412 << 20, "cgroup v1 memory.limit_in_bytes")


def test_hybrid_hierarchy_and_escaped_mount_points(tmp_path):
    """v2 mounted beside v1 without the memory controller (systemd's hybrid mode); a mount point with a space."""
    mounts = V1_MOUNTS.replace("/sys/fs/cgroup/memory", "/sys/fs/cgroup/mem\\040ory")
    mounts += "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
    root = tree(tmp_path, "4:memory:/jobs/1\n0::/jobs/1\n", mounts, {
        "sys/fs/cgroup/mem ory/jobs/1/memory.limit_in_bytes": str(3 * GIB),
        "sys/fs/cgroup/mem ory/jobs/1/memory.usage_in_bytes": str(GIB),
        "sys/fs/cgroup/unified/jobs/1/cgroup.procs": "1\n",  # no memory.max: the controller is v1's here
    })
    assert memory_limit(root) == CgroupMemory(3 * GIB, 2 * GIB, "cgroup v1 memory.limit_in_bytes")


def test_nothing_to_read(tmp_path):
    assert memory_limit(tmp_path) is None  # no /proc: not Linux, or a sandbox
    assert devices.ram(tmp_path).source == "host"


def test_ram_is_the_containers_share(tmp_path):
    root = v2(tmp_path, "/", **{"/memory.max": str(GIB), "/memory.current": str(GIB // 4)})
    ram = devices.ram(root)
    assert (ram.total, ram.source) == (GIB, "cgroup v2 memory.max")
    assert ram.free == min(psutil.virtual_memory().available, 3 * GIB // 4)
    above = v2(tmp_path / "big", "/", **{"/memory.max": str(psutil.virtual_memory().total * 2)})
    assert devices.ram(above).source == "host"  # a limit above the host's RAM limits nothing


def test_api_system_and_the_budget_read_the_limit(tmp_path, monkeypatch):
    """What the scheduler's probe finds is what /api/system reports (the sidebar's RAM bar reads it)."""
    monkeypatch.setattr(devices, "gpu_offload_supported", lambda: False)
    root = v2(tmp_path / "fs", "/", **{"/memory.max": str(2 * GIB), "/memory.current": str(GIB // 2)})
    probe = functools.partial(devices.probe, root=root)
    scheduler = Scheduler(ModelStore(tmp_path / "models"), SchedulerSettings(), CpuBudget(2, 2, None), device_probe=probe)
    info = asyncio.run(system_info(scheduler))
    available = min(psutil.virtual_memory().available, 3 * GIB // 2)
    assert info["ram"] == {"total": 2 * GIB, "used": 2 * GIB - available, "available": available, "models": [],
                           "source": "cgroup v2 memory.max"}
    assert probe().ram.total == 2 * GIB  # the budget the scheduler places models by
