"""Windowed aggregation of validated events into partial rows (pure logic).

A row's key is (window_start, event_type, region, province_code, area, channel); its
values are partial counts, sums, min and max that ClickHouse merges with the rows of
other flushes and workers (AggregatingMergeTree), and the key's distinct customer ids, which
ClickHouse turns into a ``uniq`` state on insert (deploy/clickhouse/008_rollups.sql), so
active customers merge across flushes, workers, hours and days like the sums do.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from dxpulse.schemas.flat import (
    AMOUNT,
    AREA,
    CHANNEL,
    CUSTOMER,
    EVENT_MS,
    EVENT_TYPE,
    PROVINCE,
    STATUS,
    FlatEvent,
)
from dxpulse.schemas.provinces import region_of
from dxpulse.streams.windows import EPOCH

AGGREGATE_COLUMNS = (
    "window_start",
    "window_seconds",
    "event_type",
    "region",
    "province_code",
    "area",
    "channel",
    "events",
    "successes",
    "failures",
    "amount_vnd",
    "success_amount_vnd",
    "min_amount_vnd",
    "max_amount_vnd",
    "customer_ids",
)
# The worker inserts into this Null-engine table; its materialized view writes
# event_aggregates with the customer ids folded into a uniq state.
AGGREGATE_TABLE = "event_aggregates_input"

Key = tuple[int, str, str, str, str]  # window start (epoch s), type, province, area, channel


class WindowAggregator:
    __slots__ = ("_groups", "_window_ms", "window_seconds")

    def __init__(self, window_seconds: int) -> None:
        self.window_seconds = window_seconds
        self._window_ms = window_seconds * 1000
        # values: events, successes, failures, amount, success amount, min, max, customers
        self._groups: dict[Key, list[Any]] = {}

    def __len__(self) -> int:
        return len(self._groups)

    def add(self, event: FlatEvent) -> None:
        start_s = event[EVENT_MS] // self._window_ms * self.window_seconds
        key = (start_s, event[EVENT_TYPE], event[PROVINCE], event[AREA], event[CHANNEL])
        amount = event[AMOUNT]
        status = event[STATUS]
        ok = status == "success"
        group = self._groups.get(key)
        if group is None:
            self._groups[key] = [
                1,
                int(ok),
                int(status == "failed"),
                amount,
                amount if ok else 0,
                amount,
                amount,
                {event[CUSTOMER]},
            ]
            return
        group[7].add(event[CUSTOMER])
        group[0] += 1
        if ok:
            group[1] += 1
            group[4] += amount
        elif status == "failed":
            group[2] += 1
        group[3] += amount
        if amount < group[5]:
            group[5] = amount
        if amount > group[6]:
            group[6] = amount

    @classmethod
    def merged(cls, aggregators: Sequence[WindowAggregator]) -> WindowAggregator:
        """One aggregator holding the groups of all of these (a flush's batches), each key's
        partials combined as ClickHouse would combine them.

        Why: a flush of 20,000 events over 24 partitions held ~6,200 groups, ~3 events
        each; merged, a key shared by partitions is one row, so the aggregates insert and
        its rollup chain take fewer rows. The insert is deduplicated by the flush's token,
        not by its content, so a replay of a flush recorded before this change is dropped
        all the same.
        """
        if not aggregators:  # no window size to give the result; a flush has a batch
            raise ValueError("no aggregators to merge")
        if len(aggregators) == 1:
            return aggregators[0]
        merged = cls(aggregators[0].window_seconds)
        groups = merged._groups
        copied: set[Key] = set()  # keys whose group is the merge's own (not a batch's)
        for aggregator in aggregators:
            if aggregator.window_seconds != merged.window_seconds:
                raise ValueError("cannot merge aggregators of different window sizes")
            for key, group in aggregator._groups.items():
                into = groups.get(key)
                if into is None:  # borrowed until a second batch has the key: batches stay
                    groups[key] = group  # as they are, a failed flush is merged again
                    continue
                if key not in copied:
                    copied.add(key)
                    into = groups[key] = [*into[:7], set(into[7])]
                into[0] += group[0]
                into[1] += group[1]
                into[2] += group[2]
                into[3] += group[3]
                into[4] += group[4]
                if group[5] < into[5]:
                    into[5] = group[5]
                if group[6] > into[6]:
                    into[6] = group[6]
                into[7] |= group[7]
        return merged

    def rows(self) -> Iterator[list[object]]:
        """Rows in AGGREGATE_COLUMNS order, sorted so a re-sent batch is byte-identical."""
        for key in sorted(self._groups):
            start_s, event_type, province, area, channel = key
            *values, customers = self._groups[key]
            start = datetime.fromtimestamp(start_s, EPOCH.tzinfo)
            yield [
                start,
                self.window_seconds,
                event_type,
                region_of(province),
                province,
                area,
                channel,
                *values,
                sorted(customers),
            ]


LATE_COLUMNS = ("window_start", "window_seconds", "event_type", "events", "amount_vnd")


class LateAggregator:
    """Counts of events that arrived after their window closed, per window and type."""

    __slots__ = ("_groups", "window_seconds")

    def __init__(self, window_seconds: int) -> None:
        self.window_seconds = window_seconds
        self._groups: dict[tuple[int, str], list[int]] = {}

    def __len__(self) -> int:
        return len(self._groups)

    def add(self, event: FlatEvent) -> None:
        start_s = event[EVENT_MS] // (self.window_seconds * 1000) * self.window_seconds
        group = self._groups.setdefault((start_s, event[EVENT_TYPE]), [0, 0])
        group[0] += 1
        group[1] += event[AMOUNT]

    def rows(self) -> Iterator[list[object]]:
        for (start_s, event_type), (events, amount) in sorted(self._groups.items()):
            start = datetime.fromtimestamp(start_s, EPOCH.tzinfo)
            yield [start, self.window_seconds, event_type, events, amount]
