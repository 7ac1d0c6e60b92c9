"""History backfill planning: when each of ``count`` events happens over a past span.

Pure logic, no I/O. The span is cut into clock-aligned bins (a minute by default); each
bin and event type gets a weight from the hour-of-day and weekday rhythm times the named
peaks of its local day (``intensity.type_weights(at, peaks=True)``) times the type's yearly
growth up to the span's end (``intensity.count_growth``), and one seeded
multinomial draw spreads exactly ``count`` events over the (bin, type) cells, with the
day-to-day noise real traffic has. Each event then gets its own millisecond inside its
bin, so the raw events do not pile up on whole minutes.

Steps come in chunks of event time (10 minutes by default), one step per type in each, so
a 30-day, 1.5-million-event backfill is ~13,000 generator calls. Each step's times are
ascending and every type's steps follow each other in time, so each topic partition
receives its events in event-time order, which the worker's watermark needs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from dxpulse.core.config import EVENT_TYPES
from dxpulse.producers.intensity import count_growth, type_weights
from dxpulse.producers.peaks import peaks_on

Int64Array = npt.NDArray[np.int64]

MAX_SPAN_S = 400 * 86_400
DEFAULT_PER_DAY = 50_000
_HOUR_MS = 3_600_000
_DAY_MS = 86_400_000
_VN_OFFSET_MS = 7 * _HOUR_MS
# Streams of the plan's random generator: the allocation and the times within bins.
_ALLOCATION, _TIMES = 1, 2


@dataclass(frozen=True)
class Step:
    """Events of one type to generate in one call: one per time, ascending epoch ms (UTC)."""

    event_type: str
    times_ms: Int64Array

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(int(self.times_ms[0]) / 1000, UTC)


@dataclass(frozen=True)
class PlannedDay:
    """Events planned on one Vietnam local date."""

    day: date
    by_type: dict[str, int]
    peaks: list[str]
    partial: bool  # the span covers only part of this day

    @property
    def total(self) -> int:
        return sum(self.by_type.values())


@dataclass(frozen=True)
class BackfillPlan:
    start: datetime
    end: datetime
    count: int
    seed: int
    event_types: tuple[str, ...]
    bin_edges_ms: Int64Array  # bins[i] = [edges[i], edges[i + 1]), clock-aligned inside
    counts: Int64Array  # (bins, event types): events of each type in each bin
    chunk_ms: int

    def steps(self) -> Iterator[Step]:
        """The events' times, chunk by chunk in time order; the same on every call."""
        rng = _rng(self.seed, _TIMES)
        starts, lengths = self.bin_edges_ms[:-1], np.diff(self.bin_edges_ms)
        chunk = starts // self.chunk_ms
        bounds = [0, *(np.flatnonzero(np.diff(chunk)) + 1).tolist(), len(starts)]
        for lo, hi in pairwise(bounds):
            for j, event_type in enumerate(self.event_types):
                n = self.counts[lo:hi, j]
                total = int(n.sum())
                if total == 0:
                    continue
                offsets = rng.random(total) * np.repeat(lengths[lo:hi], n)
                times = np.repeat(starts[lo:hi], n) + offsets.astype(np.int64)
                times.sort()  # bins are disjoint: sorting the chunk sorts within each bin
                yield Step(event_type, times)

    def by_type(self) -> dict[str, int]:
        return {t: int(n) for t, n in zip(self.event_types, self.counts.sum(axis=0), strict=True)}

    def days(self) -> list[PlannedDay]:
        """Planned events per Vietnam local date, oldest first, with the peaks of each day."""
        day_of_bin = (self.bin_edges_ms[:-1] + _VN_OFFSET_MS) // _DAY_MS
        first, last = int(day_of_bin[0]), int(day_of_bin[-1])
        per_day = np.zeros((last - first + 1, len(self.event_types)), dtype=np.int64)
        np.add.at(per_day, day_of_bin - first, self.counts)
        start_ms, end_ms = int(self.bin_edges_ms[0]), int(self.bin_edges_ms[-1])
        out = []
        for i, row in enumerate(per_day.tolist()):
            day_ms = (first + i) * _DAY_MS - _VN_OFFSET_MS  # local midnight, epoch ms
            day = date(1970, 1, 1) + timedelta(days=first + i)
            partial = day_ms < start_ms or day_ms + _DAY_MS > end_ms
            by_type = dict(zip(self.event_types, row, strict=True))
            out.append(PlannedDay(day, by_type, peaks_on(day), partial))
        return out


def default_count(span_s: float) -> int:
    """``DEFAULT_PER_DAY`` events for each day of the span."""
    return max(1, round(DEFAULT_PER_DAY * span_s / 86_400))


def plan_backfill(
    span_s: float,
    count: int,
    end: datetime | None = None,
    seed: int = 0,
    event_types: Sequence[str] = EVENT_TYPES,
    bin_s: int = 60,
    chunk_s: int = 600,
) -> BackfillPlan:
    """Plan ``count`` events over ``[end - span_s, end)`` (``end`` defaults to now).

    Deterministic for its arguments. ``bin_s`` must divide an hour (the rhythm changes by
    the hour) and ``chunk_s`` must be a multiple of it.
    """
    if not 0 < span_s <= MAX_SPAN_S:
        days = MAX_SPAN_S // 86_400
        raise ValueError(f"backfill span must be more than 0 and at most {days} days")
    if count < 1:
        raise ValueError("backfill count must be at least 1")
    if 3600 % bin_s or chunk_s % bin_s or chunk_s < bin_s:
        raise ValueError("bin_s must divide 3600 and chunk_s be a multiple of bin_s")
    unknown = set(event_types) - set(EVENT_TYPES)
    if unknown or not event_types:
        raise ValueError(f"unknown event types: {sorted(unknown) or 'none given'}")
    end = datetime.now(UTC) if end is None else end
    if end.tzinfo is None:
        raise ValueError("end must be timezone-aware")
    end_ms = int(end.timestamp() * 1000)
    edges = _bin_edges(end_ms - round(span_s * 1000), end_ms, bin_s * 1000)
    weights = _weights(edges, tuple(event_types))
    p = (weights / weights.sum()).ravel()
    counts = _rng(seed, _ALLOCATION).multinomial(count, p).reshape(weights.shape)
    return BackfillPlan(
        start=datetime.fromtimestamp(int(edges[0]) / 1000, UTC),
        end=datetime.fromtimestamp(int(edges[-1]) / 1000, UTC),
        count=count,
        seed=seed,
        event_types=tuple(event_types),
        bin_edges_ms=edges,
        counts=counts.astype(np.int64),
        chunk_ms=chunk_s * 1000,
    )


def _bin_edges(start_ms: int, end_ms: int, bin_ms: int) -> Int64Array:
    """``start``, every multiple of ``bin_ms`` strictly between, ``end``."""
    inner = np.arange((start_ms // bin_ms + 1) * bin_ms, end_ms, bin_ms, dtype=np.int64)
    return np.concatenate([np.array([start_ms], np.int64), inner, np.array([end_ms], np.int64)])


def _weights(edges: Int64Array, event_types: tuple[str, ...]) -> npt.NDArray[np.float64]:
    """(bins, types): each type's peak-adjusted weight in its bin's hour, times its growth
    from that hour to the span's end (the mix at the end is today's), times bin length."""
    starts = edges[:-1]
    end = _utc(int(edges[-1]))
    hours, bin_hour = np.unique(starts // _HOUR_MS, return_inverse=True)
    per_hour = np.array(
        [
            [w[t] * count_growth(t, at, end) for t in event_types]
            for at, w in (
                (at, type_weights(at, peaks=True))
                for at in (_utc(h * _HOUR_MS) for h in hours.tolist())
            )
        ],
        dtype=np.float64,
    )
    return per_hour[bin_hour] * np.diff(edges)[:, None].astype(np.float64)


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _rng(seed: int, stream: int) -> np.random.Generator:
    # SeedSequence takes non-negative integers only; any --seed maps to one.
    return np.random.default_rng([seed % 2**64, stream])
