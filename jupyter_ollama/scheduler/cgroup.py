"""The memory limit of this process's cgroup, v2 or v1: what a container or a JupyterHub spawner allows.

Inside a memory-limited container the host's RAM is not what a model may use: past the
limit the kernel's OOM killer ends the runner (or the server). This reads the cgroup of
this process (`/proc/self/cgroup`), finds where its hierarchy is mounted
(`/proc/self/mountinfo`), and walks from its folder up to the mount, since a parent's
limit binds too. At each level that has a limit:

- v2: `memory.max` ("max" is no limit), usage `memory.current`;
- v1: `memory.limit_in_bytes` (a huge number is no limit), usage `memory.usage_in_bytes`;

and what is left is the limit minus the usage less the page cache the kernel can drop
(`inactive_file` in v2's `memory.stat`, `total_inactive_file` in v1's), the working set
as the kubelet counts it. The tightest level wins. `root` is the file system root to
read under (tests pass a fake tree).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# v1 says "no limit" with the largest page-aligned value (9223372036854771712 with 4 KiB pages).
_V1_UNLIMITED = 1 << 62


@dataclass(frozen=True)
class CgroupMemory:
    limit: int  # bytes: the tightest limit over this process's cgroup and its parents
    available: int  # bytes still free under the limits: limit - (usage - inactive file cache), the least over them
    source: str  # the file the limit comes from: "cgroup v2 memory.max", "cgroup v1 memory.limit_in_bytes"


@dataclass(frozen=True)
class _Mount:
    version: int
    cgroup_root: str  # the cgroup mounted there ("/" unless a container sees a part of the hierarchy)
    point: Path  # where, under the `root` read
    options: frozenset[str]  # v1: the controllers (in the super options)


@dataclass(frozen=True)
class _Level:
    limit: int
    available: int
    source: str


def memory_limit(root: Path = Path("/")) -> CgroupMemory | None:
    """The memory limit that binds this process, or None where no cgroup sets one (or none can be read)."""
    try:
        memberships = (root / "proc/self/cgroup").read_text().splitlines()
        mounts = _mounts((root / "proc/self/mountinfo").read_text(), root)
    except OSError:
        return None
    levels: list[_Level] = []
    for line in memberships:
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and controllers == "":
            candidates = [m for m in mounts if m.version == 2]
        elif "memory" in controllers.split(","):
            candidates = [m for m in mounts if m.version == 1 and "memory" in m.options]
        else:
            continue
        for folder, mount in _folders(candidates, path):
            level = _read_level(folder, mount.version)
            if level is not None:
                levels.append(level)
    if not levels:
        return None
    tightest = min(levels, key=lambda level: level.limit)
    return CgroupMemory(tightest.limit, max(0, min(level.available for level in levels)), tightest.source)


def _unescape(field: str) -> str:
    """mountinfo writes a space as \\040 (and tab, newline and backslash likewise)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _mounts(mountinfo: str, root: Path) -> list[_Mount]:
    found = []
    for line in mountinfo.splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3 or tail[0] not in ("cgroup", "cgroup2"):
            continue
        point = root / _unescape(fields[4]).lstrip("/")
        found.append(_Mount(2 if tail[0] == "cgroup2" else 1, _unescape(fields[3]), point, frozenset(tail[2].split(","))))
    return found


def _folders(mounts: list[_Mount], path: str) -> list[tuple[Path, _Mount]]:
    """The cgroup's folder and its parents up to the mount, in the first mount that holds it."""
    for mount in mounts:
        base = mount.cgroup_root.rstrip("/")
        if path != base and not path.startswith(base + "/"):
            continue  # another part of the hierarchy is mounted here
        parts = [p for p in path[len(base):].split("/") if p]
        return [(mount.point.joinpath(*parts[:n]), mount) for n in range(len(parts), -1, -1)]
    # A path outside every mount (a cgroup namespace shows "/.."): the mount's own folder is all we can read.
    return [(mount.point, mount) for mount in mounts[:1]]


def _read_int(file: Path) -> int | None:
    try:
        return int(file.read_text().strip())
    except (OSError, ValueError):
        return None


def _stat(file: Path, *keys: str) -> int:
    try:
        pairs = dict(line.split()[:2] for line in file.read_text().splitlines() if len(line.split()) >= 2)
    except OSError:
        return 0
    for key in keys:
        if key in pairs and pairs[key].isdigit():
            return int(pairs[key])
    return 0


def _read_level(folder: Path, version: int) -> _Level | None:
    if version == 2:
        name = "memory.max"
        try:
            text = (folder / name).read_text().strip()
        except OSError:
            return None  # the root cgroup has no memory.max; a folder without the controller neither
        if text == "max" or not text.isdigit():
            return None
        limit, usage = int(text), _read_int(folder / "memory.current")
        cache = _stat(folder / "memory.stat", "inactive_file")
    else:
        name = "memory.limit_in_bytes"
        read = _read_int(folder / name)
        if read is None or read >= _V1_UNLIMITED:
            return None
        limit, usage = read, _read_int(folder / "memory.usage_in_bytes")
        cache = _stat(folder / "memory.stat", "total_inactive_file", "inactive_file")
    working_set = max(0, usage - cache) if usage is not None else 0
    return _Level(limit, limit - working_set, f"cgroup v{version} {name}")
