"""build_tools/build_mtmd.py without a compile: the source list read from CMakeLists, the cache lookup, the build record."""

from __future__ import annotations

import importlib.util
import sys
import tarfile
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "build_tools" / "build_mtmd.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_mtmd", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_mtmd"] = module
    spec.loader.exec_module(module)
    return module


build_mtmd = load()

CMAKELISTS = """
add_library(mtmd-helper helper-only.cpp)
add_library(mtmd
            mtmd.cpp
            mtmd.h
            # models/disabled.cpp
            models/models.h
            models/llava.cpp   # a comment after a source
            )
target_link_libraries(mtmd PUBLIC ggml llama)
add_executable(llama-mtmd-cli mtmd-cli.cpp)
"""


def test_sources_are_the_cpp_files_of_add_library_mtmd() -> None:
    assert build_mtmd.mtmd_sources(CMAKELISTS) == ["mtmd.cpp", "models/llava.cpp"]


def test_no_add_library_mtmd_is_a_failure() -> None:
    with pytest.raises(build_mtmd.Failure, match="add_library"):
        build_mtmd.mtmd_sources("add_library(mtmd-helper helper.cpp)")


def test_cache_lookup_matches_the_whole_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert build_mtmd.cached_build("0.3.3") is None
    other = tmp_path / "jupyter-ollama" / "mtmd" / "0.3.35-1139dbb54509-00000000"  # built with other definitions
    entry = tmp_path / "jupyter-ollama" / "mtmd" / f"0.3.35-1139dbb54509-{build_mtmd.BUILD_TAG}"
    for folder in (other, entry):
        folder.mkdir(parents=True)
        (folder / "libmtmd.so").write_bytes(b"")
    assert build_mtmd.cached_build("0.3.3") is None
    assert build_mtmd.cached_build("0.3.35") == entry / "libmtmd.so"


def test_record_sets_one_mtmd_line(tmp_path: Path) -> None:
    path = tmp_path / "record.txt"
    path.write_text("backend=cpu\nreason=asked\n")
    build_mtmd.record(path, "built in 61 s")
    build_mtmd.record(path, "copied from the cache")
    assert path.read_text() == "backend=cpu\nreason=asked\nmtmd=copied from the cache\n"


def test_the_cached_sdist_lists_sources_it_has() -> None:
    """The pinned sdist's real CMakeLists, where an earlier `make setup` left the sdist in the cache."""
    version = build_mtmd.metadata.version(build_mtmd.DIST)
    cached = build_mtmd.cached_build(version)
    sdists = list(cached.parent.glob("*.tar.gz")) if cached else []
    if not sdists:
        pytest.skip(f"no cached sdist of {build_mtmd.DIST} {version}")
    with tarfile.open(sdists[0]) as tar:
        names = tar.getnames()
        root = f"{names[0].split('/')[0]}/vendor/llama.cpp/tools/mtmd/"
        cmakelists = tar.extractfile(root + "CMakeLists.txt")
        assert cmakelists is not None
        sources = build_mtmd.mtmd_sources(cmakelists.read().decode())
    assert "mtmd.cpp" in sources and "clip.cpp" in sources
    assert not [s for s in sources if root + s not in names]
