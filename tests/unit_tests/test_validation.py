"""EventValidator: every bad message becomes a Rejection with a code and a reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dxpulse.schemas.events import Envelope, MobileMoney, OnlinePayment
from dxpulse.schemas.flat import FLAT_FIELDS
from dxpulse.schemas.validation import REJECTION_CODES, EventValidator, Rejection
from tests.unit_tests.conftest import VALID_SAMPLES


def _without(event: dict, field: str) -> dict:
    return {k: v for k, v in event.items() if k != field}


def _reject(validator, payload, ctx, **kwargs) -> Rejection:
    result = validator.validate(payload, context=ctx, **kwargs)
    assert isinstance(result, Rejection), f"accepted: {result!r}"
    assert result.code in REJECTION_CODES
    return result


def test_valid_sample_is_accepted(validator, sample, ctx):
    event = validator.validate(orjson.dumps(sample()), context=ctx)
    assert isinstance(event, OnlinePayment)


def test_expected_type_that_matches_is_accepted(validator, sample, ctx):
    payload = orjson.dumps(sample("mobile_money"))
    event = validator.validate(payload, expected_type="mobile_money", context=ctx)
    assert isinstance(event, MobileMoney)


@pytest.mark.parametrize(
    ("case", "build", "field"),
    [
        ("string amount", lambda s: s(amount_vnd="100"), "amount_vnd"),
        ("float amount", lambda s: s(amount_vnd=100.5), "amount_vnd"),
        ("boolean amount", lambda s: s(amount_vnd=True), "amount_vnd"),
        ("numeric province", lambda s: s(province_code=79), "province_code"),
        ("unknown province", lambda s: s(province_code="00"), "province_code"),
        ("negative amount", lambda s: s(amount_vnd=-1), "amount_vnd"),
        ("missing field", lambda s: _without(s(), "status"), "status"),
        ("extra field", lambda s: s(loyalty_points=5), "loyalty_points"),
        ("before 2000", lambda s: s(event_time="1999-12-31T23:59:59.000Z"), "event_time"),
        ("naive time", lambda s: s(event_time="2024-03-04T10:00:00"), "event_time"),
        ("epoch number time", lambda s: s(event_time=1709546400), "event_time"),
        ("bad uuid", lambda s: s(event_id="not-a-uuid"), "event_id"),
        ("unknown status", lambda s: s(status="ok"), "status"),
        ("schema version 2", lambda s: s(schema_version=2), "schema_version"),
        ("bad customer id", lambda s: s(customer_id="a b"), "customer_id"),
        ("trailing newline", lambda s: s(province_code="79\n"), "province_code"),
        ("wrong method", lambda s: s(method="cash"), "method"),
        ("uppercase provider", lambda s: s(provider="Vietcombank"), "provider"),
        (
            "cash_out without agent",
            lambda s: s("mobile_money", agent_id=None),
            "agent_id",
        ),
        (
            "cash_in without agent key",
            lambda s: _without(s("mobile_money", kind="cash_in"), "agent_id"),
            "agent_id",
        ),
    ],
)
def test_invalid_event_names_the_field(validator, sample, ctx, case, build, field):
    rejection = _reject(validator, orjson.dumps(build(sample)), ctx)
    assert rejection.code == "invalid_event", case
    assert field in rejection.reason, case


def test_unknown_province_reason_quotes_the_code(validator, sample, ctx):
    rejection = _reject(validator, orjson.dumps(sample(province_code="00")), ctx)
    assert rejection.reason == "province_code: unknown province code '00'"


def test_event_two_days_in_the_future_is_rejected(validator, sample, ctx):
    future = ctx["now"] + timedelta(days=2)
    payload = orjson.dumps(sample(event_time=future.isoformat()))
    rejection = _reject(validator, payload, ctx)
    assert rejection.code == "invalid_event"
    assert rejection.reason.startswith("event_time:")
    assert "in the future" in rejection.reason


def test_future_check_uses_the_real_clock_by_default(validator, sample):
    future = datetime.now(UTC) + timedelta(days=2)
    result = validator.validate(orjson.dumps(sample(event_time=future.isoformat())))
    assert isinstance(result, Rejection)
    assert "event_time" in result.reason
    recent = datetime.now(UTC) - timedelta(minutes=1)
    assert isinstance(
        validator.validate(orjson.dumps(sample(event_time=recent.isoformat()))), Envelope
    )


def test_max_future_skew_is_configurable(sample):
    strict = EventValidator(max_future_skew=timedelta(0))
    now = datetime(2024, 3, 4, 10, 0, tzinfo=UTC)
    ctx = strict.context(now=now)
    assert (ctx["now"], ctx["max_future_skew"]) == (now, timedelta(0))
    on_time = orjson.dumps(sample(event_time="2024-03-04T10:00:00.000Z"))
    one_ms_late = orjson.dumps(sample(event_time="2024-03-04T10:00:00.001Z"))
    assert isinstance(strict.validate(on_time, context=ctx), Envelope)
    assert "event_time" in _reject(strict, one_ms_late, ctx).reason
    # The fast path draws the same line, to the millisecond.
    assert isinstance(strict.validate_flat(on_time, context=ctx), tuple)
    late = strict.validate_flat(one_ms_late, context=ctx)
    assert isinstance(late, Rejection) and "event_time" in late.reason


@pytest.mark.parametrize("payload", [b"", None])
def test_empty_payload(validator, ctx, payload):
    rejection = _reject(validator, payload, ctx)
    assert rejection == Rejection("empty", "message has no value")


@pytest.mark.parametrize("payload", [b"{not json", b"   ", b"\xff\xfe", b'{"a": 1} {}', b"nul"])
def test_not_json(validator, ctx, payload):
    rejection = _reject(validator, payload, ctx)
    assert rejection.code == "invalid_json"
    assert rejection.reason.startswith("not valid JSON")


def test_too_large_payload_is_rejected_before_parsing(sample, ctx):
    small = EventValidator(max_bytes=256)
    payload = orjson.dumps(sample(customer_id="x" * 300))
    rejection = _reject(small, payload, ctx)
    assert rejection.code == "too_large"
    assert str(len(payload)) in rejection.reason
    assert "256" in rejection.reason


def test_payload_of_exactly_max_bytes_is_not_too_large(sample, ctx):
    payload = orjson.dumps(sample())
    exact = EventValidator(max_bytes=len(payload))
    assert isinstance(exact.validate(payload, context=ctx), Envelope)
    assert _reject(EventValidator(max_bytes=len(payload) - 1), payload, ctx).code == "too_large"


def test_default_size_limit_is_64_kib(validator, sample, ctx):
    payload = orjson.dumps(sample(customer_id="x" * 70_000))
    assert len(payload) > 64 * 1024
    assert _reject(validator, payload, ctx).code == "too_large"


def test_wrong_topic(validator, sample, ctx):
    rejection = _reject(validator, orjson.dumps(sample()), ctx, expected_type="mobile_money")
    assert rejection.code == "wrong_topic"
    assert "event_type" in rejection.reason
    assert "'online_payment'" in rejection.reason
    assert "'mobile_money'" in rejection.reason


@pytest.mark.parametrize("payload", [b"[1, 2, 3]", b"[]", b'"hello"', b"42", b"null", b"true"])
def test_json_that_is_not_an_object(validator, ctx, payload):
    rejection = _reject(validator, payload, ctx)
    assert rejection.code == "invalid_event"
    assert "object" in rejection.reason


def test_array_of_valid_events_is_rejected(validator, sample, ctx):
    rejection = _reject(validator, orjson.dumps([sample(), sample()]), ctx)
    assert rejection.code == "invalid_event"


@pytest.mark.parametrize(
    "payload",
    [b"[" * 5_000 + b"]" * 5_000, b'{"a":' * 400 + b"1" + b"}" * 400],
    ids=["deep array", "deep object"],
)
def test_deeply_nested_garbage(validator, ctx, payload):
    rejection = _reject(validator, payload, ctx)
    assert rejection.code in ("invalid_json", "invalid_event")
    assert len(rejection.reason) <= 500


def test_nested_garbage_inside_a_field(validator, sample, ctx):
    rejection = _reject(validator, orjson.dumps(sample(amount_vnd={"a": [1, {"b": None}]})), ctx)
    assert rejection.code == "invalid_event"
    assert "amount_vnd" in rejection.reason


def test_unknown_event_type(validator, sample, ctx):
    rejection = _reject(validator, orjson.dumps(sample(event_type="refund")), ctx)
    assert rejection.code == "invalid_event"
    assert "'refund'" in rejection.reason


def test_missing_event_type(validator, sample, ctx):
    rejection = _reject(validator, orjson.dumps(_without(sample(), "event_type")), ctx)
    assert rejection.code == "invalid_event"
    assert "event_type" in rejection.reason


def test_many_errors_are_summarised(validator, sample, ctx):
    bad = sample(amount_vnd="x", status="y", area="z", channel="q", method="r")
    rejection = _reject(validator, orjson.dumps(bad), ctx)
    assert rejection.reason.count(": ") == 3  # three errors are spelled out ...
    assert rejection.reason.endswith("and 2 more")  # ... the rest counted
    assert len(rejection.reason) <= 500


def test_long_reason_is_clipped(validator, sample, ctx):
    rejection = _reject(validator, orjson.dumps(sample(**{"x" * 600: 1})), ctx)
    assert len(rejection.reason) == 500
    assert rejection.reason.endswith("…")


@pytest.mark.parametrize(
    "overrides",
    [{"area\n": 1}, {"event_type": "mobile_money\r\n"}, {"event_id": "x\u2028y"}, {"a\x00": 1}],
)
def test_reason_is_one_line_whatever_the_event_quotes(validator, sample, ctx, overrides):
    rejection = _reject(validator, orjson.dumps(sample(**overrides)), ctx)
    assert len(rejection.reason.splitlines()) == 1, rejection.reason
    assert rejection.reason.isprintable()


def _spelled(event: dict, field: str, number: str) -> bytes:
    """The event as JSON with ``field`` written exactly as ``number``."""
    return orjson.dumps({**event, field: "<n>"}).replace(b'"<n>"', number.encode())


@pytest.mark.parametrize(
    ("field", "number", "value"),
    [
        ("amount_vnd", "34907897.0", 34907897),
        ("amount_vnd", "1e3", 1000),
        ("amount_vnd", "1E+3", 1000),
        ("amount_vnd", "1.5e1", 15),
        ("amount_vnd", "10000000000000.000", 10**13),
        ("amount_vnd", "-0", 0),
        ("amount_vnd", "-0.0", 0),
        ("schema_version", "1.0", 1),
        ("schema_version", "10e-1", 1),
    ],
)
def test_integral_numbers_are_integers_however_spelled(
    validator, sample, ctx, field, number, value
):
    """JSON Schema's integer is a value: 1e3 and 1000.0 are the integer 1000."""
    flat = validator.validate_flat(_spelled(sample(), field, number), context=ctx)
    assert not isinstance(flat, Rejection), flat
    assert flat[FLAT_FIELDS.index(field)] == value
    assert type(flat[FLAT_FIELDS.index(field)]) is int


@pytest.mark.parametrize(
    ("field", "number"),
    [
        ("amount_vnd", "34907897.5"),
        ("amount_vnd", "1.0000000000000001"),  # a double rounds it to 1
        ("amount_vnd", "150000.00000000000000000000001"),
        ("amount_vnd", "1e-400"),  # a double rounds it to 0
        ("amount_vnd", "1e400"),  # an integer, above the maximum
        ("amount_vnd", "10000000000000.5"),
        ("amount_vnd", "-1e0"),
        ("schema_version", "1.0000000000000001"),
        ("schema_version", "1.5"),
        ("schema_version", "true"),
    ],
)
def test_non_integral_or_out_of_range_numbers_are_rejected(
    validator, sample, ctx, field, number
):
    result = validator.validate_flat(_spelled(sample(), field, number), context=ctx)
    assert isinstance(result, Rejection)
    assert result.code == "invalid_event"
    assert result.reason.startswith(f"{field}:"), result.reason


@pytest.mark.parametrize("payload", [b'{"a": NaN}', b'{"a": -Infinity}', b"\xef\xbb\xbf{}"])
def test_what_python_reads_but_json_does_not_have_is_not_json(validator, ctx, payload):
    rejection = _reject(validator, payload, ctx)
    assert rejection.code == "invalid_json"


def test_boolean_schema_version_is_rejected(validator, sample, ctx):
    rejection = _reject(validator, orjson.dumps(sample(schema_version=True)), ctx)
    assert "schema_version" in rejection.reason


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2_000))
def test_arbitrary_bytes_never_raise(payload):
    result = EventValidator().validate(payload)
    assert isinstance(result, Envelope | Rejection)
    if isinstance(result, Rejection):
        assert result.code in REJECTION_CODES
        assert result.reason


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(
    field=st.sampled_from(["amount_vnd", "event_time", "province_code", "area", "kind"]),
    value=_json_values,
)
def test_any_json_in_a_field_gives_event_or_named_rejection(field, value):
    base = VALID_SAMPLES["mobile_money"]
    result = EventValidator().validate(orjson.dumps({**base, field: value}))
    if isinstance(result, Rejection):
        assert result.code == "invalid_event"
        assert field in result.reason or "agent_id" in result.reason
    else:
        assert getattr(result, field) is not None
