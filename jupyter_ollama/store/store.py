"""The model store: Ollama's layout under OLLAMA_MODELS, and the operations on it.

All methods are synchronous file work; the API layer runs the slow ones (create,
hashing) in a worker thread so the server's IOLoop never blocks on disk.

Several processes may share one store (a JupyterLab and a `serve`, JupyterHub users on
NFS). Writing a manifest, and deciding which blobs a delete or prune removes, happen
under the store lock, which threads of this process and other processes take in turn
(locks.py); a pull or create in progress holds the blobs it will reference (holds.py),
and start-up removes only the temporary files of processes that are gone (owners.py).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from .. import envconfig
from ..errors import BadRequest, NotFound, OllamaError
from ..modelfile.options import format_parameters
from ..modelfile.parser import render_modelfile
from ..templates.profile import ProfileCache, TemplateProfile
from .aliases import ModelAliases
from .blobs import BlobStore
from .gguf import GGUFInfo, NotGGUFError, read_gguf
from .holds import Hold, held
from .locks import StoreLock, store_lock
from .manifests import Manifest, ManifestStore
from .model import LocalModel
from .names import ModelName

log = logging.getLogger("jupyter_ollama")


def default_models_dir() -> Path:
    """`OLLAMA_MODELS`, else the Jupyter data dir's `ollama/models`."""
    if env := envconfig.models_dir():
        return Path(env).expanduser()
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "ollama" / "models"


def _env_aliases() -> ModelAliases:
    try:
        return ModelAliases.from_env()
    except ValueError as err:  # reported; the server still serves
        log.error("%s", err)
        return ModelAliases()


class ModelStore:
    def __init__(self, root: Path | None = None, aliases: ModelAliases | None = None) -> None:
        self.root = Path(root) if root is not None else default_models_dir()
        self.aliases = aliases if aliases is not None else _env_aliases()
        self.blobs = BlobStore(self.root / "blobs")
        self.manifests = ManifestStore(self.root / "manifests")
        self.blobs.sweep_temporary()
        # Manifest writes and blob deletes are serialized, between threads and between processes
        # sharing the folder, so that a delete never removes a blob that a create is about to reference.
        self.lock: StoreLock = store_lock(self.root)
        self._cache_lock = threading.Lock()
        self._gguf_cache: OrderedDict[str, GGUFInfo] = OrderedDict()
        self._profiles = ProfileCache()

    # -- lookup ---------------------------------------------------------------

    def find(self, name: str | ModelName) -> LocalModel | None:
        parsed = ModelName.parse(name) if isinstance(name, str) else name
        found = self.manifests.find(parsed)
        stored = self.manifests.read(found) if found else None
        return LocalModel(stored, self.blobs) if stored else None

    def find_or_alias(self, name: str) -> LocalModel | None:
        """The model called `name`, else the one an alias maps it to (`aliases`)."""
        model = self.find(name)
        if model is None and (target := self.aliases.target(name)) is not None:
            model = self.find(target)
        return model

    def get(self, name: str) -> LocalModel:
        """The model called `name`; 400 for an invalid name, 404 (Ollama's wording) if absent."""
        if not name:
            raise BadRequest("model is required")
        model = self.find(name)
        if model is None:
            raise NotFound(f"model '{name}' not found")
        return model

    def profile(self, model: LocalModel) -> TemplateProfile:
        """What the model's template means for requests: capabilities, think and tool tags."""
        return self._profiles.get(model, self.gguf(model))

    def gguf(self, model: LocalModel, verbose: bool = False) -> GGUFInfo | None:
        """GGUF metadata of the model layer, parsed once per blob.

        The cache keeps reads without the large arrays (the vocabulary); only a
        verbose show, which returns them, reads the whole metadata again.
        """
        layer = model.model_layer
        if layer is None:
            return None
        if verbose:
            return self._read_gguf(model, layer.digest)
        return self._cached_gguf(model, layer.digest)

    def draft_gguf(self, model: LocalModel) -> GGUFInfo | None:
        """GGUF metadata of the model's draft model (Modelfile DRAFT), if it has one."""
        layer = model.draft_layer
        return self._cached_gguf(model, layer.digest) if layer else None

    def projector_gguf(self, model: LocalModel, verbose: bool = False) -> GGUFInfo | None:
        """GGUF metadata of the model's (first) projector, through which it reads images, if it has one."""
        layer = model.projector_layer
        if layer is None:
            return None
        return self._read_gguf(model, layer.digest) if verbose else self._cached_gguf(model, layer.digest)

    def _cached_gguf(self, model: LocalModel, digest: str) -> GGUFInfo:
        with self._cache_lock:
            info = self._gguf_cache.get(digest)
            if info is not None:
                self._gguf_cache.move_to_end(digest)
                return info
        info = self._read_gguf(model, digest, max_array_len=1024)
        with self._cache_lock:
            self._gguf_cache[digest] = info
            while len(self._gguf_cache) > 16:
                self._gguf_cache.popitem(last=False)
        return info

    def _read_gguf(self, model: LocalModel, digest: str, max_array_len: int | None = None) -> GGUFInfo:
        """A stored model's GGUF; one that no longer reads (a disk fault, a hand edit) is reported as damaged."""
        try:
            return read_gguf(self.blobs.path(digest), max_array_len=max_array_len)
        except (NotGGUFError, OSError) as err:
            reason = err.message if isinstance(err, NotGGUFError) else f"blob {digest} cannot be read ({err.strerror})"
            raise OllamaError(f"model '{model.name.display()}' is damaged: {reason}; pull or create it again") from None

    # -- listing and showing --------------------------------------------------

    def list_models(self) -> list[dict[str, Any]]:
        """`/api/tags` entries, newest first."""
        entries = []
        for stored in sorted(self.manifests.all(), key=lambda s: s.modified, reverse=True):
            model = LocalModel(stored, self.blobs)
            try:
                details = model.details()
            except (OSError, ValueError):
                continue  # a manifest whose config blob is gone is not a usable model
            name = stored.name.display()
            entry = {"name": name, "model": name, "modified_at": model.modified_at, "size": model.size,
                     "digest": stored.digest, "details": details, **remote_fields(model)}
            if model.is_remote:
                entry["capabilities"] = remote_capabilities(model)
                entries.append(entry)
                continue
            try:  # what a client picking a model wants to know without a show per model
                entry["capabilities"] = list(self.profile(model).capabilities)
                details.update(self._lengths(model))
            except OllamaError:
                pass  # a damaged model is still listed, as Ollama lists it; show says what is wrong
            entries.append(entry)
        return entries

    def _lengths(self, model: LocalModel) -> dict[str, int]:
        """`context_length` and `embedding_length` from the GGUF, where it has them."""
        info = self.gguf(model)
        lengths = {"context_length": info.context_length, "embedding_length": info.embedding_length} if info else {}
        return {key: value for key, value in lengths.items() if value}

    def effective_template(self, model: LocalModel) -> str:
        """The Modelfile TEMPLATE, else (native mode) the GGUF's Jinja chat template."""
        if model.template is not None:
            return model.template
        info = self.gguf(model)
        return (info.chat_template if info else None) or "{{ .Prompt }}"

    def show(self, name: str, verbose: bool = False, system: str | None = None) -> dict[str, Any]:
        model = self.get(name)
        # A remote model's engines hold its weights and template: there is no GGUF here to read.
        info = None if model.is_remote else self.gguf(model, verbose)
        reply: dict[str, Any] = {
            "license": "\n".join(model.licenses),
            "modelfile": render_modelfile(model),
            "parameters": format_parameters(model.parameters),
            "template": (model.template or "") if model.is_remote else self.effective_template(model),
            "system": system if system else (model.system or ""),
            "details": model.details(),
            "model_info": info.model_info(verbose=verbose) if info else {},
            "capabilities": remote_capabilities(model) if model.is_remote else list(self.profile(model).capabilities),
            "modified_at": model.modified_at,
            **remote_fields(model),
        }
        if model.messages:
            reply["messages"] = model.messages
        projector = None if model.is_remote else self.projector_gguf(model, verbose)
        if projector is not None:  # Ollama's: the projector's metadata, as model_info is the model's
            reply["projector_info"] = projector.model_info(verbose=verbose)
        if verbose and info is not None:  # Ollama's `tensors`: each one's name, ggml type and shape
            reply["tensors"] = [{"name": t.name, "type": t.type_name, "shape": list(t.shape)} for t in info.tensors]
        return reply

    # -- copy and delete ------------------------------------------------------

    def copy(self, source: str, destination: str) -> None:
        src_name = ModelName.parse_lenient(source or "")
        if not src_name.is_valid():
            raise BadRequest(f'source "{source}" is invalid')
        dst_name = ModelName.parse_lenient(destination or "")
        if not dst_name.is_valid():
            raise BadRequest(f'destination "{destination}" is invalid')
        with self.lock:
            model = self.find(src_name)
            if model is None:
                raise NotFound(f'model "{source}" not found')
            target = self.manifests.find(dst_name) or dst_name
            self.manifests.write(target, model.stored.manifest)

    def delete(self, name: str) -> None:
        if not name:
            raise BadRequest("model is required")
        parsed = ModelName.parse_lenient(name)
        if not parsed.is_valid():
            raise BadRequest(f'name "{name}" is invalid')
        with self.lock:
            model = self.find(parsed)
            if model is None:
                raise NotFound(f"model '{name}' not found")
            self.manifests.remove(model.name)
            self.remove_unused(model.stored.manifest.digests())

    def remove_unused(self, candidates: set[str]) -> None:
        """Delete those of `candidates` that no manifest references and no pull or create in progress holds."""
        with self.lock:
            in_use = held(self.holds_folder)
            for stored in self.manifests.all():
                in_use |= stored.manifest.digests()
            for digest in candidates - in_use:
                self.blobs.remove(digest)

    # -- work in progress -------------------------------------------------------

    @property
    def holds_folder(self) -> Path:
        return self.root / ".holds"

    def hold(self, digests: set[str] | None = None) -> Hold:
        """Hold blobs that a pull or create will reference, so that no prune removes them meanwhile."""
        hold = Hold(self.holds_folder, self.lock)
        hold.add(digests or set())
        return hold

    def put_bytes(self, data: bytes, hold: Hold) -> tuple[str, bool]:
        """Store small content as a blob, held for the manifest to come; returns (digest, created)."""
        hold.add({"sha256:" + hashlib.sha256(data).hexdigest()})
        return self.blobs.put_bytes(data)

    def missing(self, manifest: Manifest) -> list[str]:
        """The digests of `manifest` whose blob is not stored (checked under the lock, just before writing it)."""
        return sorted(d for d in manifest.digests() if not self.blobs.exists(d))


def remote_fields(model: LocalModel) -> dict[str, Any]:
    """Ollama's `remote_model`/`remote_host` for a remote model, and (ours) every engine of its pool."""
    if not model.is_remote:
        return {}
    fields: dict[str, Any] = {"remote_model": model.remote_model, "remote_host": model.config["remote_host"]}
    if model.config.get("remote_hosts"):  # written at create for a pool, or engines with an api or key named
        fields["remote_hosts"] = model.config["remote_hosts"]
    return fields


def remote_capabilities(model: LocalModel) -> list[str]:
    """What the config says (`completion` by default): the engines know more, and are asked at each request."""
    capabilities = model.config.get("capabilities")
    return [str(c) for c in capabilities] if isinstance(capabilities, list) and capabilities else ["completion"]
