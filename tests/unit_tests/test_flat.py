"""The msgspec fast path is a strict subset of the models, and agrees with them on every value.

``validate_flat`` must give exactly what ``validate`` gives (then flattened): the same
events, the same rejections with the same reasons. The fast path (``decode_flat``) may only
decline; where it accepts, the models accept with the identical flat tuple.
"""

from __future__ import annotations

import re
from typing import Any, Literal, get_args, get_origin

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dxpulse.schemas.events import MODELS, values
from dxpulse.schemas.fast import STRUCTS, decode_flat, event_ms_of
from dxpulse.schemas.flat import EVENT_MS, FLAT_FIELDS, flatten
from dxpulse.schemas.validation import EventValidator, Rejection
from tests.unit_tests.conftest import NOW, VALID_SAMPLES

VALIDATOR = EventValidator()
CTX = VALIDATOR.context(now=NOW)
LIMIT_US = CTX["max_event_us"]


def _both(payload: bytes, expected: str | None = None) -> tuple[Any, Any]:
    slow = VALIDATOR.validate(payload, expected, CTX)
    fast = VALIDATOR.validate_flat(payload, expected, CTX)
    return slow, fast


def _assert_agree(payload: bytes, expected: str | None = None) -> None:
    slow, fast = _both(payload, expected)
    if isinstance(slow, Rejection):
        assert fast == slow
    else:
        assert fast == flatten(slow)
    quick = decode_flat(payload, expected, LIMIT_US)
    if quick is not None:  # the fast path accepted: the models must, with the same values
        assert not isinstance(slow, Rejection), slow
        assert quick == flatten(slow)


def test_generated_events_all_take_the_fast_path(mix_events):
    for event in mix_events[:20_000]:
        quick = decode_flat(orjson.dumps(event), event["event_type"], LIMIT_US)
        assert quick is not None, event
        model = VALIDATOR.validate(orjson.dumps(event), None, CTX)
        assert not isinstance(model, Rejection)
        assert quick == flatten(model)


def test_flat_fields_follow_the_declared_order(flat):
    event = dict(zip(FLAT_FIELDS, flat("mobile_money"), strict=True))
    assert event["event_id"] == VALID_SAMPLES["mobile_money"]["event_id"]
    assert event["event_ms"] == event_ms_of("2024-03-05T08:30:00.000Z")
    assert (event["provider"], event["kind"], event["agent_id"]) == (
        "viettel_money",
        "cash_out",
        "AG1400042",
    )
    assert event["platform"] == event["method"] == ""


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("schema_version", True),
        ("schema_version", 1.0),
        ("amount_vnd", True),
        ("amount_vnd", 1000.0),
        ("amount_vnd", -1),
        ("amount_vnd", 10**13 + 1),
        ("amount_vnd", "1000"),
        ("event_id", "0B7E7D8E-3C1F-4B7A-9A52-2F1D6C0E4A11"),  # the models accept, lowercased
        ("event_id", "0b7e7d8e3c1f4b7a9a522f1d6c0e4a11"),
        ("event_id", "0b7e7d8e-3c1f-4b7a-9a52-2f1d6c0e4a1"),
        ("event_time", "2024-03-04T10:00:00Z"),  # not canonical: the models decide (valid)
        ("event_time", "2024-03-04T17:00:00.000+07:00"),
        ("event_time", "2024-03-04 10:00:00.000Z"),
        ("event_time", "2024-02-30T10:00:00.000Z"),
        ("event_time", "2024-03-04T10:00:00.000"),
        ("event_time", "1999-12-31T23:59:59.999Z"),
        ("event_time", "2024-03-04T10:00:00.1234Z"),
        ("event_time", "２０２４-03-04T10:00:00.000Z"),
        ("event_time", 1709546400000),
        ("province_code", "99"),
        ("province_code", 79),
        ("area", "URBAN"),
        ("channel", ["web"]),
        ("status", None),
        ("customer_id", "abc"),
        ("customer_id", "Ptest0001\n"),
        ("provider", "Viettel"),
        ("merchant_category", {"a": 1}),
        ("unknown_field", 1),
    ],
)
def test_edge_values_agree_with_the_models(sample, field, value):
    _assert_agree(orjson.dumps(sample("online_payment", **{field: value})))


@pytest.mark.parametrize(
    "overrides",
    [
        {"agent_id": None},  # cash_out needs an agent
        {"kind": "airtime", "agent_id": None, "channel": "ussd"},
        {"kind": "airtime", "channel": "ussd"},
        {"agent_id": "AG1"},
        {"agent_id": "ag1400042"},
        {"provider": "momo"},
        {"extra": None},
    ],
)
def test_mobile_money_edges_agree(sample, overrides):
    _assert_agree(orjson.dumps(sample("mobile_money", **overrides)))


def test_missing_optional_agent_is_accepted_fast(sample):
    event = sample("mobile_money", kind="p2p_transfer", channel="mobile_app")
    del event["agent_id"]
    assert decode_flat(orjson.dumps(event), None, LIMIT_US) is not None
    _assert_agree(orjson.dumps(event))


@pytest.mark.parametrize("event_type", sorted(MODELS))
def test_each_missing_field_agrees(sample, event_type):
    for field in VALID_SAMPLES[event_type]:
        event = sample(event_type)
        del event[field]
        _assert_agree(orjson.dumps(event))


def test_wrong_topic_and_duplicate_keys_agree(sample):
    payload = orjson.dumps(sample("online_payment"))
    _assert_agree(payload, expected="mobile_money")
    duplicated = payload[:-1] + b',"area":"rural"}'
    _assert_agree(duplicated)
    duplicated_bad = payload[:-1] + b',"area":"nowhere"}'
    _assert_agree(duplicated_bad)


@pytest.mark.parametrize("event_type", sorted(MODELS))
def test_each_repeated_name_is_rejected_on_both_paths(sample, event_type):
    """A repeated member name is ambiguous; orjson would silently keep the last value."""
    for field, value in VALID_SAMPLES[event_type].items():
        for again in (value, None):
            event = orjson.dumps(sample(event_type))
            payload = event[:-1] + b"," + orjson.dumps({field: again})[1:]
            assert decode_flat(payload, None, LIMIT_US) is None, field
            _assert_agree(payload)
            rejection = VALIDATOR.validate_flat(payload, None, CTX)
            assert isinstance(rejection, Rejection), field
            assert rejection.reason.startswith(f"{field}: appears more than once"), rejection


def test_the_issues_repeated_amount_is_rejected(sample):
    event = orjson.dumps(sample())
    payload = event[:-1] + b',"amount_vnd":1,"amount_vnd":-1}'
    rejection = VALIDATOR.validate_flat(payload, None, CTX)
    assert rejection == Rejection(
        "invalid_event", "amount_vnd: appears more than once in one object, the event is ambiguous"
    )


def test_a_comma_inside_a_value_goes_to_the_models(sample):
    payload = orjson.dumps(sample(customer_id="a,b,c"))
    assert decode_flat(payload, None, LIMIT_US) is None
    _assert_agree(payload)


@pytest.mark.parametrize(
    "spelling",
    [
        lambda e: orjson.dumps(e, option=orjson.OPT_INDENT_2),
        lambda e: orjson.dumps(e) + b"\n",
        lambda e: orjson.dumps(e).replace(b'"area"', b'"\\u0061rea"'),
    ],
    ids=["indented", "trailing newline", "escaped name"],
)
@pytest.mark.parametrize("event_type", sorted(MODELS))
def test_other_spellings_of_a_valid_event_take_the_slow_path(sample, spelling, event_type):
    """The fast path wants the exact canonical text; any other spelling is longer."""
    payload = spelling(sample(event_type))
    assert decode_flat(payload, None, LIMIT_US) is None
    assert not isinstance(VALIDATOR.validate_flat(payload, None, CTX), Rejection)
    _assert_agree(payload)


@pytest.mark.parametrize(
    "overrides",
    [{"kind": "airtime", "agent_id": None}, {"kind": "airtime"}, {"agent_id": "AG" + "Z" * 30}],
)
def test_canonical_mobile_money_takes_the_fast_path_with_or_without_agent(sample, overrides):
    event = sample("mobile_money", **overrides)
    if "agent_id" not in overrides:
        event.pop("agent_id")
    assert decode_flat(orjson.dumps(event), None, LIMIT_US) is not None, event


def test_future_limit_is_exact_to_the_millisecond(sample):
    strict = EventValidator(max_future_skew=NOW - NOW)  # zero skew
    ctx = strict.context(now=NOW)
    at_now = NOW.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert decode_flat(orjson.dumps(sample(event_time=at_now)), None, ctx["max_event_us"])
    later = at_now.replace(".000Z", ".001Z")
    assert decode_flat(orjson.dumps(sample(event_time=later)), None, ctx["max_event_us"]) is None


def test_not_objects_are_declined():
    for obj in (None, 1, "x", [VALID_SAMPLES["online_payment"]], {"event_type": ["x"]}, {}):
        assert decode_flat(orjson.dumps(obj), None, LIMIT_US) is None


# -- property: over near-valid events, the fast path never disagrees with the models --------
_LITERAL_VALUES = sorted(
    {
        value
        for model in MODELS.values()
        for field in model.model_fields.values()
        for value in (values(field.annotation) if get_origin(field.annotation) is Literal else ())
        if isinstance(value, str)
    }
)
_ALL_STRINGS = sorted(
    {v for e in VALID_SAMPLES.values() for v in e.values() if isinstance(v, str)}
    | set(_LITERAL_VALUES)
)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(_ALL_STRINGS),
    st.text(max_size=40),
    st.from_regex(
        r"20[0-9]{2}-[01][0-9]-[0-3][0-9][T ][0-2][0-9]:[0-6][0-9]:[0-6][0-9]"
        r"(\.[0-9]{1,4})?(Z|[+-]0[0-9]:00)?",
        fullmatch=True,
    ),
)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=5,
)


@st.composite
def _near_valid(draw: st.DrawFn) -> tuple[bytes, str | None]:
    event_type = draw(st.sampled_from(sorted(VALID_SAMPLES)))
    event = dict(VALID_SAMPLES[event_type])
    fields = sorted({k for v in VALID_SAMPLES.values() for k in v} | {"extra"})
    for _ in range(draw(st.integers(1, 3))):
        field = draw(st.sampled_from(fields))
        if draw(st.booleans()) and field in event:
            del event[field]
        else:
            event[field] = draw(_json)
    expected = draw(st.sampled_from([None, *sorted(VALID_SAMPLES)]))
    return orjson.dumps(event), expected


@settings(max_examples=1_500, deadline=None)
@given(_near_valid())
def test_fast_path_agrees_with_the_models_on_near_valid_events(case):
    payload, expected = case
    _assert_agree(payload, expected)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(VALID_SAMPLES)), st.data())
def test_enum_values_agree(event_type, data):
    event = dict(VALID_SAMPLES[event_type])
    field = data.draw(st.sampled_from([k for k, v in event.items() if isinstance(v, str)]))
    event[field] = data.draw(st.sampled_from(_LITERAL_VALUES))
    _assert_agree(orjson.dumps(event))


@settings(max_examples=300, deadline=None)
@given(_near_valid(), st.data())
def test_fast_path_agrees_with_the_models_on_repeated_names(case, data):
    """A member appended again, with its own or any value: never accepted by either path."""
    payload, expected = case
    fields = sorted({k for v in VALID_SAMPLES.values() for k in v})
    field = data.draw(st.sampled_from(fields))
    value = data.draw(st.one_of(st.just(orjson.loads(payload).get(field)), _json))
    again = payload[:-1] + b"," + orjson.dumps({field: value})[1:]
    if field in orjson.loads(payload):
        assert decode_flat(again, expected, LIMIT_US) is None
    _assert_agree(again, expected)


# -- msgspec's own readings, where it could differ from the models ---------------------------
def _fast_and_agree(payload: bytes, expected: str | None = None) -> Any:
    """The fast path's answer, after checking both paths agree on the message."""
    _assert_agree(payload, expected)
    return decode_flat(payload, expected, LIMIT_US)


@pytest.mark.parametrize(
    ("text", "fast"),
    [
        ("2024-03-04T17:00:00.000+07:00", True),  # an offset: the models' parser, same instant
        ("2024-03-04T10:00:00.000-00:00", True),
        ("2024-03-04t10:00:00.000z", True),
        ("2024-03-04T10:00:00Z", True),
        ("2024-03-04T10:00:00.0009995Z", True),  # msgspec's datetime would round up to .001
        ("2024-03-04T10:00:00.9999999Z", True),  # and this to the next second
        ("2024-03-04T23:59:60Z", True),  # a leap second: stored as 23:59:59.999
        ("2024-03-05T06:59:60.5+07:00", True),
        ("2024-03-04 10:00:00.000Z", False),  # msgspec's datetime takes a space
        ("2024-03-04T10:00:00.000+0700", False),  # and an offset without a colon
        ("2024-03-04T10:00:60.000Z", False),  # not 23:59 in UTC
        ("2024-03-04T24:00:00.000Z", False),
        ("2024-02-30T10:00:00.000Z", False),
        ("2024-03-04T10:00:00.000", False),
        ("0001-01-01T00:00:00+01:00", False),  # before year 1 in UTC
        ("9999-12-31T23:59:59-01:00", False),  # after year 9999 in UTC
    ],
)
def test_event_time_spellings_agree_with_the_models(sample, text, fast):
    result = _fast_and_agree(orjson.dumps(sample(event_time=text)))
    assert (result is not None) == fast, text


def test_a_leap_second_is_not_cached_as_a_second(sample):
    """Every fraction of 23:59:60 is the day's last millisecond, not second + fraction."""
    for text in ("2024-03-04T23:59:60.000Z", "2024-03-04T23:59:60.500Z"):
        flat = _fast_and_agree(orjson.dumps(sample(event_time=text)))
        assert flat is not None
        assert flat[EVENT_MS] == event_ms_of("2024-03-04T23:59:59.999Z")


def test_a_cached_second_gives_each_millisecond(sample):
    first = _fast_and_agree(orjson.dumps(sample(event_time="2024-03-04T10:00:07.001Z")))
    again = _fast_and_agree(orjson.dumps(sample(event_time="2024-03-04T10:00:07.999Z")))
    assert again[EVENT_MS] - first[EVENT_MS] == 998


@pytest.mark.parametrize(
    "raw",
    [
        b'"amount_vnd":150000.0',  # the models read the value: 150000; msgspec declines
        b'"amount_vnd":1.5e5',
        b'"amount_vnd":-0',
        b'"amount_vnd":1e400',
        b'"amount_vnd":' + b"9" * 40,
        b'"amount_vnd":true',
        b'"amount_vnd":NaN',
        b'"schema_version":1.0',
        b'"schema_version":true',
        b'"area":"\\u0075rban"',  # an escaped value: the same string, a longer message
        b'"customer_id":"Ptest\\u00e9"',
        b'"customer_id":"Ptest\\ud800"',
        b'"customer_id":"Pt\\u0000est"',
        b'"customer_id":"Pt\\u00e9st"',
        '"customer_id":"Ptést"'.encode(),
        b'"event_id":"0B7E7D8E-3C1F-4B7A-9A52-2F1D6C0E4A11"',
        b'"event_id":"{0b7e7d8e-3c1f-4b7a-9a52-2f1d6c0e4a11}"',
        b'"event_id":"0b7e7d8e-3c1f-4b7a-9a52-2f1d6c0e4a11\n"',
        b'"province_code":"79\n"',
        b'"provider":"vietcombank\n"',
    ],
)
def test_number_and_string_spellings_agree_with_the_models(sample, raw):
    name = raw.split(b":", 1)[0]
    event = orjson.dumps(sample("online_payment"))
    start = event.index(name + b":")
    end = event.index(b",", start)
    payload = event[:start] + raw + event[end:]
    assert decode_flat(payload, None, LIMIT_US) is None, raw
    _assert_agree(payload)


@pytest.mark.parametrize(
    "again",
    [b',"channel":"web"', b',"area":"urban"', b',"kind":"airtime"', b',"status":"failed"'],
)
def test_a_repeated_member_cannot_pass_for_the_absent_optional_one(sample, again):
    """Without agent_id, msgspec's encoding has `,"agent_id":null` (16 bytes) that the
    message lacks; a repeated member of that length must not make up for it."""
    event = sample("mobile_money", kind="p2p_transfer", channel="mobile_app")
    del event["agent_id"]
    payload = orjson.dumps(event)[:-1] + again + b"}"
    assert decode_flat(payload, None, LIMIT_US) is None
    assert isinstance(VALIDATOR.validate_flat(payload, None, CTX), Rejection)
    _assert_agree(payload)


@pytest.mark.parametrize(
    "spelling",
    [
        lambda p: p.replace(b'"area":', b'"area" :', 1) + b"",
        lambda p: p[:-1] + b',"area" : "rural"}',
        lambda p: p[:-1] + b',"\\u0061rea":"rural"}',
        lambda p: p[:-1] + b',"event_type":"online_payment"}',
        lambda p: p.replace(b'"event_type":"online_payment",', b""),
        lambda p: b" " + p,
        lambda p: p.replace(b"{", b"{\n", 1),
    ],
    ids=[
        "space before colon",
        "repeat spaced",
        "repeat escaped",
        "tag twice",
        "no tag",
        "leading space",
        "newline",
    ],
)
def test_spellings_around_members_agree(sample, spelling):
    payload = spelling(orjson.dumps(sample("online_payment")))
    assert decode_flat(payload, None, LIMIT_US) is None
    _assert_agree(payload)


def test_the_structs_are_the_models():
    """One definition: each Struct has the model's fields (the type is the tag), each
    Literal the model's values, each bound the model's, and forbids unknown fields."""
    for event_type, struct in STRUCTS.items():
        model = MODELS[event_type]
        assert struct.__struct_config__.tag == event_type
        assert struct.__struct_config__.forbid_unknown_fields
        assert struct.__struct_fields__ == tuple(n for n in model.model_fields if n != "event_type")
        hints = {n: a for n, a in struct.__annotations__.items()}
        for name, info in model.model_fields.items():
            if get_origin(info.annotation) is Literal and name != "event_type":
                assert get_args(hints[name]) == get_args(info.annotation), name
        bounds = get_args(hints["amount_vnd"])[1]
        assert (bounds.ge, bounds.le) == (0, 10_000_000_000_000)
        assert set(get_args(hints["province_code"])) == set(_provinces())


def _provinces() -> frozenset[str]:
    from dxpulse.schemas.provinces import province_codes

    return province_codes()


_TIMES = st.from_regex(
    re.compile(
        r"20[0-2][0-9]-[01][0-9]-[0-3][0-9][Tt ][0-2][0-9]:[0-6][0-9]:[0-6][0-9]"
        r"(\.[0-9]{1,9})?([Zz]|[+-][0-2][0-9]:?[0-5][0-9])?"
    ),
    fullmatch=True,
)


@settings(max_examples=1_000, deadline=None)
@given(st.sampled_from(sorted(VALID_SAMPLES)), _TIMES)
def test_event_times_agree_with_the_models(event_type, text):
    """RFC 3339 and near misses, in canonical JSON: where the fast path takes one, the
    models take it with the same epoch millisecond."""
    _assert_agree(orjson.dumps({**VALID_SAMPLES[event_type], "event_time": text}))


@st.composite
def _respelled(draw: st.DrawFn) -> bytes:
    """A valid event in another spelling: members shuffled, spaces, escapes, repeats."""
    event = dict(VALID_SAMPLES[draw(st.sampled_from(sorted(VALID_SAMPLES)))])
    items = draw(st.permutations(list(event.items())))
    parts = []
    for name, value in items:
        key = orjson.dumps(name)
        if draw(st.integers(0, 9)) == 0:
            key = b'"\\u%04x' % ord(name[0]) + key[2:]
        parts.append(key + draw(st.sampled_from([b":", b" :", b": "])) + orjson.dumps(value))
        if draw(st.integers(0, 9)) == 0:
            parts.append(key + b":" + orjson.dumps(draw(_json)))
    return b"{" + b",".join(parts) + b"}"


@settings(max_examples=500, deadline=None)
@given(_respelled())
def test_respelled_events_agree_with_the_models(payload):
    _assert_agree(payload)


def test_the_fast_path_keeps_nothing_of_the_events_it_decoded() -> None:
    """Memory (issue 16): a worker decodes millions of customers' events; the fast path must
    hold none of their values once the flat events are gone. A cache of matched pattern
    values held every customer id it saw (~160 bytes each): 5,000 distinct ids kept
    819 KB after the events were freed."""
    import gc
    import tracemalloc
    import uuid

    sample = VALID_SAMPLES["online_payment"]
    payloads = [
        orjson.dumps({**sample, "customer_id": f"C{n:09d}", "event_id": str(uuid.UUID(int=n))})
        for n in range(5_000)
    ]
    max_us = LIMIT_US
    assert decode_flat(payloads[0], None, max_us) is not None  # warm: imports, caches
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        flats = [decode_flat(p, None, max_us) for p in payloads]
        assert all(f is not None for f in flats)
        del flats
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 50_000, f"{kept} bytes kept after 5,000 events were freed"
