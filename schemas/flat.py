"""The validated event as a flat tuple, and a fast pre-check that produces it.

The worker's hot path handles ~10^5 events/s; a pydantic model per event costs more than
everything else together (docs/benchmarks.md). So the hot path works on :data:`FlatEvent`
tuples, and :func:`precheck_json` builds them straight from the message for events in the
canonical form producers emit. It is a pure *subset* of the slow path: it accepts an event
only when every rule of :mod:`schemas.wire` and :mod:`schemas.events` holds, and returns
``None`` for anything else, which then goes through the slow path for the verdict and the
reason. Tests prove that whatever it accepts, the models accept with identical values
(tests/unit_tests/test_flat.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from itertools import product
from operator import itemgetter
from typing import Any, Final
from uuid import UUID

import orjson

from dxpulse.schemas.events import (
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
from dxpulse.schemas.provinces import province_codes

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


def precheck_json(
    payload: bytes, expected_type: str | None, max_event_us: int
) -> FlatEvent | None:
    """The flat event if ``payload`` is a canonical valid event, else None (ask the models).

    orjson keeps the last of a repeated member name without a word, and such an event is
    invalid (:mod:`schemas.wire`). So the pre-check also wants the message to be exactly as
    long as the canonical text of what it decoded (no whitespace, no escapes, each member
    once): that text is the shortest spelling of those values, and a repeated member only
    adds bytes. The lengths come from the lookups the pre-check makes anyway, which is
    cheaper than scanning the message for commas or quotes.
    """
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    return precheck(obj, expected_type, max_event_us, len(payload))


def precheck(
    obj: Any, expected_type: str | None, max_event_us: int, size: int | None = None
) -> FlatEvent | None:
    """The flat event if the decoded ``obj`` is a canonical valid event, else None.

    ``max_event_us`` is the latest acceptable event time in epoch microseconds (now plus
    the allowed future skew), as the models' ``_sane_time`` computes it. ``size`` is the
    length of the message ``obj`` was decoded from; without it the pre-check cannot see
    repeated member names, which decoding has merged (use :func:`precheck_json`).
    """
    try:
        etype = obj["event_type"]
        spec = _SPECS[etype]
        if expected_type is not None and etype != expected_type:
            return None
        return spec.check(obj, max_event_us, size)
    except (TypeError, KeyError, IndexError):
        # Not an object, no or unhashable event_type, unknown type, unhashable field value.
        return None


def _lengths(combos: Iterable[tuple[str, ...]]) -> dict[tuple[str, ...], int]:
    """Each combination of enum values, with its values' length in the canonical text."""
    return {combo: sum(len(value) + 2 for value in combo) for combo in combos}


_ABSENT: Final = object()
_AGENT_MEMBER: Final = len(',"agent_id":')


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
        # The canonical text's length less the variable values: braces, commas, quoted
        # names and colons, the quotes of the strings outside the combos, and the values
        # of fixed length (event_type, event_id, schema_version 1, event_time, province).
        quoted = required - {"schema_version", "amount_vnd", "area", "channel", "status", *enums}
        skeleton = (
            1 + sum(len(name) + 4 for name in required) + 2 * len(quoted)
            + len(event_type) + 36 + 1 + 24 + 2
        )  # fmt: skip
        # Every allowed combination of the type's enum fields: one hash lookup checks them
        # all, and gives the canonical length of all but the envelope's and the variable values.
        self.combos = {
            combo: skeleton + length for combo, length in _lengths(product(*allowed)).items()
        }

    def check(self, obj: dict[str, Any], max_event_us: int, size: int | None) -> FlatEvent | None:
        extra = len(obj) - self.required
        if extra and (extra > len(self.optional) or sum(k in obj for k in self.optional) != extra):
            return None
        event_id, version, time, province, area, channel, amount, status, customer = (
            self.get_envelope(obj)
        )
        # A combination that is not allowed raises KeyError, as a missing field does.
        envelope_chars = _ENVELOPE_COMBOS[(area, channel, status)]
        if province not in _PROVINCES:
            return None
        if type(version) is not int or version != SCHEMA_VERSION:
            return None
        if type(amount) is not int or not 0 <= amount <= MAX_AMOUNT_VND:
            return None
        # A value that is not a string makes fullmatch raise TypeError: declined, too.
        if not _UUID.fullmatch(event_id) or not _CUSTOMER.fullmatch(customer):
            return None
        event_ms = event_ms_of(time)
        if event_ms is None or event_ms < _EARLIEST_MS or event_ms * 1000 > max_event_us:
            return None
        enums = self.get_enums(obj)
        canonical = self.combos[enums]
        if size is not None:  # what the type's own variable values must take up
            size -= canonical + envelope_chars + len(customer) + len(str(amount))
        rest = self._rest(obj, enums, size)
        if rest is None:
            return None
        envelope = (event_id, self.event_type, version, event_ms, province, area, channel)
        return (*envelope, amount, status, customer, *rest)

    def _rest(
        self, obj: dict[str, Any], enums: tuple[str, ...], room: int | None
    ) -> tuple[str, ...] | None:
        """The type's own flat fields, if its other values are valid and fill ``room``
        characters of the canonical text exactly (None: the length is not known)."""
        raise NotImplementedError


class _OnlinePaymentSpec(_TypeSpec):
    def __init__(self) -> None:
        super().__init__(
            "online_payment",
            ("method", "merchant_category"),
            [_METHODS, _MERCHANTS],
            other_required=("provider",),
        )

    def _rest(
        self, obj: dict[str, Any], enums: tuple[str, ...], room: int | None
    ) -> tuple[str, ...] | None:
        provider = obj["provider"]
        if type(provider) is not str or not _IDENTIFIER.fullmatch(provider):
            return None
        if room is not None and room != len(provider):
            return None
        return (enums[0], provider, enums[1], "", "", "", "", "", "")


class _EcommerceOrderSpec(_TypeSpec):
    def __init__(self) -> None:
        super().__init__(
            "ecommerce_order",
            ("platform", "product_category", "payment_method", "order_status"),
            [_PLATFORMS, _PRODUCTS, _ORDER_PAYMENTS, _ORDER_STATUSES],
        )

    def _rest(
        self, obj: dict[str, Any], enums: tuple[str, ...], room: int | None
    ) -> tuple[str, ...] | None:
        if room:
            return None
        return ("", "", "", *enums, "", "")


class _MobileMoneySpec(_TypeSpec):
    def __init__(self) -> None:
        super().__init__("mobile_money", ("provider", "kind"), [_MM_PROVIDERS, _MM_KINDS])

    def _rest(
        self, obj: dict[str, Any], enums: tuple[str, ...], room: int | None
    ) -> tuple[str, ...] | None:
        provider, kind = enums
        agent = obj.get("agent_id", _ABSENT)
        if agent is _ABSENT or agent is None:
            if kind in AGENT_KINDS:
                return None
            # ,"agent_id":null  or nothing at all
            if room is not None and room != (0 if agent is _ABSENT else _AGENT_MEMBER + 4):
                return None
            agent = ""
        else:
            if type(agent) is not str or not _AGENT.fullmatch(agent):
                return None
            if room is not None and room != _AGENT_MEMBER + 2 + len(agent):
                return None
        return ("", provider, "", "", "", "", "", kind, agent)


_ENVELOPE_COMBOS = _lengths(product(_AREAS, _CHANNELS, _STATUSES))
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
