"""Pydantic v2 models of the three event types, sharing one envelope.

The wire format is JSON (serialized with orjson); ``event_type`` discriminates.
Validation is strict: no type coercion (``"100"`` is not an amount), unknown fields
are rejected, and cross-field rules (province known, event time sane) are enforced
here so every consumer gets the same answer. ``event_time`` and ``event_id`` are parsed as
the JSON Schema formats define them (:mod:`schemas.formats`). What only the message text
shows (a number's exact value, a repeated member name) is :mod:`schemas.wire`'s, applied by
:class:`schemas.validation.EventValidator` before the models read the message.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, get_args
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from dxpulse.schemas.formats import OutOfRange, parse_date_time, parse_uuid, utc
from dxpulse.schemas.provinces import province_codes

SCHEMA_VERSION = 1
# Ten thousand billion VND: far above any single retail payment, far below UInt64 overflow.
MAX_AMOUNT_VND = 10_000_000_000_000
EARLIEST_EVENT_TIME = datetime(2000, 1, 1, tzinfo=UTC)
DEFAULT_MAX_FUTURE_SKEW = timedelta(minutes=15)

# The event types, in their one place: topics, the generator's mix, dashboards and the
# settings take the list from here (EVENT_TYPES), and each model names its own below.
EventType = Literal["online_payment", "ecommerce_order", "mobile_money"]
Area = Literal["urban", "rural"]
Channel = Literal["mobile_app", "web", "pos", "agent", "ussd"]
Status = Literal["success", "failed", "pending", "reversed"]

PaymentMethod = Literal["vietqr", "ewallet", "card", "bank_app", "internet_banking"]
MerchantCategory = Literal[
    "food_beverage",
    "grocery_retail",
    "utilities",
    "telecom",
    "transport",
    "education",
    "healthcare",
    "public_services",
    "entertainment",
    "travel",
    "other",
]
Platform = Literal["shopee", "tiktok_shop", "lazada", "tiki", "sendo"]
ProductCategory = Literal[
    "fashion",
    "beauty",
    "electronics",
    "home_living",
    "fmcg",
    "mother_baby",
    "health",
    "books_stationery",
    "sports_outdoor",
    "other",
]
OrderPayment = Literal["cod", "ewallet", "card", "bank_transfer", "vietqr", "bnpl"]
OrderStatus = Literal["placed", "confirmed", "shipped", "delivered", "cancelled", "returned"]
MobileMoneyProvider = Literal["viettel_money", "vnpt_money", "mobifone_money"]
MobileMoneyKind = Literal[
    "cash_in", "cash_out", "p2p_transfer", "bill_payment", "merchant_payment", "airtime"
]
AGENT_KINDS: frozenset[str] = frozenset({"cash_in", "cash_out"})
AGENT_PATTERN = r"^AG[0-9A-Z]{4,30}$"

EVENT_TIME_DESCRIPTION = (
    "RFC 3339 date-time (JSON Schema format date-time, asserted): T and Z in either case, "
    "any number of fractional digits, Z or an offset +HH:MM/-HH:MM; a leap second only as "
    "23:59:60 in UTC. Stored in UTC at millisecond precision: further digits are truncated, "
    "and a leap second is stored as 23:59:59.999 of its day. Rules JSON Schema cannot "
    "express: not before 2000-01-01T00:00:00Z, and not more than the worker's "
    "max_future_skew (default 15 minutes) after the worker's clock."
)

SCHEMA_DESCRIPTION = (
    "A dxpulse {event_type} event. Validate with JSON Schema 2020-12, format as an "
    "assertion. A member name repeated in one JSON object makes the event ambiguous and the "
    "worker rejects it. event_time's description states the two rules JSON Schema cannot "
    "express."
)

CustomerId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{4,64}$")]
Identifier = Annotated[str, Field(pattern=r"^[a-z0-9_]{2,40}$")]


def values(literal: Any) -> tuple[str, ...]:
    """The allowed strings of a ``Literal`` type, for generators and SQL enums."""
    return tuple(get_args(literal))


EVENT_TYPES: tuple[str, ...] = values(EventType)


class Envelope(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    event_id: UUID = Field(
        description="A UUID as 8-4-4-4-12 hex digits (JSON Schema format uuid, asserted), in "
        "any case; stored and deduplicated in lower case, so one UUID is one event id."
    )
    event_type: EventType
    schema_version: Literal[1] = Field(description="The number 1, in any spelling (1.0, 1e0).")
    event_time: AwareDatetime = Field(description=EVENT_TIME_DESCRIPTION)
    province_code: str = Field(pattern=r"^[0-9]{2}$", description="GSO two-digit code.")
    area: Area
    channel: Channel
    amount_vnd: int = Field(
        ge=0,
        le=MAX_AMOUNT_VND,
        description="Whole VND: a JSON number with an integral value (150000, 150000.0 and "
        "1.5e5 are one amount).",
    )
    status: Status
    customer_id: CustomerId = Field(description="Pseudonymous, stable per customer.")

    @field_validator("event_id", mode="before")
    @classmethod
    def _canonical_uuid(cls, value: Any) -> Any:
        """JSON Schema's uuid: pydantic's own parser also takes 32 bare hex digits, braces
        and urn:uuid:, which the schema rejects."""
        return parse_uuid(value) if isinstance(value, str) else value

    @field_validator("schema_version", mode="before")
    @classmethod
    def _integer_version(cls, value: Any) -> Any:
        # Literal[1] alone lets JSON `true` through (True == 1 in Python).
        if type(value) is not int:
            raise ValueError("schema_version must be the integer 1")
        return value

    @field_validator("province_code")
    @classmethod
    def _known_province(cls, code: str) -> str:
        if code not in province_codes():
            raise ValueError(f"unknown province code {code!r}")
        return code

    @field_validator("event_time", mode="before")
    @classmethod
    def _rfc3339(cls, value: Any, info: ValidationInfo) -> Any:
        """JSON Schema's date-time to the letter; pydantic's own parser takes far more."""
        if not isinstance(value, str):
            return value  # a datetime from Python code; other JSON types fail the type check
        try:
            return parse_date_time(value)
        except OutOfRange as exc:
            raise ValueError(_outside(repr(value), exc.early, info)) from None

    @field_validator("event_time")
    @classmethod
    def _sane_time(cls, value: datetime, info: ValidationInfo) -> datetime:
        """UTC at millisecond precision, within the two rules JSON Schema cannot express."""
        ctx = info.context or {}
        now: datetime = ctx.get("now") or datetime.now(UTC)
        skew: timedelta = ctx.get("max_future_skew", DEFAULT_MAX_FUTURE_SKEW)
        try:
            value = utc(value)
        except OutOfRange as exc:
            raise ValueError(_outside(value.isoformat(), exc.early, info)) from None
        value = value.replace(microsecond=value.microsecond // 1000 * 1000)
        if value > now + skew:
            raise ValueError(_outside(value.isoformat(), False, info))
        if value < EARLIEST_EVENT_TIME:
            raise ValueError(_outside(value.isoformat(), True, info))
        return value


def _outside(shown: str, early: bool, info: ValidationInfo) -> str:
    """The reason for a time outside [2000-01-01T00:00:00Z, now + max_future_skew]."""
    if early:
        return f"event_time {shown} is before 2000-01-01T00:00:00Z"
    skew = (info.context or {}).get("max_future_skew", DEFAULT_MAX_FUTURE_SKEW)
    return f"event_time {shown} is more than {skew} in the future"


class OnlinePayment(Envelope):
    event_type: Literal["online_payment"]
    method: PaymentMethod
    provider: Identifier = Field(description="Bank or wallet operator, e.g. vietcombank, momo.")
    merchant_category: MerchantCategory


class EcommerceOrder(Envelope):
    event_type: Literal["ecommerce_order"]
    platform: Platform
    product_category: ProductCategory
    payment_method: OrderPayment
    order_status: OrderStatus


def _agent_rule() -> dict[str, Any]:
    """The cash-in/cash-out agent rule as JSON Schema, so other producers see it too."""
    return {
        "if": {"properties": {"kind": {"enum": sorted(AGENT_KINDS)}}, "required": ["kind"]},
        "then": {
            "properties": {"agent_id": {"type": "string", "pattern": AGENT_PATTERN}},
            "required": ["agent_id"],
        },
    }


class MobileMoney(Envelope):
    model_config = ConfigDict(json_schema_extra=_agent_rule())

    event_type: Literal["mobile_money"]
    provider: MobileMoneyProvider
    kind: MobileMoneyKind
    agent_id: Annotated[str, Field(pattern=AGENT_PATTERN)] | None = Field(
        default=None,
        description="The cash agent; required (a string) when kind is cash_in or cash_out.",
    )

    @model_validator(mode="after")
    def _agent_for_cash(self) -> MobileMoney:
        if self.kind in AGENT_KINDS and self.agent_id is None:
            raise ValueError(f"agent_id is required for kind {self.kind!r}")
        return self


Event = Annotated[OnlinePayment | EcommerceOrder | MobileMoney, Field(discriminator="event_type")]


def _by_type(*models: type[Envelope]) -> dict[str, type[Envelope]]:
    """Each model under the event type its discriminator names, in EVENT_TYPES' order.

    Why derived: a hand-written mapping restated the type names a third time; here a model
    missing from the list, or a type without a model, stops the import.
    """
    named = {values(m.model_fields["event_type"].annotation)[0]: m for m in models}
    if set(named) != set(EVENT_TYPES) or len(named) != len(models):
        raise TypeError(f"models {sorted(named)} do not match EventType {EVENT_TYPES}")
    return {event_type: named[event_type] for event_type in EVENT_TYPES}


MODELS: dict[str, type[Envelope]] = _by_type(OnlinePayment, EcommerceOrder, MobileMoney)


def format_event_time(value: datetime) -> str:
    """ISO 8601 in UTC with exactly three fractional digits and a ``Z``."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
