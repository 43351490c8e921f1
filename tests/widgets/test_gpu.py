"""GpuMonitor: the real endpoint on this GPU-less machine, fake NVML GPUs in-process, and its thread's life."""

from __future__ import annotations

import gc
import threading
import weakref
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from ipywidgets.widgets.widget import _instances

from jupyter_ollama.discovery import Endpoint
from jupyter_ollama.discovery.embedded import EmbeddedServer
from jupyter_ollama.widgets import GpuMonitor

from ..conftest import wait_for
from ..scheduler.fake_nvml import FakeGpu, use_fake_nvml
from .conftest import updates

GIB = 1 << 30


def monitor_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "ollama-gpu-monitor"]


def test_no_gpu_here_and_the_model_in_ram(server, client, smollm2):
    client.generate(model=smollm2, prompt="hi", options={"num_predict": 1}, keep_alive="5m")
    monitor = GpuMonitor(endpoint=server.url, interval=0.2)
    try:
        wait_for(lambda: monitor.system)
        info = monitor.system
        assert info["gpus"] == [] and info["gpu_error"].startswith("no NVIDIA GPU found")
        assert smollm2 in [m["name"] for m in info["ram"]["models"]] and monitor.error == ""
        wait_for(lambda: len([u for u in updates(monitor) if "system" in u]) >= 2)  # it keeps polling
        assert monitor.polling
    finally:
        monitor.close()
    assert not monitor.polling


@pytest.fixture
def fake_gpu_server(monkeypatch, tmp_path):
    """A server in this process (the kernel-side one) whose NVML is a fake with two GPUs."""
    use_fake_nvml(monkeypatch, [FakeGpu("NVIDIA H100 80GB HBM3", 80 * GIB, 5 * GIB, utilization=37),
                                FakeGpu("NVIDIA L4", 24 * GIB, GIB, utilization=None)])
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "models"))
    embedded = EmbeddedServer()
    embedded.start()
    yield Endpoint(embedded.url, embedded.token, "test")
    embedded.stop()


def test_fake_gpus_through_the_endpoint(fake_gpu_server):
    monitor = GpuMonitor(endpoint=fake_gpu_server, start=False)
    monitor.refresh()
    gpus = monitor.system["gpus"]
    assert [(g["index"], g["name"], g["memory_total"], g["memory_used"], g["utilization"]) for g in gpus] == [
        (0, "NVIDIA H100 80GB HBM3", 80 * GIB, 5 * GIB, 37), (1, "NVIDIA L4", 24 * GIB, GIB, None)]
    assert monitor.system["gpu_error"] is None and monitor.error == ""
    assert not monitor.polling and not monitor_threads()
    monitor.close()


def test_without_the_token_the_error_is_shown(fake_gpu_server):
    monitor = GpuMonitor(endpoint=fake_gpu_server.url, start=False)  # no token
    monitor.refresh()
    assert monitor.error == "unauthorized" and monitor.system == {}


def test_a_plain_ollama_without_the_endpoint():
    class Ollama(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"404 page not found"
            self.send_response(404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Ollama)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    try:
        monitor = GpuMonitor(endpoint=f"http://127.0.0.1:{http.server_address[1]}", start=False)
        monitor.refresh()
        assert monitor.error == "this server has no /api/system (is it a plain Ollama rather than jupyter-ollama?)"
    finally:
        http.shutdown()
        http.server_close()


def test_unreachable_server_keeps_the_last_reading(server):
    monitor = GpuMonitor(endpoint=server.url, start=False)
    monitor.refresh()
    good = monitor.system
    monitor._endpoint = Endpoint("http://127.0.0.1:9", None, "gone")
    monitor._http = None
    monitor.refresh()
    assert monitor.error.startswith("could not connect to the server at http://127.0.0.1:9") and monitor.system == good


def test_the_polling_thread_ends_with_the_widget(server):
    before = len(monitor_threads())
    closed = GpuMonitor(endpoint=server.url, interval=0.2)
    thread = closed._poller.thread
    closed.close()
    thread.join(10)
    assert not thread.is_alive()

    dropped = GpuMonitor(endpoint=server.url, interval=0.2)
    thread, alive = dropped._poller.thread, weakref.ref(dropped)
    wait_for(lambda: alive().system)
    # What holds a widget besides the user: ipywidgets' registry, and the comm manager until the comm closes.
    _instances.pop(dropped.model_id)
    dropped.comm.close()
    del dropped
    wait_for(lambda: gc.collect() is not None and not thread.is_alive(), timeout=10)
    assert alive() is None
    assert len(monitor_threads()) == before
