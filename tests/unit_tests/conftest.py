"""Shared fixtures of the unit suite: valid sample events and one generated week.

The generated samples are session-scoped: generating 100,000 events of a type takes about
a second and several test modules read the same week.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from dxpulse.producers.generator import EventGenerator
from dxpulse.schemas.events import Envelope
from dxpulse.schemas.flat import FlatEvent, flatten
from dxpulse.schemas.validation import EventValidator, Rejection

# A Monday, 00:00 UTC; the generated week runs from here.
WEEK_START = datetime(2024, 3, 4, tzinfo=UTC)
WEEK_EVENTS = 100_000
WEEK_STEP = timedelta(days=7) / WEEK_EVENTS  # 6.048 s between events
# "Now" for validation of the fixed samples: one day after the generated week ends.
NOW = WEEK_START + timedelta(days=8)
SEED = 20240304

VALID_SAMPLES: dict[str, dict[str, Any]] = {
    "online_payment": {
        "event_id": "0b7e7d8e-3c1f-4b7a-9a52-2f1d6c0e4a11",
        "event_type": "online_payment",
        "schema_version": 1,
        "event_time": "2024-03-04T10:00:00.000Z",
        "province_code": "79",
        "area": "urban",
        "channel": "mobile_app",
        "amount_vnd": 150_000,
        "status": "success",
        "customer_id": "Ptest0001",
        "method": "vietqr",
        "provider": "vietcombank",
        "merchant_category": "food_beverage",
    },
    "ecommerce_order": {
        "event_id": "6f1c2a8b-9d3e-4c5f-8a7b-1e2d3c4b5a69",
        "event_type": "ecommerce_order",
        "schema_version": 1,
        "event_time": "2024-03-04T21:15:30.250Z",
        "province_code": "01",
        "area": "urban",
        "channel": "web",
        "amount_vnd": 270_000,
        "status": "success",
        "customer_id": "Etest0001",
        "platform": "shopee",
        "product_category": "fashion",
        "payment_method": "cod",
        "order_status": "delivered",
    },
    "mobile_money": {
        "event_id": "c7d8e9f0-1a2b-4c3d-9e4f-5a6b7c8d9e0f",
        "event_type": "mobile_money",
        "schema_version": 1,
        "event_time": "2024-03-05T08:30:00.000Z",
        "province_code": "14",
        "area": "rural",
        "channel": "agent",
        "amount_vnd": 700_000,
        "status": "success",
        "customer_id": "Mtest0001",
        "provider": "viettel_money",
        "kind": "cash_out",
        "agent_id": "AG1400042",
    },
}

EventFactory = Callable[..., dict[str, Any]]
ModelFactory = Callable[..., Envelope]


@pytest.fixture(scope="session")
def sample() -> EventFactory:
    """``sample(event_type, **overrides)``: a fresh valid event dict with fields replaced."""

    def make(event_type: str = "online_payment", /, **overrides: Any) -> dict[str, Any]:
        event = copy.deepcopy(VALID_SAMPLES[event_type])
        event.update(overrides)
        return event

    return make


@pytest.fixture(scope="session")
def validator() -> EventValidator:
    return EventValidator()


@pytest.fixture(scope="session")
def ctx(validator: EventValidator) -> dict[str, Any]:
    """Validation context with a fixed ``now``, so results do not depend on the clock."""
    return validator.context(now=NOW)


@pytest.fixture(scope="session")
def model(sample: EventFactory, validator: EventValidator, ctx: dict[str, Any]) -> ModelFactory:
    """``model(event_type, **overrides)``: the validated model of a sample event."""

    def make(event_type: str = "online_payment", /, **overrides: Any) -> Envelope:
        result = validator.validate(orjson.dumps(sample(event_type, **overrides)), context=ctx)
        assert not isinstance(result, Rejection), result
        return result

    return make


@pytest.fixture(scope="session")
def flat(model: ModelFactory) -> Callable[..., FlatEvent]:
    """``flat(event_type, **overrides)``: the flat form of a sample event (the hot path's)."""

    def make(event_type: str = "online_payment", /, **overrides: Any) -> FlatEvent:
        return flatten(model(event_type, **overrides))

    return make


@pytest.fixture(scope="session")
def week_start() -> datetime:
    return WEEK_START


@pytest.fixture(scope="session")
def week_seed() -> int:
    """The seed of the generated week fixtures."""
    return SEED


@pytest.fixture(scope="session")
def week_times() -> list[datetime]:
    assert WEEK_START.weekday() == 0
    return [WEEK_START + WEEK_STEP * i for i in range(WEEK_EVENTS)]


@pytest.fixture(scope="session")
def mix_events(week_times: list[datetime]) -> list[dict[str, Any]]:
    """100,000 events over one week, each type drawn from the hour's mix."""
    gen = EventGenerator(seed=SEED)
    return [gen.event(at) for at in week_times]


@pytest.fixture(scope="session")
def mobile_money_events(week_times: list[datetime]) -> list[dict[str, Any]]:
    gen = EventGenerator(seed=SEED)
    return [gen.event(at, event_type="mobile_money") for at in week_times]


@pytest.fixture(scope="session")
def order_events(week_times: list[datetime]) -> list[dict[str, Any]]:
    gen = EventGenerator(seed=SEED)
    return [gen.event(at, event_type="ecommerce_order") for at in week_times]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No DXPULSE_* variable of the outer environment leaks into Settings()."""
    for name in list(os.environ):
        if name.upper().startswith("DXPULSE_"):
            monkeypatch.delenv(name)
    yield monkeypatch
