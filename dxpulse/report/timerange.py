"""The report's time range and the bucket size of its time series."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from dxpulse.core.durations import DurationError, parse_duration
from dxpulse.core.errors import DxpulseError

# The dashboards' time zone, Asia/Ho_Chi_Minh; a fixed offset: Vietnam has no DST.
VN_TZ = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")
# Bucket sizes a reader recognises; the smallest that keeps a series under MAX_POINTS wins,
# so a day is 5-minute buckets (288 points), a week hourly (168), 30 days 3-hourly (240).
STEPS_S: tuple[int, ...] = (60, 300, 900, 3_600, 3 * 3_600, 6 * 3_600, 86_400)
MAX_POINTS = 300
DEFAULT_SPAN = timedelta(days=30)
# Share series (a rural share, a cashless share) are ratios of small counts at night: a
# bucket must hold on average at least MIN_SHARE_SAMPLE events of the rarest type (a share
# of 100 moves by about ±5 points by chance), or it swings 0-100% on a handful. They may be
# weekly: a ratio needs fewer points than a rate.
MIN_SHARE_SAMPLE = 100
SHARE_STEPS_S: tuple[int, ...] = (*STEPS_S, 7 * 86_400)


@dataclass(frozen=True)
class TimeRange:
    start: datetime  # timezone-aware
    end: datetime
    interval_s: int

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    def label(self) -> str:
        fmt = "%Y-%m-%d %H:%M"
        start, end = self.start.astimezone(VN_TZ), self.end.astimezone(VN_TZ)
        return f"{start:{fmt}} – {end:{fmt}} Vietnam time (UTC+7)"


def interval_for_span(seconds: float) -> int:
    """The smallest step in STEPS_S giving at most MAX_POINTS buckets over ``seconds``."""
    for step in STEPS_S:
        if seconds / step <= MAX_POINTS:
            return step
    return STEPS_S[-1]


def share_interval_s(seconds: float, sample: int, at_least: int) -> int:
    """The smallest step (not under ``at_least``) whose buckets average MIN_SHARE_SAMPLE of
    ``sample`` events over ``seconds``, within MAX_POINTS; the coarsest when none does."""
    for step in SHARE_STEPS_S:
        buckets = max(1.0, seconds / step)
        if step >= at_least and buckets <= MAX_POINTS and sample / buckets >= MIN_SHARE_SAMPLE:
            return step
    return max(SHARE_STEPS_S[-1], at_least)


def grafana_interval_s(text: str | None) -> int:
    """A panel's minimum interval ("1m", "30s") in whole seconds; 0 when it has none."""
    if not text:
        return 0
    try:
        seconds = parse_duration(text)
    except DurationError:
        raise DxpulseError(f"panel interval {text!r} is not like 30s, 1m or 1h") from None
    return max(1, int(seconds))


def make_range(start: datetime, end: datetime) -> TimeRange:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("time range ends must be timezone-aware")
    if end <= start:
        raise DxpulseError(f"the range ends ({end:%Y-%m-%d %H:%M}) before it starts")
    return TimeRange(start, end, interval_for_span((end - start).total_seconds()))


def as_utc(value: datetime) -> datetime:
    # clickhouse-connect returns naive UTC for bare DateTime columns (its default tz_mode),
    # aware values when the server's time zone is used.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def choose_range(
    span: tuple[datetime, datetime] | None,
    *,
    last: timedelta | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
) -> TimeRange:
    """--from/--to as given; else --last (or DEFAULT_SPAN) ending at the newest data.

    Ending at the newest data rather than now makes `--last 7d` mean the same on a live
    pipeline and on backfilled history; the default is also cut at the oldest data.
    """
    if start is not None or end is not None:
        if start is None:
            raise DxpulseError("--to needs --from")
        return make_range(start, end or now or datetime.now(UTC))
    if span is None:
        raise DxpulseError(
            "no data in event_aggregates: nothing to report (produce some with `dxpulse run`)"
        )
    first, newest = span
    if last is not None:
        return make_range(newest - last, newest)
    # From the start of the first hour: hourly rollups label a row with its hour's start,
    # which a range starting mid-hour would filter out.
    return make_range(_start_of_hour(max(first, newest - DEFAULT_SPAN)), newest)


def _start_of_hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def duration_text(seconds: int) -> str:
    """A bucket as people say it: 86400 -> "1 d", 10800 -> "3 h", 300 -> "5 min"."""
    for size, name in ((86_400, "d"), (3_600, "h"), (60, "min")):
        if seconds % size == 0:
            return f"{seconds // size} {name}"
    return f"{seconds} s"
