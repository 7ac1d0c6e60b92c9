"""The validated event as a flat tuple, and a fast pre-check that produces it.

The worker's hot path handles ~10^5 events/s; a pydantic model per event costs more than
everything else together (docs/benchmarks.md). So the hot path works on :data:`FlatEvent`
tuples, and :func:`precheck` builds them straight from the decoded JSON for events in the
canonical form producers emit. It is a pure *subset* of the models: it accepts an event only
when every rule of :mod:`schemas.events` holds, and returns ``None`` for anything else, which
then goes through the pydantic models for the verdict and the reason. Tests prove that
whatever it accepts, the models accept with identical values (tests/unit_tests/test_flat.py).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from itertools import product
from operator import itemgetter
from typing import Any, Final
from uuid import UUID

from schemas.events import (
    AGENT_KINDS,
    EARLIEST_EVENT_TIME,
    MAX_AMOUNT_VND,
    MODELS,
    SCHEMA_VERSION,
    Area,
    Channel,
    EcommerceOrder,
    Envelope,
    MerchantCategory,
    MobileMoney,
    MobileMoneyKind,
    MobileMoneyProvider,
    OnlinePayment,
    OrderPayment,
    OrderStatus,
    PaymentMethod,
    Platform,
    ProductCategory,
    Status,
    values,
)
from schemas.provinces import province_codes

FLAT_FIELDS = (
    "event_id", "event_type", "schema_version", "event_ms", "province_code", "area",
    "channel", "amount_vnd", "status", "customer_id", "method", "provider",
    "merchant_category", "platform", "product_category", "payment_method", "order_status",
    "kind", "agent_id",
)  # fmt: skip
# event_id (canonical lowercase UUID text), event_ms (epoch milliseconds, UTC); a field the
# event type does not have is an empty string.
FlatEvent = tuple[
    str, str, int, int, str, str, str, int, str, str, str, str, str, str, str, str, str, str, str
]
# Final, so a type checker knows what type each position holds.
EVENT_ID: Final = 0
EVENT_TYPE: Final = 1
EVENT_MS: Final = 3
PROVINCE: Final = 4
AREA: Final = 5
CHANNEL: Final = 6
AMOUNT: Final = 7
STATUS: Final = 8
CUSTOMER: Final = 9

_EARLIEST_MS = int(EARLIEST_EVENT_TIME.timestamp()) * 1000
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_CUSTOMER = re.compile(r"[A-Za-z0-9_-]{4,64}")
_IDENTIFIER = re.compile(r"[a-z0-9_]{2,40}")
_AGENT = re.compile(r"AG[0-9A-Z]{4,30}")
# The exact form producers write (schemas.events.format_event_time): ASCII digits, a T,
# three fractional digits and a Z. Other ISO 8601 spellings are left to the models.
_TIME_PREFIX = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}")

_PROVINCES = province_codes()
_AREAS = frozenset(values(Area))
_CHANNELS = frozenset(values(Channel))
_STATUSES = frozenset(values(Status))
_METHODS = frozenset(values(PaymentMethod))
_MERCHANTS = frozenset(values(MerchantCategory))
_PLATFORMS = frozenset(values(Platform))
_PRODUCTS = frozenset(values(ProductCategory))
_ORDER_PAYMENTS = frozenset(values(OrderPayment))
_ORDER_STATUSES = frozenset(values(OrderStatus))
_MM_PROVIDERS = frozenset(values(MobileMoneyProvider))
_MM_KINDS = frozenset(values(MobileMoneyKind))


_second_cache: dict[str, int] = {}
_SECOND_CACHE_MAX = 100_000
_MS_TAILS = {f".{ms:03d}Z": ms for ms in range(1000)}


def _epoch_second(prefix: str) -> int | None:
    """Epoch seconds of 'YYYY-MM-DDTHH:MM:SS' (UTC); None if it is not a real date and time."""
    if _TIME_PREFIX.fullmatch(prefix) is None:
        return None
    try:
        at = datetime.fromisoformat(prefix).replace(tzinfo=UTC)
    except ValueError:
        return None
    if len(_second_cache) >= _SECOND_CACHE_MAX:
        _second_cache.clear()  # a backfill walks through time: keep memory bounded
    seconds = _second_cache[prefix] = int(at.timestamp())
    return seconds


def event_ms_of(text: Any) -> int | None:
    """Epoch ms of a canonical event_time string, or None when it is not canonical."""
    if type(text) is not str or len(text) != 24:
        return None
    ms = _MS_TAILS.get(text[19:])
    if ms is None:
        return None
    # Events cluster in time: most seconds were seen (and validated) moments ago.
    seconds = _second_cache.get(text[:19])
    if seconds is None:
        seconds = _epoch_second(text[:19])
        if seconds is None:
            return None
    return seconds * 1000 + ms


def precheck(obj: Any, expected_type: str | None, max_event_us: int) -> FlatEvent | None:
    """The flat event if ``obj`` is a canonical valid event, else None (ask the models).

    ``max_event_us`` is the latest acceptable event time in epoch microseconds (now plus
    the allowed future skew), as the models' ``_sane_time`` computes it.
    """
    try:
        etype = obj["event_type"]
        spec = _SPECS[etype]
        if expected_type is not None and etype != expected_type:
            return None
        return spec.check(obj, max_event_us)
    except (TypeError, KeyError, IndexError):
        # Not an object, no or unhashable event_type, unknown type, unhashable field value.
        return None


class _TypeSpec:
    """What one event type's canonical form looks like, as tables of allowed values."""

    def __init__(
        self,
        event_type: str,
        enums: tuple[str, ...],
        allowed: list[frozenset[str]],
        other_required: tuple[str, ...] = (),
    ) -> None:
        model = MODELS[event_type]
        self.event_type = event_type
        envelope = (
            "event_id", "schema_version", "event_time", "province_code", "area", "channel",
            "amount_vnd", "status", "customer_id",
        )  # fmt: skip
        required = {k for k, f in model.model_fields.items() if f.is_required()}
        # The getters raise KeyError unless every required key is there; then the length
        # tells whether there are other keys, and those may only be the optional ones.
        fetched = {"event_type", *envelope, *enums, *other_required}
        assert fetched == required, f"{event_type}: the pre-check misses {required ^ fetched}"
        self.required = len(required)
        self.optional = tuple(sorted(set(model.model_fields) - required))
        self.get_envelope = itemgetter(*envelope)
        self.get_enums = itemgetter(*enums)
        # Every allowed combination of the type's enum fields: one hash lookup checks them all.
        self.combos = frozenset(product(*allowed))

    def check(self, obj: dict[str, Any], max_event_us: int) -> FlatEvent | None:
        extra = len(obj) - self.required
        if extra and (extra > len(self.optional) or sum(k in obj for k in self.optional) != extra):
            return None
        event_id, version, time, province, area, channel, amount, status, customer = (
            self.get_envelope(obj)
        )
        if (area, channel, status) not in _ENVELOPE_COMBOS or province not in _PROVINCES:
            return None
        if type(version) is not int or version != SCHEMA_VERSION:
            return None
        if type(amount) is not int or not 0 <= amount <= MAX_AMOUNT_VND:
            return None
        if type(event_id) is not str or len(event_id) != 36 or not _UUID.fullmatch(event_id):
            return None
        if type(customer) is not str or not _CUSTOMER.fullmatch(customer):
            return None
        event_ms = event_ms_of(time)
        if event_ms is None or event_ms < _EARLIEST_MS or event_ms * 1000 > max_event_us:
            return None
        enums = self.get_enums(obj)
        if enums not in self.combos:
            return None
        rest = self._rest(obj, enums)
        if rest is None:
            return None
        envelope = (event_id, self.event_type, version, event_ms, province, area, channel)
        return (*envelope, amount, status, customer, *rest)

    def _rest(self, obj: dict[str, Any], enums: tuple[str, ...]) -> tuple[str, ...] | None:
        raise NotImplementedError


class _OnlinePaymentSpec(_TypeSpec):
    def __init__(self) -> None:
        super().__init__(
            "online_payment",
            ("method", "merchant_category"),
            [_METHODS, _MERCHANTS],
            other_required=("provider",),
        )

    def _rest(self, obj: dict[str, Any], enums: tuple[str, ...]) -> tuple[str, ...] | None:
        provider = obj["provider"]
        if type(provider) is not str or not _IDENTIFIER.fullmatch(provider):
            return None
        return (enums[0], provider, enums[1], "", "", "", "", "", "")


class _EcommerceOrderSpec(_TypeSpec):
    def __init__(self) -> None:
        super().__init__(
            "ecommerce_order",
            ("platform", "product_category", "payment_method", "order_status"),
            [_PLATFORMS, _PRODUCTS, _ORDER_PAYMENTS, _ORDER_STATUSES],
        )

    def _rest(self, obj: dict[str, Any], enums: tuple[str, ...]) -> tuple[str, ...] | None:
        return ("", "", "", *enums, "", "")


class _MobileMoneySpec(_TypeSpec):
    def __init__(self) -> None:
        super().__init__("mobile_money", ("provider", "kind"), [_MM_PROVIDERS, _MM_KINDS])

    def _rest(self, obj: dict[str, Any], enums: tuple[str, ...]) -> tuple[str, ...] | None:
        provider, kind = enums
        agent = obj.get("agent_id")
        if agent is None:
            if kind in AGENT_KINDS:
                return None
            agent = ""
        elif type(agent) is not str or not _AGENT.fullmatch(agent):
            return None
        return ("", provider, "", "", "", "", "", kind, agent)


_ENVELOPE_COMBOS = frozenset(product(_AREAS, _CHANNELS, _STATUSES))
_SPECS: dict[str, _TypeSpec] = {
    spec.event_type: spec
    for spec in (_OnlinePaymentSpec(), _EcommerceOrderSpec(), _MobileMoneySpec())
}
assert set(_SPECS) == set(MODELS)


def flatten(event: Envelope) -> FlatEvent:
    """The flat form of a model-validated event (the slow path's result)."""
    method = provider = merchant = platform = product = payment = order_status = kind = agent = ""
    if isinstance(event, OnlinePayment):
        method, provider, merchant = event.method, event.provider, event.merchant_category
    elif isinstance(event, EcommerceOrder):
        platform, product = event.platform, event.product_category
        payment, order_status = event.payment_method, event.order_status
    elif isinstance(event, MobileMoney):
        provider, kind, agent = event.provider, event.kind, event.agent_id or ""
    return (
        str(event.event_id),
        event.event_type,
        event.schema_version,
        _epoch_ms(event.event_time),
        event.province_code,
        event.area,
        event.channel,
        event.amount_vnd,
        event.status,
        event.customer_id,
        method,
        provider,
        merchant,
        platform,
        product,
        payment,
        order_status,
        kind,
        agent,
    )


def _epoch_ms(at: datetime) -> int:
    delta = at - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def event_uuid(flat: FlatEvent) -> UUID:
    return UUID(flat[EVENT_ID])
