"""Ship the built JupyterLab extension and widget modules in the wheel, and refuse to build a wheel without them.

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
        widgets = Path(self.root, "jupyter_ollama", "widgets", "static")
        bundles = [widgets / f"{name}.js" for name in ("chat", "gpu", "pull")]
        if not all(bundle.is_file() for bundle in bundles):
            raise RuntimeError(f"the widgets' front-end is not built ({widgets}/*.js): run `make labextension` before building a wheel")
        for bundle in bundles:  # build output, so not in git: included by name
            build_data["force_include"][str(bundle)] = f"jupyter_ollama/widgets/static/{bundle.name}"
        build_data["shared_data"][str(built)] = LABEXTENSION
        build_data["shared_data"][str(Path(self.root, "labextension", "install.json"))] = f"{LABEXTENSION}/install.json"
