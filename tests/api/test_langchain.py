"""LangChain's `ChatOllama` (langchain-ollama) against the server: invoke, stream, bind_tools, with_structured_output."""

from __future__ import annotations

import pytest

pytest.importorskip("langchain_ollama")

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage  # noqa: E402
from langchain_ollama import ChatOllama  # noqa: E402
from pydantic import BaseModel  # noqa: E402

from .templates import JSON_TOOLS, THINKING, create_variant  # noqa: E402

# Makes the tiny model answer with a call of get_weather (Ollama's `format`, passed through bind).
CALL = {"type": "object", "required": ["name", "arguments"], "properties": {
    "name": {"const": "get_weather"},
    "arguments": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"Sunny in {city}"


class Place(BaseModel):
    city: str
    country: str


@pytest.fixture(scope="module")
def tools_model(client, smollm2) -> str:
    return create_variant(client, smollm2, "smollm2-jsontools", JSON_TOOLS)


@pytest.fixture(scope="module")
def think_model(client, smollm2) -> str:
    return create_variant(client, smollm2, "smollm2-think", THINKING)


def chat_model(server, model: str, num_predict: int = 20) -> ChatOllama:
    return ChatOllama(model=model, base_url=server.url, temperature=0, num_predict=num_predict)


def test_invoke_and_stream(server, smollm2):
    llm = chat_model(server, "smollm2")
    reply = llm.invoke("What is 2+2?")
    assert isinstance(reply, AIMessage) and "4" in reply.content
    assert reply.usage_metadata["input_tokens"] > 0 and reply.usage_metadata["output_tokens"] > 0
    assert reply.response_metadata["done_reason"] == "stop"
    chunks = list(llm.stream("Name three colors."))
    assert len(chunks) > 3 and "".join(c.content for c in chunks).strip()


def test_bind_tools_round_trip(server, tools_model):
    llm = chat_model(server, tools_model, 40).bind_tools([get_weather], format=CALL)
    ai = llm.invoke("What is the weather in Paris?")
    (call,) = ai.tool_calls
    assert call["name"] == "get_weather" and isinstance(call["args"]["city"], str)
    streamed = None
    for chunk in llm.stream("What is the weather in Paris?"):
        streamed = chunk if streamed is None else streamed + chunk
    assert [c["name"] for c in streamed.tool_calls] == ["get_weather"]
    # The tool's result goes back; the model answers from it.
    answer = chat_model(server, tools_model).bind_tools([get_weather]).invoke([
        HumanMessage("What is the weather in Paris?"), ai, ToolMessage(get_weather(call["args"]["city"]), tool_call_id=call["id"])])
    assert answer.content and not answer.tool_calls


def test_with_structured_output(server, smollm2):
    structured = chat_model(server, "smollm2", 40).with_structured_output(Place)
    place = structured.invoke("Return JSON with keys city and country for Paris.")
    assert isinstance(place, Place) and place.city


def test_with_structured_output_on_a_thinking_model(server, think_model):
    # An earlier turn that thought: the tiny model thinks one sentence, closes </think>, then the schema applies.
    history = [HumanMessage("What is 2+2?"), AIMessage("4", additional_kwargs={"reasoning_content": "2+2 is 4."}),
               HumanMessage("What is the capital of France?")]
    llm = ChatOllama(model=think_model, base_url=server.url, temperature=0, num_predict=40, reasoning=True)
    out = llm.with_structured_output(Place, include_raw=True).invoke(history)
    assert out["parsing_error"] is None and out["parsed"].city == "Paris"
    assert out["raw"].additional_kwargs["reasoning_content"] == "The capital of France is Paris."
