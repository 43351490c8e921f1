"""How many CPU threads a runner should use: the CPUs this process may really use.

llama.cpp's own default is 4 threads whatever the machine: on a 2-core notebook
server that oversubscribes the cores (ggml's workers spin, so two of them share a
core and decode runs at a third of its speed), on a 32-core workstation it leaves
most of them idle. We count what the process is allowed: its CPU affinity, the
cgroup CPU quota (JupyterHub and Kubernetes pods set one), and, for decoding, one
thread per physical core, since SMT siblings share the core's memory bandwidth
that decoding is bound by. Prompt batches are compute-bound and use every allowed CPU.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Threads:
    """A runner's thread counts: decode (token generation) and batch (prompt processing)."""

    decode: int
    batch: int

    def share(self, parts: int, index: int) -> Threads:
        """Part `index` of `parts` even shares (the first ones get the remainder), at least 1 each."""
        return Threads(_part(self.decode, parts, index), _part(self.batch, parts, index))


def _part(total: int, parts: int, index: int) -> int:
    base, extra = divmod(total, max(parts, 1))
    return max(1, base + (1 if index < extra else 0))


@dataclass(frozen=True)
class CpuBudget:
    """What the machine allows this process, and why."""

    allowed: int  # CPUs in the affinity mask
    physical: int  # distinct physical cores among them
    quota: float | None  # the cgroup's CPU quota in CPUs, None when unlimited

    @property
    def threads(self) -> Threads:
        cap = max(1, math.floor(self.quota)) if self.quota is not None else None
        decode = min(self.physical, cap) if cap else self.physical
        batch = min(self.allowed, cap) if cap else self.allowed
        return Threads(max(decode, 1), max(batch, 1))


def allowed_cpus() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return list(range(os.cpu_count() or 1))


def physical_cores(cpus: list[int], root: Path = Path("/")) -> int:
    """Distinct cores among `cpus`, from sysfs topology; each CPU is its own core where sysfs is silent."""
    cores: set[str] = set()
    for cpu in cpus:
        topology = root / f"sys/devices/system/cpu/cpu{cpu}/topology"
        try:
            siblings = (topology / "thread_siblings_list").read_text().strip()
            package = (topology / "physical_package_id").read_text().strip()
        except OSError:
            siblings, package = str(cpu), "?"
        cores.add(f"{package}:{siblings}")
    return max(len(cores), 1)


def cgroup_quota(root: Path = Path("/")) -> float | None:
    """The tightest CPU quota (in CPUs) over this process's cgroup and its parents, v2 or v1."""
    try:
        lines = (root / "proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    quotas: list[float] = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # cgroup v2: "0::/path", cpu.max holds "<quota|max> <period>"
            for folder in _self_and_parents(root / "sys/fs/cgroup", path):
                quotas += _quota_v2(folder / "cpu.max")
        elif "cpu" in controllers.split(","):  # cgroup v1: cfs_quota_us (-1 = none) and cfs_period_us
            for mount in {controllers, "cpu", "cpu,cpuacct"}:
                for folder in _self_and_parents(root / "sys/fs/cgroup" / mount, path):
                    quotas += _quota_v1(folder)
    return min(quotas) if quotas else None


def _self_and_parents(mount: Path, path: str) -> list[Path]:
    parts = [p for p in path.split("/") if p]
    # In a container the cgroup is mounted at its own root, so the mount itself counts too.
    return [mount.joinpath(*parts[:n]) for n in range(len(parts), -1, -1)]


def _quota_v2(file: Path) -> list[float]:
    try:
        quota, period = file.read_text().split()[:2]
        return [] if quota == "max" else [int(quota) / int(period)]
    except (OSError, ValueError):
        return []


def _quota_v1(folder: Path) -> list[float]:
    try:
        quota = int((folder / "cpu.cfs_quota_us").read_text())
        period = int((folder / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return []
    return [quota / period] if quota > 0 and period > 0 else []


def cpu_budget(cpus: list[int] | None = None, root: Path = Path("/")) -> CpuBudget:
    """The budget of this process (or of `cpus` under a fake `root`, for tests)."""
    cpus = allowed_cpus() if cpus is None else cpus
    return CpuBudget(allowed=len(cpus), physical=physical_cores(cpus, root), quota=cgroup_quota(root))
