"""Tool calling and thinking: what a model's output holds besides its answer.

- `parser`: tool calls in the output (Hermes/Qwen, Llama 3.x, Mistral, bare JSON), Ollama-shaped;
- `thinking`: the `<think>...</think>` part, split off as it streams;
- `choice`: tool definitions checked, and a forced `tool_choice` turned into a JSON schema;
- `output`: all of it combined over a streamed generation.

Which tags a model uses is read from its template: see `templates.profile`.
"""

from .choice import check_tools, forced_call_schema, tool_names
from .output import OutputParser, Parsed
from .parser import ToolCallParser, tool_call_id
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
]
