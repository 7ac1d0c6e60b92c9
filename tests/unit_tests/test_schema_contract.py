"""The committed JSON Schema is the contract: the worker's verdict equals the schema's.

Cases come from the committed files, read with json (tests/schema_cases.py); the verdict to
match is an independent JSON Schema 2020-12 validator with ``format`` asserted
(tests/schema_reference.py). Accepted events must also carry the values the descriptions
document (lower-case event_id, event time in UTC ms, the exact amount) and be refused on
another type's topic. The rules JSON Schema cannot express (event time from 2000 on, not
too far in the future) are tested apart, against what the descriptions and
docs/data-model.md state. Every input is fixed: "now" is NOW, never the clock.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import FormatChecker

from dxpulse.schemas.flat import AMOUNT, EVENT_ID, EVENT_MS, FlatEvent
from dxpulse.schemas.validation import REJECTION_CODES, EventValidator, Rejection
from tests.format_suite import SUITE_DATE_TIMES, SUITE_UUIDS
from tests.schema_cases import Case, SchemaCases
from tests.schema_reference import (
    committed_schemas,
    date_time_parts,
    documented_event_ms,
    is_date_time,
    is_uuid,
    read_exact,
    reference,
)

# A fixed "now" (a Tuesday noon), after every valid time the cases use.
NOW = datetime(2024, 3, 12, 12, 0, tzinfo=UTC)
VALIDATOR = EventValidator()
CTX = VALIDATOR.context(now=NOW)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
EVENT_TYPES = tuple(sorted(committed_schemas()))
SCHEMA_ROOT = Path(__file__).resolve().parents[2]


GENERATORS = {t: SchemaCases(t, committed_schemas()) for t in EVENT_TYPES}
CASES = [case for generator in GENERATORS.values() for case in generator.build()]
CATEGORIES = sorted({(c.event_type, c.category) for c in CASES})


# -- the reference itself follows the specification ---------------------------------------
@pytest.mark.parametrize(("text", "valid"), SUITE_DATE_TIMES.items())
def test_reference_date_time_follows_the_official_suite(text: str, valid: bool) -> None:
    assert is_date_time(text) is valid


@pytest.mark.parametrize(("text", "valid"), SUITE_UUIDS.items())
def test_reference_uuid_follows_the_official_suite(text: str, valid: bool) -> None:
    assert is_uuid(text) is valid


def test_jsonschemas_own_format_checkers_would_not_do() -> None:
    """Why the reference brings its own: jsonschema's date-time checks nothing without the
    optional rfc3339-validator, and its uuid goes through uuid.UUID (strips all hyphens)."""
    builtin = FormatChecker()
    checks_nothing = builtin.conforms("not a date-time", "date-time")
    rejects_a_leap_second = not builtin.conforms("2016-12-31T23:59:60Z", "date-time")
    assert checks_nothing or rejects_a_leap_second
    assert is_date_time("2016-12-31T23:59:60Z") and not is_date_time("not a date-time")
    assert builtin.conforms("2eb8aa08-aa98-11ea-b4aa-73b441d16380-", "uuid")
    assert not is_uuid("2eb8aa08-aa98-11ea-b4aa-73b441d16380-")


def test_reference_patterns_anchor_like_ecma_262() -> None:
    province = committed_schemas()["online_payment"]["properties"]["province_code"]["pattern"]
    assert re.search(province, "01\n"), "Python's $ matches before a final newline ..."
    errors = reference("online_payment").errors(
        orjson.dumps({**_valid_event("online_payment"), "province_code": "01\n"})
    )
    assert any("ECMA-262" in e for e in errors), errors  # ... the reference's does not


@pytest.mark.parametrize(
    ("text", "integer"),
    [("1", True), ("1.0", True), ("1e3", True), ("-0", True), ("10e-1", True),
     ("1.0000000000000001", False), ("1.5", False), ("1e-400", False), ("true", False)],
)  # fmt: skip
def test_reference_reads_numbers_exactly(text: str, integer: bool) -> None:
    value = read_exact(text.encode())
    is_integer = isinstance(value, Decimal) and value == value.to_integral_value()
    assert is_integer is integer


# -- worker verdict = schema verdict ------------------------------------------------------
def _valid_event(event_type: str) -> dict[str, Any]:
    base = next(c for c in CASES if c.event_type == event_type and c.category == "base")
    event: dict[str, Any] = orjson.loads(base.payload)
    return event


def _disagreement(case: Case) -> str | None:
    """Why the worker and the schema disagree on ``case``, or None when they agree."""
    errors = reference(case.event_type).errors(case.payload)
    result = VALIDATOR.validate_flat(case.payload, case.event_type, CTX)
    if isinstance(result, Rejection):
        if result.code not in REJECTION_CODES or not result.reason.strip():
            return f"rejection without a code and a reason: {result}"
        if len(result.reason.splitlines()) != 1:
            return f"reason is not one line: {result.reason!r}"
        return None if errors else f"schema accepts, worker rejects: {result.reason}"
    if errors:
        return f"schema rejects ({errors[0]}), worker accepts"
    return _value_mismatch(case, result)


def _value_mismatch(case: Case, flat: FlatEvent) -> str | None:
    """The accepted values as the schemas' descriptions document them."""
    instance = read_exact(case.payload)
    expected = (
        instance["event_id"].lower(),
        documented_event_ms(instance["event_time"]),
        int(instance["amount_vnd"]),
    )
    got = (flat[EVENT_ID], flat[EVENT_MS], flat[AMOUNT])
    if got != expected:
        return f"stored {got}, documented {expected}"
    for other in EVENT_TYPES:
        if other != case.event_type:
            wrong = VALIDATOR.validate_flat(case.payload, other, CTX)
            if not isinstance(wrong, Rejection) or wrong.code != "wrong_topic":
                return f"on the {other} topic: {wrong}"
    return None


@pytest.mark.parametrize(("event_type", "category"), CATEGORIES)
def test_worker_verdict_equals_schema_verdict(event_type: str, category: str) -> None:
    cases = [c for c in CASES if (c.event_type, c.category) == (event_type, category)]
    disagreements = [(c.label, why) for c in cases if (why := _disagreement(c)) is not None]
    assert not disagreements, (
        f"{len(disagreements)} of {len(cases)} cases disagree:\n"
        + "\n".join(f"  {label}: {why}" for label, why in disagreements)
    )


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_random_combinations_of_the_derived_values_agree(data: st.DataObject) -> None:
    """On top of the one-change cases: several fields changed at once, each to a value some
    case gave it, some fields dropped."""
    event_type = data.draw(st.sampled_from(EVENT_TYPES))
    generator = GENERATORS[event_type]
    members = dict(generator.base())
    for _ in range(data.draw(st.integers(2, 4))):
        name = data.draw(st.sampled_from(sorted(generator.pool)))
        if data.draw(st.integers(0, 5)) == 0:
            members.pop(name, None)
        else:
            members[name] = data.draw(st.sampled_from(generator.pool[name]))
    case = Case(event_type, "random", "", generator.payload(list(members.items()), "random"))
    assert _disagreement(case) is None, case.payload


# -- the cases mean something ------------------------------------------------------------
def test_cases_are_many_and_both_valid_and_invalid() -> None:
    verdicts = Counter(
        (c.event_type, "valid" if not reference(c.event_type).errors(c.payload) else "invalid")
        for c in CASES
    )
    print(f"\nschema-contract cases: {len(CASES)}", dict(sorted(verdicts.items())))
    for event_type in EVENT_TYPES:
        assert verdicts[(event_type, "valid")] >= 100, event_type
        assert verdicts[(event_type, "invalid")] >= 300, event_type


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_base_event_and_every_enum_value_are_valid_under_the_schema(event_type: str) -> None:
    """Guards the generator: a case meant to be valid that the schema rejects would make
    the comparison test nothing but rejections."""
    for case in CASES:
        if case.event_type == event_type and (
            case.category == "base" or (case.category == "enum" and "=" in case.label)
        ):
            assert reference(event_type).errors(case.payload) == [], case.name


def test_valid_cases_keep_to_the_rules_the_schema_cannot_express() -> None:
    """Every time the schema accepts lies in [2000-01-01, now]: the format cases test the
    format, and the context rules are tested on their own below."""
    earliest_ms = int(EARLIEST.timestamp()) * 1000
    latest_ms = int(NOW.timestamp()) * 1000
    for case in CASES:
        if not reference(case.event_type).errors(case.payload):
            at = documented_event_ms(read_exact(case.payload)["event_time"])
            assert earliest_ms <= at <= latest_ms, case.name


def test_every_spelling_quoted_in_the_issue_is_a_case() -> None:
    quoted = [
        ("mobile_money", "if/then", "kind=cash_in agent_id absent"),
        ("mobile_money", "if/then", "kind=cash_out agent_id null"),
        ("online_payment", "integer", "amount_vnd spelled 34907897.0"),
        ("online_payment", "integer", "amount_vnd spelled 1e3"),
        ("online_payment", "const", "schema_version .0 1.0"),
        ("online_payment", "date-time", "event_time='2016-12-31T23:59:60Z'"),
        ("online_payment", "date-time", "event_time='2024-03-04 10:00:00.000Z'"),
        ("online_payment", "date-time", "event_time='2024-03-04T10:00Z'"),
        ("online_payment", "date-time", "event_time='2024-03-04T17:00:00.000+0700'"),
        ("online_payment", "date-time", "event_time='2024-03-04T10:00:00,000Z'"),
        ("online_payment", "uuid", "event_id 32 hex digits"),
        ("online_payment", "uuid", "event_id braces"),
        ("online_payment", "uuid", "event_id urn:uuid:"),
        ("online_payment", "pattern", "province_code trailing newline"),
    ]
    labels = {(c.event_type, c.category, c.label) for c in CASES}
    assert [q for q in quoted if q not in labels] == []


# -- the rules JSON Schema cannot express, as documented ------------------------------------
def _event_time_description(event_type: str) -> str:
    description: str = committed_schemas()[event_type]["properties"]["event_time"]["description"]
    return description


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_event_time_description_states_the_context_rules(event_type: str) -> None:
    description = _event_time_description(event_type)
    assert "2000-01-01T00:00:00Z" in description
    assert "max_future_skew" in description and "15 minutes" in description


def test_schema_and_docs_state_the_rules_the_schema_cannot_express() -> None:
    docs = (SCHEMA_ROOT / "docs" / "data-model.md").read_text("utf-8")
    rules = docs.split("### Rules the schemas cannot express", 1)[1].split("\n## ", 1)[0]
    for phrase in ("2000-01-01T00:00:00Z", "max_future_skew", "15 minutes", "repeated"):
        assert phrase in rules, phrase
    for schema in committed_schemas().values():
        assert "member name repeated in one JSON object" in schema["description"]


def _verdict(event_type: str, event_time: str, validator: EventValidator, now: datetime) -> Any:
    payload = orjson.dumps({**_valid_event(event_type), "event_time": event_time})
    assert reference(event_type).errors(payload) == [], "the format itself must be valid"
    return validator.validate_flat(payload, event_type, validator.context(now=now))


@pytest.mark.parametrize("event_type", EVENT_TYPES)
@pytest.mark.parametrize(
    ("event_time", "rule"),
    [
        ("2000-01-01T00:00:00Z", None),
        ("2000-01-01T07:00:00+07:00", None),
        ("1999-12-31T23:59:59.999Z", "before 2000-01-01"),
        ("1999-12-31T23:59:59.9999999Z", "before 2000-01-01"),
        ("2000-01-01T06:59:59.999+07:00", "before 2000-01-01"),
        ("1998-12-31T23:59:60Z", "before 2000-01-01"),
        ("0000-01-01T00:00:00Z", "before 2000-01-01"),
        ("0001-01-01T00:00:00+01:00", "before 2000-01-01"),
        ("9999-12-31T23:59:59-01:00", "in the future"),
        ("9999-12-31T23:59:60Z", "in the future"),
    ],
)
def test_rules_the_schema_cannot_express_far_from_now(
    event_type: str, event_time: str, rule: str | None
) -> None:
    result = _verdict(event_type, event_time, VALIDATOR, NOW)
    if rule is None:
        assert not isinstance(result, Rejection), result
    else:
        assert isinstance(result, Rejection), event_time
        assert result.reason.startswith("event_time:") and rule in result.reason, result


@pytest.mark.parametrize("skew", [timedelta(0), timedelta(minutes=15), timedelta(hours=2)])
@pytest.mark.parametrize(
    ("offset", "accepted"),
    [(timedelta(0), True), (timedelta(microseconds=999), True),
     (timedelta(milliseconds=1), False), (timedelta(seconds=1), False)],
)  # fmt: skip
def test_future_skew_is_measured_from_the_validators_now(
    skew: timedelta, offset: timedelta, accepted: bool
) -> None:
    """At most ``max_future_skew`` after "now", compared at the stored millisecond."""
    validator = EventValidator(max_future_skew=skew)
    at = NOW + skew + offset
    text = at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"
    for event_type in EVENT_TYPES:
        result = _verdict(event_type, text, validator, NOW)
        assert isinstance(result, Rejection) is not accepted, (text, result)
        if not accepted:
            assert isinstance(result, Rejection) and "in the future" in result.reason


def test_a_leap_second_at_the_future_limit_is_stored_as_the_last_millisecond() -> None:
    now = datetime(2016, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC)
    validator = EventValidator(max_future_skew=timedelta(0))
    result = _verdict("online_payment", "2016-12-31T23:59:60.5Z", validator, now)
    assert not isinstance(result, Rejection), result
    assert result[EVENT_MS] == int(datetime(2017, 1, 1, tzinfo=UTC).timestamp()) * 1000 - 1


def test_date_time_parts_of_a_leap_second_with_offset() -> None:
    assert date_time_parts("2017-01-01T06:59:60+07:00") == (2017, 1, 1, 6, 59, 60, 420)
