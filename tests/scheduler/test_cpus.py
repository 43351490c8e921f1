"""The default thread count: affinity, SMT siblings and cgroup quotas, over fake /proc and /sys trees."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_ollama.scheduler.cpus import CpuBudget, Threads, cgroup_quota, cpu_budget, physical_cores


def write(root: Path, path: str, text: str) -> None:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def topology(root: Path, cpu: int, siblings: str, package: int = 0) -> None:
    write(root, f"sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list", siblings + "\n")
    write(root, f"sys/devices/system/cpu/cpu{cpu}/topology/physical_package_id", f"{package}\n")


def test_smt_siblings_count_as_one_core(tmp_path):
    # 4 cores with 2 hardware threads each: cpu N and N+4 share a core.
    for cpu in range(8):
        topology(tmp_path, cpu, f"{cpu % 4},{cpu % 4 + 4}")
    assert physical_cores(list(range(8)), tmp_path) == 4
    # Affinity to one thread of each of two cores, and both threads of a third.
    assert physical_cores([0, 1, 2, 6], tmp_path) == 3
    budget = cpu_budget(cpus=list(range(8)), root=tmp_path)
    assert budget == CpuBudget(allowed=8, physical=4, quota=None)
    assert budget.threads == Threads(decode=4, batch=8)


def test_sockets_are_told_apart(tmp_path):
    topology(tmp_path, 0, "0", package=0)
    topology(tmp_path, 1, "0", package=1)  # the same sibling list on another socket is another core
    assert physical_cores([0, 1], tmp_path) == 2


def test_without_sysfs_each_cpu_is_a_core(tmp_path):
    assert physical_cores([0, 1, 2], tmp_path) == 3


def test_cgroup_v2_quota_of_the_process_and_its_parents(tmp_path):
    write(tmp_path, "proc/self/cgroup", "0::/kubepods/pod1/container\n")
    write(tmp_path, "sys/fs/cgroup/kubepods/pod1/container/cpu.max", "max 100000\n")
    write(tmp_path, "sys/fs/cgroup/kubepods/pod1/cpu.max", "250000 100000\n")  # the pod: 2.5 CPUs
    write(tmp_path, "sys/fs/cgroup/kubepods/cpu.max", "800000 100000\n")
    assert cgroup_quota(tmp_path) == 2.5
    for cpu in range(16):
        topology(tmp_path, cpu, str(cpu))
    # 16 CPUs visible, 2.5 CPUs of time: 2 threads, not 16 (spinning threads past the quota get throttled).
    assert cpu_budget(cpus=list(range(16)), root=tmp_path).threads == Threads(2, 2)


def test_cgroup_v2_unlimited(tmp_path):
    write(tmp_path, "proc/self/cgroup", "0::/user.slice\n")
    write(tmp_path, "sys/fs/cgroup/user.slice/cpu.max", "max 100000\n")
    assert cgroup_quota(tmp_path) is None


def test_cgroup_v2_in_a_container_reads_the_mount_root(tmp_path):
    write(tmp_path, "proc/self/cgroup", "0::/\n")
    write(tmp_path, "sys/fs/cgroup/cpu.max", "50000 100000\n")  # half a CPU: still one thread
    assert cgroup_quota(tmp_path) == 0.5
    assert CpuBudget(allowed=4, physical=4, quota=0.5).threads == Threads(1, 1)


def test_cgroup_v1_quota(tmp_path):
    write(tmp_path, "proc/self/cgroup", "4:memory:/x\n3:cpu,cpuacct:/docker/abc\n")
    write(tmp_path, "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "300000\n")
    write(tmp_path, "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n")
    assert cgroup_quota(tmp_path) == 3.0


def test_cgroup_v1_without_quota(tmp_path):
    write(tmp_path, "proc/self/cgroup", "3:cpu,cpuacct:/\n")
    write(tmp_path, "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "-1\n")
    write(tmp_path, "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n")
    assert cgroup_quota(tmp_path) is None


def test_no_proc_no_quota(tmp_path):
    assert cgroup_quota(tmp_path) is None


def test_shares_split_evenly_and_never_reach_zero():
    eight = Threads(decode=4, batch=8)
    assert [eight.share(2, i) for i in range(2)] == [Threads(2, 4), Threads(2, 4)]
    assert [eight.share(3, i) for i in range(3)] == [Threads(2, 3), Threads(1, 3), Threads(1, 2)]
    assert Threads(1, 1).share(3, 2) == Threads(1, 1)
    assert eight.share(1, 0) == eight


def test_this_process_follows_its_affinity():
    budget = cpu_budget()
    assert budget.allowed == len(os.sched_getaffinity(0))
    assert 1 <= budget.threads.decode <= budget.threads.batch <= budget.allowed


@pytest.mark.skipif(not Path("/usr/bin/taskset").exists(), reason="util-linux taskset is not installed")
def test_taskset_to_one_cpu_gives_one_thread():
    code = "import json; from jupyter_ollama.scheduler.cpus import cpu_budget; t = cpu_budget().threads; print(json.dumps([t.decode, t.batch]))"
    out = subprocess.run(["taskset", "-c", "0", sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [1, 1]
