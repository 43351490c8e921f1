"""POST /api/chat, concurrency and cancellation, against the real engine."""

from __future__ import annotations

import concurrent.futures
import time

import httpx
import ollama
import pytest

GREEDY = {"temperature": 0, "num_predict": 40}


def test_chat_reply_and_history(client, smollm2):
    messages = [{"role": "user", "content": "What is 2+2?"}]
    reply = client.chat(model="smollm2", messages=messages, options=GREEDY)
    assert reply.message.role == "assistant" and "4" in reply.message.content
    assert reply.done_reason in ("stop", "length") and reply.prompt_eval_count > 0 and reply.created_at
    messages += [reply.message.model_dump(exclude_none=True), {"role": "user", "content": "And 3+3?"}]
    follow = client.chat(model="smollm2", messages=messages, options=GREEDY)
    assert follow.prompt_eval_count > reply.prompt_eval_count
    assert follow.message.content


def test_chat_streams(client, smollm2):
    chunks = list(client.chat(model="smollm2", messages=[{"role": "user", "content": "Name three colors."}], options=GREEDY, stream=True))
    assert all(c.message.role == "assistant" for c in chunks)
    assert chunks[-1].done and chunks[-1].message.content == ""
    assert "".join(c.message.content for c in chunks).strip()


def rendered(server, body: dict) -> str:
    reply = httpx.post(server.url + "/api/chat", json={**body, "_debug_render_only": True}, timeout=60).json()
    assert ollama.ChatResponse(**reply).message.content == ""  # the official client's type parses it
    return reply["_debug_info"]["rendered_template"]


def test_prompt_renders_the_gguf_chat_template(server, smollm2):
    text = rendered(server, {"model": "smollm2", "messages": [{"role": "user", "content": "Hello"}]})
    # SmolLM2's own Jinja template adds its default system prompt when none is given.
    assert text == (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
        "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n"
    )


def test_modelfile_system_and_messages_are_used(client, server, smollm2):
    client.create(
        model="pirate",
        from_=smollm2,
        system="You are a pirate.",
        messages=[{"role": "user", "content": "Who are you?"}, {"role": "assistant", "content": "A pirate, arrr."}],
    )
    text = rendered(server, {"model": "pirate", "messages": [{"role": "user", "content": "Hello"}]})
    assert text.startswith("<|im_start|>system\nYou are a pirate.<|im_end|>\n<|im_start|>user\nWho are you?")
    assert "A pirate, arrr.<|im_end|>" in text and text.endswith("Hello<|im_end|>\n<|im_start|>assistant\n")
    # A system message in the request replaces the Modelfile's.
    text = rendered(server, {"model": "pirate", "messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi"}]})
    assert "You are a pirate." not in text and "Be terse." in text
    reply = client.chat(model="pirate", messages=[{"role": "user", "content": "Hello"}], options=GREEDY)
    assert reply.message.content


def test_empty_messages_load(client, smollm2):
    reply = client.chat(model="smollm2", messages=[])
    assert reply.done_reason == "load" and reply.message.content == ""


def test_concurrent_requests_all_complete(client, smollm2):
    prompts = ["Count to five.", "Name a fruit.", "Say hello.", "What is 2+2?", "Name a color."]
    with concurrent.futures.ThreadPoolExecutor(len(prompts)) as pool:
        replies = list(pool.map(lambda p: client.chat(model="smollm2", messages=[{"role": "user", "content": p}], options=GREEDY), prompts))
    assert all(r.done and r.message.content for r in replies)


def test_client_disconnect_frees_the_slot(server, client, smollm2):
    body = {"model": "smollm2", "messages": [{"role": "user", "content": "Write a very long story."}], "options": {"num_predict": 2000}}
    with httpx.stream("POST", server.url + "/api/chat", json=body, timeout=60) as response:
        for i, _ in enumerate(response.iter_lines()):
            if i == 3:
                break  # hang up mid-reply
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        entry = [m for m in httpx.get(server.url + "/api/ps").json()["models"] if m["model"] == "smollm2:latest"]
        if entry and entry[0]["slots_busy"] == 0:
            break
        time.sleep(0.1)
    assert entry and entry[0]["slots_busy"] == 0
    assert client.chat(model="smollm2", messages=[{"role": "user", "content": "Hi"}], options={"num_predict": 3}).done


@pytest.mark.parametrize(
    "messages,message",
    [
        ([{"role": "wizard", "content": "x"}], "invalid role"),
        ([{"role": "user", "content": 5}], "content"),
        (["not an object"], "api.Message"),
    ],
)
def test_bad_messages_are_400(server, smollm2, messages, message):
    response = httpx.post(server.url + "/api/chat", json={"model": "smollm2", "messages": messages}, timeout=60)
    assert response.status_code == 400 and message in response.json()["error"]


def test_second_model_without_chat_template(client, gemma_gguf, smollm2):
    """Gemma 3 270M's GGUF is the base model, with no chat template: it reads the prompt alone, as
    Ollama's default template (which /api/show reports) has it, and never makes up a `user` turn."""
    client.create(model="gemma", files={"gemma.gguf": client.create_blob(gemma_gguf)})
    assert client.show("gemma").details.family == "gemma3" and client.show("gemma").template == "{{ .Prompt }}"
    reply = client.chat(model="gemma", messages=[{"role": "user", "content": "Hi! I'm Ada."}], options={"temperature": 0, "num_predict": 24})
    text = reply.message.content
    assert text.strip() and "user" not in text and "mendatang" not in text and "<start_of_turn>" not in text


GO_CHATML = """{{- range .Messages }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}<|im_start|>assistant
"""


def test_modelfile_go_template_renders_the_prompt(client, server, smollm2):
    client.create(model="go-chatml", from_=smollm2, template=GO_CHATML, system="Be brief.")
    text = rendered(server, {"model": "go-chatml", "messages": [{"role": "user", "content": "Hi"}]})
    assert text == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    assert client.show("go-chatml").template == GO_CHATML
    reply = client.chat(model="go-chatml", messages=[{"role": "user", "content": "What is 2+2?"}], options=GREEDY)
    assert reply.message.content


def test_legacy_go_template_with_prompt_and_system(client, server, smollm2):
    legacy = "{{ if .System }}SYSTEM: {{ .System }}\n{{ end }}USER: {{ .Prompt }}\nASSISTANT: {{ .Response }}"
    client.create(model="go-legacy", from_=smollm2, template=legacy)
    body = {"model": "go-legacy", "prompt": "Hello", "system": "Be kind.", "_debug_render_only": True}
    reply = httpx.post(server.url + "/api/generate", json=body, timeout=60).json()
    assert reply["_debug_info"]["rendered_template"] == "SYSTEM: Be kind.\nUSER: Hello\nASSISTANT: "
