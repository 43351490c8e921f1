"""Seeing the capacity: `/api/ps`, `/health` (llama.cpp style), `/metrics` (Prometheus), `/api/system` (devices)."""

from __future__ import annotations

from typing import Any

from ..scheduler import report, system
from .base import OllamaHandler
from .metrics import CONTENT_TYPE, render_metrics


class PsHandler(OllamaHandler):
    async def get(self) -> None:
        models = await report.running(self.scheduler, self.requester())
        self.write_json({"models": models, "queue": report.queue(self.scheduler)})


class HealthHandler(OllamaHandler):
    """200 with slot states; `?fail_on_no_slot` answers 503 when every loaded slot is busy."""

    async def get(self) -> None:
        health = await report.health(self.scheduler)
        status = 200
        # Busy means every slot of every loaded model is taken; with nothing loaded, a request would load one.
        if self.get_argument("fail_on_no_slot", None) is not None and health["models"] and health["slots_idle"] == 0:
            health["status"] = "no slot available"
            status = 503
        self.write_json(health, status)


class SystemHandler(OllamaHandler):
    """GPUs (NVML), RAM and CPU of the server's machine, with each loaded model's share (`scheduler.system.SystemInfo`)."""

    async def get(self) -> None:
        self.write_json(await system.system_info(self.scheduler))


class MetricsHandler(OllamaHandler):
    async def get(self) -> None:
        self.set_header("Content-Type", CONTENT_TYPE)
        self.finish(render_metrics(self.scheduler, await report.running(self.scheduler)))


def observe_routes() -> list[tuple[str, type, dict[str, Any]]]:
    return [(r"api/ps", PsHandler, {}), (r"health", HealthHandler, {}), (r"metrics", MetricsHandler, {}),
            (r"api/system", SystemHandler, {})]
