"""`GpuMonitor`: the server machine's GPUs and RAM, split by the models loaded there, about once a second.

The data comes from the server's `GET /api/system`, because models live on the
server's machine, which need not be the kernel's. A background thread polls it and
ends on `close()`, or when the widget is gone.
"""

from __future__ import annotations

from typing import Any

import traitlets

from ..client import Client, ClientError
from ._base import Poller, ServerWidget, front_end, message_of


class GpuMonitor(ServerWidget):
    """Polls `/api/system` every `interval` seconds into the synced `system` trait (`scheduler.system.SystemInfo`)."""

    _esm = front_end("gpu.js")
    _css = front_end("common.css", "gpu.css")

    system = traitlets.Dict().tag(sync=True)

    def __init__(self, interval: float = 1.0, *, start: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._http: Client | None = None
        self._poller: Poller | None = None
        if start:
            self._poller = Poller(self, GpuMonitor.refresh, max(0.2, float(interval)), "ollama-gpu-monitor")

    def refresh(self) -> None:
        """Read `/api/system` once; a failure is shown in `error`, the last good reading stays."""
        if self.comm is None:  # closed
            return
        try:
            if self._http is None:
                self._http = self._client(timeout=10)
            data = self._http.request("GET", "/api/system")
        except ClientError as err:
            message = err.message
            if err.status in (404, 405):
                message = "this server has no /api/system (is it a plain Ollama rather than jupyter-ollama?)"
            self._update(error=message)
            return
        except Exception as err:  # shown in the widget, never raised in the polling thread
            self._update(error=message_of(err))
            return
        self._update(system=data, error="")

    @property
    def polling(self) -> bool:
        return self._poller is not None and not self._poller.stopped and self._poller.thread.is_alive()

    def close(self) -> None:
        if self._poller is not None:
            self._poller.stop()
        http, self._http = self._http, None
        if http is not None and http is not self._given_client:
            http.close()  # a request under way ends with an error the closed widget ignores
        super().close()
