"""Every environment variable this package reads, in one place, as Ollama's `envconfig/` has them.

Each is read when asked for (tests and kernels change the environment), with its
default written once here. Parsing that needs more than a number (durations,
sizes) stays with its owner; this module hands over the raw text.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class HostURL:
    scheme: str
    host: str
    port: int
    path: str = ""

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        path = f"/{self.path}" if self.path else ""
        return f"{self.scheme}://{self.netloc}{path}"

    @property
    def connectable(self) -> HostURL:
        """The same address with a wildcard bind host replaced by loopback, for clients."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        return HostURL(self.scheme, host, self.port, self.path)


def parse_ollama_host(value: str | None) -> HostURL:
    """Parse `OLLAMA_HOST` as Ollama does: `[scheme://]host[:port][/path]`, default `127.0.0.1:11434`."""
    text = (value or "").strip()
    default_port = 11434
    scheme, sep, hostport = text.partition("://")
    if not sep:
        scheme, hostport = "http", text
        if text == "ollama.com":
            scheme, hostport = "https", "ollama.com:443"
    elif scheme == "http":
        default_port = 80
    elif scheme == "https":
        default_port = 443
    hostport, _, path = hostport.partition("/")
    host, port = split_host_port(hostport)
    if host is None:
        host, port = "127.0.0.1", None
        bare = hostport.strip("[]")
        try:
            host = str(ipaddress.ip_address(bare))
        except ValueError:
            if hostport:
                host = hostport
    try:
        number = int(port) if port is not None else default_port
    except ValueError:
        number = default_port
    if not 0 <= number <= 65535:
        number = default_port
    return HostURL(scheme, host, number, path)


def split_host_port(hostport: str) -> tuple[str | None, str | None]:
    """Go's net.SplitHostPort: requires a port; brackets around IPv6."""
    if hostport.startswith("["):
        end = hostport.find("]")
        if end == -1 or not hostport[end + 1 :].startswith(":"):
            return None, None
        return hostport[1:end], hostport[end + 2 :]
    if hostport.count(":") != 1:
        return None, None
    host, port = hostport.split(":")
    return host, port


def ollama_host() -> HostURL:
    """OLLAMA_HOST: where `serve` listens and where clients connect."""
    return parse_ollama_host(os.environ.get("OLLAMA_HOST"))


def host_is_set() -> bool:
    return bool(os.environ.get("OLLAMA_HOST"))


# -- the scheduler ------------------------------------------------------------------

NUM_PARALLEL = 4  # slots per model: a handful of notebooks at once, llama-server's default too
CONTEXT_LENGTH = 4096  # tokens per slot
MAX_LOADED_MODELS = 3
MAX_QUEUE = 512
KEEP_ALIVE = "5m"


def _int(name: str, default: int) -> int:
    """A positive integer, else the default (Ollama ignores a malformed value the same way)."""
    try:
        return int(os.environ.get(name, "")) or default
    except ValueError:
        return default


def num_parallel() -> int:
    return _int("OLLAMA_NUM_PARALLEL", NUM_PARALLEL)


def context_length() -> int:
    return _int("OLLAMA_CONTEXT_LENGTH", CONTEXT_LENGTH)


def max_loaded_models() -> int:
    return _int("OLLAMA_MAX_LOADED_MODELS", MAX_LOADED_MODELS)


def max_queue() -> int:
    return _int("OLLAMA_MAX_QUEUE", MAX_QUEUE)


def num_thread() -> int:
    """Ours: CPU threads per runner; 0 (the default) fits the CPUs this process may use."""
    return max(_int("OLLAMA_NUM_THREAD", 0), 0)


KV_CACHE_TYPES = ("f16", "q8_0", "q4_0")


def kv_cache_type() -> str:
    """OLLAMA_KV_CACHE_TYPE: f16 (default), q8_0 (about half the memory) or q4_0 (about a quarter).

    Ollama's rule: anything else means f16; a quantized cache needs flash attention.
    """
    value = os.environ.get("OLLAMA_KV_CACHE_TYPE", "").strip().lower()
    return value if value in KV_CACHE_TYPES else "f16"


def flash_attention() -> bool | None:
    """OLLAMA_FLASH_ATTENTION: set true or false; unset lets llama.cpp choose (auto)."""
    value = os.environ.get("OLLAMA_FLASH_ATTENTION", "").strip()
    return None if not value else _bool("OLLAMA_FLASH_ATTENTION")


def keep_alive() -> str:
    """OLLAMA_KEEP_ALIVE as written (a duration or seconds); `scheduler.durations` parses it."""
    return os.environ.get("OLLAMA_KEEP_ALIVE", "").strip() or KEEP_ALIVE


def memory_budget() -> str:
    """Ours: OLLAMA_MEMORY_BUDGET as written (`8GiB`, `cpu=8GiB,gpu0=20GiB`); `scheduler.settings` parses it."""
    return os.environ.get("OLLAMA_MEMORY_BUDGET", "")


# -- GPUs ---------------------------------------------------------------------------


def gpu_overhead() -> int:
    """OLLAMA_GPU_OVERHEAD: bytes of VRAM to leave free on each GPU (Ollama: a plain number, else 0)."""
    try:
        return max(0, int(os.environ.get("OLLAMA_GPU_OVERHEAD", "").strip() or 0))
    except ValueError:
        return 0


def sched_spread() -> bool:
    """OLLAMA_SCHED_SPREAD: spread every model over all GPUs, even one that fits on a single GPU."""
    return _bool("OLLAMA_SCHED_SPREAD")


def cuda_visible_devices() -> list[str] | None:
    """CUDA_VISIBLE_DEVICES as CUDA reads it: None when unset (every GPU), else GPU indices or UUIDs.

    An empty value hides every GPU; CUDA stops at the first invalid entry, `-1` being the usual one.
    """
    value = os.environ.get("CUDA_VISIBLE_DEVICES")
    if value is None:
        return None
    ids: list[str] = []
    for part in value.split(","):
        part = part.strip()
        if not part or part.startswith("-"):
            break
        ids.append(part)
    return ids


# -- browsers -----------------------------------------------------------------------


def origins() -> list[str]:
    """OLLAMA_ORIGINS: more origins allowed to call the API from a web page (comma-separated, `*` wildcards).

    Added to the built-in ones (localhost and app origins, see `api.origins`); `*` allows any.
    """
    value = os.environ.get("OLLAMA_ORIGINS", "").strip().strip("\"'")
    return [o.strip() for o in value.split(",") if o.strip()]


# -- requests -----------------------------------------------------------------------

MAX_BODY_SIZE = 64 << 20  # a JSON request: room for images in base64, not for a memory attack


def max_body_size() -> int:
    """Ours: OLLAMA_MAX_BODY_SIZE, the largest JSON request body in bytes (blob uploads stream to disk, uncapped)."""
    return max(1024, _int("OLLAMA_MAX_BODY_SIZE", MAX_BODY_SIZE))


def model_aliases() -> str:
    """Ours: OLLAMA_MODEL_ALIASES, names answered by local models (`claude-*=qwen3-coder,gpt-4o=llama3.2`, or JSON);
    `store.aliases` parses it."""
    return os.environ.get("OLLAMA_MODEL_ALIASES", "")


# -- remote engines -----------------------------------------------------------------


def remotes() -> list[str]:
    """OLLAMA_REMOTES: the hosts remote models may reach (comma-separated host names), Ollama's default `ollama.com`."""
    value = os.environ.get("OLLAMA_REMOTES", "").strip()
    return [h.strip() for h in value.split(",") if h.strip()] if value else ["ollama.com"]


def remote_models() -> str:
    """Ours: OLLAMA_REMOTE_MODELS, models an admin declares for every user (`remote.declared` parses it):
    inline JSON, or the path of a JSON file."""
    return os.environ.get("OLLAMA_REMOTE_MODELS", "").strip()


def remote_engine_key(variable: str) -> str:
    """A remote engine's API key, from the variable its `api_key_env` names (chosen by whoever set the engine up)."""
    return os.environ.get(variable, "") if variable else ""


def remote_check_interval() -> float:
    """Ours: OLLAMA_REMOTE_CHECK_INTERVAL, seconds between health and capacity checks of each remote engine."""
    try:
        return max(0.2, float(os.environ.get("OLLAMA_REMOTE_CHECK_INTERVAL") or 5.0))
    except ValueError:
        return 5.0


# -- the store ----------------------------------------------------------------------


def models_dir() -> str | None:
    """OLLAMA_MODELS; None means the Jupyter data dir's `ollama/models`."""
    return os.environ.get("OLLAMA_MODELS") or None


def _bool(name: str) -> bool:
    """Ollama's envconfig.Bool: set and not false-like is true."""
    value = os.environ.get(name, "").strip()
    return bool(value) and value not in ("0", "f", "F", "false", "FALSE", "False")


def no_prune() -> bool:
    return _bool("OLLAMA_NOPRUNE")


def pull_part_size() -> int | None:
    """Ours, for tests and slow links: a fixed size for a pull's ranged parts."""
    value = os.environ.get("OLLAMA_PULL_PART_SIZE")
    return int(value) if value else None


def pull_retries() -> int:
    return max(1, _int("OLLAMA_PULL_RETRIES", 6))


def pull_retry_delay() -> float:
    return float(os.environ.get("OLLAMA_PULL_RETRY_DELAY") or 1.0)


# -- clients, kernels, logs -----------------------------------------------------------

# Through these the server extension tells the kernels it starts where it is.
URL_ENV = "JUPYTER_OLLAMA_URL"
TOKEN_ENV = "JUPYTER_OLLAMA_TOKEN"


def api_key() -> str | None:
    """OLLAMA_API_KEY: sent by the CLI and kernels as a bearer token."""
    return os.environ.get("OLLAMA_API_KEY") or None


# LiteLLM's, not Ollama's: where its `ollama/` and `ollama_chat/` models go when a call names no `api_base`.
# The extension sets it for kernels when unset and LiteLLM is installed (see `jupyter_ai`).
LITELLM_API_BASE_ENV = "OLLAMA_API_BASE"


def litellm_api_base() -> str | None:
    return os.environ.get(LITELLM_API_BASE_ENV) or None


def jupyter_url() -> str | None:
    return os.environ.get(URL_ENV) or None


def jupyter_token() -> str | None:
    return os.environ.get(TOKEN_ENV) or None


def debug() -> bool:
    """OLLAMA_DEBUG: show llama.cpp's own log."""
    return bool(os.environ.get("OLLAMA_DEBUG"))
