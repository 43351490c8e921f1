"""Blob downloads as Ollama does them (server/download.go): resumable, parallel, shared, verified.

A blob is fetched into `blobs/sha256-<hex>-partial` in ranged parts, each with a
record `…-partial-<N>` (`{"N","Offset","Size","Completed"}`) that is rewritten as
the part progresses, so a download cut off by a dropped connection, a cancelled
client or a killed server resumes where its parts stopped. The blob's URL is
resolved once: a GET that follows redirects on the registry's own host and stops
at the first redirect elsewhere (a CDN), whose `Location` the parts then use.

When every part is complete the file is hashed; only a file whose sha256 matches
its name is renamed into place, so a blob path never holds wrong bytes. One
download per blob runs at a time: concurrent pulls of the same blob wait on it,
and it stops (keeping its parts) when its last waiter goes away. Between processes
sharing the models folder, the download holds `…-partial.lock` (locks.py): a pull of
the same blob in another process waits for it, reporting its parts' progress, and
finds the blob stored; parts are never removed by another server's start-up.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import httpx

from ..digests import sha256_file
from ..errors import OllamaError
from ..store.blobs import BlobStore
from ..store.locks import FileLock, LockUnsupported
from ..store.progress import TICK_SECONDS, Cancelled, Progress, check_cancel, layer_line, storage_error
from .parts import MAX_PARTS, RECORD_INTERVAL, Part, TransferSettings
from .registry import Registry, RegistryError, RegistryNotFound, transport_reason

log = logging.getLogger("jupyter_ollama")

__all__ = ["BlobDownload", "TransferSettings", "download_blob"]


class ShortRead(Exception):
    """The connection ended before the part was complete (resumable)."""


class BlobDownload:
    """One blob being fetched; waiters read `total`/`completed` and wait on `done`."""

    def __init__(self, blobs: BlobStore, digest: str, registry: Registry, settings: TransferSettings, size: int | None) -> None:
        self.digest = digest
        self.path = blobs.path(digest)
        self.partial = Path(f"{self.path}-partial")
        self.registry = registry
        self.settings = settings
        self.expected_size = size
        self.total = 0
        self.completed = 0
        self.prepared = False
        self.parts: list[Part] = []
        self.done = threading.Event()
        self.cancel = threading.Event()
        self.error: OllamaError | None = None
        self.got: str | None = None  # the digest received, when it was not the one asked for
        self.refs = 0
        self._lock = threading.Lock()
        self._turn = FileLock(Path(f"{self.partial}.lock"))

    # -- lifecycle ------------------------------------------------------------

    def run(self) -> None:
        try:
            if not self.path.is_file():
                self._wait_for_turn()
            if not self.path.is_file():  # another process may have stored it while we waited
                self._prepare()
                self._download()
        except OllamaError as err:
            self.error = err
        except OSError as err:
            self.error = storage_error(err)
            if self.error.status == 507:  # a full disk: a partial file cannot resume, it only holds the space
                self._discard()
        except Exception as err:  # a bug: report it, never lose it in the thread
            log.exception("download of %s failed", self.digest)
            self.error = OllamaError(f"download {self.digest[7:19]}: {err}")
        finally:
            self._turn.release(remove=True)
            with _manager_lock:
                _downloads.pop(str(self.path), None)
            self.done.set()

    def _wait_for_turn(self) -> None:
        """Take the blob's download lock; while another process has it, report its parts and wait."""
        try:
            while not self._turn.acquire(blocking=False):
                check_cancel(self.cancel)
                parts = self._read_records()
                if parts:  # the other process's progress, as its part records tell it
                    self.total, self.completed = sum(p.size for p in parts), sum(p.completed for p in parts)
                    self.prepared = True
                self.cancel.wait(TICK_SECONDS)
        except LockUnsupported as err:  # no locks here: go on alone, as before there were any
            log.debug("download of %s without a lock: %s", self.digest, err)

    def _prepare(self) -> None:
        self.parts = self._read_records()
        if not self.parts:
            self._discard()
            head = self.registry.request("HEAD", self.registry.url("blobs", self.digest))
            length = head.headers.get("content-length")
            self.total = int(length) if length else self.expected_size or 0
            size = self.settings.part_size_for(self.total)
            for offset in range(0, self.total, size):
                part = Part(len(self.parts), offset, min(size, self.total - offset))
                self._write_record(part)
                self.parts.append(part)
        else:
            self.total = sum(part.size for part in self.parts)
        self.completed = sum(part.completed for part in self.parts)
        self.prepared = True

    def _read_records(self) -> list[Part]:
        """The records of an earlier attempt, or [] when there are none or they do not add up."""
        try:
            parts = sorted((Part.from_json(p.read_bytes()) for p in self._record_paths()), key=lambda p: p.n)
        except (OSError, ValueError, KeyError, TypeError):
            return []
        offset = 0
        for index, part in enumerate(parts):
            if part.n != index or part.offset != offset or not 0 <= part.completed <= part.size:
                return []
            offset += part.size
        if not parts or (self.expected_size is not None and offset != self.expected_size):
            return []
        if not self.partial.is_file() or self.partial.stat().st_size != offset:
            for part in parts:  # the bytes are gone: keep the plan, fetch everything again
                part.completed = 0
        return parts

    def _record_paths(self) -> list[Path]:
        return list(self.partial.parent.glob(self.partial.name + "-*"))

    def _write_record(self, part: Part) -> None:
        target = Path(f"{self.partial}-{part.n}")
        temp = target.with_name(f".{target.name}.tmp")
        temp.write_bytes(part.to_json())
        os.replace(temp, target)

    def _discard(self) -> None:
        for path in [*self._record_paths(), *self.partial.parent.glob(f".{self.partial.name}-*.tmp")]:
            path.unlink(missing_ok=True)
        self.partial.unlink(missing_ok=True)

    # -- transfer -------------------------------------------------------------

    def _download(self) -> None:
        fd = os.open(self.partial, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if os.fstat(fd).st_size != self.total:
                os.ftruncate(fd, self.total)
            pending = [part for part in self.parts if part.completed < part.size]
            if pending:
                url = self._direct_url()
                abort = threading.Event()
                errors: list[BaseException] = []
                with ThreadPoolExecutor(min(MAX_PARTS, len(pending)), thread_name_prefix="pull-part") as pool:
                    futures = [pool.submit(self._fetch_part, fd, part, url, abort) for part in pending]
                    for future in as_completed(futures):
                        if future.exception() is not None:
                            abort.set()
                            errors.append(future.exception())  # type: ignore[arg-type]
                if errors:
                    raise next((e for e in errors if not isinstance(e, Cancelled)), errors[0])
        finally:
            os.close(fd)
        check_cancel(self.cancel)
        got = sha256_file(self.partial)
        if got != self.digest:
            self._discard()
            self.got = got
            return
        os.replace(self.partial, self.path)
        self._discard()

    def _direct_url(self) -> str:
        """Follow redirects on the registry's host; stop at the first one elsewhere (Ollama's CDN step).

        The probe asks for one byte only (`Range: bytes=0-0`), so a registry that
        answers 200 instead of redirecting does not start sending the whole blob.
        """
        url = self.registry.url("blobs", self.digest)
        for _ in range(10):
            response = self.registry.request("GET", url, {"Range": "bytes=0-0"}, stream=True, follow_redirects=False)
            response.close()
            location = response.headers.get("location")
            if response.is_redirect and location:
                target = self.registry.resolve(url, location)
                if not self.registry.same_host(target):
                    return target
                url = target
            elif response.status_code in (200, 206):
                return url
            else:
                raise RegistryError(f"unexpected status code {response.status_code}")
        raise RegistryError("maximum redirects exceeded (10) for directURL")

    def _fetch_part(self, fd: int, part: Part, url: str, abort: threading.Event) -> None:
        error: BaseException | None = None
        for attempt in range(self.settings.retries):
            if abort.is_set() or self.cancel.is_set():
                raise Cancelled()
            try:
                return self._fetch_range(fd, part, url, abort)
            except RegistryNotFound:
                raise
            except (httpx.HTTPError, RegistryError, ShortRead) as err:
                error = err
                reason = transport_reason(err) if isinstance(err, httpx.HTTPError) else str(err)
                log.info("%s part %d attempt %d failed: %s", self.digest[7:19], part.n, attempt, reason)
                if attempt + 1 < self.settings.retries and abort.wait(self.settings.retry_delay * 2**attempt):
                    raise Cancelled() from None
        reason = transport_reason(error) if isinstance(error, httpx.HTTPError) else str(error)
        raise RegistryError(f"max retries exceeded: {reason}")

    def _open(self, url: str, part: Part) -> httpx.Response:
        headers = {"Range": f"bytes={part.start}-{part.stop - 1}"}
        if self.registry.same_host(url):
            return self.registry.request("GET", url, headers, stream=True)
        timeout = httpx.Timeout(30.0, read=self.settings.stall_timeout)
        response = self.registry.client.send(self.registry.client.build_request("GET", url, headers=headers, timeout=timeout), stream=True)
        if response.status_code >= 400:
            response.close()
            raise RegistryError(f"{response.status_code}: {response.reason_phrase}")
        return response

    def _fetch_range(self, fd: int, part: Part, url: str, abort: threading.Event) -> None:
        response = self._open(url, part)
        last_record = time.monotonic()
        try:
            if response.status_code != 206 and part.start != 0:
                raise RegistryError(f"unexpected status code {response.status_code} for a ranged request")
            for chunk in response.iter_raw():
                if abort.is_set() or self.cancel.is_set():
                    raise Cancelled()
                chunk = chunk[: part.stop - part.start]
                _pwrite_all(fd, chunk, part.start)
                part.completed += len(chunk)
                with self._lock:
                    self.completed += len(chunk)
                if part.completed >= part.size:
                    break
                if time.monotonic() - last_record >= RECORD_INTERVAL:
                    self._write_record(part)
                    last_record = time.monotonic()
        finally:
            response.close()
            self._write_record(part)
        if part.completed < part.size:
            raise ShortRead("unexpected EOF")


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


# -- sharing: one download per blob, however many pulls wait on it ---------------

_downloads: dict[str, BlobDownload] = {}
_manager_lock = threading.Lock()


def download_blob(
    blobs: BlobStore,
    registry: Registry,
    digest: str,
    size: int | None,
    progress: Progress,
    cancel: threading.Event | None = None,
    settings: TransferSettings | None = None,
) -> BlobDownload | None:
    """Fetch one blob, reporting `pulling <hex12>` lines; None if it was already stored.

    A returned download whose `got` is set received other bytes than its digest
    promises; they were discarded and the caller reports the mismatch.
    """
    path = blobs.path(digest)
    while True:
        if path.is_file():
            stored = path.stat().st_size
            progress(layer_line("pulling", digest, stored, stored))
            return None
        with _manager_lock:
            download = _downloads.get(str(path))
            if download is None:
                download = BlobDownload(blobs, digest, registry, settings or TransferSettings.from_env(), size)
                _downloads[str(path)] = download
                threading.Thread(target=download.run, name=f"pull-{digest[7:19]}", daemon=True).start()
            if not download.cancel.is_set():
                download.refs += 1
                break
        download.done.wait()  # a cancelled download still winding down: let it stop, then start afresh
    try:
        while not download.done.wait(TICK_SECONDS):
            check_cancel(cancel)
            if download.prepared:
                progress(layer_line("pulling", digest, download.total, download.completed))
        if download.error is not None:
            raise download.error
        total = download.total or (path.stat().st_size if path.is_file() else 0)
        progress(layer_line("pulling", digest, total, total))
        return download
    finally:
        with _manager_lock:
            download.refs -= 1
            if download.refs == 0 and not download.done.is_set():
                download.cancel.set()
