"""Ollama's Modelfile: parsing, the CLI's create request, and `ollama show --modelfile`.

`parse_modelfile` is a port of the rune-by-rune state machine in Ollama's
parser/parser.go, so odd inputs behave as they do there: values run to the end of
the line, a quoted value may span lines until its closing quote, characters Go does
not consider printable are dropped, and errors carry Ollama's text.
"""

from __future__ import annotations

import copy
import os
import re
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BadRequest
from .options import OptionValue, go_value, parameters_from_modelfile

OLLAMA_COMMANDS = ("from", "license", "template", "system", "adapter", "draft", "renderer",
                   "parser", "parameter", "message", "requires")
# Ours: `REMOTE <url> [ollama|openai]`, one line per engine of a remote model (FROM names the model on them).
COMMANDS = (*OLLAMA_COMMANDS, "remote")
ROLES = ("system", "user", "assistant")
ERR_INVALID_COMMAND = "command must be one of " + ", ".join(
    f'"{c}"' for c in OLLAMA_COMMANDS[:-1]) + f', or "{OLLAMA_COMMANDS[-1]}"'
ERR_INVALID_ROLE = 'message role must be one of "system", "user", or "assistant"'
ERR_MISSING_FROM = "no FROM line"
ERR_EOF = "unexpected EOF"
# Command names Ollama's CLI handles itself; any other name is a PARAMETER (so
# `PARAMETER from x` is an unknown parameter, while `PARAMETER system x` sets SYSTEM).
_NOT_PARAMETERS = frozenset({"model", "adapter", "draft", "template", "system", "license",
                             "renderer", "parser", "requires", "message", "remote"})


class ModelfileError(BadRequest):
    """A Modelfile Ollama would refuse; `line` is set for errors Ollama numbers."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"(line {line}): {message}" if line else message)
        self.line = line


@dataclass(frozen=True)
class Command:
    """One instruction as Ollama keeps it: FROM is `model`, PARAMETER is its name,
    MESSAGE args are `role: content`."""

    name: str
    args: str

    def __str__(self) -> str:
        if self.name == "model":
            return f"FROM {self.args}"
        if self.name in ("license", "template", "system", "adapter", "renderer", "parser",
                         "requires", "draft"):
            return f"{self.name.upper()} {quote(self.args)}"
        if self.name == "message":
            role, _, content = self.args.partition(": ")
            return f"MESSAGE {role} {quote(content)}"
        if self.name == "remote":
            return f"REMOTE {self.args}"
        return f"PARAMETER {self.name} {quote(self.args)}"


def quote(text: str) -> str:
    """Quote a value for a Modelfile the way Ollama does (only when it must)."""
    if "\n" in text or text.startswith(" ") or text.endswith(" "):
        return f'"""{text}"""' if '"' in text else f'"{text}"'
    return text


def _closed(buf: list[str]) -> bool:
    """Whether the value so far (one character per item) has its closing quote.

    Ollama re-checks the trimmed buffer at every space and newline; looking at its
    ends only keeps long quoted values (a LICENSE) linear.
    """
    i, j = 0, len(buf)
    while i < j and buf[i].isspace():
        i += 1
    while j > i and buf[j - 1].isspace():
        j -= 1
    head, tail = "".join(buf[i:min(i + 3, j)]), "".join(buf[max(i, j - 3):j])
    if head == '"""':
        return j - i >= 6 and tail == '"""'
    if head.startswith('"'):
        return j - i >= 2 and tail.endswith('"')
    return True


def _unquote(text: str) -> str:
    """The value without its quotes (already known to be closed)."""
    if text.startswith('"""'):
        return text[3:-3]
    return text[1:-1] if text.startswith('"') else text


def _decode(data: str | bytes) -> str:
    """UTF-8, or UTF-16 when a BOM says so; a leading BOM is dropped."""
    if isinstance(data, bytes):
        if data.startswith(b"\xff\xfe"):
            return data[2:].decode("utf-16-le", errors="replace")
        if data.startswith(b"\xfe\xff"):
            return data[2:].decode("utf-16-be", errors="replace")
        data = data.decode("utf-8", errors="replace")
    return data[1:] if data.startswith("\ufeff") else data


# Parser states, as in parser.go.
_NIL, _NAME, _VALUE, _PARAMETER, _MESSAGE, _COMMENT = range(6)


class _Eof(Exception):
    pass


def _step(ch: str, state: int) -> tuple[int, str]:
    """Next state for one character, and the character to keep ("" for none)."""
    space, newline = ch in " \t", ch in "\r\n"
    alpha = ch.isascii() and ch.isalpha()
    if state == _NIL:
        if ch == "#":
            return _COMMENT, ""
        return (_NIL, "") if space or newline else (_NAME, ch)
    if state == _NAME:
        if alpha:
            return _NAME, ch
        if space:
            return _VALUE, ""
        raise ModelfileError(ERR_INVALID_COMMAND)  # line number added by the caller
    if state == _VALUE:
        return (_NIL, ch) if space or newline else (_VALUE, ch)
    if state in (_PARAMETER, _MESSAGE):
        if alpha or (state == _PARAMETER and (ch.isascii() and ch.isdigit() or ch == "_")):
            return state, ch
        if space:
            return _VALUE, ""
        raise _Eof
    return (_NIL, "") if newline else (_COMMENT, "")  # _COMMENT


def parse_commands(text: str | bytes) -> list[Command]:
    """The instructions of a Modelfile, in order, untyped (Ollama's ParseFile)."""
    commands: list[Command] = []
    state, line = _NIL, 1
    buf: list[str] = []
    name = role = ""
    for ch in _decode(text):
        if ch in "\r\n":
            line += 1  # Go counts \r and \n alike, so CRLF counts twice
        try:
            nxt, keep = _step(ch, state)
        except _Eof:
            raise ModelfileError(f"{ERR_EOF}: {''.join(buf)}") from None
        except ModelfileError as e:
            raise ModelfileError(e.message, line) from None
        if nxt != state:
            word = "".join(buf) if state != _VALUE else ""
            if state == _NAME:
                lower = word.lower()
                if lower not in COMMANDS:
                    raise ModelfileError(ERR_INVALID_COMMAND, line)
                if lower == "parameter":
                    nxt = _PARAMETER
                else:
                    name = "model" if lower == "from" else lower
                    if lower == "message":
                        nxt = _MESSAGE
            elif state == _PARAMETER:
                name = word
            elif state == _MESSAGE:
                if word not in ROLES:
                    raise ModelfileError(ERR_INVALID_ROLE, line)
                role = word
            elif state == _VALUE:
                if ch in " \t" or not _closed(buf):
                    buf.append(ch)  # still inside the value (spaces, quoted newlines)
                    continue
                value = _unquote("".join(buf).strip())
                commands.append(Command(name, f"{role}: {value}" if role else value))
                role = ""
            buf.clear()
            state = nxt
        if keep and keep.isprintable():  # Go keeps only strconv.IsPrint runes
            buf.append(keep)

    if state == _VALUE:
        if not _closed(buf):
            raise ModelfileError(ERR_EOF)
        value = _unquote("".join(buf).strip())
        commands.append(Command(name, f"{role}: {value}" if role else value))
    elif state not in (_NIL, _COMMENT):
        raise ModelfileError(ERR_EOF)
    if not any(c.name == "model" for c in commands):
        raise ModelfileError(ERR_MISSING_FROM)
    return commands


@dataclass
class Modelfile:
    """A parsed Modelfile: typed fields, plus the raw commands in file order."""

    from_: str
    parameters: dict[str, OptionValue] = field(default_factory=dict)
    template: str | None = None
    system: str | None = None
    adapters: list[str] = field(default_factory=list)
    license: list[str] = field(default_factory=list)
    messages: list[dict[str, str]] = field(default_factory=list)
    requires: str | None = None
    draft: str | None = None
    renderer: str | None = None
    parser: str | None = None
    remotes: list[str] = field(default_factory=list)  # `url [api]`, one per engine
    commands: list[Command] = field(default_factory=list)

    @classmethod
    def from_commands(cls, commands: Sequence[Command]) -> Modelfile:
        """Type parsed commands as Ollama's CLI does: the last TEMPLATE, SYSTEM, ...
        wins, LICENSE and MESSAGE repeat, any other name is a PARAMETER."""
        last = {c.name: c.args for c in commands}

        def every(name: str) -> list[str]:
            return [c.args for c in commands if c.name == name]

        try:
            parameters = parameters_from_modelfile(
                (c.name, c.args) for c in commands if c.name not in _NOT_PARAMETERS)
        except BadRequest as e:
            raise ModelfileError(e.message) from None
        messages = [{"role": role, "content": content}
                    for role, _, content in (m.partition(": ") for m in every("message"))]
        return cls(
            from_=every("model")[0], parameters=parameters, template=last.get("template"),
            system=last.get("system"), adapters=every("adapter"), license=every("license"),
            messages=messages, requires=last.get("requires"), draft=last.get("draft"),
            renderer=last.get("renderer"), parser=last.get("parser"), remotes=every("remote"),
            commands=list(commands),
        )

    def to_text(self) -> str:
        """The commands written back out, one per line (Ollama's Modelfile.String)."""
        return "".join(f"{c}\n" for c in self.commands)

    def from_is_path(self, base_dir: str | Path) -> Path | None:
        """FROM as a local file or directory (relative to base_dir, `~` expanded),
        or None when nothing is there and FROM names a model."""
        path = expand_path(self.from_, base_dir)
        return path if path.exists() else None

    def create_request(self, base_dir: str | Path, digest_of: Callable[[Path], str]) -> dict[str, Any]:
        """The body of POST /api/create as Ollama's CLI sends it, without `model`.

        Local FROM/DRAFT/ADAPTER files are hashed (and uploaded) by `digest_of`, which
        returns `sha256:<hex>`; they are named by base name, or by their path below a
        common folder when there are several, as the CLI names them.
        """
        req: dict[str, Any] = {}
        files: dict[Path, str] = {}
        drafts: dict[Path, str] = {}
        adapters: dict[Path, str] = {}
        model_paths: list[Path] = []
        draft_paths: list[Path] = []
        if self.remotes:  # a remote model: FROM is its name on the engines, never a file here
            req["from"] = self.from_
            req["remote_host"] = [remote_engine(line) for line in self.remotes]
        for c in self.commands:
            if c.name == "model" and self.remotes:
                continue
            if c.name == "model":
                path = expand_path(c.args, base_dir)
                if not path.exists():
                    req["from"] = c.args  # not a file: a model name
                    continue
                _reject_same_path(path, draft_paths)
                model_paths.append(path)
                files.update((f, digest_of(f)) for f in model_files(path))
            elif c.name == "draft":
                path = expand_path(c.args, base_dir)
                found = model_files(path)
                _reject_same_path(path, model_paths)
                draft_paths.append(path)
                drafts.update((f, digest_of(f)) for f in found)
            elif c.name == "adapter":
                # Each ADAPTER replaces the previous one, as in Ollama's CLI.
                adapters = {f: digest_of(f) for f in model_files(expand_path(c.args, base_dir))}
        for key, named in (("files", files), ("draft_files", drafts), ("adapters", adapters)):
            if named:
                req[key] = _request_file_names(named)
        # Go's omitempty: empty strings and lists are not sent.
        optional = {"template": self.template, "license": list(self.license),
                    "system": self.system, "parameters": copy.deepcopy(self.parameters),
                    "messages": copy.deepcopy(self.messages), "renderer": self.renderer,
                    "parser": self.parser}
        req.update((key, value) for key, value in optional.items() if value)
        if self.requires is not None:
            req["requires"] = normalize_requires(self.requires)
        return req


def remote_engine(line: str) -> dict[str, str]:
    """A REMOTE line, `url [ollama|openai]`, as an engine of `remote_host` in the create request."""
    parts = line.split()
    if not parts or len(parts) > 2 or (len(parts) == 2 and parts[1].lower() not in ("ollama", "openai")):
        raise ModelfileError(f'REMOTE takes a URL and, optionally, "ollama" or "openai": {line!r}')
    return {"host": parts[0], **({"api": parts[1].lower()} if len(parts) == 2 else {})}


def parse_modelfile(text: str | bytes) -> Modelfile:
    """Parse and type a Modelfile; raises ModelfileError with Ollama's message."""
    return Modelfile.from_commands(parse_commands(text))


# golang.org/x/mod/semver: vMAJOR[.MINOR[.PATCH[-pre][+build]]], no leading zeros.
_NUM = r"(?:0|[1-9][0-9]*)"
_PRE_ID = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_SEMVER = re.compile(
    rf"v{_NUM}(?:\.{_NUM}(?:\.{_NUM}(?:-{_PRE_ID}(?:\.{_PRE_ID})*)?"
    rf"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?)?)?"
)


def normalize_requires(requires: str) -> str:
    """REQUIRES as Ollama's CLI sends it: a valid semver without a leading `v`."""
    version = requires if requires.startswith("v") else "v" + requires
    if not _SEMVER.fullmatch(version):
        raise ModelfileError("requires must be a valid semver (e.g. 0.14.0)")
    return version[1:]


def expand_path(path: str, base_dir: str | Path) -> Path:
    """Ollama's expandPath: absolute as is, `~` and `~user` expanded, else relative
    to the Modelfile's folder; the result is absolute and cleaned (not resolved)."""
    if path.startswith(("/", "\\")) or os.path.isabs(path):
        return Path(os.path.abspath(path))
    if path.startswith("~"):
        user, _, rest = path[1:].partition("/")
        home = str(Path.home()) if not user else os.path.expanduser("~" + user)
        if home.startswith("~"):  # expanduser leaves unknown users alone
            raise ModelfileError(f"failed to find user '{user}': user: unknown user {user}")
        return Path(os.path.abspath(os.path.join(home, rest)))
    return Path(os.path.abspath(os.path.join(base_dir, path)))


def model_files(path: Path) -> list[Path]:
    """The files a local FROM/DRAFT/ADAPTER path stands for: the file itself, or a
    folder's GGUF files (`*.gguf`, else `*.bin`). Safetensors are not supported here."""
    try:
        is_dir = stat.S_ISDIR(os.stat(path).st_mode)
    except OSError as e:  # Go's wording: "stat /x: no such file or directory"
        reason = e.strerror or str(e)
        raise ModelfileError(f"stat {path}: {reason[:1].lower()}{reason[1:]}") from None
    if not is_dir:
        return [path]
    found = sorted(path.glob("*.gguf")) or sorted(path.glob("*.bin"))
    if not found:
        raise ModelfileError("no Modelfile or safetensors files found")
    files = [Path(os.path.realpath(f)) for f in found]
    for f in files:  # a file may not link out of the folder
        rel = os.path.relpath(f, os.path.realpath(path))
        if rel == ".." or rel.startswith(".." + os.sep):
            raise ModelfileError(f"insecure path: {rel}")
    return files


def _reject_same_path(path: Path, others: Iterable[Path]) -> None:
    real = os.path.realpath(path)
    if any(os.path.realpath(o) == real for o in others):
        raise ModelfileError(f"DRAFT must not reference the same local path as FROM: {path}")


def _request_file_names(files: Mapping[Path, str]) -> dict[str, str]:
    """Name uploaded files as the CLI does: base name alone, or the path below the
    folder common to all files when there are several."""
    root = os.path.commonpath([str(f.parent) for f in files]) if len(files) > 1 else None
    names = {}
    for f, digest in files.items():
        name = f.name
        if root is not None:
            rel = os.path.relpath(f, root)
            if rel not in (".", "..") and not rel.startswith(".." + os.sep):
                name = rel
        names[Path(name).as_posix()] = digest
    return names


def render_modelfile(
    model: Any = None,
    /,
    *,
    short_name: str | None = None,
    model_path: str | None = None,
    template: str | None = None,
    system: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    adapters: Sequence[str] | None = None,
    projectors: Sequence[str] | None = None,
    draft: str = "",
    renderer: str = "",
    parser: str = "",
    license: Sequence[str] | None = None,
    messages: Sequence[Mapping[str, str]] | None = None,
    remotes: Sequence[str] = (),
) -> str:
    """The `modelfile` of /api/show (what `ollama show --modelfile` prints).

    Takes keywords, or a stored model (`name`, `model_path`, `adapter_paths`,
    `draft_path`, `projector_paths`, `template`, `system`, `parameters`, `licenses`, `messages`)
    whose values the keywords override; a model without a TEMPLATE layer gets no
    TEMPLATE line (it uses its GGUF's chat template). Order as in Ollama: FROM, ADAPTER, DRAFT, projectors as
    more FROM lines, TEMPLATE, SYSTEM, RENDERER, PARSER, PARAMETER (sorted; one line
    per stop), LICENSE, MESSAGE. Ollama writes no REQUIRES line.
    """
    if model is not None:
        name = getattr(model, "name", "")
        short_name = short_name or (name.display() if hasattr(name, "display") else str(name))
        model_path = model_path or str(getattr(model, "model_path", "") or "")
        # No TEMPLATE layer means the GGUF's own chat template renders prompts, so no
        # TEMPLATE line: writing Ollama's `{{ .Prompt }}` default would replace it on re-create.
        template = template if template is not None else model.template
        system = system if system is not None else model.system
        parameters = parameters if parameters is not None else model.parameters
        adapters = adapters if adapters is not None else [str(p) for p in model.adapter_paths]
        projectors = projectors if projectors is not None else [str(p) for p in model.projector_paths]
        draft = draft or str(getattr(model, "draft_path", None) or "")
        license = license if license is not None else model.licenses
        messages = messages if messages is not None else model.messages
        if getattr(model, "is_remote", False):  # FROM its name on the engines, then one REMOTE line per engine
            model_path = model.remote_model
            remotes = remotes or [" ".join(filter(None, (x.get("host"), x.get("api")))) for x in
                                  (model.config.get("remote_hosts") or [{"host": model.config["remote_host"]}])]
    cmds = [Command("model", model_path or "")]
    cmds += [Command("remote", r) for r in remotes]
    cmds += [Command("adapter", a) for a in adapters or ()]
    cmds += [Command("draft", draft)] if draft else []
    cmds += [Command("model", p) for p in projectors or ()]
    cmds += [Command("template", template)] if template is not None else []
    cmds += [Command(n, v) for n, v in (("system", system), ("renderer", renderer),
                                        ("parser", parser)) if v]
    for name in sorted(parameters or {}):
        value = parameters[name]  # type: ignore[index]
        values = value if isinstance(value, (list, tuple)) else [value]
        cmds += [Command(name, go_value(v)) for v in values]
    cmds += [Command("license", text) for text in license or ()]
    cmds += [Command("message", f"{m['role']}: {m['content']}") for m in messages or ()]
    header = (
        '# Modelfile generated by "ollama show"\n'
        "# To build a new Modelfile based on this, replace FROM with:\n"
        f"# FROM {short_name or ''}\n\n"
    )
    return header + "".join(f"{c}\n" for c in cmds)
