"""JSON Schema export: the committed files match the models, and they accept real events."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import orjson
import pytest

from dxpulse.producers.generator import EventGenerator
from dxpulse.schemas.events import MODELS
from dxpulse.schemas.export import JSON_DIR, export, json_schema, render
from dxpulse.schemas.provinces import province_codes
from dxpulse.schemas.validation import Rejection

EVENT_TYPES = tuple(MODELS)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_committed_schema_matches_the_models(event_type):
    committed = (JSON_DIR / f"{event_type}.schema.json").read_bytes()
    assert committed == render(event_type) + b"\n", (
        f"schemas/json/{event_type}.schema.json is stale: run `dxpulse schemas export`"
    )


def test_no_stray_schema_files_are_committed():
    assert sorted(p.name for p in JSON_DIR.glob("*.schema.json")) == sorted(
        f"{t}.schema.json" for t in EVENT_TYPES
    )


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_schema_header_and_province_enum(event_type):
    schema = json_schema(event_type)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://dxpulse.dev/schemas/{event_type}.schema.json"
    assert schema["properties"]["event_type"]["const"] == event_type
    assert schema["additionalProperties"] is False
    enum = schema["properties"]["province_code"]["enum"]
    assert enum == sorted(province_codes())
    assert len(enum) == 63
    assert {"event_id", "event_time", "amount_vnd", "customer_id"} <= set(schema["required"])
    assert "member name repeated in one JSON object" in schema["description"]


def test_render_is_sorted_and_indented():
    text = render("online_payment").decode()
    parsed = json.loads(text)
    assert text.startswith('{\n  "$id"')
    assert list(parsed) == sorted(parsed)


def test_export_writes_one_file_per_type(tmp_path):
    written = export(tmp_path / "out")
    assert sorted(p.name for p in written) == sorted(f"{t}.schema.json" for t in EVENT_TYPES)
    for path in written:
        assert path.read_bytes() == (JSON_DIR / path.name).read_bytes()


@pytest.fixture(scope="module")
def schema_validators():
    jsonschema = pytest.importorskip("jsonschema")
    out = {}
    for event_type in EVENT_TYPES:
        schema = json.loads((JSON_DIR / f"{event_type}.schema.json").read_text("utf-8"))
        jsonschema.Draft202012Validator.check_schema(schema)
        out[event_type] = jsonschema.Draft202012Validator(schema)
    return out


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_generated_events_validate_against_committed_schema(schema_validators, event_type):
    gen = EventGenerator(seed=7)
    at = datetime(2024, 3, 4, 12, tzinfo=UTC)
    validator = schema_validators[event_type]
    for _ in range(500):
        event = orjson.loads(gen.encode(gen.event(at, event_type=event_type)))
        errors = [e.message for e in validator.iter_errors(event)]
        assert errors == [], event


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"province_code": "00"}, "'00' is not one of"),
        ({"loyalty_points": 1}, "Additional properties"),
        ({"amount_vnd": -5}, "minimum"),
        ({"amount_vnd": "100"}, "not of type 'integer'"),
        ({"event_type": "mobile_money"}, "was expected"),
    ],
)
def test_committed_schema_rejects_what_the_validator_rejects(
    schema_validators, sample, change, fragment
):
    errors = [e.message for e in schema_validators["online_payment"].iter_errors(sample(**change))]
    assert errors, change
    assert any(fragment in m for m in errors), errors


def test_committed_schema_accepts_the_samples(schema_validators, sample):
    for event_type in EVENT_TYPES:
        assert list(schema_validators[event_type].iter_errors(sample(event_type))) == []


@pytest.mark.parametrize("kind", ["cash_in", "cash_out"])
@pytest.mark.parametrize("agent", ["absent", None, "", "ag1400042"])
def test_committed_schema_requires_an_agent_for_cash_kinds(
    schema_validators, sample, validator, ctx, kind, agent
):
    """The schema and the worker agree: cash in/out without a valid agent is invalid."""
    event = sample("mobile_money", kind=kind, agent_id=agent)
    if agent == "absent":
        del event["agent_id"]
    assert list(schema_validators["mobile_money"].iter_errors(event)), (kind, agent)
    assert isinstance(validator.validate(orjson.dumps(event), context=ctx), Rejection)


@pytest.mark.parametrize("kind", ["p2p_transfer", "bill_payment", "merchant_payment", "airtime"])
@pytest.mark.parametrize("agent", ["absent", None, "AG1400042"])
def test_committed_schema_leaves_the_agent_optional_for_other_kinds(
    schema_validators, sample, validator, ctx, kind, agent
):
    event = sample("mobile_money", kind=kind, agent_id=agent)
    if agent == "absent":
        del event["agent_id"]
    assert list(schema_validators["mobile_money"].iter_errors(event)) == [], (kind, agent)
    assert not isinstance(validator.validate(orjson.dumps(event), context=ctx), Rejection)
