"""Tool calling and thinking: what a model's output holds besides its answer.

- `parser`: tool calls in the output (Hermes/Qwen, Llama 3.x, Mistral, bare JSON), Ollama-shaped;
- `tags`: which tag opens a call, read from the model's template;
- `thinking`: the `<think>...</think>` part, split off as it streams;
- `choice`: tool definitions checked, and a forced `tool_choice` turned into a JSON schema;
- `output`: all of it combined over a streamed generation.
"""

from .choice import check_tools, forced_call_schema, tool_names
from .output import OutputParser, Parsed
from .parser import ToolCallParser, tool_call_id
from .tags import tool_tag
from .thinking import ThinkingParser

__all__ = [
    "OutputParser",
    "Parsed",
    "ThinkingParser",
    "ToolCallParser",
    "check_tools",
    "forced_call_schema",
    "tool_call_id",
    "tool_names",
    "tool_tag",
]
