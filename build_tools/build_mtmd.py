"""Build llama.cpp's multimodal library, libmtmd.so, for the installed llama-cpp-python.

Why: `make setup` builds llama-cpp-python with -DLLAVA_BUILD=OFF (see the Makefile), so its wheel has
no libmtmd.so and `llama_cpp.mtmd_cpp` (images and audio in the prompt) fails to import. Turning it
on would rebuild the whole wheel (and miss pip's cache of it); this compiles the mtmd library alone
from the same sdist, against the wheel's own libllama/libggml, and installs it beside them.

How: the version of llama-cpp-python installed here picks the sdist in PyPI's index (sha256 checked); the
sources are the `add_library(mtmd ...)` list of its vendor/llama.cpp/tools/mtmd/CMakeLists.txt,
compiled with g++ (or $CXX) on every core. The result is cached in
${XDG_CACHE_HOME:-~/.cache}/jupyter-ollama/mtmd/<version>-<sha256[:12]>-<definitions' tag>/ with the sdist, so a fresh
clone on the same home copies it in a second. "Installed" means byte-identical to that cached
build, and loading: pip leaves files it did not install in place on an upgrade, so a libmtmd.so
that merely loads may be a stale one from an older version. A wheel that ships its own libmtmd.so
(built with LLAVA_BUILD=ON) is left alone.

CUDA: nothing in the mtmd sources (nor the headers they include) tests GGML_USE_CUDA or any other
backend define; the vision/audio encoder reaches the GPU at run time through ggml's backend
registry in libggml. The same libmtmd.so therefore serves a CPU or a CUDA build of the wheel
(same version, same library names). Checked by grep only: no GPU machine was at hand to run it.

Usage: python build_tools/build_mtmd.py [--force] [--record FILE]
"""

from __future__ import annotations

import argparse
import filecmp
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata, util
from pathlib import Path

DIST = "llama-cpp-python"
LIB = "libmtmd.so"
# What the compile reads, relative to the sdist's vendor/llama.cpp (mtmd-helper-gen.cpp includes ../src/llama-ext.h).
NEEDED = ("tools/mtmd/", "include/", "ggml/include/", "vendor/", "src/llama-ext.h")
# tools/mtmd/CMakeLists.txt's definitions for a shared build: LLAMA_BUILD/LLAMA_SHARED (BUILD_SHARED_LIBS, which the
# wheel sets). Not MTMD_VIDEO: nothing here sends video, and with it every buffer that is not an image is handed to
# an `ffprobe` subprocess (a bad image in a request spawned one and logged its failure).
DEFINES = ("-DLLAMA_BUILD", "-DLLAMA_SHARED")
# Builds with other definitions are cached apart (a cache entry is a version, its sdist's digest and this).
BUILD_TAG = hashlib.sha256(" ".join(DEFINES).encode()).hexdigest()[:8]
INCLUDES = ("tools/mtmd", ".", "vendor", "include", "ggml/include")


class Failure(Exception):
    """A step failed; the message says which and what to do."""


def cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "jupyter-ollama" / "mtmd"


def lib_dir() -> Path:
    """llama_cpp/lib of the installed package, found without importing (and loading) llama_cpp."""
    spec = util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        raise Failure(f"{DIST} is not installed in {sys.prefix}")
    return Path(next(iter(spec.submodule_search_locations))) / "lib"


def cached_build(version: str) -> Path | None:
    """This version's cached libmtmd.so, looked up without the network."""
    found = sorted(cache_root().glob(f"{version}-*-{BUILD_TAG}/{LIB}"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def loads(path: Path) -> bool:
    """Whether `path` loads with every symbol resolved; in a child, since dlopen reuses a path it has loaded."""
    code = "import ctypes, os, sys; ctypes.CDLL(sys.argv[1], os.RTLD_NOW).mtmd_default_marker"
    return subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True).returncode == 0


def install(built: Path, target: Path) -> None:
    """Copy then rename, so a reader never sees half a library."""
    partial = target.with_name(target.name + ".partial")
    shutil.copyfile(built, partial)
    os.replace(partial, target)


def sdist_info(version: str) -> tuple[str, str, str]:
    """(url, filename, sha256) of the version's sdist, from PyPI's simple index in its JSON form (PEP 691).

    The index is what pip reads; the per-release JSON API (/pypi/<name>/<version>/json) answers 404
    through the proxy of the machine this was written on.
    """
    index = f"https://pypi.org/simple/{DIST}/"
    request = urllib.request.Request(index, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            files = json.load(reply)["files"]
    except (OSError, ValueError, KeyError) as e:
        raise Failure(f"cannot read {index}: {e}") from e
    for entry in files:
        name = entry["filename"]
        if name.endswith(".tar.gz") and name.removesuffix(".tar.gz").rpartition("-")[2] == version:
            return urllib.parse.urljoin(index, entry["url"]), name, entry["hashes"]["sha256"]
    raise Failure(f"{index} has no sdist of {DIST} {version}")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, dest: Path, expected: str) -> None:
    if dest.exists() and sha256(dest) == expected:
        return
    partial = dest.with_name(dest.name + ".partial")
    try:
        with urllib.request.urlopen(url, timeout=60) as reply, partial.open("wb") as out:
            shutil.copyfileobj(reply, out, 1 << 20)
    except OSError as e:
        raise Failure(f"cannot download {url}: {e}") from e
    if (actual := sha256(partial)) != expected:
        partial.unlink()
        raise Failure(f"{url}: sha256 {actual}, PyPI says {expected}")
    os.replace(partial, dest)


def extract(sdist: Path, dest: Path) -> Path:
    """Only the files the compile reads; returns the extracted vendor/llama.cpp."""
    with tarfile.open(sdist) as tar:
        top = tar.next()
        if top is None:
            raise Failure(f"{sdist} is empty")
        root = f"{top.name.split('/')[0]}/vendor/llama.cpp/"

        def wanted() -> Iterator[tarfile.TarInfo]:
            for member in tar:
                if member.name.startswith(root) and member.name[len(root):].startswith(NEEDED):
                    yield member

        tar.extractall(dest, members=wanted(), filter="data")
    return dest / root


def mtmd_sources(cmakelists: str) -> list[str]:
    """The .cpp files of `add_library(mtmd ...)`, relative to tools/mtmd."""
    text = re.sub(r"#.*", "", cmakelists)
    match = re.search(r"add_library\s*\(\s*mtmd\s+([^)]*)\)", text)
    if match is None:
        raise Failure("tools/mtmd/CMakeLists.txt has no add_library(mtmd ...)")
    return [name for name in match.group(1).split() if name.endswith(".cpp")]


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def compile_lib(llama: Path, lib: Path, out: Path, cxx: str) -> None:
    """Compile the mtmd sources in parallel and link them against the wheel's libraries into `out`."""
    mtmd = llama / "tools" / "mtmd"
    sources = mtmd_sources((mtmd / "CMakeLists.txt").read_text(encoding="utf-8"))
    flags = ["-O2", "-fPIC", "-std=c++17", *DEFINES, *(f"-I{llama / d}" for d in INCLUDES)]
    objects = [out.parent / (source.replace("/", "_") + ".o") for source in sources]
    print(f"compiling {len(sources)} mtmd sources on {cores()} cores (about a minute on 2)...", file=sys.stderr, flush=True)

    def compile_one(source: str, obj: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([cxx, *flags, "-c", str(mtmd / source), "-o", str(obj)], capture_output=True, text=True)

    pool = ThreadPoolExecutor(cores())
    try:
        for source, done in zip(sources, pool.map(compile_one, sources, objects), strict=True):
            if done.returncode:
                raise Failure(f"compiling {source} failed:\n{done.stderr}")
    finally:
        pool.shutdown(cancel_futures=True)  # after a failure, the files not started yet are not compiled
    # --no-undefined: a symbol libllama/libggml do not export fails here rather than when a model is loaded.
    link = [cxx, "-shared", "-o", str(out), *map(str, objects), f"-L{lib}", "-lllama", "-lggml", "-lggml-base",
            "-Wl,-rpath,$ORIGIN", "-Wl,--no-undefined", "-lpthread"]
    done = subprocess.run(link, capture_output=True, text=True)
    if done.returncode:
        raise Failure(f"linking {LIB} failed:\n{done.stderr}")


def build(version: str, lib: Path) -> Path:
    """Download, compile and cache; returns the cached library."""
    cxx = os.environ.get("CXX", "g++")
    if shutil.which(cxx) is None:
        raise Failure(f"no C++ compiler: {cxx} is not on PATH (apt-get install g++, or set CXX)")
    url, filename, digest = sdist_info(version)
    entry = cache_root() / f"{version}-{digest[:12]}-{BUILD_TAG}"
    entry.mkdir(parents=True, exist_ok=True)
    sdist = entry / filename
    download(url, sdist, digest)
    with tempfile.TemporaryDirectory(prefix="mtmd-build-") as tmp:
        llama = extract(sdist, Path(tmp) / "src")
        built = Path(tmp) / "obj" / LIB
        built.parent.mkdir()
        compile_lib(llama, lib, built, cxx)
        install(built, entry / LIB)
    return entry / LIB


def ensure(force: bool) -> str:
    """Install libmtmd.so if needed; says what was done."""
    try:
        version = metadata.version(DIST)
    except metadata.PackageNotFoundError as e:
        raise Failure(f"{DIST} is not installed in {sys.prefix}") from e
    lib = lib_dir()
    target = lib / LIB
    if any(str(f).endswith(f"llama_cpp/lib/{LIB}") for f in metadata.files(DIST) or []) and not force:
        return f"{LIB} ships with {DIST} {version}: nothing to do"
    cached = cached_build(version)
    if not force and cached and target.exists() and filecmp.cmp(cached, target, shallow=False) and loads(target):
        return f"{LIB} for {DIST} {version} already installed"
    if not force and cached:
        install(cached, target)
        if loads(target):
            return f"{LIB} for {DIST} {version} copied from the cache ({cached.parent})"
        print(f"the cached {cached} does not load; building it again", file=sys.stderr)
    start = time.monotonic()
    cached = build(version, lib)
    install(cached, target)
    if not loads(target):
        raise Failure(f"the {LIB} just built does not load from {target}")
    return f"{LIB} for {DIST} {version} built in {time.monotonic() - start:.0f} s (cached in {cached.parent})"


def record(path: Path, what: str) -> None:
    """Set the `mtmd=` line of the `key=value` build record (.venv/jupyter-ollama-llama-build.txt)."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    lines = [line for line in lines if not line.startswith("mtmd=")] + [f"mtmd={what}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--force", action="store_true", help="build again even if installed or cached")
    parser.add_argument("--record", type=Path, metavar="FILE", help="also write what was done as an mtmd= line in FILE")
    args = parser.parse_args(argv)
    try:
        what = ensure(args.force)
    except Failure as e:
        print(f"build_mtmd: {e}", file=sys.stderr)
        return 1
    print(what)
    if args.record:
        record(args.record, what)
    return 0


if __name__ == "__main__":
    sys.exit(main())
