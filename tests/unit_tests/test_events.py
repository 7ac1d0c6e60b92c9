"""The pydantic event models: round trips, normalisation of event_time, cross-field rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID

import orjson
import pytest
from pydantic import ValidationError

from dxpulse.producers import calibration as cal
from dxpulse.schemas.events import (
    EARLIEST_EVENT_TIME,
    EVENT_TYPES,
    MAX_AMOUNT_VND,
    MODELS,
    EcommerceOrder,
    MobileMoney,
    MobileMoneyKind,
    OnlinePayment,
    OrderPayment,
    OrderStatus,
    PaymentMethod,
    Platform,
    ProductCategory,
    format_event_time,
    values,
)
from dxpulse.schemas.formats import parse_date_time, parse_uuid
from dxpulse.schemas.validation import Rejection
from tests.format_suite import SUITE_DATE_TIMES, SUITE_UUIDS


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_model_round_trips_through_orjson(event_type, model, validator, ctx):
    original = model(event_type)
    assert type(original) is MODELS[event_type]
    for dumped in (original.model_dump(mode="json"), original.model_dump()):
        again = validator.validate(orjson.dumps(dumped), context=ctx)
        assert not isinstance(again, Rejection), again
        assert again == original
        assert type(again) is type(original)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_model_json_round_trip_keeps_every_field(event_type, sample, model):
    dumped = orjson.loads(model(event_type).model_dump_json())
    expected = sample(event_type)
    dumped_time = datetime.fromisoformat(dumped.pop("event_time"))
    assert dumped_time == datetime.fromisoformat(expected.pop("event_time"))
    assert dumped == expected


def test_parsed_fields_have_python_types(model):
    event = model("online_payment")
    assert isinstance(event, OnlinePayment)
    assert event.event_id == UUID("0b7e7d8e-3c1f-4b7a-9a52-2f1d6c0e4a11")
    assert event.event_time == datetime(2024, 3, 4, 10, 0, tzinfo=UTC)
    assert event.amount_vnd == 150_000


def test_event_time_is_converted_to_utc_and_truncated_to_milliseconds(model):
    event = model(event_time="2024-03-04T07:00:00.123999+07:00")
    assert event.event_time == datetime(2024, 3, 4, 0, 0, 0, 123_000, tzinfo=UTC)
    assert event.event_time.utcoffset() == timedelta(0)


def test_earliest_event_time_is_accepted_and_one_millisecond_before_is_not(model):
    assert model(event_time="2000-01-01T00:00:00.000Z").event_time == EARLIEST_EVENT_TIME
    with pytest.raises(ValidationError, match="before 2000-01-01"):
        OnlinePayment.model_validate_json(
            orjson.dumps(
                {**model().model_dump(mode="json"), "event_time": "1999-12-31T23:59:59.999Z"}
            )
        )


def test_future_skew_boundary_uses_the_context_now(sample):
    now = datetime(2024, 3, 4, 12, 0, tzinfo=UTC)
    ctx = {"now": now, "max_future_skew": timedelta(minutes=15)}
    at_limit = orjson.dumps(sample(event_time="2024-03-04T12:15:00.000Z"))
    past_limit = orjson.dumps(sample(event_time="2024-03-04T12:15:00.001Z"))
    assert OnlinePayment.model_validate_json(at_limit, context=ctx).event_time == now + timedelta(
        minutes=15
    )
    with pytest.raises(ValidationError, match="in the future"):
        OnlinePayment.model_validate_json(past_limit, context=ctx)


def test_amount_bounds(model):
    assert model(amount_vnd=0).amount_vnd == 0
    assert model(amount_vnd=MAX_AMOUNT_VND).amount_vnd == MAX_AMOUNT_VND
    with pytest.raises(ValidationError, match="amount_vnd"):
        OnlinePayment.model_validate_json(
            orjson.dumps({**model().model_dump(mode="json"), "amount_vnd": MAX_AMOUNT_VND + 1})
        )


@pytest.mark.parametrize("kind", ["cash_in", "cash_out"])
def test_agent_kinds_require_an_agent(sample, kind):
    payload = sample("mobile_money", kind=kind, agent_id=None)
    with pytest.raises(ValidationError, match="agent_id is required"):
        MobileMoney.model_validate_json(orjson.dumps(payload))


@pytest.mark.parametrize("kind", ["p2p_transfer", "bill_payment", "merchant_payment", "airtime"])
def test_other_kinds_need_no_agent(sample, kind):
    payload = sample("mobile_money", kind=kind, channel="mobile_app")
    del payload["agent_id"]
    event = MobileMoney.model_validate_json(orjson.dumps(payload))
    assert event.kind == kind
    assert event.agent_id is None


def test_agent_id_pattern_is_enforced(sample):
    with pytest.raises(ValidationError, match="agent_id"):
        MobileMoney.model_validate_json(orjson.dumps(sample("mobile_money", agent_id="ag-1")))


def test_models_are_frozen(model):
    event = model()
    with pytest.raises(ValidationError):
        event.amount_vnd = 1  # type: ignore[misc]


def test_models_reject_the_other_types_fields(sample):
    payload = sample("online_payment", platform="shopee")
    with pytest.raises(ValidationError, match="platform"):
        OnlinePayment.model_validate_json(orjson.dumps(payload))


def test_event_type_literal_pins_the_model(sample):
    payload = sample("ecommerce_order", event_type="online_payment")
    with pytest.raises(ValidationError, match="event_type"):
        EcommerceOrder.model_validate_json(orjson.dumps(payload))


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (datetime(2024, 3, 4, 0, 0, tzinfo=UTC), "2024-03-04T00:00:00.000Z"),
        (datetime(2024, 3, 4, 7, 0, 0, 999_999, tzinfo=UTC), "2024-03-04T07:00:00.999Z"),
        (
            datetime(2024, 3, 4, 7, 0, 0, 1_500, tzinfo=timezone(timedelta(hours=7))),
            "2024-03-04T00:00:00.001Z",
        ),
        (
            datetime(2024, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=7))),
            "2023-12-31T18:00:00.000Z",
        ),
    ],
)
def test_format_event_time(at, expected):
    assert format_event_time(at) == expected


def test_formatted_time_parses_back_to_the_same_millisecond(model):
    at = datetime(2024, 3, 4, 13, 14, 15, 678_901, tzinfo=UTC)
    event = model(event_time=format_event_time(at))
    assert event.event_time == at.replace(microsecond=678_000)


@pytest.mark.parametrize(
    ("literal", "calibrated"),
    [
        (PaymentMethod, cal.PAYMENT_METHODS),
        (Platform, cal.PLATFORMS),
        (OrderPayment, cal.ORDER_PAYMENTS),
        (OrderStatus, cal.ORDER_STATUSES),
        (ProductCategory, cal.PRODUCT_CATEGORIES),
        (MobileMoneyKind, cal.MOBILE_MONEY_KINDS),
    ],
)
def test_calibration_keys_are_exactly_the_schema_values(literal, calibrated):
    assert set(values(literal)) == set(calibrated)
    assert all(isinstance(v, str) for v in values(literal))


# -- event_time is RFC 3339 date-time, exactly (JSON Schema's format) -----------------------
@pytest.mark.parametrize(("text", "valid"), SUITE_DATE_TIMES.items())
def test_date_time_parser_follows_the_official_suite(text, valid):
    if valid:
        assert parse_date_time(text).tzinfo is UTC
    else:
        with pytest.raises(ValueError, match="not an RFC 3339 date-time"):
            parse_date_time(text)


@pytest.mark.parametrize(
    "text",
    [
        "2024-03-04 10:00:00.000Z",  # a space for the T
        "2024-03-04T10:00Z",  # no seconds
        "2024-03-04T17:00:00.000+0700",  # offset without a colon
        "2024-03-04T10:00:00,000Z",  # decimal comma
        "２０２４-03-04T10:00:00.000Z",  # fullwidth digits
        "2024-03-0\u09eaT10:00:00Z",  # a Bengali digit
        "2024-03-04T10:00:00.000Z\n",
        "2024-03-04T10:00:00.000\u221207:00",  # a minus sign, not a hyphen-minus
        "1709546400",  # a Unix time in a string
        "2024-03-04T10:00:00",  # no offset
    ],
)
def test_spellings_outside_rfc_3339_are_rejected(validator, sample, ctx, text):
    rejection = validator.validate(orjson.dumps(sample(event_time=text)), context=ctx)
    assert isinstance(rejection, Rejection)
    assert rejection.reason.startswith("event_time: not an RFC 3339 date-time"), rejection


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("2016-12-31T23:59:60Z", datetime(2016, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC)),
        ("2016-12-31T23:59:60.5Z", datetime(2016, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC)),
        ("2017-01-01T06:59:60+07:00", datetime(2016, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC)),
        ("2024-03-04t10:00:00.1239z", datetime(2024, 3, 4, 10, 0, 0, 123_000, tzinfo=UTC)),
        ("2024-03-04T10:00:00.999999999999999Z", datetime(2024, 3, 4, 10, 0, 0, 999_000, tzinfo=UTC)),  # noqa: E501
        ("2024-03-04T10:00:00-00:00", datetime(2024, 3, 4, 10, tzinfo=UTC)),
        ("2024-03-05T09:59:00+23:59", datetime(2024, 3, 4, 10, tzinfo=UTC)),
    ],
)
def test_rfc_3339_times_are_stored_in_utc_at_the_millisecond(model, text, stored):
    """Sub-millisecond digits are truncated; a leap second is the last ms of its minute."""
    assert model(event_time=text).event_time == stored


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("0000-01-01T00:00:00Z", "before 2000-01-01T00:00:00Z"),
        ("0001-01-01T00:00:00+01:00", "before 2000-01-01T00:00:00Z"),
        ("9999-12-31T23:59:59-01:00", "in the future"),
    ],
)
def test_times_beyond_pythons_years_are_rejected_not_raised(validator, sample, ctx, text, rule):
    rejection = validator.validate_flat(orjson.dumps(sample(event_time=text)), context=ctx)
    assert isinstance(rejection, Rejection)
    assert rejection.reason.startswith("event_time:") and rule in rejection.reason, rejection


# -- event_id is a UUID as 8-4-4-4-12 hex digits (JSON Schema's format) -------------------
@pytest.mark.parametrize(("text", "valid"), SUITE_UUIDS.items())
def test_uuid_parser_follows_the_official_suite(text, valid):
    if valid:
        assert parse_uuid(text) == UUID(text)
    else:
        with pytest.raises(ValueError, match="not a UUID as 8-4-4-4-12 hex digits"):
            parse_uuid(text)


@pytest.mark.parametrize(
    "text",
    [
        "0b7e7d8e3c1f4b7a9a522f1d6c0e4a11",
        "{0b7e7d8e-3c1f-4b7a-9a52-2f1d6c0e4a11}",
        "urn:uuid:0b7e7d8e-3c1f-4b7a-9a52-2f1d6c0e4a11",
        "0b7e7d8e-3c1f-4b7a-9a52-2f1d6c0e4a11}",
        "0b7e7d8e-3c1f-4b7a-9a52-2f1d6c0e4a11\n",
        "0b7e7d8e-3c1f-4b7a-9a52-2f1d6c0e4a1\u0661",
    ],
)
def test_uuid_spellings_outside_the_format_are_rejected(validator, sample, ctx, text):
    rejection = validator.validate_flat(orjson.dumps(sample(event_id=text)), context=ctx)
    assert isinstance(rejection, Rejection)
    assert rejection.reason.startswith("event_id: not a UUID"), rejection


def test_one_uuid_in_two_cases_is_one_event_id(validator, sample, ctx):
    """Deduplication keys on the flat event_id: both spellings must give the same one."""
    lower = "0b7e7d8e-3c1f-4b7a-9a52-2f1d6c0e4a11"
    ids = set()
    for spelling in (lower, lower.upper(), "0B7e7D8e-3c1f-4B7a-9a52-2F1d6c0e4A11"):
        flat = validator.validate_flat(orjson.dumps(sample(event_id=spelling)), context=ctx)
        assert not isinstance(flat, Rejection), flat
        ids.add(flat[0])
    assert ids == {lower}
