"""The official ollama-js client (tests/clients/js, installed by `make setup`) against the real server."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.projector import png

CLIENT = Path(__file__).parent.parent / "clients" / "js"


def test_ollama_js_streams_logprobs_chat_and_an_image(server, smollm2, seeing, tmp_path):
    image = tmp_path / "red.png"
    image.write_bytes(png(24, 24, (220, 20, 20)))
    ran = subprocess.run(["node", str(CLIENT / "client.mjs"), server.url, smollm2, seeing, str(image)],
                         capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    out = json.loads(ran.stdout)
    assert {smollm2, seeing} <= set(out["models"]) and "vision" in out["capabilities"]

    generated = out["generate"]
    assert generated["done"] and generated["chunks"] > 2 and generated["text"]
    assert "".join(entry["token"] for entry in generated["logprobs"]) == generated["text"]
    for entry in generated["logprobs"]:  # greedy: the token taken is the likeliest of its alternatives
        assert len(entry["top_logprobs"]) == 3
        assert entry["logprob"] == max(alt["logprob"] for alt in entry["top_logprobs"]) <= 0

    assert out["chat"]["chunks"] > 2 and out["chat"]["text"] and out["chat"]["done_reason"] in ("stop", "length")
    assert out["image"]["done"] and out["image"]["prompt_eval_count"] > out["image"]["without"]
