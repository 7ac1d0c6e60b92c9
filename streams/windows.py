"""Event-time tumbling windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(at: datetime) -> int:
    """Exact milliseconds since the epoch (no float rounding)."""
    return (at - EPOCH) // timedelta(milliseconds=1)


def window_start_ms(event_ms: int, window_ms: int) -> int:
    """Start of the tumbling window holding ``event_ms``; windows are [start, start + size)."""
    return event_ms - event_ms % window_ms


def window_start(at: datetime, window_seconds: int) -> datetime:
    start = window_start_ms(epoch_ms(at), window_seconds * 1000)
    return EPOCH + timedelta(milliseconds=start)
