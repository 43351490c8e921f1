"""POST /api/create: build a model's manifest from an existing model or uploaded GGUF blobs.

Layers are written first (each small layer a content-addressed blob), the config
blob next, the manifest last; only then are the old manifest's orphaned blobs
removed. A failure at any step leaves the store as it was, apart from unreferenced
blobs that a later create can reuse. Every blob the create will reference is held
(holds.py) before it is looked for or written, so that a delete in another process
cannot prune it before the manifest names it.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable
from typing import Any

from ..errors import BadRequest, NotFound
from ..gotemplate import TemplateError
from ..modelfile.options import validate_parameters
from ..templates.go import parse_template
from .blobs import normalize_digest
from .draft import REMOTE_DRAFT, check_draft
from .gguf import GGUFInfo, NotGGUFError, read_gguf
from .holds import Hold
from .manifests import (
    CONFIG_MEDIA_TYPE,
    MEDIA_ADAPTER,
    MEDIA_DRAFT,
    MEDIA_LICENSE,
    MEDIA_MESSAGES,
    MEDIA_MODEL,
    MEDIA_PARAMS,
    MEDIA_PROJECTOR,
    MEDIA_SYSTEM,
    MEDIA_TEMPLATE,
    Layer,
    Manifest,
)
from .names import INVALID_MODEL_NAME, ModelName
from .progress import storage_error
from .quantize import QuantType, check_source, parse_quant_type, quantize_file, source_type
from .remote_hosts import check_allowed, parse_engines
from .store import ModelStore

Progress = Callable[[dict[str, Any]], None]

MESSAGE_ROLES = ("system", "user", "assistant", "tool")


def _valid_relative_path(path: str) -> bool:
    """Go's fs.ValidPath: unrooted, slash-separated, no `.`/`..`/empty elements."""
    if path == ".":
        return True
    return bool(path) and all(part not in ("", ".", "..") for part in path.split("/")) and "\\" not in path


def check_file_map(files: dict[str, str]) -> dict[str, str]:
    checked = {}
    for key, digest in files.items():
        if not _valid_relative_path(key) or posixpath.isabs(key):
            raise BadRequest("file path must be relative")
        checked[key] = normalize_digest(digest)
    return checked


def check_messages(messages: list[Any]) -> list[dict[str, str]]:
    out = []
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("content", ""), str):
            raise BadRequest("messages must be objects with a role and string content")
        role = message.get("role")
        if role not in MESSAGE_ROLES:
            raise BadRequest(f'invalid message role "{role}"')
        out.append({"role": role, "content": message.get("content", "")})
    return out


def check_license(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v for v in value if v]
    raise BadRequest("license must be a string or a list of strings")


def check_template(text: str) -> None:
    """Refuse a TEMPLATE that Ollama's `template.Parse` refuses, worded as its CreateHandler does."""
    try:
        parse_template(text)
    except TemplateError as err:
        raise BadRequest(f"template error: {err.message}") from None


class ModelCreator:
    def __init__(self, store: ModelStore, progress: Progress) -> None:
        self.store = store
        self.progress = progress

    def status(self, text: str) -> None:
        self.progress({"status": text})

    def create(self, request: dict[str, Any], declared: bool = False) -> None:
        """Validate everything up front (so errors come with a real status), then build.

        `declared`: an admin's remote model (`c.JupyterOllama.remote_models`), whose hosts need no allowlist."""
        name = ModelName.parse(request.get("model") or request.get("name") or "")
        name = self.store.manifests.find(name) or name
        self._remote = self._remote_config(request, str(name) if declared else "") if request.get("remote_host") else None
        files = check_file_map(request.get("files") or {})
        adapters = check_file_map(request.get("adapters") or {})
        drafts = check_file_map(request.get("draft_files") or {})
        quantize = request.get("quantize") or request.get("quantization")
        want = parse_quant_type(quantize) if quantize else None
        template = request.get("template")
        if template:
            check_template(template)
        parameters = validate_parameters(request.get("parameters") or {})
        messages = check_messages(request.get("messages") or [])
        licenses = check_license(request.get("license"))
        if want is not None:
            for info in self._model_sources(request, files):
                check_source(info)

        self._existing = self.store.blobs.digests()
        self._created = set()
        self._hold = self.store.hold()
        try:
            self._hold.add({*files.values(), *adapters.values(), *drafts.values()})  # before looking for them
            self._build(name, request, files, adapters, drafts, template, parameters, messages, licenses, want)
        except OSError as err:  # a full disk: what this create wrote goes, the store is as it was
            self._hold.release()
            self.store.remove_unused(self._created)
            raise storage_error(err) from None
        finally:
            self._hold.release()

    def _build(
        self, name: ModelName, request: dict[str, Any], files: dict[str, str], adapters: dict[str, str],
        drafts: dict[str, str], template: str | None, parameters: dict[str, Any], messages: list[dict[str, str]],
        licenses: list[str], want: QuantType | None,
    ) -> None:
        if self._remote is not None:
            layers: list[Layer] = []
            config = {**self._remote, "os": "linux", "architecture": "amd64"}
        elif request.get("from"):
            layers, config = self._from_model(request["from"])
        elif files:
            layers, config = self._from_files(files, MEDIA_MODEL)
        else:
            raise BadRequest("neither 'from' or 'files' was specified")
        if drafts:
            layers = self._with_draft(layers, config, drafts)
        if want is not None:
            layers = [self._quantize(x, want, config) if x.media_type == MEDIA_MODEL else x for x in layers]
        if adapters:
            if len(adapters) > 1:
                raise BadRequest("only one adapter is currently supported")
            adapter_layers, _ = self._from_files(adapters, MEDIA_ADAPTER)
            layers += adapter_layers

        if template:
            layers = self._replace(layers, MEDIA_TEMPLATE, template.encode())
        if request.get("system"):
            layers = self._replace(layers, MEDIA_SYSTEM, request["system"].encode())
        for text in licenses:
            layers.append(self._new_layer(MEDIA_LICENSE, text.encode()))
        merged = self._merge_parameters(layers, parameters)
        if merged:
            layers = self._replace(layers, MEDIA_PARAMS, json.dumps(merged).encode())
        if messages:
            layers = self._replace(layers, MEDIA_MESSAGES, json.dumps(messages).encode())

        for layer in layers:
            self.status(f"{'using existing' if layer.digest in self._existing else 'creating new'} layer {layer.digest}")
        for key in ("requires", "renderer", "parser"):
            if request.get(key):
                config[key] = request[key]
        config_bytes = json.dumps(config).encode()
        config_layer = Layer(CONFIG_MEDIA_TYPE, self._put_bytes(config_bytes), len(config_bytes))

        self.status("writing manifest")
        manifest = Manifest(config_layer, layers)
        with self.store.lock:  # no prune, here or in another process, between the check and the write
            if missing := self.store.missing(manifest):
                raise BadRequest(f'blob "{missing[0]}" not found: upload it with POST /api/blobs/{missing[0]} first')
            old = self.store.manifests.read(name)
            self.store.manifests.write(name, manifest)
            self._hold.release()  # the manifest references them now
            if old is not None:
                self.store.remove_unused(old.manifest.digests())
        self.status("success")

    # -- sources --------------------------------------------------------------

    @staticmethod
    def _remote_config(request: dict[str, Any], declared: str) -> dict[str, Any]:
        """A remote model's config: Ollama's `remote_host`/`remote_model`, and (ours) every engine of a pool.

        `declared`: the name an admin declared it under (its hosts then need no allowlist), else ""."""
        remote_model = request.get("from")
        if not isinstance(remote_model, str) or not remote_model.strip() or any(c.isspace() for c in remote_model):
            raise BadRequest("a remote model needs 'from': the model's name on its engines")
        if request.get("draft_files"):
            raise BadRequest(REMOTE_DRAFT)
        if request.get("files") or request.get("adapters") or request.get("quantize"):
            raise BadRequest("a remote model is served by its engines: files, adapters and quantize do not apply")
        engines = parse_engines(request["remote_host"])
        if not declared:
            check_allowed(engines)
        config: dict[str, Any] = {"remote_host": engines[0].url, "remote_model": remote_model.strip(),
                                  "model_format": "", "capabilities": ["completion"]}
        if len(engines) > 1 or any(e.api or e.api_key_env for e in engines):
            config["remote_hosts"] = [e.to_json() for e in engines]
        if declared:  # under its own name only: a copy of it is a user's model, allowlist and all
            config["declared"] = declared
        return config

    _existing: set[str]  # blobs present before this create began, for the status lines
    _created: set[str]  # blobs this create wrote: what a failed create removes (unless something else uses them)
    _hold: Hold  # what the manifest will reference, held from prunes until it is written
    _remote: dict[str, Any] | None  # a remote model's config (remote_host, remote_model, ...), else None

    def _from_model(self, source: str) -> tuple[list[Layer], dict[str, Any]]:
        parsed = ModelName.parse_lenient(source)
        if not parsed.is_valid():
            raise BadRequest(INVALID_MODEL_NAME)
        base = self.store.find(parsed)
        if base is None:
            raise NotFound(f'model "{source}" not found, try pulling it first')
        self._hold.add(base.stored.manifest.digests())  # the base's blobs, should it be deleted meanwhile
        origin = base.name.display()
        layers = [
            Layer(x.media_type, x.digest, x.size, x.from_ or origin) if x.media_type == MEDIA_MODEL else x
            for x in base.stored.manifest.layers
        ]
        config = {k: v for k, v in base.config.items() if k in _INHERITED_CONFIG}
        config.update(os="linux", architecture="amd64")
        return layers, config

    def _from_files(self, files: dict[str, str], media_type: str) -> tuple[list[Layer], dict[str, Any]]:
        blobs = self.store.blobs
        layers: list[Layer] = []
        config: dict[str, Any] = {}
        model_width = projector_width = 0  # the embeddings the model reads, and those its projector writes
        for digest in files.values():
            if not blobs.exists(digest):
                raise BadRequest(f'blob "{digest}" not found: upload it with POST /api/blobs/{digest} first')
            self.status("parsing GGUF")
            try:
                info = read_gguf(blobs.path(digest))
            except NotGGUFError as err:
                raise BadRequest(f"supplied file was not in GGUF format: {err.message}") from err
            if media_type == MEDIA_MODEL and info.is_projector:  # a model's projector among its files, as in Ollama
                layers.append(Layer(MEDIA_PROJECTOR, digest, blobs.size(digest)))
                projector_width = projector_width or int(info.kv.get("clip.vision.projection_dim") or 0)
                continue
            layers.append(Layer(media_type, digest, blobs.size(digest)))
            if media_type == MEDIA_MODEL and not config:
                config = info.config_blob()
                model_width = info.embedding_length or 0
        if model_width and projector_width and model_width != projector_width:
            raise BadRequest(f"the projector writes embeddings {projector_width} wide and the model reads "
                             f"{model_width}: it is another model's projector")
        return layers, config

    def _with_draft(self, layers: list[Layer], config: dict[str, Any], drafts: dict[str, str]) -> list[Layer]:
        """The layers with this draft model in place of any the base model had; its vocabulary must be the model's."""
        if config.get("remote_host"):  # FROM a remote model
            raise BadRequest(REMOTE_DRAFT)
        if len(drafts) > 1:
            raise BadRequest("a draft model is one GGUF file")
        draft_layers, _ = self._from_files(drafts, MEDIA_DRAFT)
        model = next((x for x in layers if x.media_type == MEDIA_MODEL), None)
        if model is not None:
            check_draft(self.store.blobs.path(model.digest), self.store.blobs.path(draft_layers[0].digest))
        return [x for x in layers if x.media_type != MEDIA_DRAFT] + draft_layers

    # -- quantizing -----------------------------------------------------------

    def _model_sources(self, request: dict[str, Any], files: dict[str, str]) -> list[GGUFInfo]:
        """The model GGUFs a create would quantize, found without side effects (a missing one errs later)."""
        blobs = self.store.blobs
        digests: list[str] = []
        if request.get("from"):
            parsed = ModelName.parse_lenient(request["from"])
            base = self.store.find(parsed) if parsed.is_valid() else None
            if base is not None:
                digests = [x.digest for x in base.stored.manifest.layers if x.media_type == MEDIA_MODEL]
        else:
            digests = list(files.values())
        infos = []
        for digest in digests:
            if blobs.exists(digest):
                try:
                    infos.append(read_gguf(blobs.path(digest), max_array_len=1024))
                except NotGGUFError:
                    continue  # reported in its turn, worded as a create without quantize words it
        return infos

    def _quantize(self, layer: Layer, want: QuantType, config: dict[str, Any]) -> Layer:
        """The layer's GGUF quantized to `want` as a new blob (the same layer if it already is)."""
        blobs = self.store.blobs
        info = read_gguf(blobs.path(layer.digest), max_array_len=1024)
        if source_type(info) == want.name:
            return layer
        temp = blobs.temp_path()
        try:
            quantize_file(blobs.path(layer.digest), temp, info, want, self.progress)
            self.status("verifying conversion")
            digest = blobs.put_file(temp, claim=self._claim)
        finally:
            temp.unlink(missing_ok=True)
        config["file_type"] = read_gguf(blobs.path(digest), max_array_len=1024).quantization_level
        return Layer(MEDIA_MODEL, digest, blobs.size(digest))

    # -- layers ---------------------------------------------------------------

    def _claim(self, digest: str) -> None:
        """Hold a blob this create is about to write, and remember it as new if it was not stored."""
        self._hold.add({digest})
        if not self.store.blobs.exists(digest):
            self._created.add(digest)

    def _put_bytes(self, data: bytes) -> str:
        digest, created = self.store.put_bytes(data, self._hold)
        if created:
            self._created.add(digest)
        return digest

    def _new_layer(self, media_type: str, data: bytes) -> Layer:
        return Layer(media_type, self._put_bytes(data), len(data))

    def _replace(self, layers: list[Layer], media_type: str, data: bytes) -> list[Layer]:
        kept = [x for x in layers if x.media_type != media_type]
        return kept + [self._new_layer(media_type, data)]

    def _merge_parameters(self, layers: list[Layer], new: dict[str, Any]) -> dict[str, Any]:
        """New parameters win; the base model's fill in the rest (Ollama's merge)."""
        merged = dict(new)
        for layer in layers:
            if layer.media_type == MEDIA_PARAMS:
                for key, value in json.loads(self.store.blobs.read_bytes(layer.digest)).items():
                    merged.setdefault(key, value)
        return merged


_INHERITED_CONFIG = (
    "model_format", "model_family", "model_families", "model_type", "file_type",
    "renderer", "parser", "requires", "capabilities", "context_length",
    "remote_host", "remote_model", "remote_hosts",  # a model made FROM a remote one is remote too
)

