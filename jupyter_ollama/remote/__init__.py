"""Models served by engines elsewhere: Ollama, jupyter-ollama, vLLM, SGLang, TGI, llama-server.

A remote model (`remote_host` in its config) is reached through the same typed `Runner`
interface as a local runner: `pool.RemotePool` implements it over one or several engines,
routing each request to the least-loaded healthy one. `engine` speaks to one engine;
`ollama_api` and `openai_api` translate a `CompletionRequest` to each API and its stream back.
We never run a distributed engine here; we route to the ones that exist.
"""

from .engine import EngineError, RemoteEngine
from .pool import RemotePool

__all__ = ["RemoteEngine", "EngineError", "RemotePool"]
