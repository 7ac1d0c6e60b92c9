"""The events' two JSON Schema formats, parsed exactly as JSON Schema 2020-12 defines them.

The committed schemas say ``"format": "date-time"`` and ``"format": "uuid"``, and producers
in other languages validate with format as an assertion. pydantic's own parsers take much
more: a space for the ``T``, no seconds, ``+0700``, a decimal comma, a Unix timestamp in a
string, 32 bare hex digits, braces, ``urn:uuid:``. So the models parse these two fields
here, to the letter of RFC 3339 and RFC 4122 as the official JSON-Schema-Test-Suite reads
them. Patterns use ``[0-9]``, not ``\\d`` (any Unicode digit), and ``fullmatch``, since
``$`` would also match before a trailing newline.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from uuid import UUID

_DATE_TIME = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})[Tt]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]+))?"
    r"(?:[Zz]|(?P<sign>[+-])(?P<off_hour>[0-9]{2}):(?P<off_minute>[0-9]{2}))"
)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
DATE_TIME_EXAMPLE = "2024-03-04T10:00:00.000Z"


class OutOfRange(ValueError):
    """A valid date-time whose instant lies outside what :class:`datetime` holds (years
    1 to 9999 in UTC): ``early`` tells which side, for the reason."""

    def __init__(self, text: str, early: bool) -> None:
        super().__init__(text)
        self.early = early


def parse_date_time(text: str) -> datetime:
    """The instant of an RFC 3339 ``date-time``, as an aware datetime in UTC.

    Fractional digits beyond the microsecond are truncated. A leap second (``:60``, valid
    only where the time in UTC is 23:59:60) becomes 23:59:59.999999 UTC of its day: the
    last instant a :class:`datetime` can name before the next day. Raises ValueError for
    anything else, and :class:`OutOfRange` for a valid one that ``datetime`` cannot hold.
    """
    match = _DATE_TIME.fullmatch(text)
    if match is None:
        raise ValueError(
            f"not an RFC 3339 date-time like {DATE_TIME_EXAMPLE} "
            "(YYYY-MM-DDTHH:MM:SS, optional fraction, then Z or +HH:MM/-HH:MM)"
        )
    hour, minute, second = (int(match[k]) for k in ("hour", "minute", "second"))
    offset = _offset(match)
    if hour > 23 or minute > 59 or second > 60:
        raise ValueError("not an RFC 3339 date-time: hour, minute or second out of range")
    if second == 60 and (hour * 60 + minute - offset) % 1440 != 23 * 60 + 59:
        raise ValueError("not an RFC 3339 date-time: a leap second is 23:59:60 in UTC")
    micros = 999_999 if second == 60 else int(((match["fraction"] or "") + "000000")[:6])
    year, month, day = (int(match[k]) for k in ("year", "month", "day"))
    try:
        local = datetime(year, month, day, hour, minute, min(second, 59), micros)
    except ValueError:
        if year == 0 and _is_date(4, month, day):  # year 0 is a leap year, like 4
            raise OutOfRange(text, early=True) from None
        no_day = f"not an RFC 3339 date-time: no day {year:04d}-{month:02d}-{day:02d}"
        raise ValueError(no_day) from None
    try:
        return (local - timedelta(minutes=offset)).replace(tzinfo=UTC)
    except OverflowError:
        raise OutOfRange(text, early=year <= 1) from None


def _offset(match: re.Match[str]) -> int:
    """The offset from UTC in minutes (Z is 0)."""
    if match["sign"] is None:
        return 0
    hours, minutes = int(match["off_hour"]), int(match["off_minute"])
    if hours > 23 or minutes > 59:
        raise ValueError("not an RFC 3339 date-time: offset beyond +-23:59")
    return (hours * 60 + minutes) * (1 if match["sign"] == "+" else -1)


def _is_date(year: int, month: int, day: int) -> bool:
    try:
        datetime(year, month, day)
    except ValueError:
        return False
    return True


def parse_uuid(text: str) -> UUID:
    """A UUID written as 8-4-4-4-12 hex digits, in any case (RFC 4122's string form)."""
    if _UUID.fullmatch(text) is None:
        raise ValueError(
            "not a UUID as 8-4-4-4-12 hex digits (no braces, no urn:uuid:, no bare 32 digits)"
        )
    return UUID(text)


def utc(value: datetime) -> datetime:
    """``value`` in UTC, for a datetime given by Python code (JSON input is UTC already);
    OutOfRange when the conversion leaves datetime's years."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise OutOfRange(value.isoformat(), early=value.year <= 1) from None
