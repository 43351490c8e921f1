"""The client side, shared by the CLI, the `%ollama` magics and the widgets.

- `http`: the HTTP client (OLLAMA_HOST, or the Jupyter server it runs under) and `hang_up`;
- `chat`: one chat turn as typed deltas (thinking, content, tool calls) and final stats, and the
  conversation it continues;
- `progress`: Ollama's pull, push and create status lines folded into per-layer progress;
- `images`: image files named in a prompt, as `ollama run` finds them;
- `arguments`: the command-line rules the CLI and the magics share (`--think`, flags between words).

None of it prints or draws: each front end shows what these give it in its own way.
"""

from .http import NO_SERVER_HINT, Client, ClientError, default_server, hang_up

__all__ = ["NO_SERVER_HINT", "Client", "ClientError", "default_server", "hang_up"]
