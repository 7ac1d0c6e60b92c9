"""Imports run one way: each layer of dxpulse imports only the layers below it.

The layers (top to bottom: the CLI; the application — bench, report, calibrate, access,
runner, readers, ...; the components streams | producers | dashboards, which do not import
each other; the shared base, dxpulse.core — settings, errors, ...; the contract, schemas,
which the settings take the event types from) are import-linter's contract in
pyproject.toml. grimp, which import-linter builds its graph with, follows the dxpulse/<component>
links, so the components are checked as dxpulse.streams etc. (asserted below), and it sees
imports inside functions too. A module that no layer names would be checked by nothing:
every child of the dxpulse package must appear in one.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp

from tests.wheel import ROOT

COMPONENTS = ("dxpulse.streams", "dxpulse.producers", "dxpulse.schemas", "dxpulse.dashboards")


def _layers() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["type"] == "layers"]
    layers: list[str] = contract["layers"]
    return layers


def _graph() -> grimp.ImportGraph:
    return grimp.build_graph("dxpulse", cache_dir=None)


def test_the_layer_contract_holds() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 kept, 0 broken" in done.stdout


def test_every_module_of_dxpulse_is_in_a_layer() -> None:
    named = {name for layer in _layers() for name in re.split(r"\s*[|:]\s*", layer.strip())}
    assert set(_graph().find_children("dxpulse")) == named


def test_the_graph_follows_the_component_links() -> None:
    graph = _graph()
    for component in COMPONENTS:
        assert len(graph.find_children(component)) >= 5, component
    assert graph.direct_import_exists(
        importer="dxpulse.streams.ingest", imported="dxpulse.core.config"
    )


def test_the_components_sit_between_the_application_and_the_base() -> None:
    layers = _layers()
    components = next(i for i, layer in enumerate(layers) if "dxpulse.streams" in layer)
    assert layers[components].replace(" ", "").split("|") == [
        "dxpulse.streams", "dxpulse.producers", "dxpulse.dashboards",
    ]  # fmt: skip
    assert "dxpulse.report" in layers[components - 1]
    assert layers[components - 3 : components - 1] == ["dxpulse.cli", "dxpulse.commands"]
    assert layers[components + 1].startswith("dxpulse.core")
    assert layers[-1] == "dxpulse.schemas"


def test_the_architecture_module_table_names_every_module() -> None:
    # docs/architecture.md, "Modules": each module by its file name (a row may abbreviate
    # `streams/sink.py` to `sink.py` after its first path), or its whole folder
    # (`dxpulse/bench/`); each package by some path in it.
    text = (ROOT / "docs/architecture.md").read_text("utf-8")
    named = set(re.findall(r"`([^`]+)`", text[text.index("## Modules") : text.index("### Layers")]))
    files = {Path(n).name for n in named if n.endswith(".py")}
    folders = {n.removeprefix("dxpulse/") for n in named if n.endswith("/")}
    paths = {n.removeprefix("dxpulse/") for n in named}

    def covered(module: str) -> bool:
        parts = module.split(".")[1:]
        if (ROOT / "dxpulse" / Path(*parts)).is_dir():
            return any(p.startswith("/".join(parts) + "/") for p in paths)
        return f"{parts[-1]}.py" in files or "/".join(parts[:-1]) + "/" in folders

    modules = sorted(_graph().modules - {"dxpulse"})
    assert len(modules) > 90
    assert [m for m in modules if not covered(m)] == []
