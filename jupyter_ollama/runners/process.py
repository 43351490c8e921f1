"""The manager's side of one runner subprocess: start it, talk to it, stop it.

`RunnerProcess` is the local implementation of `runners.protocol.Runner`: the typed
calls become loopback HTTP requests to the subprocess, authenticated by a secret.
The subprocess is the `runner/` program, started by its module name
(`python -m jupyter_ollama.runner`): nothing in the manager imports it.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any

import httpx

from ..errors import OllamaError, PromptTooLong
from .protocol import (
    CompletionEvent,
    CompletionRequest,
    EmbedReply,
    EmbedRequest,
    Failed,
    LoadConfig,
    Prompt,
    RunnerHealth,
    event_from_json,
    from_json,
    to_json,
)


def runner_error(data: dict[str, Any], status: int) -> OllamaError:
    """The error a runner answered with, as the manager raises it (a prompt too long keeps its counts)."""
    if "prompt_tokens" in data:
        return PromptTooLong(int(data["prompt_tokens"]), int(data.get("context_length") or 0))
    return OllamaError(data.get("error", "runner error"), status)


RUNNER_STOPPED = "model runner has unexpectedly stopped, this may be due to resource limitations or an internal error"


class RunnerError(OllamaError):
    status = 500


def runner_environment(config: LoadConfig) -> dict[str, str] | None:
    """The runner's environment: ours, with only the GPUs of its placement visible to CUDA.

    CUDA then numbers them 0.. in that order, which is what tensor_split and main_gpu count
    in; PCI bus order makes CUDA's numbering agree with NVML's where the IDs are indices.
    None (inherit ours unchanged) when the scheduler saw no GPU at all.
    """
    if config.gpu_ids is None:
        return None
    return {**os.environ, "CUDA_VISIBLE_DEVICES": ",".join(config.gpu_ids), "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}


class RunnerProcess:
    def __init__(self, config: LoadConfig) -> None:
        self.config = config
        self.secret = secrets.token_urlsafe(24)
        self.process: asyncio.subprocess.Process | None = None
        self.http: httpx.AsyncClient | None = None
        self.port = 0

    async def start(self) -> None:
        """Spawn the runner and wait until its model is loaded (or it fails)."""
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "jupyter_ollama.runner",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            # Its own session: a Ctrl-C or a kernel interrupt aimed at us is not aimed at it.
            # It still dies with us: it exits when its stdin (our pipe) closes.
            start_new_session=True,
            env=runner_environment(self.config),
        )
        assert self.process.stdin and self.process.stdout
        # The secret travels on stdin, never in argv or the environment where others could read it.
        self.process.stdin.write((json.dumps({**to_json(self.config), "secret": self.secret}) + "\n").encode())
        await self.process.stdin.drain()
        line = await self.process.stdout.readline()
        try:
            hello = json.loads(line) if line else {}
        except ValueError:
            hello = {}
        if "port" not in hello:
            await self.stop()
            raise RunnerError(f"error loading model: {hello.get('error') or 'the runner exited while loading'}")
        self.port = hello["port"]
        self.http = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{self.port}",
            headers={"Authorization": f"Bearer {self.secret}"},
            timeout=httpx.Timeout(None, connect=10),
        )

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def wait(self) -> int:
        assert self.process is not None
        return await self.process.wait()

    async def health(self) -> RunnerHealth:
        return RunnerHealth.of(await self.request("GET", "/health"))

    async def completion(self, request: CompletionRequest) -> AsyncIterator[CompletionEvent]:
        async with aclosing(self.stream("/completion", to_json(request))) as lines:
            async for line in lines:
                event = event_from_json(line)
                if isinstance(event, Failed):
                    raise RunnerError(event.error)
                yield event

    async def render(self, prompt: Prompt) -> str:
        return str((await self.request("POST", "/render", {"prompt": to_json(prompt)}))["prompt"])

    async def count_tokens(self, prompt: Prompt) -> int:
        return int((await self.request("POST", "/count", {"prompt": to_json(prompt)}))["tokens"])

    async def embed(self, request: EmbedRequest) -> EmbedReply:
        return from_json(EmbedReply, await self.request("POST", "/embed", to_json(request)))

    async def request(self, method: str, path: str, body: Any = None) -> Any:
        assert self.http is not None
        try:
            response = await self.http.request(method, path, json=body)
        except httpx.TransportError as err:
            raise RunnerError(RUNNER_STOPPED) from err
        data = response.json()
        if response.status_code >= 400:
            raise runner_error(data, response.status_code)
        return data

    async def stream(self, path: str, body: Any) -> AsyncGenerator[dict[str, Any], None]:
        """POST and yield NDJSON events; leaving early closes the request, which frees the slot."""
        assert self.http is not None
        try:
            async with self.http.stream("POST", path, json=body) as response:
                if response.status_code >= 400:
                    raise runner_error(json.loads(await response.aread()), response.status_code)
                async for line in response.aiter_lines():
                    if line:
                        yield json.loads(line)
        except httpx.TransportError as err:
            raise RunnerError(RUNNER_STOPPED) from err

    async def set_threads(self, decode: int, batch: int) -> None:
        """Change the threads the runner uses from its next step on."""
        await self.request("POST", "/threads", {"threads": decode, "threads_batch": batch})

    async def stop(self) -> None:
        """Close stdin (the runner exits at once), then make sure it is gone."""
        if self.http is not None:
            await self.http.aclose()
            self.http = None
        process = self.process
        if process is None or process.returncode is not None:
            return
        if process.stdin and not process.stdin.is_closing():
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), timeout=10)
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()
