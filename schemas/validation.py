"""Turn raw Kafka message bytes into a validated event or a rejection with a reason.

Never raises on bad input: anything a producer can send ends as either an event or
a :class:`Rejection` whose ``code`` is one of :data:`REJECTION_CODES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError

from dxpulse.schemas.events import DEFAULT_MAX_FUTURE_SKEW, MODELS, Envelope, Event
from dxpulse.schemas.fast import decode_flat
from dxpulse.schemas.flat import FlatEvent, flatten
from dxpulse.schemas.wire import Ambiguous, NotJson, for_models

REJECTION_CODES = ("empty", "too_large", "invalid_json", "invalid_event", "wrong_topic")
_MAX_REASON_ERRORS = 3
_MAX_REASON_CHARS = 500

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_adapter: TypeAdapter[Envelope] = TypeAdapter(Event)


@dataclass(frozen=True, slots=True)
class Rejection:
    code: str
    reason: str


class EventValidator:
    """Validates message values; one instance per worker, cheap to call per message."""

    def __init__(
        self,
        max_bytes: int = 64 * 1024,
        max_future_skew: timedelta = DEFAULT_MAX_FUTURE_SKEW,
    ) -> None:
        self.max_bytes = max_bytes
        self.max_future_skew = max_future_skew

    def context(self, now: datetime | None = None) -> dict[str, Any]:
        """Validation context; build once per batch so ``now`` is read once."""
        now = now or datetime.now(UTC)
        limit = now + self.max_future_skew
        max_event_us = (limit - _EPOCH) // timedelta(microseconds=1)
        return {"now": now, "max_future_skew": self.max_future_skew, "max_event_us": max_event_us}

    def validate_flat(
        self,
        payload: bytes | None,
        expected_type: str | None = None,
        context: dict[str, Any] | None = None,
    ) -> FlatEvent | Rejection:
        """Like :meth:`validate`, returning the flat event; the hot path's entry point.

        Valid events in their shortest spelling take the fast path (msgspec, one C pass);
        everything else, valid or not, gets the models' verdict, so the outcome and every
        rejection reason are the models'.
        """
        ctx = context or self.context()
        if payload and len(payload) <= self.max_bytes:
            flat = decode_flat(payload, expected_type, ctx["max_event_us"])
            if flat is not None:
                return flat
        result = self.validate(payload, expected_type, ctx)
        return result if isinstance(result, Rejection) else flatten(result)

    def validate(
        self,
        payload: bytes | None,
        expected_type: str | None = None,
        context: dict[str, Any] | None = None,
    ) -> Envelope | Rejection:
        if not payload:
            return Rejection("empty", "message has no value")
        if len(payload) > self.max_bytes:
            return Rejection(
                "too_large", f"message of {len(payload)} bytes exceeds {self.max_bytes}"
            )
        try:
            data = for_models(payload)
        except NotJson as exc:
            return Rejection("invalid_json", _clip(f"not valid JSON: {exc}"))
        except Ambiguous as exc:
            return Rejection(
                "invalid_event",
                _clip(f"{exc.name}: appears more than once in one object, the event is ambiguous"),
            )
        try:
            event = _adapter.validate_json(data, context=context or self.context())
        except ValidationError as exc:
            return _rejection_from(exc)
        except (ValueError, RecursionError) as exc:  # pragma: no cover - pydantic wraps these
            return Rejection("invalid_event", _clip(str(exc)))
        if expected_type is not None and event.event_type != expected_type:
            return Rejection(
                "wrong_topic",
                f"event_type {event.event_type!r} on the topic for {expected_type!r}",
            )
        return event


def _rejection_from(exc: ValidationError) -> Rejection:
    errors = exc.errors(include_url=False, include_input=False)
    if errors and errors[0]["type"] == "json_invalid":
        return Rejection("invalid_json", _clip(f"not valid JSON: {errors[0]['msg']}"))
    parts = [_describe(err) for err in errors[:_MAX_REASON_ERRORS]]
    if len(errors) > _MAX_REASON_ERRORS:
        parts.append(f"and {len(errors) - _MAX_REASON_ERRORS} more")
    return Rejection("invalid_event", _clip("; ".join(parts)))


def _describe(err: Any) -> str:
    loc = [str(p) for p in err["loc"]]
    if loc and loc[0] in MODELS:  # the discriminator's branch name adds nothing for the reader
        loc = loc[1:]
    field = ".".join(loc) or "event"
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"{field}: {msg}"


def _clip(text: str) -> str:
    """At most 500 characters on one line: a reason quotes what the producer sent (a field
    name, a value), and a newline in it would break log lines and the dead-letter views."""
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)
    return text if len(text) <= _MAX_REASON_CHARS else text[: _MAX_REASON_CHARS - 1] + "…"
