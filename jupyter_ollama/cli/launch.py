"""`jupyter-ollama launch claude|codex|opencode`: a coding agent on this server's models, as `ollama launch` (cmd/launch/).

It finds the server as every command does (`client.default_server`: in a JupyterLab terminal the
Jupyter server with its token, else OLLAMA_HOST), reads the model's `/api/show` (it must have the
`tools` capability; the context a load gets is `capacity.num_ctx`, the one it was trained on is in
`model_info`), warns when that context is too small for the agent, then runs the agent with its
settings pointed here: the base URL, the token, the model's full name as `/api/tags` lists it
(`smollm2:latest`: Codex compares names with `/api/tags` and pulls what it does not find there),
the context window, and the output limit (the model's `num_predict` when its Modelfile sets one,
else a quarter of the context). `--config` writes the settings where the agent reads them and
prints where, without running it. Arguments after `--` go to the agent.

- Claude Code reads its settings from the environment (ANTHROPIC_BASE_URL, ANTHROPIC_AUTH_TOKEN,
  ANTHROPIC_MODEL and the model of each tier, CLAUDE_CODE_MAX_CONTEXT_TOKENS, which is how it is
  told a custom model's window, and CLAUDE_CODE_MAX_OUTPUT_TOKENS); `--config` writes them in the
  `env` block of ~/.claude/settings.json.
- Codex reads a profile, `$CODEX_HOME/jupyter-ollama.config.toml` (a `[model_providers]` entry for
  this server on the Responses API, `model_context_window`), run as `codex --profile jupyter-ollama`.
  The profile names the variable that holds the token (`env_key`), not the token.
- opencode reads a provider from its config (`limit.context`, `limit.output`): OPENCODE_CONFIG_CONTENT
  when launched, ~/.config/opencode/opencode.json with `--config`; the token as `{env:VARIABLE}`.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..client import Client, ClientError, default_server
from ..envconfig import TOKEN_ENV, host_is_set, jupyter_url
from ..templates.capabilities import TOOLS, VISION

RECOMMENDED_CONTEXT = 32768  # room for an agent's instructions and tools, the files it reads and its replies
MAX_OUTPUT = 32000  # Claude Code's own default reply limit; a local model's context is rarely much larger
PROVIDER = "jupyter-ollama"  # the name of this server in Codex's and opencode's settings


@dataclass(frozen=True)
class Server:
    url: str  # the API's base, e.g. http://127.0.0.1:8888/ollama
    token: str | None
    token_env: str | None  # the environment variable holding the token, for settings that name it instead of holding it


@dataclass(frozen=True)
class Model:
    name: str  # the full name, as /api/tags lists it
    capabilities: tuple[str, ...]
    context: int  # the context a load gets (what the agent is told); 0: unknown
    trained: int  # the context it was trained on; 0: unknown
    output: int  # the reply limit the agent is told; 0: none
    remote: bool = False  # served by engines elsewhere, which know its context and capabilities better than we do


@dataclass(frozen=True)
class Agent:
    key: str  # what `launch` takes
    title: str
    binary: str
    install: str  # how to install it, for the one-line error
    first_prompt: int  # tokens of its first request (instructions and tools), measured with SmolLM2's tokenizer
    environment: Callable[[Server, Model], dict[str, str]]  # what it is told when launched
    write_config: Callable[[Server, Model], list[Path]]  # `--config`; the paths written
    arguments: tuple[str, ...] = ()  # before the ones passed through
    config_on_launch: bool = False  # settings it reads only from a file: written before each launch
    fallbacks: tuple[str, ...] = ()  # install locations that may not be on PATH, under the home folder


# -- the server and the model ---------------------------------------------------------


def find_server() -> Server:
    url, token, _ = default_server()
    token_env = TOKEN_ENV if not host_is_set() and jupyter_url() else "OLLAMA_API_KEY"
    return Server(url.rstrip("/"), token, token_env if token else None)


def full_name(client: Client, name: str) -> str:
    """The model's name as /api/tags lists it (`smollm2` -> `smollm2:latest`), compared as Ollama compares names."""
    wanted = name.lower()
    for entry in client.request("GET", "/api/tags")["models"]:
        listed = entry.get("name") or entry.get("model") or ""
        if listed.lower() in (wanted, f"{wanted}:latest"):
            return str(listed)
    raise ClientError(f"model '{name}' not found: pull it first (jupyter-ollama pull {name})", 404)


def read_model(client: Client, name: str) -> Model:
    full = full_name(client, name)
    info = client.request("POST", "/api/show", {"model": full})
    remote = bool(info.get("remote_host"))
    trained = next((int(v) for k, v in (info.get("model_info") or {}).items()
                    if k.endswith(".context_length") and isinstance(v, int)), 0)
    # A local load's context is capacity.num_ctx; a remote model's engine has its own, which /api/show does not know.
    context = 0 if remote else int((info.get("capacity") or {}).get("num_ctx") or trained)
    predict = parameter(info.get("parameters") or "", "num_predict")
    output = predict if predict and predict > 0 else min(MAX_OUTPUT, context // 4)
    return Model(full, tuple(info.get("capabilities") or ()), context, trained, output, remote)


def parameter(text: str, key: str) -> int | None:
    """An integer parameter from /api/show's `parameters` text (`num_predict    48` lines)."""
    for line in text.splitlines():
        name, _, value = line.strip().partition(" ")
        if name == key:
            try:
                return int(value.strip())
            except ValueError:
                return None
    return None


def check(agent: Agent, model: Model) -> list[str]:
    """What the user should know before the agent starts: the model's context against what the agent needs."""
    said: list[str] = []
    if TOOLS not in model.capabilities:
        if not model.remote:
            raise ClientError(f"{model.name} does not support tools, which {agent.title} needs: "
                              "use a model whose template has tools (`jupyter-ollama show MODEL` lists its capabilities)")
        said.append(f"{model.name} is served elsewhere and its config does not list tools, which {agent.title} needs: "
                    "its requests fail if its engines cannot take them")
    if not model.context:
        return [*said, f"the context length of {model.name} is not known here: {agent.title} is told nothing about it"]
    if model.context >= RECOMMENDED_CONTEXT:
        return said
    target = min(RECOMMENDED_CONTEXT, model.trained) if model.trained else RECOMMENDED_CONTEXT
    if model.trained and model.trained < agent.first_prompt:
        fix = f"{model.name} was trained on {model.trained:,} tokens: use a model trained on more"
    elif model.context < target:
        fix = f"raise it with PARAMETER num_ctx {target} in a Modelfile, or OLLAMA_CONTEXT_LENGTH={target} on the server"
    else:
        fix = f"{model.name} was trained on {model.trained:,} tokens"
    needs = f"{agent.title}'s first request alone takes about {agent.first_prompt:,} tokens"
    if model.context < agent.first_prompt:
        return [*said, f"{model.name} loads with a {model.context:,}-token context and {needs}: it will be refused as too long; {fix}"]
    return [*said, f"{model.name} loads with a {model.context:,}-token context and {needs}, which leaves little room to work; {fix}"]


# -- Claude Code ------------------------------------------------------------------------


def claude_environment(server: Server, model: Model) -> dict[str, str]:
    env = {
        "ANTHROPIC_BASE_URL": server.url,
        "ANTHROPIC_AUTH_TOKEN": server.token or "ollama",  # sent as a Bearer token, which Jupyter reads too
        "ANTHROPIC_API_KEY": "",  # a key set for Anthropic would be sent instead of the token
        "ANTHROPIC_MODEL": model.name,
        # Claude Code asks for other models by tier (haiku for small tasks, subagents): all of them are this one.
        "ANTHROPIC_DEFAULT_OPUS_MODEL": model.name,
        "ANTHROPIC_DEFAULT_SONNET_MODEL": model.name,
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": model.name,
        "CLAUDE_CODE_SUBAGENT_MODEL": model.name,
    }
    if model.context:
        # A model it does not know gets a window of 1M tokens unless told; CLAUDE_CODE_AUTO_COMPACT_WINDOW
        # would not do here: it takes no less than 100k and is capped at the window this sets.
        env["CLAUDE_CODE_MAX_CONTEXT_TOKENS"] = str(model.context)
    if model.output:
        env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"] = str(model.output)
    return env


def claude_config_dir() -> Path:
    return Path(os.environ.get("CLAUDE_CONFIG_DIR") or Path.home() / ".claude")


def claude_write_config(server: Server, model: Model) -> list[Path]:
    path = claude_config_dir() / "settings.json"
    settings = read_json(path)
    env = settings.get("env")
    settings["env"] = {**(env if isinstance(env, dict) else {}), **claude_environment(server, model)}
    write_private(path, json.dumps(settings, indent=2) + "\n")
    return [path]


# -- Codex ---------------------------------------------------------------------------------


def codex_home() -> Path:
    return Path(os.environ.get("CODEX_HOME") or Path.home() / ".codex")


def toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a TOML basic string


def codex_profile(server: Server, model: Model) -> str:
    lines = [f"# Written by `jupyter-ollama launch codex`: run `codex --profile {PROVIDER}`.",
             f"model = {toml_string(model.name)}", f"model_provider = {toml_string(PROVIDER)}"]
    if model.context:
        lines.append(f"model_context_window = {model.context}")
    lines += ["", f"[model_providers.{PROVIDER}]", f"name = {toml_string(PROVIDER)}",
              f"base_url = {toml_string(server.url + '/v1')}", 'wire_api = "responses"']
    if server.token_env:
        lines.append(f"env_key = {toml_string(server.token_env)}")  # sent as a Bearer token; the file holds no secret
    return "\n".join(lines) + "\n"


def codex_write_config(server: Server, model: Model) -> list[Path]:
    path = codex_home() / f"{PROVIDER}.config.toml"
    write_private(path, codex_profile(server, model))
    return [path]


# -- opencode ------------------------------------------------------------------------------


def opencode_config(server: Server, model: Model) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": model.name, "tool_call": True}
    if model.context:
        entry["limit"] = {"context": model.context, "output": model.output or MAX_OUTPUT}
    if VISION in model.capabilities:
        entry["modalities"] = {"input": ["text", "image"], "output": ["text"]}
    options: dict[str, Any] = {"baseURL": server.url + "/v1"}
    if server.token_env:
        options["apiKey"] = f"{{env:{server.token_env}}}"  # opencode reads the variable: the file holds no secret
    return {"$schema": "https://opencode.ai/config.json",
            "provider": {PROVIDER: {"npm": "@ai-sdk/openai-compatible", "name": PROVIDER, "options": options,
                                    "models": {model.name: entry}}},
            "model": f"{PROVIDER}/{model.name}"}


def opencode_environment(server: Server, model: Model) -> dict[str, str]:
    return {"OPENCODE_CONFIG_CONTENT": json.dumps(opencode_config(server, model))}


def opencode_write_config(server: Server, model: Model) -> list[Path]:
    path = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "opencode" / "opencode.json"
    settings = read_json(path)
    ours = opencode_config(server, model)
    providers = settings.get("provider")
    settings.update({"$schema": ours["$schema"], "model": ours["model"],
                     "provider": {**(providers if isinstance(providers, dict) else {}), **ours["provider"]}})
    write_private(path, json.dumps(settings, indent=2) + "\n")
    return [path]


AGENTS = {
    agent.key: agent
    for agent in (
        Agent("claude", "Claude Code", "claude", "npm install -g @anthropic-ai/claude-code", 11600,
              claude_environment, claude_write_config, fallbacks=(".local/bin/claude", ".claude/local/claude")),
        Agent("codex", "Codex", "codex", "npm install -g @openai/codex", 8800,
              lambda server, model: {}, codex_write_config, ("--profile", PROVIDER), config_on_launch=True),
        Agent("opencode", "opencode", "opencode", "npm install -g opencode-ai", 7400,
              opencode_environment, opencode_write_config, fallbacks=(".opencode/bin/opencode",)),
    )
}


# -- files -----------------------------------------------------------------------------------


def read_json(path: Path) -> dict[str, Any]:
    """A settings file to add to; a missing one is empty. One that is not a JSON object is left alone: an error."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        raise ClientError(f"cannot read {path} to add to it: {err}") from err
    if not isinstance(value, dict):
        raise ClientError(f"cannot add to {path}: it is not a JSON object")
    return value


def write_private(path: Path, text: str) -> None:
    """Write a settings file readable by its owner only (it may hold a token); the old one is kept as `<name>.bak`."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            shutil.copy2(path, path.with_name(path.name + ".bak"))
        partial = path.with_name(path.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(partial, path)
    except OSError as err:
        raise ClientError(f"cannot write {path}: {err.strerror or err}") from err


# -- launch ----------------------------------------------------------------------------------


def find_binary(agent: Agent, path: str | None) -> str:
    found = shutil.which(agent.binary, path=path)
    if found:
        return found
    for fallback in agent.fallbacks:
        candidate = Path.home() / fallback
        if os.access(candidate, os.X_OK):
            return str(candidate)
    raise ClientError(f"{agent.title} is not installed (no `{agent.binary}` on PATH): install it with `{agent.install}`")


def launch(key: str, model_name: str | None, extra: list[str], config_only: bool = False) -> int:
    agent = AGENTS[key]
    binary = None if config_only else find_binary(agent, os.environ.get("PATH"))
    server = find_server()
    with Client() as client:  # the same server, and says how it was found if it does not answer
        if model_name is None:
            raise ClientError(f"which model? `jupyter-ollama launch {key} --model NAME`, one with tools: "
                              f"{', '.join(tools_models(client)) or 'none here yet'}")
        model = read_model(client, model_name)
    for warning in check(agent, model):
        print(f"warning: {warning}", file=sys.stderr)
    if config_only:
        for path in agent.write_config(server, model):
            print(f"wrote {agent.title}'s settings for {model.name} at {server.url} to {path}")
        return 0
    assert binary is not None
    if agent.config_on_launch:
        agent.write_config(server, model)
    env = {**os.environ, **agent.environment(server, model)}
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(binary, [binary, *agent.arguments, *extra], env)  # the agent takes this process over: no return
    except OSError as err:
        raise ClientError(f"cannot run {binary}: {err.strerror or err}") from err


def tools_models(client: Client) -> list[str]:
    return [str(m["name"]) for m in client.request("GET", "/api/tags")["models"] if TOOLS in (m.get("capabilities") or ())]
