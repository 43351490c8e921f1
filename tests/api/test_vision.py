"""Images through the API and the official clients: Gemma 3 270M with a real (random-weight) projector
(the `seeing` model of conftest.py)."""

from __future__ import annotations

import base64

import anthropic
import httpx
import openai
import pytest

from tests.projector import png

RED, BLUE = png(40, 20, (220, 20, 20)), png(16, 16, (20, 20, 220))
GREEDY = {"temperature": 0, "num_predict": 6}


def first_logprob(client, model: str, image: bytes) -> dict:  # type: ignore[no-untyped-def]
    reply = client.chat(model=model, messages=[{"role": "user", "content": "What is this?", "images": [image]}],
                        options=GREEDY, logprobs=True)
    return reply.logprobs[0].model_dump()


def test_a_projector_in_files_makes_a_vision_model(server, client, seeing, gemma_gguf):
    shown = httpx.post(server.url + "/api/show", json={"model": seeing}).json()  # ollama-python drops projector_info
    assert "vision" in shown["capabilities"] and "completion" in shown["capabilities"]
    assert shown["projector_info"]["general.architecture"] == "clip"
    assert shown["projector_info"]["clip.projector_type"] == "gemma3"
    assert shown["modelfile"].count("\nFROM ") == 2  # the model, then its projector (as Ollama writes it)
    assert shown["model_info"]["general.architecture"] == "gemma3"
    described = server.cli("show", seeing).stdout  # `ollama show`'s Projector section
    assert "  Projector\n    architecture        clip\n" in described and "dimensions          640" in described
    listed = next(m for m in client.list().models if m.model == seeing)
    assert listed.size > gemma_gguf.stat().st_size  # the projector's layer counts too


def test_images_reach_the_model_through_chat_and_generate(client, seeing):
    red, blue = first_logprob(client, seeing, RED), first_logprob(client, seeing, BLUE)
    assert red == first_logprob(client, seeing, RED)  # greedy and the same image: the same distribution
    assert (red["token"], red["logprob"]) != (blue["token"], blue["logprob"])  # another image, another reading

    chunks = list(client.chat(model=seeing, messages=[{"role": "user", "content": "Describe it.", "images": [RED]}],
                              options=GREEDY, stream=True))
    assert chunks[-1].done and chunks[-1].eval_count > 0
    without = client.generate(model=seeing, prompt="Describe it.", options=GREEDY)
    generated = client.generate(model=seeing, prompt="Describe it.", images=[RED], options=GREEDY)
    assert generated.done and generated.prompt_eval_count > without.prompt_eval_count
    # An earlier reply's context goes on with a new image (Ollama reads it as text first).
    again = client.generate(model=seeing, prompt="And this?", images=[BLUE], context=generated.context, options=GREEDY)
    assert again.done and again.prompt_eval_count > generated.prompt_eval_count


def test_openai_and_anthropic_images(server, client, seeing):
    url = "data:image/png;base64," + base64.b64encode(RED).decode()
    oai = openai.OpenAI(base_url=server.url + "/v1", api_key="ollama", max_retries=0)
    reply = oai.chat.completions.create(model=seeing, max_tokens=6, temperature=0, messages=[{"role": "user", "content": [
        {"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": url}}]}])
    native = client.chat(model=seeing, options=GREEDY, messages=[
        {"role": "user", "content": "What is this?"}, {"role": "user", "content": "", "images": [RED]}])
    assert reply.choices[0].message.content == native.message.content  # one message per part, as Ollama splits them
    assert reply.usage.prompt_tokens == native.prompt_eval_count
    oai.close()
    with anthropic.Anthropic(base_url=server.url, api_key="ollama", max_retries=0) as claude:
        message = claude.messages.create(model=seeing, max_tokens=6, extra_body={"temperature": 0}, messages=[
            {"role": "user", "content": [{"type": "image", "source": {
                "type": "base64", "media_type": "image/png", "data": base64.b64encode(BLUE).decode()}},
                {"type": "text", "text": "What is this?"}]}])
    assert message.stop_reason in ("end_turn", "max_tokens") and message.usage.input_tokens > 0


@pytest.mark.parametrize(("image", "error"), [
    ("bm90IGFuIGltYWdl", "images[0]: not an image llama.cpp can read"),
    ("not base64!", "messages[0].images[0]: illegal base64 data"),
])
def test_bad_images_are_400s_and_the_model_goes_on(server, client, seeing, image, error):
    body = {"model": seeing, "stream": False, "messages": [{"role": "user", "content": "hi", "images": [image]}]}
    refused = httpx.post(server.url + "/api/chat", json=body, timeout=60)
    assert refused.status_code == 400 and refused.json()["error"].startswith(error), refused.text
    assert client.chat(model=seeing, messages=[{"role": "user", "content": "hi"}], options=GREEDY).done


def test_a_model_without_a_projector_refuses_images(server, smollm2):
    body = {"model": "smollm2", "stream": False, "prompt": "hi", "images": [base64.b64encode(RED).decode()]}
    refused = httpx.post(server.url + "/api/generate", json=body, timeout=60)
    assert (refused.status_code, refused.json()) == (400, {"error": '"smollm2:latest" does not support images'})


def test_a_modelfile_with_the_projector_as_a_second_from(server, client, gemma_gguf, projector_gguf, tmp_path):
    (tmp_path / "Modelfile").write_text(f"FROM {gemma_gguf}\nFROM {projector_gguf}\n")
    created = server.cli("create", "gemma-vision-cli", "-f", "Modelfile", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    assert "vision" in client.show("gemma-vision-cli").capabilities
    client.delete("gemma-vision-cli")



def test_another_models_projector_is_refused_at_create(server, client, smollm2_gguf, projector_gguf):
    files = {"smol.gguf": client.create_blob(smollm2_gguf), "mmproj.gguf": client.create_blob(projector_gguf)}
    refused = httpx.post(server.url + "/api/create", json={"model": "smol-sees", "files": files, "stream": False})
    assert (refused.status_code, refused.json()["error"]) == (
        400, "the projector writes embeddings 640 wide and the model reads 576: it is another model's projector")
    assert "smol-sees:latest" not in [m.model for m in client.list().models]
