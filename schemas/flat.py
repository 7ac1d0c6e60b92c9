"""The validated event as a flat tuple: the layout the hot path and the rows share.

The worker's hot path works on :data:`FlatEvent` tuples, not models (docs/benchmarks.md):
:mod:`schemas.fast` decodes them straight from the message, :func:`flatten` makes them from
a model-validated event (the slow path). The flat fields are derived from the models once,
at import: a field added to a model gets its place with no edit here (docs/architecture.md,
"Adding a field").
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final
from uuid import UUID

from dxpulse.schemas.events import MODELS, Envelope

# The envelope, as the models declare it: the positions below (EVENT_ID, ...) and the
# FlatEvent type name it in this order, so a change to it stops the import here.
ENVELOPE_FIELDS: Final = tuple(Envelope.model_fields)
_LAID_OUT = (
    "event_id", "event_type", "schema_version", "event_time", "province_code", "area",
    "channel", "amount_vnd", "status", "customer_id",
)  # fmt: skip
if ENVELOPE_FIELDS != _LAID_OUT:
    raise TypeError(f"the envelope is {ENVELOPE_FIELDS}: update FlatEvent and its positions")


def _own_fields(model: type[Envelope]) -> tuple[str, ...]:
    """The fields a model adds to the envelope, in declaration order."""
    return tuple(name for name in model.model_fields if name not in Envelope.model_fields)


# Every type's own fields, once each (provider is both online_payment's and mobile_money's),
# in the models' order: derived, so a field added to a model gets its place here.
TYPE_FIELDS: Final = tuple(
    dict.fromkeys(name for model in MODELS.values() for name in _own_fields(model))
)
FLAT_FIELDS: Final = (
    *("event_ms" if name == "event_time" else name for name in ENVELOPE_FIELDS),
    *TYPE_FIELDS,
)
# event_id (canonical lowercase UUID text), event_ms (epoch milliseconds, UTC), then the
# type fields: a field the event type does not have (or a null) is an empty string.
FlatEvent = tuple[str, str, int, int, str, str, str, int, str, str, *tuple[str, ...]]
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


def flatten(event: Envelope) -> FlatEvent:
    """The flat form of a model-validated event (the slow path's result)."""
    own = (getattr(event, name, None) for name in TYPE_FIELDS)
    return (
        str(event.event_id),
        event.event_type,
        event.schema_version,
        epoch_ms(event.event_time),
        event.province_code,
        event.area,
        event.channel,
        event.amount_vnd,
        event.status,
        event.customer_id,
        *("" if value is None else value for value in own),
    )


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(at: datetime) -> int:
    """Milliseconds since the epoch of an aware datetime, truncated, in integers only."""
    delta = at - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def event_uuid(flat: FlatEvent) -> UUID:
    return UUID(flat[EVENT_ID])
