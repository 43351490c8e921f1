"""Every environment variable this package reads, in one place, as Ollama's `envconfig/` has them.

Each is read when asked for (tests and kernels change the environment), with its
default written once here. Parsing that needs more than a number (durations,
sizes) stays with its owner; this module hands over the raw text.
`VARIABLES` lists them all with their defaults and meanings: `jupyter-ollama serve --help`
prints it (as `ollama serve --help` does) and the README's Configuration table is written
from it (`make readme`).
"""

from __future__ import annotations

import ipaddress
import os
import re
import textwrap
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


PROMPT_CACHE_RAM = "2GiB"
PROMPT_CACHE_DISK = "10GiB"


def prompt_cache_ram() -> str:
    """Ours: OLLAMA_PROMPT_CACHE_RAM as written (`2GiB`, `0` turns it off): RAM per loaded model for the KV of
    prompts read before; `scheduler.settings` parses it."""
    return os.environ.get("OLLAMA_PROMPT_CACHE_RAM", "").strip() or PROMPT_CACHE_RAM


def prompt_cache_disk() -> str:
    """Ours: OLLAMA_PROMPT_CACHE_DISK as written (`10GiB`, `0` turns it off): the cap of the prompt cache's
    folder, `<OLLAMA_MODELS>/cache`, for every model together; `scheduler.settings` parses it."""
    return os.environ.get("OLLAMA_PROMPT_CACHE_DISK", "").strip() or PROMPT_CACHE_DISK


def user_max_slots() -> int:
    """Ours: OLLAMA_USER_MAX_SLOTS, slots one requester may hold at once over every model; 0 (default) no cap."""
    return max(_int("OLLAMA_USER_MAX_SLOTS", 0), 0)


def user_max_queue() -> int:
    """Ours: OLLAMA_USER_MAX_QUEUE, requests one requester may have waiting; past it a 429. 0 (default): no cap."""
    return max(_int("OLLAMA_USER_MAX_QUEUE", 0), 0)


def user_tokens_per_hour() -> int:
    """Ours: OLLAMA_USER_TOKENS_PER_HOUR, prompt and generated tokens per requester in the last hour; past it a 429.
    0 (default): no cap."""
    return max(_int("OLLAMA_USER_TOKENS_PER_HOUR", 0), 0)


def group_weights() -> str:
    """Ours: OLLAMA_GROUP_WEIGHTS as written (`teachers=4,students=1`); `scheduler.settings` parses it."""
    return os.environ.get("OLLAMA_GROUP_WEIGHTS", "")


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

REMOTES = ("ollama.com",)
REMOTE_CHECK_INTERVAL = 5.0  # seconds


def remotes() -> list[str]:
    """OLLAMA_REMOTES: the hosts remote models may reach (comma-separated host names), Ollama's default `ollama.com`."""
    value = os.environ.get("OLLAMA_REMOTES", "").strip()
    return [h.strip() for h in value.split(",") if h.strip()] if value else list(REMOTES)


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
        return max(0.2, float(os.environ.get("OLLAMA_REMOTE_CHECK_INTERVAL") or REMOTE_CHECK_INTERVAL))
    except ValueError:
        return REMOTE_CHECK_INTERVAL


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


PULL_RETRIES = 6  # Ollama's
PULL_RETRY_DELAY = 1.0  # seconds, doubled on each retry


def pull_part_size() -> int | None:
    """Ours, for tests and slow links: a fixed size for a pull's ranged parts."""
    value = os.environ.get("OLLAMA_PULL_PART_SIZE")
    return int(value) if value else None


def pull_retries() -> int:
    """Ours: OLLAMA_PULL_RETRIES, tries of each part of a pull."""
    return max(1, _int("OLLAMA_PULL_RETRIES", PULL_RETRIES))


def pull_retry_delay() -> float:
    """Ours: OLLAMA_PULL_RETRY_DELAY, seconds before a part's second try (doubled for each next one)."""
    return float(os.environ.get("OLLAMA_PULL_RETRY_DELAY") or PULL_RETRY_DELAY)


# -- JupyterHub ---------------------------------------------------------------------

HUB_ADMIN_GROUP = "ollama-admins"


def hub_admin_group() -> str:
    """Ours: OLLAMA_HUB_ADMIN_GROUP, the Hub group whose members (besides Hub admins) pull, create, copy, delete
    and push models on the shared service."""
    return os.environ.get("OLLAMA_HUB_ADMIN_GROUP", "").strip() or HUB_ADMIN_GROUP


@dataclass(frozen=True)
class HubServiceEnv:
    """What JupyterHub tells a service it manages (an admin sets the same for an external one)."""

    name: str  # JUPYTERHUB_SERVICE_NAME
    url: str  # JUPYTERHUB_SERVICE_URL: where to listen
    prefix: str  # JUPYTERHUB_SERVICE_PREFIX: the path the Hub's proxy forwards, e.g. /services/ollama/


def hub_service_env() -> HubServiceEnv | None:
    """The Hub's service variables, when `serve` runs as a Hub service (needs JUPYTERHUB_API_TOKEN too)."""
    name = os.environ.get("JUPYTERHUB_SERVICE_NAME", "").strip()
    if not name or not os.environ.get("JUPYTERHUB_API_TOKEN"):
        return None
    base = os.environ.get("JUPYTERHUB_BASE_URL", "/").rstrip("/")
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "").strip() or f"{base}/services/{name}/"
    return HubServiceEnv(name, os.environ.get("JUPYTERHUB_SERVICE_URL", "").strip(), prefix.rstrip("/") + "/")


@dataclass(frozen=True)
class HubServerEnv:
    """What JupyterHub tells a user's server: its Hub, its token (the user's scopes) and its user."""

    api_url: str  # JUPYTERHUB_API_URL, e.g. http://127.0.0.1:8081/hub/api
    api_token: str  # JUPYTERHUB_API_TOKEN
    base_url: str  # JUPYTERHUB_BASE_URL, the Hub's base path ("/")
    user: str  # JUPYTERHUB_USER


def hub_server_env() -> HubServerEnv | None:
    api_url, token = os.environ.get("JUPYTERHUB_API_URL", ""), os.environ.get("JUPYTERHUB_API_TOKEN", "")
    if not (api_url and token):
        return None
    return HubServerEnv(api_url.rstrip("/"), token, os.environ.get("JUPYTERHUB_BASE_URL", "/") or "/",
                        os.environ.get("JUPYTERHUB_USER", ""))


def hub_service() -> str:
    """Ours: JUPYTER_OLLAMA_HUB_SERVICE, set in a user server's environment by the hub admin: the name of the
    Hub service to use instead of a model manager of its own (or that service's URL)."""
    return os.environ.get("JUPYTER_OLLAMA_HUB_SERVICE", "").strip()


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


# Go's strconv.ParseBool's words for true (its words for false read as the level 0).
_TRUE = ("1", "t", "T", "true", "TRUE", "True")
DEBUG_LEVELS = 2  # 0 off; 1 debug; 2 trace


def debug_level() -> int:
    """OLLAMA_DEBUG as Ollama reads it (envconfig.LogLevel): unset, `0` or `false` is 0 (off); `1` or `true` is 1
    (debug: llama.cpp's own log, our debug lines); `2` is 2 (trace: llama.cpp's debug lines too). Anything else is 0."""
    value = os.environ.get("OLLAMA_DEBUG", "").strip()
    if value in _TRUE:
        return 1
    try:
        return min(max(int(value), 0), DEBUG_LEVELS)
    except ValueError:
        return 0


# -- the list of them all -------------------------------------------------------------


@dataclass(frozen=True)
class Variable:
    """One environment variable (or a few set together), as `serve --help` and the README's table show it."""

    names: tuple[str, ...]
    default: str  # Markdown, as the README's table shows it; "" for none
    meaning: str  # Markdown
    trait: str = ""  # the `c.JupyterOllama.<trait>` that sets it under Jupyter, if one does


def _code(value: object) -> str:
    return f"`{value}`"


VARIABLES: tuple[Variable, ...] = (
    Variable(("OLLAMA_HOST",), "`127.0.0.1:11434`", "where `serve` listens and where the CLI and kernels connect"),
    Variable(("OLLAMA_MODELS",), "`<jupyter data dir>/ollama/models`",
             "the model store; several servers may share one, on NFS too", "models_dir"),
    Variable(("OLLAMA_NUM_PARALLEL",), _code(NUM_PARALLEL), "slots per model (each with the full context)", "num_parallel"),
    Variable(("OLLAMA_CONTEXT_LENGTH",), _code(CONTEXT_LENGTH), "context per slot, capped at the model's trained length",
             "context_length"),
    Variable(("OLLAMA_KEEP_ALIVE",), _code(KEEP_ALIVE),
             "how long an idle model stays loaded (`0` unloads at once, negative = forever)", "keep_alive"),
    Variable(("OLLAMA_MAX_LOADED_MODELS",), _code(MAX_LOADED_MODELS),
             "models loaded at once; the idle one that expires soonest is evicted", "max_loaded_models"),
    Variable(("OLLAMA_MAX_QUEUE",), _code(MAX_QUEUE), "requests waiting for a slot or a load before `503 server busy`",
             "max_queue"),
    Variable(("OLLAMA_USER_MAX_SLOTS",), "`0` (no cap)",
             "slots one user may hold at once, over every model; past it their requests wait while others' go",
             "user_max_slots"),
    Variable(("OLLAMA_USER_MAX_QUEUE",), "`0` (no cap)", "requests one user may have waiting; past it `429` with `Retry-After`",
             "user_max_queue"),
    Variable(("OLLAMA_USER_TOKENS_PER_HOUR",), "`0` (no cap)",
             "prompt + generated tokens per user in the last hour; past it `429` with `Retry-After`", "user_tokens_per_hour"),
    Variable(("OLLAMA_GROUP_WEIGHTS",), "(all 1)", "turns per group, `teachers=4,students=1`: a user has their groups' largest weight",
             "group_weights"),
    Variable(("OLLAMA_MEMORY_BUDGET",), "(none)", "memory cap per device: `8GiB`, or `cpu=8GiB,gpu0=20GiB`", "memory_budget"),
    Variable(("OLLAMA_NUM_THREAD",), "`0` (fit the machine)", "CPU threads per runner; see [CPU threads](#cpu-threads)",
             "num_thread"),
    Variable(("OLLAMA_PROMPT_CACHE_RAM",), _code(PROMPT_CACHE_RAM),
             "RAM per loaded model for the KV of prompts read before (at most its KV cache's size; `0`: off); "
             "see [How requests run](#how-requests-run)"),
    Variable(("OLLAMA_PROMPT_CACHE_DISK",), _code(PROMPT_CACHE_DISK),
             "cap of the prompt cache on disk, `<OLLAMA_MODELS>/cache`, for all models together (`0`: off)"),
    Variable(("OLLAMA_KV_CACHE_TYPE",), _code(KV_CACHE_TYPES[0]),
             "KV cache precision: `q8_0` about halves it, `q4_0` about quarters it (needs flash attention)"),
    Variable(("OLLAMA_FLASH_ATTENTION",), "(llama.cpp decides)", "`1` or `0`; a quantized KV cache turns it on unless `0`"),
    Variable(("OLLAMA_GPU_OVERHEAD",), "`0`", "bytes of VRAM left free on each GPU; see [GPUs](#gpus)"),
    Variable(("OLLAMA_SCHED_SPREAD",), "", "`1`: spread every model over all GPUs"),
    Variable(("CUDA_VISIBLE_DEVICES",), "(all)", "the GPUs models may use (indices or UUIDs)"),
    Variable(("OLLAMA_ORIGINS",), "",
             "more web origins allowed to call `serve` (comma-separated, `*` wildcards); "
             "see [Security](#security-what-each-front-door-trusts)"),
    Variable(("OLLAMA_MAX_BODY_SIZE",), f"{MAX_BODY_SIZE >> 20} MiB",
             "the largest JSON request body, in bytes, after decoding a compressed one (blob uploads are not capped)"),
    Variable(("OLLAMA_MODEL_ALIASES",), "(none)",
             "names answered by local models: `claude-*=qwen3-coder,gpt-4o=llama3.2` (shell patterns, first match wins) or JSON",
             "model_aliases"),
    Variable(("OLLAMA_REMOTES",), ", ".join(map(_code, REMOTES)),
             "host names remote models may reach; see [Models served elsewhere](#models-served-elsewhere)"),
    Variable(("OLLAMA_REMOTE_MODELS",), "(none)", "remote models every user gets: JSON (inline or a file's path), name → create request",
             "remote_models"),
    Variable(("OLLAMA_REMOTE_CHECK_INTERVAL",), _code(f"{REMOTE_CHECK_INTERVAL:g}"),
             "seconds between health and capacity checks of each remote engine"),
    Variable(("OLLAMA_HUB_ADMIN_GROUP",), _code(HUB_ADMIN_GROUP),
             "under JupyterHub, the group whose members (besides Hub admins) pull, create, copy, delete and push models; "
             "see [JupyterHub](#jupyterhub-one-model-manager-for-the-whole-hub)"),
    Variable(("JUPYTER_OLLAMA_HUB_SERVICE",), "",
             "in a user server's environment under JupyterHub: the Hub service (its name, or its URL) whose model manager the "
             "server uses instead of one of its own; see [docs/jupyterhub.md](docs/jupyterhub.md)", "hub_service"),
    Variable(("OLLAMA_API_KEY",), "", "sent by the CLI and kernels as `Authorization: Bearer ...`"),
    Variable((LITELLM_API_BASE_ENV,), "this server, for kernels",
             "LiteLLM's, not Ollama's: where its `ollama_chat/` models go; set for kernels when LiteLLM is installed and "
             "you have not; see [Jupyter AI](#jupyter-ai)"),
    Variable((URL_ENV, TOKEN_ENV), "(set by the extension)",
             "the API under Jupyter and its token, which the extension gives its kernels and terminals; the CLI and "
             "`%ollama` use them when `OLLAMA_HOST` is not set"),
    Variable(("JUPYTERHUB_API_URL", "JUPYTERHUB_API_TOKEN", "JUPYTERHUB_BASE_URL", "JUPYTERHUB_USER"), "(set by JupyterHub)",
             "a user server's Hub, its token and its user: the extension forwards to the hub's service as that user"),
    Variable(("JUPYTERHUB_SERVICE_NAME", "JUPYTERHUB_SERVICE_URL", "JUPYTERHUB_SERVICE_PREFIX"), "(set by JupyterHub)",
             "`serve` as a Hub service (with `JUPYTERHUB_API_TOKEN`): its name, where it listens, the path the Hub's proxy forwards"),
    Variable(("OLLAMA_NOPRUNE",), "", "keep unused blobs after a pull"),
    Variable(("OLLAMA_PULL_PART_SIZE",), "(a 16th of the blob, 100 MB to 1 GB)",
             "bytes in each ranged part of a pull: a fixed size, for slow links and tests"),
    Variable(("OLLAMA_PULL_RETRIES",), _code(PULL_RETRIES), "tries of each part of a pull before the pull fails"),
    Variable(("OLLAMA_PULL_RETRY_DELAY",), _code(f"{PULL_RETRY_DELAY:g}"),
             "seconds before a part's second try, doubled for each try after it"),
    Variable(("OLLAMA_DEBUG",), "`0`",
             "`1` (or `true`): llama.cpp's own log, and `serve`'s debug lines; `2`: llama.cpp's debug lines too; "
             "`0` or `false`: off (Ollama's levels)"),
    Variable(("HF_ENDPOINT",), "`https://huggingface.co`",
             "where `hf.co/...` pulls come from (read by `huggingface_hub`, as are `HF_HUB_OFFLINE` and its cache)"),
    Variable(("HF_TOKEN",), "", "the token for gated Hugging Face repositories"),
)


def variable(name: str) -> Variable:
    return next(v for v in VARIABLES if name in v.names)


def markdown_table() -> str:
    """The README's Configuration table (`make readme` writes it there; a test checks that it is)."""

    def row(cells: list[str]) -> str:
        return "|" + "|".join(f" {cell} " if cell else " " for cell in cells) + "|"

    lines = [row(["variable", "trait", "default", "meaning"]), "|---|---|---|---|"]
    for v in VARIABLES:
        lines.append(row([", ".join(map(_code, v.names)), _code(v.trait) if v.trait else "", v.default, v.meaning]))
    return "\n".join(lines) + "\n"


def plain(markdown: str) -> str:
    """Markdown as a terminal shows it: links as their text, no backticks."""
    return re.sub(r"\[([^]]+)\]\([^)]+\)", r"\1", markdown).replace("`", "")


def help_text(width: int = 100) -> str:
    """Every variable with its default and meaning, as `serve --help` prints them (Ollama's `serve --help` does)."""
    lines = ["Environment variables:"]
    for v in VARIABLES:
        default = plain(v.default)
        default = default[1:-1] if default.startswith("(") and default.endswith(")") else default
        notes = [f"default: {default}"] if default else []
        notes += [f"under Jupyter also c.JupyterOllama.{v.trait}"] if v.trait else []
        text = f"{', '.join(v.names):<30} {plain(v.meaning)}" + (f" [{'; '.join(notes)}]" if notes else "")
        lines.append(textwrap.fill(text, width, initial_indent="  ", subsequent_indent=" " * 33))
    return "\n".join(lines)
