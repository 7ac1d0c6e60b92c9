"""Ground truth: what every ClickHouse table must hold for a log of messages.

Computed here, independently of the worker, from what was produced: the messages as the
broker stored them (topic, partition, offset), each either a valid event the test built or
a message the test made invalid on purpose. The rules are the documented ones
(docs/reliability.md), written out directly rather than with the worker's classes:

- per partition, in offset order; the watermark is the highest event time accepted so far;
- an accepted event more than the allowed lateness behind the watermark is late: it is in
  ``events`` (is_late = 1) and ``late_events``, not in the window aggregates and rollups;
- an event id is a duplicate, and dropped, while it is remembered: from its acceptance
  until the watermark passes the watermark it was accepted at by more than the horizon;
- an invalid message is a dead letter.

Workloads stay far from the horizon's and the lateness's edges, so the truth does not hinge
on a millisecond.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from dxpulse.core.config import Settings

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Rows = Callable[[str], Sequence[Sequence[Any]]]
Table = dict[tuple[Any, ...], tuple[Any, ...]]


@dataclass(frozen=True)
class Logged:
    """One message as the broker stored it; ``valid`` says how the test built it."""

    topic: str
    partition: int
    offset: int
    value: bytes
    valid: bool
    key: bytes | None = None


@dataclass
class Truth:
    window_s: int
    lateness_ms: int
    horizon_ms: int
    events: dict[str, bool] = field(default_factory=dict)  # event_id -> is_late
    accepted: list[dict[str, Any]] = field(default_factory=list)
    late: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[tuple[str, int, int]] = field(default_factory=list)
    duplicates: int = 0

    @classmethod
    def of(cls, settings: Settings, log: Iterable[Logged]) -> Truth:
        stream = settings.stream
        truth = cls(
            stream.window_seconds, stream.allowed_lateness_s * 1000, stream.dedup_horizon_s * 1000
        )
        by_partition: dict[tuple[str, int], list[Logged]] = defaultdict(list)
        for message in log:
            by_partition[(message.topic, message.partition)].append(message)
        for messages in by_partition.values():
            truth._partition(sorted(messages, key=lambda m: m.offset))
        return truth

    def _partition(self, messages: list[Logged]) -> None:
        watermark: int | None = None
        remembered: dict[str, int] = {}  # event_id -> watermark when it was accepted
        for m in messages:
            if not m.valid:
                self.dead_letters.append((m.topic, m.partition, m.offset))
                continue
            event = orjson.loads(m.value)
            ms = _epoch_ms(event["event_time"])
            seen_at = remembered.get(event["event_id"])
            if seen_at is not None and watermark is not None and (
                seen_at >= watermark - self.horizon_ms
            ):
                self.duplicates += 1
                continue
            late = watermark is not None and ms < watermark - self.lateness_ms
            watermark = ms if watermark is None else max(watermark, ms)
            remembered[event["event_id"]] = watermark
            assert event["event_id"] not in self.events, "workload reuses an id past the horizon"
            self.events[event["event_id"]] = late
            (self.late if late else self.accepted).append(event)

    # -- expected table contents, keyed like the queries in TABLE_QUERIES ------------------
    def tables(self) -> dict[str, Table]:
        on_time, everything = self.accepted, self.accepted + self.late
        ecommerce = [e for e in everything if e["event_type"] == "ecommerce_order"]
        money = [e for e in everything if e["event_type"] == "mobile_money"]
        return {
            "events": {(i,): (int(late),) for i, late in self.events.items()},
            "event_aggregates": _sums(on_time, self._window, _DIMS, _measures),
            "event_aggregates_hourly": _sums(on_time, _hour, _DIMS, _measures),
            "event_aggregates_daily": _sums(on_time, _day, _DIMS, _measures),
            "late_events": _sums(self.late, self._window, ("event_type",), _late_measures),
            "ecommerce_minute": _sums(ecommerce, _minute, _ORDER_DIMS, _order_measures),
            "mobile_money_minute": _sums(money, _minute, _MONEY_DIMS, _money_measures),
            "dead_letters": _counted(self.dead_letters),
        }

    def _window(self, event: dict[str, Any]) -> Any:
        ms = _epoch_ms(event["event_time"])
        return ms // (self.window_s * 1000) * self.window_s


def _epoch_ms(text: str) -> int:
    at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (at - _EPOCH) // timedelta(milliseconds=1)


def _minute(event: dict[str, Any]) -> Any:
    return _epoch_ms(event["event_time"]) // 60_000 * 60


def _hour(event: dict[str, Any]) -> Any:
    return _epoch_ms(event["event_time"]) // 3_600_000 * 3600


def _day(event: dict[str, Any]) -> Any:
    at = datetime.fromtimestamp(_epoch_ms(event["event_time"]) / 1000, UTC)
    return at.astimezone(VIETNAM).date().isoformat()


_DIMS = ("event_type", "province_code", "area", "channel")
_ORDER_DIMS = (
    "province_code", "area", "platform", "product_category", "payment_method", "order_status",
)  # fmt: skip
_MONEY_DIMS = ("province_code", "area", "provider", "kind")


def _measures(events: list[dict[str, Any]]) -> tuple[Any, ...]:
    ok = [e for e in events if e["status"] == "success"]
    amounts = [e["amount_vnd"] for e in events]
    return (
        len(events),
        len(ok),
        sum(e["status"] == "failed" for e in events),
        sum(amounts),
        sum(e["amount_vnd"] for e in ok),
        min(amounts),
        max(amounts),
        len({e["customer_id"] for e in events}),
    )


def _late_measures(events: list[dict[str, Any]]) -> tuple[Any, ...]:
    return (len(events), sum(e["amount_vnd"] for e in events))


def _order_measures(events: list[dict[str, Any]]) -> tuple[Any, ...]:
    return (len(events), sum(e["amount_vnd"] for e in events))


def _money_measures(events: list[dict[str, Any]]) -> tuple[Any, ...]:
    return (
        len(events),
        sum(e["status"] == "success" for e in events),
        sum(e["amount_vnd"] for e in events),
        len({e["customer_id"] for e in events}),
        len({e["agent_id"] for e in events if e.get("agent_id")}),
    )


def _sums(
    events: list[dict[str, Any]],
    bucket: Callable[[dict[str, Any]], Any],
    dims: tuple[str, ...],
    measures: Callable[[list[dict[str, Any]]], tuple[Any, ...]],
) -> Table:
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        groups[(bucket(e), *(e[d] for d in dims))].append(e)
    return {key: measures(group) for key, group in groups.items()}


def _counted(keys: Iterable[tuple[Any, ...]]) -> Table:
    counts: dict[tuple[Any, ...], int] = defaultdict(int)
    for key in keys:
        counts[key] += 1
    return {key: (n,) for key, n in counts.items()}


_AGG = (
    "sum(events), sum(successes), sum(failures), sum(amount_vnd), sum(success_amount_vnd), "
    "min(min_amount_vnd), max(max_amount_vnd), uniqMerge(customers)"
)
_D = "event_type, province_code, area, channel"
# What each table holds, grouped as Truth.tables() keys it: the last len(measures) columns
# are the values, the others the key. A table counted twice shows up as doubled values.
TABLE_QUERIES = {
    "events": "SELECT toString(event_id), any(is_late), count() FROM {db}.events GROUP BY 1",
    "event_aggregates": f"SELECT toUnixTimestamp(window_start), {_D}, {_AGG} "
    "FROM {db}.event_aggregates GROUP BY ALL",
    "event_aggregates_hourly": f"SELECT toUnixTimestamp(hour), {_D}, {_AGG} "
    "FROM {db}.event_aggregates_hourly GROUP BY ALL",
    "event_aggregates_daily": f"SELECT toString(day), {_D}, {_AGG} "
    "FROM {db}.event_aggregates_daily GROUP BY ALL",
    "late_events": "SELECT toUnixTimestamp(window_start), event_type, sum(events), "
    "sum(amount_vnd) FROM {db}.late_events GROUP BY ALL",
    "ecommerce_minute": "SELECT toUnixTimestamp(minute), province_code, area, platform, "
    "product_category, payment_method, order_status, sum(orders), sum(gmv_vnd) "
    "FROM {db}.ecommerce_minute GROUP BY ALL",
    "mobile_money_minute": "SELECT toUnixTimestamp(minute), province_code, area, provider, "
    "kind, sum(transactions), sum(successes), sum(amount_vnd), uniqMerge(customers), "
    "uniqMerge(agents) FROM {db}.mobile_money_minute GROUP BY ALL",
    "dead_letters": "SELECT source_topic, source_partition, source_offset, count() "
    "FROM {db}.dead_letters GROUP BY ALL",
}
_VALUES = {
    "events": 1,  # is_late; the row count is checked separately
    "late_events": 2,
    "ecommerce_minute": 2,
    "mobile_money_minute": 5,
    "dead_letters": 1,
}


def table_statements(database: str) -> dict[str, str]:
    return {name: sql.format(db=database) for name, sql in TABLE_QUERIES.items()}


def measured(results: dict[str, Sequence[Sequence[Any]]]) -> dict[str, Table]:
    """Every table's rows (from ``table_statements``), keyed as Truth.tables() keys them."""
    out: dict[str, Table] = {}
    for name, rows in results.items():
        width = _VALUES.get(name, 8)
        table: Table = {}
        for row in rows:
            values = list(row)
            if name == "events":
                assert values[-1] == 1, f"event {values[0]} stored {values[-1]} times"
                values = values[:-1]
            table[tuple(values[:-width])] = tuple(values[-width:])
        out[name] = table
    return out


def query_tables(query: Rows, database: str) -> dict[str, Table]:
    return measured({name: query(sql) for name, sql in table_statements(database).items()})


def differences(expected: dict[str, Table], actual: dict[str, Table], limit: int = 5) -> list[str]:
    """Readable differences per table, empty when every table matches."""
    found = []
    for name, want in expected.items():
        have = actual.get(name, {})
        if want == have:
            continue
        keys = sorted(set(want) | set(have), key=repr)
        wrong = [k for k in keys if want.get(k) != have.get(k)]
        shown = ", ".join(f"{k}: want {want.get(k)} got {have.get(k)}" for k in wrong[:limit])
        found.append(f"{name}: {len(wrong)} keys differ ({shown})")
    return found
