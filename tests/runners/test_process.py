"""The runner subprocess through the manager's `RunnerProcess`: load, stream, secret, exit on stdin close."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from jupyter_ollama.errors import OllamaError
from jupyter_ollama.runners.process import RunnerError, RunnerProcess
from jupyter_ollama.runners.protocol import CompletionRequest, Done, LoadConfig, Piece, Prompt, Started


def config(model_path: Path | str, **overrides: Any) -> LoadConfig:
    return LoadConfig(**{"model_path": str(model_path), "num_parallel": 2, "num_ctx": 512, "threads": 1,
                         "threads_batch": 1, **overrides})


def run(coro, timeout: float = 120):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def test_stream_secret_and_exit_on_stdin_close(smollm2_gguf):
    async def scenario() -> None:
        runner = RunnerProcess(config(smollm2_gguf))
        await runner.start()
        try:
            assert runner.alive and runner.port > 0

            health = await runner.health()
            assert [s.state for s in health.slots] == ["idle", "idle"]
            assert all(s.n_ctx == 512 for s in health.slots)
            assert (health.threads, health.threads_batch) == (1, 1)

            # Without the secret (or with a wrong one) the runner answers 401 to everything.
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{runner.port}") as stranger:
                assert (await stranger.get("/health")).status_code == 401
                wrong = await stranger.get("/health", headers={"Authorization": "Bearer nope"})
                assert wrong.status_code == 401
                denied = await stranger.post("/completion", json={"prompt": {"raw": "Hi"}})
                assert denied.status_code == 401

            request = CompletionRequest(
                Prompt(messages=[{"role": "user", "content": "Write a sentence about the sea."}]),
                options={"temperature": 0, "num_predict": 12}, return_tokens=True,
            )
            started, *pieces, final = [event async for event in runner.completion(request)]
            # The runner rendered the conversation once and says how the prompt ends.
            assert isinstance(started, Started)
            rendered = await runner.render(request.prompt)
            assert started.prompt_tail == rendered.rstrip()[-64:] and "assistant" in started.prompt_tail
            assert pieces and all(isinstance(e, Piece) for e in pieces)
            assert isinstance(final, Done) and final.done_reason == "length" and final.eval_count == 12
            assert final.prompt_eval_count > 0 and final.tokens is not None
            text = "".join(e.content for e in pieces)
            assert text.strip()
            detok = await runner.request("POST", "/detokenize", {"tokens": final.tokens[final.prompt_eval_count:]})
            assert detok["content"] == text

            tokens = await runner.request("POST", "/tokenize", {"content": "Hello world"})
            assert (await runner.request("POST", "/detokenize", tokens))["content"] == "Hello world"

            health = await runner.health()
            assert health.tokens_predicted_total == 12 and health.waiting == 0
        finally:
            process = runner.process
            await runner.stop()
        # stop() closes stdin; the runner leaves on its own (exit 0), it is not killed.
        assert process.returncode == 0
        assert not runner.alive

    run(scenario())


def test_leaving_a_stream_early_frees_the_slot(smollm2_gguf):
    async def scenario() -> None:
        runner = RunnerProcess(config(smollm2_gguf, num_parallel=1))
        await runner.start()
        try:
            request = CompletionRequest(Prompt(raw="Once upon a time"), {"temperature": 0, "num_predict": 2000})
            stream = runner.completion(request)
            async for event in stream:
                if isinstance(event, Piece):
                    break
            await stream.aclose()  # type: ignore[attr-defined]
            for _ in range(200):  # the runner notices the closed connection and cancels
                health = await runner.health()
                if health.slots[0].state == "idle":
                    break
                await asyncio.sleep(0.05)
            assert health.slots[0].state == "idle"
            assert health.tokens_predicted_total < 2000
            # The single slot serves the next request.
            events = [e async for e in runner.completion(CompletionRequest(request.prompt, {"num_predict": 3}))]
            assert isinstance(events[-1], Done) and events[-1].eval_count == 3
        finally:
            await runner.stop()

    run(scenario())


def test_runner_reports_bad_request_body_errors(smollm2_gguf):
    async def scenario() -> None:
        runner = RunnerProcess(config(smollm2_gguf, num_parallel=1))
        await runner.start()
        try:
            with pytest.raises(OllamaError) as info:
                async for _ in runner.completion(CompletionRequest(Prompt(raw="Hi"), format="yaml")):
                    pass
            assert info.value.status == 400 and "invalid format" in info.value.message
        finally:
            await runner.stop()

    run(scenario())


@pytest.mark.parametrize("kind", ["missing", "not_gguf"])
def test_bad_model_path_reports_an_error(tmp_path, kind):
    path = tmp_path / "model.gguf"
    if kind == "not_gguf":
        path.write_bytes(b"this is not a GGUF file\n" * 100)

    async def scenario() -> None:
        runner = RunnerProcess(config(path))
        with pytest.raises(RunnerError) as info:
            await runner.start()
        assert info.value.message.startswith("error loading model")
        assert runner.process is not None and runner.process.returncode is not None
        assert not runner.alive

    run(scenario(), timeout=60)


def test_a_projector_that_does_not_load_leaves_the_model_serving_text(smollm2_gguf, projector_gguf):
    """Gemma's projector on SmolLM2 (640 against 576 wide): text as ever, images refused with llama.cpp's reason."""
    async def scenario() -> None:
        runner = RunnerProcess(config(smollm2_gguf, projector_path=str(projector_gguf)))
        await runner.start()
        try:
            said = [e async for e in runner.completion(CompletionRequest(
                Prompt(messages=[{"role": "user", "content": "Hi"}]), options={"num_predict": 3}))]
            assert isinstance(said[-1], Done) and said[-1].eval_count == 3
            looking = CompletionRequest(Prompt(messages=[{"role": "user", "content": "Hi", "images": ["aGk="]}]))
            with pytest.raises(OllamaError, match=r"refused the projector: mismatch between text model"):
                [e async for e in runner.completion(looking)]
        finally:
            await runner.stop()

    run(scenario())
