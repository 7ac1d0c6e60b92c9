"""The event contract is written once: the list of event types, and each event's fields.

``schemas/events.py`` defines the event types (``EventType``) and the models; everything else
(settings, topics, the generator's mix, dashboards, the flat pre-check, the raw table's
columns) derives from it. These tests fail when a second copy appears, when a derived table
drifts from the models, and when the schemas start importing what sits above them.
"""

from __future__ import annotations

import ast
import json
import subprocess
from pathlib import Path

from dxpulse import config
from dxpulse.dashboards import overview
from dxpulse.schemas import events
from dxpulse.schemas.events import EVENT_TYPES, MODELS
from tests.wheel import ROOT

# Where the list may be written: the contract's EventType, once.
HOME = Path("schemas/events.py")


def _product_files() -> list[Path]:
    """The product's Python files, by their real paths (dxpulse/<component> are links)."""
    listed = subprocess.run(
        ["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return [Path(name) for name in listed if not name.startswith(("tests/", "bin/"))]


def _type_lists(source: str) -> list[int]:
    """Lines of tuple, list or set literals (a ``Literal[...]``'s too) naming every type."""
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            names = {e.value for e in node.elts if isinstance(e, ast.Constant)}
            if set(EVENT_TYPES) <= names:
                found.append(node.lineno)
    return found


def test_the_event_type_list_is_written_once():
    found = {
        path: lines
        for path in _product_files()
        if (lines := _type_lists((ROOT / path).read_text("utf-8")))
    }
    assert list(found) == [HOME], found
    assert len(found[HOME]) == 1


def test_the_scan_sees_a_restated_list():
    """The scan's own check: the literal the overview dashboard used to carry is found."""
    restated = 'for t in ("online_payment", "ecommerce_order", "mobile_money"):\n    pass\n'
    assert _type_lists(restated) == [1]
    assert _type_lists('T = Literal["mobile_money", "online_payment", "ecommerce_order"]') == [1]
    assert _type_lists('T = ("online_payment", "mobile_money")') == []


def test_every_use_takes_the_contract_s_list():
    assert config.EVENT_TYPES is EVENT_TYPES
    assert overview.EVENT_TYPES is EVENT_TYPES
    assert tuple(MODELS) == EVENT_TYPES
    for event_type, model in MODELS.items():
        assert events.values(model.model_fields["event_type"].annotation) == (event_type,)


def test_the_committed_json_schemas_list_the_same_types():
    """The JSON Schemas other producers validate against: one file per type, no other."""
    directory = ROOT / "schemas" / "json"
    files = {p.name.removesuffix(".schema.json"): p for p in directory.glob("*.schema.json")}
    assert sorted(files) == sorted(EVENT_TYPES)
    for event_type, path in files.items():
        schema = json.loads(path.read_text("utf-8"))
        assert schema["properties"]["event_type"]["const"] == event_type


def _dxpulse_imports(path: Path) -> set[str]:
    tree = ast.parse((ROOT / path).read_text("utf-8"), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return {name for name in names if name.split(".")[0] == "dxpulse"}


def test_the_schemas_import_only_the_schemas():
    """The contract sits below the settings that take its list: imports go one way."""
    contract = [p for p in _product_files() if p.parts[0] == "schemas"]
    assert contract
    above = {
        f"{path}: {name}"
        for path in contract
        for name in _dxpulse_imports(path)
        if not name.startswith("dxpulse.schemas")
    }
    assert not above
