"""Pulling `hf.co/<user>/<repo>[:<quant>]` through `huggingface_hub`.

Files come through `hf_hub_download`, so `HF_TOKEN`, `HF_ENDPOINT`,
`HF_HUB_OFFLINE` and the user's HF cache are honoured, and a cached file is not
fetched again. The chosen GGUF becomes the model layer: hard-linked from the HF
cache into `blobs/` (copied across file systems), its sha256 checked against the
Hub's LFS hash. Its config comes from the GGUF metadata; no template layer is
written unless the repo has a `template` file, so the GGUF's own chat template is
used. Repo-root `system` and `params` files become layers, as hf.co serves them
to Ollama.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..digests import sha256_file
from ..errors import BadRequest, OllamaError
from ..store.blobs import BlobStore
from ..store.gguf import NotGGUFError, read_gguf
from ..store.holds import Hold
from ..store.manifests import (
    CONFIG_MEDIA_TYPE,
    MEDIA_MODEL,
    MEDIA_PARAMS,
    MEDIA_PROJECTOR,
    MEDIA_SYSTEM,
    MEDIA_TEMPLATE,
    Layer,
    Manifest,
)
from ..store.names import ModelName
from ..store.progress import Progress, Throttle, check_cancel, layer_line, status
from ..store.store import ModelStore
from .commit import commit_manifest
from .hf_files import RepoFile, cached_listing, pick_gguf, pick_projector, side_files
from .registry import OFFLINE_HINT

SIDE_MEDIA = {"template": MEDIA_TEMPLATE, "system": MEDIA_SYSTEM, "params": MEDIA_PARAMS}
_HEX64 = re.compile(r"[0-9a-f]{64}")


def pull_huggingface(store: ModelStore, name: ModelName, progress: Progress, cancel: threading.Event | None = None) -> None:
    repo_id = f"{name.namespace}/{name.model}"
    old = store.manifests.read(name)
    stale = old.manifest.digests() if old else set()

    progress(status("pulling manifest"))
    revision, files = list_repo(repo_id)
    chosen = pick_gguf(files, name.tag, repo_id)
    # Each blob is held before looking whether it is stored: a delete elsewhere cannot prune it meanwhile.
    with store.hold() as hold:
        digest = f"sha256:{chosen.sha256}" if chosen.sha256 else None
        source: Path | None = None
        if digest:
            hold.add({digest})
        if digest and store.blobs.exists(digest):
            size = store.blobs.size(digest)
            progress(layer_line("pulling", digest, size, size))
        else:
            source = Path(os.path.realpath(download(repo_id, chosen, revision, progress, digest, cancel)))
            if digest is None and _HEX64.fullmatch(source.name):
                digest = "sha256:" + source.name  # the HF cache names LFS blobs by their sha256
            size = source.stat().st_size
            if digest:
                progress(layer_line("pulling", digest, size, size))
        announced = digest is not None

        projector = pick_projector(files)
        extra = [projector_layer(store, hold, repo_id, projector, revision, progress, cancel)] if projector else []
        extra += [side_layer(store, hold, repo_id, f, revision, progress, cancel) for f in side_files(files)]

        progress(status("verifying sha256 digest"))
        if source is not None:
            digest = import_blob(store.blobs, source, digest, hold)
        assert digest is not None
        if not announced:  # a file the Hub gave no hash for: its line comes once it is hashed
            progress(layer_line("pulling", digest, store.blobs.size(digest), store.blobs.size(digest)))
        try:
            config = read_gguf(store.blobs.path(digest), max_array_len=1024).config_blob()
        except NotGGUFError as err:
            hold.release()
            store.remove_unused({digest})
            raise OllamaError(f"{chosen.name} is not a usable GGUF file: {err.message}") from None
        config_bytes = json.dumps(config).encode()
        config_digest, _ = store.put_bytes(config_bytes, hold)
        manifest = Manifest(
            Layer(CONFIG_MEDIA_TYPE, config_digest, len(config_bytes)),
            [Layer(MEDIA_MODEL, digest, store.blobs.size(digest)), *extra],
        )

        progress(status("writing manifest"))
        commit_manifest(store, name, manifest.to_bytes(), manifest, stale, progress)
    progress(status("success"))


def list_repo(repo_id: str) -> tuple[str | None, list[RepoFile]]:
    """(revision, files): from the Hub (revision None: `main`, whose ref the HF cache then
    records), or from the HF cache's snapshot when offline or unreachable (its commit)."""
    from huggingface_hub import HfApi, constants
    from huggingface_hub.utils import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

    offline_check = getattr(constants, "is_offline_mode", None)
    offline = offline_check() if callable(offline_check) else constants.HF_HUB_OFFLINE
    cached = cached_listing(Path(constants.HF_HUB_CACHE), repo_id)
    if offline:
        if cached is None:
            raise OllamaError(f"pull model manifest: {repo_id} is not in the Hugging Face cache and HF_HUB_OFFLINE is set")
        return cached
    try:
        info = HfApi().model_info(repo_id, files_metadata=True)
    except RepositoryNotFoundError:
        raise OllamaError("pull model manifest: file does not exist") from None
    except GatedRepoError:
        raise OllamaError(f"pull model manifest: {repo_id} is gated: accept its terms on Hugging Face and set HF_TOKEN") from None
    except HfHubHTTPError as err:
        raise OllamaError(f"pull model manifest: {_first_line(err)}") from None
    except Exception as err:  # unreachable Hub: fall back to the cache, as hf_hub_download does
        if cached is not None:
            return cached
        raise OllamaError(f"pull model manifest: cannot reach {constants.ENDPOINT}: {_first_line(err)} ({OFFLINE_HINT})") from None
    files = [
        RepoFile(s.rfilename, s.size, getattr(s.lfs, "sha256", None) if s.lfs else None)
        for s in info.siblings or []
    ]
    return None, files


def download(
    repo_id: str, file: RepoFile, revision: str | None, progress: Progress, digest: str | None, cancel: threading.Event | None
) -> str:
    """`hf_hub_download` with its progress reported as `pulling <hex12>` lines."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.utils import HfHubHTTPError, LocalEntryNotFoundError

    throttle = Throttle()

    def report(completed: int, total: int) -> None:
        check_cancel(cancel)
        if digest and total and throttle.ready():
            progress(layer_line("pulling", digest, total, completed))

    kwargs: dict[str, Any] = {}
    if "tqdm_class" in inspect.signature(hf_hub_download).parameters:
        kwargs["tqdm_class"] = _bar_class(report)
    try:
        return hf_hub_download(repo_id, file.name, revision=revision, **kwargs)
    except LocalEntryNotFoundError as err:
        raise OllamaError(f"{repo_id}/{file.name} is not in the Hugging Face cache and the Hub cannot be reached: {_first_line(err)}") from None
    except HfHubHTTPError as err:
        raise OllamaError(f"download {repo_id}/{file.name}: {_first_line(err)}") from None


def projector_layer(
    store: ModelStore, hold: Hold, repo_id: str, file: RepoFile, revision: str | None, progress: Progress,
    cancel: threading.Event | None,
) -> Layer:
    """A repo's `mmproj…gguf` as the model's projector layer (the model then reads images)."""
    digest = f"sha256:{file.sha256}" if file.sha256 else None
    if digest is not None:
        hold.add({digest})
    if digest is None or not store.blobs.exists(digest):
        source = Path(os.path.realpath(download(repo_id, file, revision, progress, digest, cancel)))
        digest = import_blob(store.blobs, source, digest, hold)
    size = store.blobs.size(digest)
    progress(layer_line("pulling", digest, size, size))
    try:
        projector = read_gguf(store.blobs.path(digest), max_array_len=0).is_projector
    except NotGGUFError as err:
        raise OllamaError(f"{file.name} is not a usable GGUF file: {err.message}") from None
    if not projector:
        raise OllamaError(f"{file.name} is named as a projector but is not one (no vision or audio encoder)")
    return Layer(MEDIA_PROJECTOR, digest, size)


def side_layer(
    store: ModelStore, hold: Hold, repo_id: str, file: RepoFile, revision: str | None, progress: Progress,
    cancel: threading.Event | None,
) -> Layer:
    """A repo's `template`, `system` or `params` file as a layer (checked as `create` checks it)."""
    from ..modelfile.options import validate_parameters
    from ..store.create import check_template

    data = Path(download(repo_id, file, revision, lambda _: None, None, cancel)).read_bytes()
    try:
        text = data.decode("utf-8")
        if file.name == "template":
            check_template(text)
        elif file.name == "params":
            validate_parameters(json.loads(text))
    except (UnicodeDecodeError, ValueError, BadRequest) as err:
        raise OllamaError(f"{repo_id}: invalid {file.name} file: {getattr(err, 'message', err)}") from None
    digest, _ = store.put_bytes(data, hold)
    progress(layer_line("pulling", digest, len(data), len(data)))
    return Layer(SIDE_MEDIA[file.name], digest, len(data))


def import_blob(blobs: BlobStore, source: Path, expected: str | None, hold: Hold) -> str:
    """Hard-link (or copy) a verified file into the blobs folder, held for the manifest to come; returns its digest."""
    got = sha256_file(source)
    if expected is not None and got != expected:
        source.unlink(missing_ok=True)  # a corrupt cache entry: the next pull downloads it again
        raise OllamaError(f"digest mismatch, file must be downloaded again: want {expected}, got {got}")
    hold.add({got})
    target = blobs.path(got)
    if target.is_file():
        return got
    temp = blobs.temp_path()
    try:
        try:
            os.link(source, temp)
        except OSError:  # another file system, or links not allowed: copy and check the copy
            shutil.copyfile(source, temp)
            if sha256_file(temp) != got:
                raise OllamaError(f"copy of {source} does not match its digest {got}") from None
            os.chmod(temp, 0o644)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    return got


def _bar_class(report: Callable[[int, int], None]) -> type:
    """A tqdm stand-in that `hf_hub_download(tqdm_class=…)` drives."""

    class Bar:
        def __init__(self, *args: Any, total: int | None = None, initial: int = 0, **kwargs: Any) -> None:
            self.total = int(total or 0)
            self.n = int(initial or 0)

        def update(self, n: int | float | None = 1) -> None:
            self.n += int(n or 0)
            report(self.n, self.total)

        def __enter__(self) -> Bar:
            return self

        def __exit__(self, *exc: Any) -> None:
            return None

        def __getattr__(self, attr: str) -> Callable[..., None]:  # close(), refresh(), set_description()…
            return lambda *args, **kwargs: None

    return Bar


def _first_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0]
