"""Ollama's native model-management endpoints. Thin: parse, call the store, shape the reply."""

from __future__ import annotations

import asyncio
from typing import Any

import tornado.web
from tornado.http1connection import HTTP1Connection

from .._version import OLLAMA_API_VERSION
from ..errors import BadRequest, OllamaError
from ..modelfile.options import validate_parameters
from ..store.blobs import BlobWriter, normalize_digest
from ..store.create import ModelCreator
from ..store.progress import storage_error
from . import wire
from .base import OllamaHandler, run_in_thread


class RootHandler(OllamaHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish("Ollama is running")

    head = get


class VersionHandler(OllamaHandler):
    def get(self) -> None:
        self.write_json({"version": OLLAMA_API_VERSION})

    head = get


class TagsHandler(OllamaHandler):
    async def get(self) -> None:
        models = await asyncio.to_thread(self.store.list_models)
        self.write_json({"models": models})

    head = get


class ShowHandler(OllamaHandler):
    async def post(self) -> None:
        request = self.json_body(wire.ShowRequest)
        name = request.model or request.name
        if not name:
            raise BadRequest("model is required")
        reply = await asyncio.to_thread(self.store.show, name, request.verbose, request.system)
        scheduler = self.settings.get("ollama_scheduler")
        if scheduler is not None:  # what loading it will take, before anyone loads it
            options = validate_parameters(request.options)
            reply["capacity"] = await asyncio.to_thread(scheduler.capacity, self.store.get(name), options)
        self.write_json(reply)


class CopyHandler(OllamaHandler):
    manages_store = "copy"

    async def post(self) -> None:
        request = self.json_body(wire.CopyRequest)
        await asyncio.to_thread(self.store.copy, request.source, request.destination)
        self.finish()


class DeleteHandler(OllamaHandler):
    manages_store = "delete"

    async def delete(self) -> None:
        request = self.json_body(wire.DeleteRequest)
        await asyncio.to_thread(self.store.delete, request.model or request.name)
        self.finish()


class CreateHandler(OllamaHandler):
    manages_store = "create"

    async def post(self) -> None:
        request = self.json_body(wire.CreateRequest)
        creator = lambda progress: ModelCreator(self.store, progress).create(request.checked)  # noqa: E731
        await self.respond_stream(run_in_thread(creator), stream=request.stream)


@tornado.web.stream_request_body
class BlobHandler(OllamaHandler):
    """HEAD answers whether a blob exists; POST streams an upload to disk, verifying its digest."""

    manages_store = "upload blobs for"

    # GGUF files are many GB; the body streams to disk in chunks, never into memory.
    MAX_UPLOAD = 1 << 40
    writer: BlobWriter | None = None
    failure: OllamaError | None = None  # a write failed (a full disk): the rest is read and dropped

    async def prepare(self) -> None:
        if self.guard_browser():
            return
        # Disk writes run in a thread; the lock keeps an abort from racing a write in flight.
        self.io = asyncio.Lock()
        self.digest = normalize_digest(self.path_kwargs["digest"])
        if self.request.method == "POST":
            connection = self.request.connection
            assert isinstance(connection, HTTP1Connection)  # tornado's HTTP/1 server, the only one we run
            connection.set_max_body_size(self.MAX_UPLOAD)
            if not await asyncio.to_thread(self.store.blobs.exists, self.digest):
                try:
                    self.writer = self.store.blobs.writer(self.digest)
                except OSError as err:
                    raise storage_error(err) from None

    async def data_received(self, chunk: bytes) -> None:
        async with self.io:
            if self.writer is not None:
                try:
                    await asyncio.to_thread(self.writer.write, chunk)
                except OSError as err:
                    self.failure = storage_error(err)
                    writer, self.writer = self.writer, None
                    await asyncio.to_thread(writer.abort)

    def head(self, digest: str) -> None:
        if not self.store.blobs.exists(self.digest):
            self.set_status(404)
        self.finish()

    async def post(self, digest: str) -> None:
        async with self.io:
            if self.failure is not None:
                raise self.failure
            if self.writer is None:
                self.set_status(200)  # already stored: the upload was read and dropped
            else:
                writer, self.writer = self.writer, None
                try:
                    await asyncio.to_thread(writer.commit)  # a mismatch aborts and raises 400
                except OSError as err:
                    await asyncio.to_thread(writer.abort)
                    raise storage_error(err) from None
                self.set_status(201)
        self.finish()

    def on_connection_close(self) -> None:
        asyncio.ensure_future(self._abort())

    def on_finish(self) -> None:
        if self.writer is not None:  # an error before commit: drop the partial upload
            asyncio.ensure_future(self._abort())

    async def _abort(self) -> None:
        if self.writer is None:  # nothing written, or refused before the upload began (no lock yet)
            return
        async with self.io:
            if self.writer is not None:
                writer, self.writer = self.writer, None
                await asyncio.to_thread(writer.abort)


def native_routes() -> list[tuple[str, type, dict[str, Any]]]:
    """Path patterns relative to the mount point (no leading slash)."""
    return [
        (r"", RootHandler, {}),
        (r"api/version", VersionHandler, {}),
        (r"api/tags", TagsHandler, {}),
        (r"api/show", ShowHandler, {}),
        (r"api/copy", CopyHandler, {}),
        (r"api/delete", DeleteHandler, {}),
        (r"api/create", CreateHandler, {}),
        (r"api/blobs/(?P<digest>[^/]+)", BlobHandler, {}),
    ]
