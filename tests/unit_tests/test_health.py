"""Pipeline-health rows from real PartitionBatches: counts, event times, lag and tokens."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson

from dxpulse.schemas.validation import Rejection
from dxpulse.streams.batch import PartitionBatch
from dxpulse.streams.dedup import DedupIndex
from dxpulse.streams.health import (
    HEALTH_COLUMNS,
    consumer_lag,
    health_rows,
    health_token,
    next_offsets,
)
from dxpulse.streams.windows import epoch_ms

INGESTED = datetime(2024, 3, 4, 11, 0, tzinfo=UTC)
TOPIC = "dxpulse.online_payment"
TYPES = {TOPIC: "online_payment", "dxpulse.mobile_money": "mobile_money"}


def _at(hhmm: str) -> str:
    return f"2024-03-04T{hhmm}:00.000Z"


def _ms(hhmm: str) -> int:
    return epoch_ms(datetime.fromisoformat(_at(hhmm)))


def _rows(batches, highs=None, **kw) -> list[dict[str, object]]:
    args = {
        "worker": "host:42",
        "group_id": "g",
        "topic_types": TYPES,
        "flush_ms": 12.5,
        "flushed_ms": 1_700_000_000_123,
        **kw,
    }
    rows = health_rows(batches, highs or {}, **args)
    assert all(len(r) == len(HEALTH_COLUMNS) for r in rows)
    return [dict(zip(HEALTH_COLUMNS, r, strict=True)) for r in rows]


def _mixed_batch(flat) -> PartitionBatch:
    """Offsets 10..17: 5 accepted (1 of them late), 2 rejected, 1 duplicate."""
    batch = PartitionBatch(TOPIC, 3, 60, lateness_ms=600_000, dedup=DedupIndex(3_600_000))
    first = flat(event_id=str(uuid.UUID(int=1)), event_time=_at("10:00"))
    assert batch.add_event(10, first, INGESTED, orjson.dumps(first))
    later = flat(event_id=str(uuid.UUID(int=2)), event_time=_at("10:30"))
    assert batch.add_event(11, later, INGESTED, b"b")
    batch.add_rejection(12, None, b"{oops", Rejection("invalid_json", "x"))
    assert not batch.add_event(13, first, INGESTED, orjson.dumps(first)), "a duplicate"
    late = flat(event_id=str(uuid.UUID(int=3)), event_time=_at("10:05"))  # 25 min behind
    assert batch.add_event(14, late, INGESTED, b"c")
    for offset, hhmm in ((15, "10:20"), (16, "10:25")):
        event = flat(event_id=str(uuid.UUID(int=offset)), event_time=_at(hhmm))
        assert batch.add_event(offset, event, INGESTED, b"d")
    batch.add_rejection(17, None, None, Rejection("empty", "message has no value"))
    return batch


def test_counts_come_from_the_batch(flat) -> None:
    batch = _mixed_batch(flat)
    (row,) = _rows([batch], {(TOPIC, 3): 30})
    assert row == {
        "flushed_at": 1_700_000_000_123,
        "worker": "host:42",
        "group_id": "g",
        "topic": TOPIC,
        "event_type": "online_payment",
        "partition": 3,
        "first_offset": 10,
        "last_offset": 17,
        "messages": 8,
        "events": 5,
        "dead_lettered": 2,
        "duplicates": 1,
        "late": 1,
        "max_event_time": _ms("10:30"),
        "consumer_lag": 30 - 18,
        "flush_ms": 12.5,
        "token": batch.token,
    }
    assert row["messages"] == row["events"] + row["dead_lettered"] + row["duplicates"]


def test_max_event_time_is_the_batchs_own_not_the_watermark(flat) -> None:
    # The partition had seen 12:00 in an earlier batch; this one only holds older events.
    batch = PartitionBatch(TOPIC, 0, 60, watermark_ms=_ms("12:00"), lateness_ms=10**9)
    for offset, hhmm in ((0, "11:58"), (1, "11:59"), (2, "11:57")):
        batch.add_event(offset, flat(event_time=_at(hhmm)), INGESTED, b"x")
    assert batch.watermark == _ms("12:00")
    (row,) = _rows([batch])
    assert row["max_event_time"] == batch.max_event_ms == _ms("11:59")


def test_a_batch_without_accepted_events_has_max_event_time_zero() -> None:
    batch = PartitionBatch(TOPIC, 1, 60, watermark_ms=_ms("12:00"))
    batch.add_rejection(5, None, b"nope", Rejection("invalid_json", "x"))
    (row,) = _rows([batch])
    assert (row["max_event_time"], row["events"], row["dead_lettered"]) == (0, 0, 1)
    assert (row["messages"], row["first_offset"], row["last_offset"]) == (1, 5, 5)


def test_lag_is_clamped_and_unknown_is_zero() -> None:
    assert consumer_lag(100, 60) == 40
    assert consumer_lag(60, 60) == 0
    assert consumer_lag(59, 60) == 0, "Tansu's end offsets run short: never negative"
    assert consumer_lag(-1, 60) == 0
    assert consumer_lag(-1001, 60) == 0  # librdkafka's OFFSET_INVALID
    assert consumer_lag(None, 60) == 0


def test_each_partition_gets_its_own_lag_and_event_type(flat) -> None:
    a = PartitionBatch(TOPIC, 0, 60)
    a.add_event(99, flat(), INGESTED, b"a")
    b = PartitionBatch("dxpulse.mobile_money", 2, 60)
    b.add_event(7, flat("mobile_money"), INGESTED, b"b")
    c = PartitionBatch("dxpulse.unknown", 0, 60)
    c.add_rejection(0, None, b"?", Rejection("wrong_topic", "x"))
    highs = {(TOPIC, 0): 150, ("dxpulse.mobile_money", 2): 5}  # the last one short
    rows = _rows([a, b, c], highs)
    assert [(r["event_type"], r["partition"], r["consumer_lag"]) for r in rows] == [
        ("online_payment", 0, 50),
        ("mobile_money", 2, 0),
        ("", 0, 0),  # no watermark known
    ]


def test_two_batches_of_one_partition_share_its_lag_after_the_flush(flat) -> None:
    # After a replay or an outage one flush can carry two consecutive batches of a partition.
    first, second = PartitionBatch(TOPIC, 1, 60), PartitionBatch(TOPIC, 1, 60)
    for offset in range(0, 5):
        first.add_event(offset, flat(), INGESTED, b"1")
    for offset in range(5, 8):
        second.add_event(offset, flat(), INGESTED, b"2")
    assert next_offsets([second, first]) == {(TOPIC, 1): 8}
    rows = _rows([first, second], {(TOPIC, 1): 20})
    assert [(r["first_offset"], r["last_offset"], r["events"]) for r in rows] == [
        (0, 4, 5),
        (5, 7, 3),
    ]
    assert [r["consumer_lag"] for r in rows] == [12, 12]
    assert len({r["token"] for r in rows}) == 2


def test_flush_token_depends_on_the_batch_tokens_only(flat) -> None:
    def batch(partition: int, value: bytes) -> PartitionBatch:
        b = PartitionBatch(TOPIC, partition, 60)
        b.add_event(0, flat(), INGESTED, value)
        return b

    a, b = batch(0, b"a"), batch(1, b"b")
    token = health_token([a, b])
    assert token.startswith("health:") and len(token) == len("health:") + 32
    assert health_token([b, a]) == token, "batch order does not matter"
    assert health_token([batch(0, b"a"), batch(1, b"b")]) == token, "a retry gives the same"
    assert health_token([a]) != token
    assert health_token([a, batch(1, b"other content")]) != token
    assert token not in {a.token, b.token}
