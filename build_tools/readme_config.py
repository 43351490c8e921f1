"""Write the README's Configuration table from `jupyter_ollama.envconfig.VARIABLES` (`make readme`).

Usage: python build_tools/readme_config.py [--check]

The table is the block of `|` lines that starts with its header row; `--check` changes nothing and exits 1 when
the README's table is not the registry's (tests/test_envconfig.py checks the same).
"""

from __future__ import annotations

import sys
from pathlib import Path

from jupyter_ollama.envconfig import markdown_table

README = Path(__file__).resolve().parents[1] / "README.md"
HEADER = "| variable | trait | default | meaning |"


def table_span(lines: list[str]) -> tuple[int, int]:
    """Where the table is in the README's lines: its header's index, and the index after its last row."""
    start = next((i for i, line in enumerate(lines) if line.rstrip() == HEADER), None)
    if start is None:
        raise SystemExit(f"readme_config: no table starting with {HEADER!r} in {README}")
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return start, end


def written(text: str) -> str:
    lines = text.splitlines(keepends=True)
    start, end = table_span(lines)
    return "".join(lines[:start]) + markdown_table() + "".join(lines[end:])


def main(argv: list[str]) -> int:
    text = README.read_text(encoding="utf-8")
    new = written(text)
    if "--check" in argv:
        if new != text:
            print("readme_config: README.md's Configuration table is not envconfig.VARIABLES': run make readme", file=sys.stderr)
            return 1
        return 0
    if new != text:
        README.write_text(new, encoding="utf-8")
        print(f"readme_config: wrote the Configuration table of {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
