"""A seeded fuzz of every route, under load: mutated, mistyped and broken requests; zero 5xx is the bar.

Short in `make test`; long on demand: `FUZZ_EXAMPLES=3000 pytest tests/api/test_fuzz.py`.
Each request is a valid one for its route, mutated (keys replaced by any JSON value, dropped or
added, the JSON cut short, a wrong method, a foreign origin), sent while other clients stream,
poll the status routes and force unloads. A request still running after a few seconds is hung up
on, which the server must survive too.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import ollama
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..conftest import RunningServer, serving
from ..remote.engines import start_llama_server

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
HANG_UP_AFTER = 3.0  # seconds: a request still running then is abandoned mid-reply

CHAT = [{"role": "user", "content": "Say hi."}]
# One valid request per route and verb; the fuzz starts from these.
SEEDS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/", None),
    ("GET", "/api/version", None),
    ("GET", "/api/tags", None),
    ("GET", "/api/ps", None),
    ("GET", "/health", None),
    ("GET", "/metrics", None),
    ("GET", "/api/system", None),
    ("GET", "/v1/models", None),
    ("GET", "/v1/models/smollm2", None),
    ("HEAD", "/api/blobs/sha256:" + "0" * 64, None),
    ("POST", "/api/blobs/sha256:" + "1" * 64, {"not": "a gguf"}),
    ("POST", "/api/show", {"model": "smollm2", "verbose": True}),
    ("POST", "/api/copy", {"source": "smollm2", "destination": "fuzz-copy"}),
    ("DELETE", "/api/delete", {"model": "fuzz-copy"}),
    ("POST", "/api/create", {"model": "fuzz-made", "from": "smollm2", "system": "Be brief.", "parameters": {"temperature": 0}}),
    ("POST", "/api/generate", {"model": "smollm2", "prompt": "Hi", "options": {"num_predict": 4, "temperature": 0}}),
    ("POST", "/api/chat", {"model": "smollm2", "messages": CHAT, "options": {"num_predict": 4}, "stream": False}),
    ("POST", "/api/embed", {"model": "smollm2", "input": ["a", "b"]}),
    ("POST", "/api/embeddings", {"model": "smollm2", "prompt": "a"}),
    ("POST", "/api/pull", {"model": "fuzz/nothing", "stream": False}),
    ("POST", "/api/push", {"model": "fuzz-copy", "stream": False}),
    ("POST", "/v1/chat/completions", {"model": "smollm2", "messages": CHAT, "max_tokens": 4}),
    ("POST", "/v1/completions", {"model": "smollm2", "prompt": "Hi", "max_tokens": 4, "stream": True}),
    ("POST", "/v1/embeddings", {"model": "smollm2", "input": "a"}),
    ("POST", "/v1/responses", {"model": "smollm2", "input": [{"role": "user", "content": "Hi"}], "max_output_tokens": 4}),
    ("POST", "/v1/messages", {"model": "smollm2", "max_tokens": 4, "messages": CHAT, "stream": True}),
    # A remote model on a real llama-server (the fixture's), and creating remote models.
    ("POST", "/api/chat", {"model": "pooled", "messages": CHAT, "options": {"num_predict": 4}, "format": "json"}),
    ("POST", "/api/generate", {"model": "pooled", "prompt": "Hi", "raw": True, "options": {"num_predict": 4}}),
    ("POST", "/v1/chat/completions", {"model": "pooled", "messages": CHAT, "max_tokens": 4, "stream": True}),
    ("POST", "/api/create", {"model": "fuzz-remote", "from": "smollm2", "remote_host": ["127.0.0.1:9", {"host": "127.0.0.1:8", "api": "openai"}]}),
]
# Keys worth mutating beyond a seed's own: options and fields of other routes.
EXTRA_KEYS = [
    "model", "stream", "format", "keep_alive", "options", "think", "tools", "raw", "template", "context",
    "images", "suffix", "truncate", "dimensions", "max_tokens", "n", "stop", "temperature", "seed",
    "response_format", "stream_options", "logprobs", "top_logprobs", "messages", "files", "from", "remote_host",
]
OPTION_KEYS = ["num_predict", "num_ctx", "temperature", "top_k", "top_p", "seed", "stop", "num_thread", "repeat_penalty", "num_keep"]
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["smollm2", "smollm2:latest", "pooled", "nope", "", "user", "json", "-1", "1e308", "5m"])
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6,
)


@st.composite
def mutated_body(draw: st.DrawFn, seed: dict[str, Any]) -> dict[str, Any]:
    body = json.loads(json.dumps(seed))
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["replace", "drop", "add", "option", "message"]))
        if kind == "replace" and body:
            body[draw(st.sampled_from(sorted(body)))] = draw(json_values)
        elif kind == "drop" and body:
            del body[draw(st.sampled_from(sorted(body)))]
        elif kind == "add":
            body[draw(st.sampled_from(EXTRA_KEYS))] = draw(json_values)
        elif kind == "option":
            options = body.get("options") if isinstance(body.get("options"), dict) else {}
            options[draw(st.sampled_from(OPTION_KEYS))] = draw(json_values)
            body["options"] = options
        elif kind == "message":
            body["messages"] = [{draw(st.sampled_from(["role", "content", "images", "tool_calls", "x"])): draw(json_values)}]
    return body


@dataclass
class Request:
    method: str
    path: str
    content: bytes | None
    headers: dict[str, str] = field(default_factory=dict)


@st.composite
def requests(draw: st.DrawFn) -> Request:
    method, path, seed = draw(st.sampled_from(SEEDS))
    if draw(st.integers(0, 9)) == 0:
        method = draw(st.sampled_from(METHODS))
    content: bytes | None = None
    if seed is not None:
        form = draw(st.sampled_from(["mutated", "mutated", "mutated", "valid", "cut", "any", "bytes", "empty"]))
        if form == "valid":
            content = json.dumps(seed).encode()
        elif form == "mutated":
            content = json.dumps(draw(mutated_body(seed))).encode()  # NaN and Infinity make it invalid JSON: fine
        elif form == "cut":
            text = json.dumps(draw(mutated_body(seed))).encode()
            content = text[: draw(st.integers(0, max(0, len(text) - 1)))]
        elif form == "any":
            content = json.dumps(draw(json_values)).encode()
        elif form == "bytes":
            content = draw(st.binary(max_size=64))
        else:
            content = b""
    headers = {}
    if draw(st.integers(0, 7)) == 0:
        headers["Origin"] = draw(st.sampled_from(["http://localhost:3000", "https://evil.example", "null", "app://x"]))
    if draw(st.integers(0, 7)) == 0:
        headers["Content-Type"] = draw(st.sampled_from(["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]))
    return Request(method, path, content, headers)


STATUSES: Counter[int] = Counter()  # what the fuzz got back, to show it reached the handlers


def problems_in(response_status: int, content_type: str, body: bytes, request: Request) -> list[str]:
    """What is wrong with one answer, by the rules every route keeps."""
    STATUSES[response_status] += 1
    found = []
    # 502 is another server's failure: the registry's (no network here), or a remote model's engine's
    # (one the fuzz created on a closed port, or the llama-server refusing what it got), in our words.
    upstream = response_status == 502 and (request.path in ("/api/pull", "/api/push") or b"engine" in body)
    if response_status >= 500 and not upstream:
        found.append(f"{response_status} for {request.method} {request.path}: {body[:300]!r}")
    if b"Traceback" in body:
        found.append(f"traceback in {request.method} {request.path}")
    if 400 <= response_status < 500 and request.method != "HEAD" and body and content_type.startswith("application/json"):
        reply = json.loads(body)
        error = reply.get("error")
        if request.path == "/v1/messages":  # Anthropic's shape
            ok = reply.get("type") == "error" and isinstance(error, dict) and isinstance(error.get("type"), str) \
                and isinstance(error.get("message"), str) and error["message"]
        elif request.path.startswith("/v1/"):
            ok = isinstance(error, dict) and isinstance(error.get("message"), str) and error["message"]
        else:
            ok = isinstance(error, str) and error
        if not ok:
            found.append(f"{response_status} for {request.method} {request.path} without a message: {body[:200]!r}")
    return found


def send(url: str, request: Request) -> list[str]:
    """Send one request; read its reply until HANG_UP_AFTER, then hang up."""
    deadline = time.monotonic() + HANG_UP_AFTER
    try:
        with httpx.stream(
            request.method, url + request.path, content=request.content, headers=request.headers, timeout=HANG_UP_AFTER
        ) as response:
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if time.monotonic() > deadline:
                    return problems_in(response.status_code, "", b"", request)  # hung up mid-reply
            return problems_in(response.status_code, response.headers.get("content-type", ""), body, request)
    except httpx.TimeoutException:
        return []  # still working when we left: the server must cope with that (checked after the run)


class Load:
    """Clients that stream, poll the status routes and force unloads while the fuzz runs."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.stop = threading.Event()
        self.problems: list[str] = []
        self.threads = [threading.Thread(target=work, daemon=True) for work in (self.stream, self.stream, self.poll, self.unload)]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def _check(self, request: Request) -> None:
        self.problems += send(self.url, request)

    def stream(self) -> None:
        body = {"model": "smollm2", "messages": CHAT, "options": {"num_predict": 24}}
        while not self.stop.is_set():
            self._check(Request("POST", "/api/chat", json.dumps(body).encode()))

    def poll(self) -> None:
        while not self.stop.is_set():
            for path in ("/api/ps", "/health", "/metrics", "/api/system", "/api/tags"):
                self._check(Request("GET", path, None))
            time.sleep(0.02)

    def unload(self) -> None:
        body = {"model": "smollm2", "prompt": "Hi", "keep_alive": 0, "options": {"num_predict": 2}}
        while not self.stop.wait(1.5):
            self._check(Request("POST", "/api/generate", json.dumps(body).encode()))


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory, smollm2_gguf) -> RunningServer:  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("fuzz")
    engine = start_llama_server(smollm2_gguf, slots=2)
    running = serving(
        folder / "models", smollm2_gguf, log=folder / "server.log",
        OLLAMA_NUM_PARALLEL="2", OLLAMA_CONTEXT_LENGTH="256", OLLAMA_PULL_RETRIES="1", OLLAMA_REMOTES="127.0.0.1",
        OLLAMA_REMOTE_CHECK_INTERVAL="0.5",
    )
    httpx.post(running.url + "/api/create", json={"model": "pooled", "from": "smollm2", "remote_host": engine.url}).raise_for_status()
    yield running
    running.stop()
    engine.stop()


@pytest.mark.timeout(120 + 2 * EXAMPLES)  # a long run on demand gets the time it needs
def test_fuzz_every_route_under_load_answers_without_5xx(fuzzed: RunningServer, smollm2_gguf) -> None:  # type: ignore[no-untyped-def]
    problems: list[str] = []

    @settings(
        max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(requests())
    def one(request: Request) -> None:
        problems.extend(send(fuzzed.url, request))

    with Load(fuzzed.url) as load:
        one()
    print("statuses:", sorted(STATUSES.items()))
    assert problems == [], "\n".join(problems[:20])
    assert {200, 400, 403, 404, 405} <= set(STATUSES), STATUSES  # the requests reached every kind of answer
    assert load.problems == [], "\n".join(load.problems[:20])

    # Alive, and every model it lists is whole: shown, and its blobs all present.
    client = ollama.Client(host=fuzzed.url)
    for model in client.list().models:
        assert client.show(model.model).modelfile
    for manifest in (fuzzed.models_dir / "manifests").rglob("*"):
        if manifest.is_file():
            for layer in [json.loads(manifest.read_text())["config"], *json.loads(manifest.read_text())["layers"]]:
                assert (fuzzed.models_dir / "blobs" / layer["digest"].replace(":", "-")).is_file(), manifest
    if "smollm2:latest" not in [m.model for m in client.list().models]:  # the fuzz may delete it: fair
        client.create(model="smollm2", files={"m.gguf": client.create_blob(smollm2_gguf)})
    reply = client.chat(model="smollm2", messages=CHAT, options={"num_predict": 8, "temperature": 0})
    assert reply.message.content
    log = (fuzzed.models_dir.parent / "server.log").read_text()
    assert "Traceback" not in log, log[log.index("Traceback") - 300 :][:3000]  # no bug logged, even one a client never saw
