"""The event contract is written once: the list of event types, and each event's fields.

``schemas/events.py`` defines the event types (``EventType``) and the models; everything else
(settings, topics, the generator's mix, dashboards, the msgspec fast path, the raw table's
columns) derives from it. These tests fail when a second copy appears, when a derived table
drifts from the models, and when the schemas start importing what sits above them.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from dxpulse.core import config
from dxpulse.dashboards import overview
from dxpulse.schemas import events
from dxpulse.schemas.events import EVENT_TYPES, MODELS
from dxpulse.schemas.flat import ENVELOPE_FIELDS, FLAT_FIELDS
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


# --- a new field: the contract and nothing else -------------------------------------------
# A child process adds an optional field to the online_payment model, and its distribution
# to the generator's calibration, before anything reads them, as an edit of
# schemas/events.py and producers/calibration.py would. It reports what the fast path,
# the slow path and the raw table's columns make of events with and without the field, and
# what both generator paths write.
WITH_A_NEW_FIELD = """
import json, sys
from typing import Literal

import orjson
from pydantic import ValidationError

from dxpulse.schemas import events

class OnlinePayment(events.OnlinePayment):
    device: Literal["ios", "android"] | None = None

events.MODELS["online_payment"] = OnlinePayment
from dxpulse.producers import calibration
calibration.FIELD_WEIGHTS["online_payment"] = {"device": {"ios": 1.0, "android": 3.0}}

from datetime import UTC, datetime
from dxpulse.producers.generator import EventGenerator
from dxpulse.schemas.fast import decode_flat
from dxpulse.schemas.flat import FLAT_FIELDS, flatten
from dxpulse.schemas.validation import EventValidator
from dxpulse.streams.rows import EVENT_COLUMNS, TYPE_COLUMNS, event_columns
from tests.unit_tests.conftest import NOW, VALID_SAMPLES

ctx = EventValidator().context(now=NOW)
out = {"flat_fields": FLAT_FIELDS, "type_columns": TYPE_COLUMNS, "cases": {}}
for name, device in [("ios", "ios"), ("null", None), ("absent", ...), ("bad", "nokia")]:
    event = dict(VALID_SAMPLES["online_payment"])
    if device is not ...:
        event["device"] = device
    payload = orjson.dumps(event)
    quick = decode_flat(payload, "online_payment", ctx["max_event_us"])
    try:
        slow = flatten(OnlinePayment.model_validate_json(payload, context=ctx))
    except ValidationError:
        slow = None
    columns = None
    if quick is not None:
        table = event_columns([quick], 0, [0], [0])
        columns = {c: v[0] for c, v in zip(EVENT_COLUMNS, table, strict=True)}
    out["cases"][name] = {"quick": quick, "slow": slow, "columns": columns}

# Both generator paths, checked by the slow and the fast path.
generator, at = EventGenerator(seed=3, event_types=["online_payment"]), NOW
one_by_one = [orjson.dumps(generator.event(at)) for _ in range(200)]
batched = [v for chunk in generator.batch(at, 2_000) for v in chunk.values]
at_device = FLAT_FIELDS.index("device")
for path, payloads in (("event", one_by_one), ("batch", batched)):
    quick = [decode_flat(p, "online_payment", ctx["max_event_us"]) for p in payloads]
    slow = [flatten(OnlinePayment.model_validate_json(p, context=ctx)) for p in payloads]
    devices = sorted({f[at_device] for f in slow})
    out[path] = {"agree": quick == slow, "devices": devices}
print(json.dumps(out))
"""


def _child(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_a_new_optional_field_needs_no_edit_beyond_the_model_and_its_distribution():
    done = _child(WITH_A_NEW_FIELD)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert "device" not in FLAT_FIELDS
    assert [f for f in out["flat_fields"] if f != "device"] == list(FLAT_FIELDS)
    assert out["type_columns"] == out["flat_fields"][len(ENVELOPE_FIELDS) :]
    at = out["flat_fields"].index("device")
    cases = out["cases"]
    for name, stored in [("ios", "ios"), ("null", ""), ("absent", "")]:
        case = cases[name]
        assert case["quick"] is not None, name  # the fast path takes it
        assert case["quick"] == case["slow"], name  # and agrees with the model
        assert case["quick"][at] == stored
        assert case["columns"]["device"] == stored
        assert case["columns"]["merchant_category"] == "food_beverage"
    assert cases["bad"] == {"quick": None, "slow": None, "columns": None}
    # The generator draws it from its distribution in calibration.py, on both paths.
    for path in ("event", "batch"):
        assert out[path] == {"agree": True, "devices": ["android", "ios"]}, path


def test_a_field_the_fast_path_cannot_check_stops_the_import():
    """A kind of field the fast path has no check for fails loudly, not silently slow."""
    done = _child(
        "from dxpulse.schemas import events\n"
        "class OnlinePayment(events.OnlinePayment):\n"
        "    device_count: int = 0\n"
        "events.MODELS['online_payment'] = OnlinePayment\n"
        "import dxpulse.schemas.fast\n"
    )
    assert done.returncode != 0
    assert "Unexpressed: online_payment.device_count: the fast path" in done.stderr


def test_a_cross_field_rule_the_fast_path_does_not_know_stops_the_import():
    done = _child(
        "from pydantic import model_validator\n"
        "from dxpulse.schemas import events\n"
        "class EcommerceOrder(events.EcommerceOrder):\n"
        "    @model_validator(mode='after')\n"
        "    def _cod_is_placed(self):\n"
        "        return self\n"
        "events.MODELS['ecommerce_order'] = EcommerceOrder\n"
        "import dxpulse.schemas.fast\n"
    )
    assert done.returncode != 0
    assert "ecommerce_order: add rules {'_cod_is_placed'} to schemas/fast.py" in done.stderr


def test_a_pattern_the_two_regex_engines_could_read_differently_stops_the_import():
    """The fast path runs the models' patterns with Python's re, pydantic with Rust regex:
    a class like \\d (Unicode digits in both, but not provably the same set) is refused."""
    done = _child(
        "from typing import Annotated\n"
        "from pydantic import Field\n"
        "from dxpulse.schemas import events\n"
        "class EcommerceOrder(events.EcommerceOrder):\n"
        "    shop: Annotated[str, Field(pattern=r'^\\d{4}$')] | None = None\n"
        "events.MODELS['ecommerce_order'] = EcommerceOrder\n"
        "import dxpulse.schemas.fast\n"
    )
    assert done.returncode != 0
    assert "Unexpressed: ecommerce_order.shop: the fast path reads patterns" in done.stderr
