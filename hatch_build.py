"""Ship the built JupyterLab extension in the wheel, and refuse to build a wheel without it.

`jupyter_ollama/labextension/` is build output (`make setup` makes it with npm), so it
is not in git and hatch would leave it out; here it goes into the wheel's data as
`share/jupyter/labextensions/jupyter-ollama/`, where JupyterLab finds it without Node.
An editable install links the build instead (`jupyter labextension develop`, run by
`make setup`), so rebuilds show up without reinstalling.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

LABEXTENSION = "share/jupyter/labextensions/jupyter-ollama"


class LabextensionHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        built = Path(self.root, "jupyter_ollama", "labextension")
        if not (built / "package.json").is_file() or not any((built / "static").glob("remoteEntry.*.js")):
            raise RuntimeError(
                f"the JupyterLab extension is not built ({built} is missing): run `make labextension` "
                "(npm ci and the build in labextension/) before building a wheel"
            )
        build_data["shared_data"][str(built)] = LABEXTENSION
        build_data["shared_data"][str(Path(self.root, "labextension", "install.json"))] = f"{LABEXTENSION}/install.json"
