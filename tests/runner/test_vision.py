"""Images through the runner: a real projector (tests/projector.py) on Gemma 3 270M, in the shared engine."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from jupyter_ollama.errors import BadRequest
from jupyter_ollama.runner.engine import BatchEngine
from jupyter_ollama.runner.prompt import media_prompt, prompt_tokens, render
from jupyter_ollama.runner.sampling import SamplingOptions
from jupyter_ollama.runner.vision import IMAGE_TOKEN, Vision
from jupyter_ollama.runners.protocol import Done, Piece, Prompt
from tests.projector import IMAGE_TOKENS, png

from .events import Collector, start

RED = base64.b64encode(png(40, 20, (220, 20, 20))).decode()
BLUE = base64.b64encode(png(16, 16, (20, 20, 220))).decode()



@pytest.fixture(scope="module")
def vision(gemma, projector_gguf) -> Vision:
    opened = Vision(gemma, str(projector_gguf), threads=1, use_gpu=False)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def engine(gemma, vision) -> BatchEngine:
    running = BatchEngine(gemma, n_slots=2, n_ctx_slot=256, n_threads=1, vision=vision)
    yield running
    running.close()


def asking(*images: str, text: str = "Describe the picture.") -> Prompt:
    return Prompt(messages=[{"role": "user", "content": text, "images": list(images)}])


def run(engine: BatchEngine, tokens: list[int], media: Any = None) -> Collector:
    return start(engine, tokens, options=SamplingOptions.from_options({"temperature": 0}), num_predict=8, logprobs=True,
                 media=media)[1]


def finished(collector: Collector) -> tuple[list[Piece], Done]:
    """The pieces and the final event, which is a Done."""
    final = collector.wait(60)
    assert isinstance(final, Done), final
    return [e for e in collector.events if isinstance(e, Piece)], final


def test_images_are_tagged_as_ollama_tags_them(gemma):
    messages = [{"role": "user", "content": "first", "images": [RED]},
                {"role": "user", "content": "compare [img] with this", "images": [RED, BLUE]}]
    # The first takes the [img], the next go before the text; {{ .Prompt }} renders the last message alone.
    assert render(gemma, {"messages": messages}) == "[img-2]compare [img-1] with this"


def test_an_image_becomes_its_projector_embeddings_in_the_slot(gemma, vision, engine):
    text, media = media_prompt(gemma, vision, asking(RED), 256)
    assert media.tokens.count(IMAGE_TOKEN) == IMAGE_TOKENS and media.media_end < len(media.tokens)
    _, final = finished(run(engine, media.tokens, media))
    assert final.prompt_eval_count == len(media.tokens) and final.eval_count > 0


def test_the_image_is_what_the_model_reads(gemma, vision, engine):
    """The same words with another image: another distribution over the first token (the projector is random)."""
    first = {}
    for name, image in (("red", RED), ("blue", BLUE), ("red again", RED)):
        _, media = media_prompt(gemma, vision, asking(image), 256)
        pieces, _ = finished(run(engine, media.tokens, media))
        first[name] = next(e.logprobs[0] for e in pieces if e.logprobs)
    assert first["red"] == first["red again"]
    assert first["red"]["logprob"] != first["blue"]["logprob"] or first["red"]["token"] != first["blue"]["token"]


def test_a_text_request_beside_an_image_request_is_undisturbed(gemma, vision, engine):
    _, alone_tokens = prompt_tokens(gemma, Prompt(messages=[{"role": "user", "content": "Name three colours."}]), 256)
    alone, _ = finished(run(engine, alone_tokens))
    _, media = media_prompt(gemma, vision, asking(BLUE), 256)
    beside = run(engine, alone_tokens)
    with_image = run(engine, media.tokens, media)
    assert [e.content for e in finished(beside)[0]] == [e.content for e in alone]
    finished(with_image)


def test_bad_images_are_400s(gemma, vision):
    with pytest.raises(BadRequest, match="illegal base64"):
        media_prompt(gemma, vision, asking("not base64!"), 256)
    with pytest.raises(BadRequest, match="not an image"):
        media_prompt(gemma, vision, asking(base64.b64encode(b"GIF89a, or so it says").decode()), 256)
    with pytest.raises(BadRequest, match="invalid image index: 3"):
        media_prompt(gemma, vision, Prompt(raw="look: [img-3]", images=[RED]), 256)


def test_another_models_projector_is_refused_with_llamacpps_reason(model, projector_gguf):
    with pytest.raises(BadRequest, match=r"refused the projector: mismatch between text model \(n_embd = 576\) "
                                         r"and mmproj \(n_embd = 640\)$"):
        Vision(model, str(projector_gguf), threads=1, use_gpu=False)
