"""Which GGUF file of a Hugging Face repo a tag names, and the repo's file list.

`hf.co/<user>/<repo>:<tag>`: the tag is a quantization (`Q4_K_M`, `iq4_xs`,
case-insensitive) or a file name (`model-Q8_0.gguf`); `latest` (no tag) means
Q4_K_M when the repo has it, else the first quantization of a preference list,
else the repo's only (or first) GGUF. Projector files (`mmproj…`) are never the
model: a repo that has one gets it as the model's projector, as hf.co's registry adds it
(F16 first where there are several). Split GGUFs (`…-00001-of-00003.gguf`) are refused with a clear message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import OllamaError

QUANT_PREFERENCE = (
    "Q4_K_M", "Q4_K_S", "Q4_0", "Q4_1", "IQ4_XS", "IQ4_NL", "Q5_K_M", "Q5_K_S", "Q5_0", "Q5_1",
    "Q6_K", "Q8_0", "Q3_K_M", "Q3_K_L", "Q3_K_S", "IQ3_M", "Q2_K", "BF16", "F16", "F32",
)
_QUANT = re.compile(r"(?<![A-Za-z0-9])(I?Q[1-8](?:_[A-Za-z0-9]+)*|BF16|F16|F32)(?![A-Za-z0-9])", re.I)
SPLIT = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.I)
SIDE_FILES = ("template", "system", "params")  # repo files that become layers, as hf.co serves them


@dataclass(frozen=True)
class RepoFile:
    name: str  # path inside the repo
    size: int | None = None
    sha256: str | None = None  # LFS sha256 (hex) when the Hub reported it

    @property
    def basename(self) -> str:
        return PurePosixPath(self.name).name

    @property
    def quant(self) -> str | None:
        found = _QUANT.findall(self.basename[: -len(".gguf")] if self.is_gguf else self.basename)
        return found[-1].upper() if found else None

    @property
    def is_gguf(self) -> bool:
        return self.name.lower().endswith(".gguf") and "mmproj" not in self.basename.lower()

    @property
    def is_projector(self) -> bool:
        return self.name.lower().endswith(".gguf") and "mmproj" in self.basename.lower()

    @property
    def split(self) -> tuple[int, int] | None:
        match = SPLIT.search(self.name)
        return (int(match.group(1)), int(match.group(2))) if match else None


def pick_gguf(files: list[RepoFile], tag: str, repo_id: str) -> RepoFile:
    """The file `tag` names; OllamaError (pull model manifest: …) when there is none."""
    ggufs = sorted((f for f in files if f.is_gguf), key=lambda f: f.name)
    if not ggufs:
        raise OllamaError(f"pull model manifest: file does not exist: {repo_id} has no GGUF files")
    wanted = tag.lower()
    if wanted.endswith(".gguf"):
        matches = [f for f in ggufs if wanted in (f.name.lower(), f.basename.lower())]
    elif wanted == "latest":
        matches = next(([f for f in ggufs if f.quant == q] for q in QUANT_PREFERENCE if any(f.quant == q for f in ggufs)), ggufs)
    else:
        matches = [f for f in ggufs if f.quant == tag.upper()]
        if not matches:  # a tag that is part of the name without being a known quant shape (`UD-Q4_K_XL`)
            token = re.compile(rf"(?<![A-Za-z0-9]){re.escape(tag)}(?![A-Za-z0-9])", re.I)
            matches = [f for f in ggufs if token.search(f.basename)]
    if not matches:
        available = sorted({f.quant or f.basename for f in ggufs})
        raise OllamaError(
            f'pull model manifest: file does not exist: no GGUF file for "{tag}" in {repo_id} '
            f"(available: {', '.join(available)})"
        )
    whole = [f for f in matches if f.split is None]
    if not whole:
        first = matches[0]
        parts = first.split[1] if first.split else 0
        raise OllamaError(
            f"{first.name} is part of a split GGUF ({parts} parts), which is not supported: "
            "merge the parts with `llama-gguf-split --merge` and create the model from the merged file"
        )
    return min(whole, key=lambda f: (len(f.basename), f.name))


PROJECTOR_PREFERENCE = ("F16", "BF16", "Q8_0", "F32")


def pick_projector(files: list[RepoFile]) -> RepoFile | None:
    """The repo's multimodal projector, if it has one: F16 (then BF16, Q8_0, F32) where it has several."""
    found = sorted((f for f in files if f.is_projector and f.split is None), key=lambda f: (len(f.basename), f.name))
    rank = {q: i for i, q in enumerate(PROJECTOR_PREFERENCE)}
    return min(found, key=lambda f: rank.get(f.quant or "", len(rank)), default=None)


def side_files(files: list[RepoFile]) -> list[RepoFile]:
    """The repo-root `template`, `system` and `params` files, in that order."""
    by_name = {f.name: f for f in files}
    return [by_name[name] for name in SIDE_FILES if name in by_name]


def cached_listing(cache_dir: Path, repo_id: str) -> tuple[str, list[RepoFile]] | None:
    """(commit, files) of the cached snapshot of `main`, else of the newest snapshot; or None."""
    folder = Path(cache_dir) / ("models--" + repo_id.replace("/", "--"))
    ref = folder / "refs" / "main"
    commit = ref.read_text().strip() if ref.is_file() else ""
    snapshot = folder / "snapshots" / commit
    if not commit or not snapshot.is_dir():
        snapshots = sorted((p for p in (folder / "snapshots").glob("*") if p.is_dir()), key=lambda p: p.stat().st_mtime)
        if not snapshots:
            return None
        snapshot, commit = snapshots[-1], snapshots[-1].name
    files = [RepoFile(p.relative_to(snapshot).as_posix()) for p in sorted(snapshot.rglob("*")) if p.is_file()]
    return commit, files
