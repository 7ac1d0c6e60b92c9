"""PartitionBatch: one partition's contiguous offset range, rows, aggregates, dead letters.

Its token ``topic:partition:first-last:digest`` is the ClickHouse insert-dedup identity:
equal for a re-sent batch, different for other offsets or other content.
"""

from __future__ import annotations

import re
import zlib
from datetime import UTC, datetime

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from dxpulse.schemas.validation import Rejection
from dxpulse.streams.batch import PartitionBatch
from dxpulse.streams.deadletter import DeadLetter
from dxpulse.streams.dedup import DedupIndex
from dxpulse.streams.rows import EVENT_COLUMNS, event_columns
from dxpulse.streams.windows import epoch_ms

INGESTED = datetime(2024, 3, 4, 10, 5, tzinfo=UTC)
TOPIC = "dxpulse.online_payment"


def _fill(batch: PartitionBatch, flat, offsets, amount: int = 1_000) -> list[bytes]:
    values = []
    for offset in offsets:
        event = flat(amount_vnd=amount + offset)
        value = orjson.dumps(event)
        batch.add_event(offset, event, INGESTED, value)
        values.append(value)
    return values


def _token(flat, partition: int, offsets, amount: int = 1_000) -> str:
    batch = PartitionBatch(TOPIC, partition, 60)
    _fill(batch, flat, offsets, amount)
    return batch.token


def test_new_batch_is_empty():
    batch = PartitionBatch(TOPIC, 3, 60)
    assert (batch.first_offset, batch.last_offset, batch.messages) == (-1, -1, 0)
    assert batch.events == []
    assert batch.dead_letters == []
    assert len(batch.aggregator) == 0
    assert batch.aggregator.window_seconds == 60


def test_token_is_topic_partition_offset_range_and_digest(flat):
    batch = PartitionBatch(TOPIC, 3, 60)
    values = _fill(batch, flat, range(10, 15))
    assert (batch.first_offset, batch.last_offset, batch.messages) == (10, 14, 5)
    assert re.fullmatch(r"dxpulse\.online_payment:3:10-14:[0-9a-f]{8}", batch.token)
    digest = 0
    for value in values:
        digest = zlib.crc32(value, digest)
    assert batch.token == f"dxpulse.online_payment:3:10-14:{digest:08x}"


def test_a_recreated_topic_with_the_same_messages_has_other_tokens(flat):
    old = PartitionBatch(TOPIC, 3, 60, topic_id="AAAAAAAAAAAAAAAAAAAAAA")
    new = PartitionBatch(TOPIC, 3, 60, topic_id="BBBBBBBBBBBBBBBBBBBBBB")
    assert _fill(old, flat, range(5)) == _fill(new, flat, range(5))
    assert old.token.endswith("@AAAAAAAAAAAAAAAAAAAAAA") and old.token != new.token


def test_single_message_token(flat):
    batch = PartitionBatch("t.mobile_money", 0, 60)
    batch.add_event(0, flat("mobile_money"), INGESTED, b"abc")
    assert batch.token == f"t.mobile_money:0:0-0:{zlib.crc32(b'abc'):08x}"


def test_same_content_gives_the_same_token(flat):
    assert _token(flat, 1, range(0, 5)) == _token(flat, 1, range(0, 5))


def test_other_partition_offsets_or_content_give_another_token(flat):
    tokens = {
        _token(flat, 1, range(0, 5)),
        _token(flat, 2, range(0, 5)),
        _token(flat, 1, range(5, 10)),
        _token(flat, 1, range(0, 5), amount=2_000),  # a recreated topic: same offsets
    }
    assert len(tokens) == 4


def test_events_become_rows_and_aggregates(flat):
    batch = PartitionBatch(TOPIC, 2, 60)
    batch.add_event(7, flat(amount_vnd=1_000), INGESTED, b"a")
    batch.add_event(8, flat(amount_vnd=2_000, status="failed"), INGESTED, b"b")
    columns = event_columns(
        batch.events, batch.partition, batch.offsets, batch.ingested_ms, batch.late_rows
    )
    rows = [dict(zip(EVENT_COLUMNS, r, strict=True)) for r in zip(*columns, strict=True)]
    assert [(r["kafka_partition"], r["kafka_offset"]) for r in rows] == [(2, 7), (2, 8)]
    assert [r["amount_vnd"] for r in rows] == [1_000, 2_000]
    assert all(r["ingested_at"] == epoch_ms(INGESTED) for r in rows)
    assert [r["is_late"] for r in rows] == [0, 0]
    (agg,) = batch.aggregator.rows()
    assert agg[7:10] == [2, 1, 1]  # events, successes, failures


def test_rejections_become_dead_letters_and_advance_offsets(flat):
    batch = PartitionBatch(TOPIC, 5, 60)
    batch.add_event(100, flat(), INGESTED, b"ok")
    rejection = Rejection("invalid_json", "not valid JSON: EOF while parsing")
    batch.add_rejection(101, b"79", b"{oops", rejection)
    batch.add_rejection(102, None, None, Rejection("empty", "message has no value"))
    batch.add_event(103, flat(), INGESTED, b"ok")
    assert batch.token.startswith(f"{TOPIC}:5:100-103:")
    assert batch.messages == 4
    assert len(batch.events) == 2
    assert batch.dead_letters == [
        DeadLetter(TOPIC, 5, 101, b"79", b"{oops", "invalid_json", rejection.reason),
        DeadLetter(TOPIC, 5, 102, None, None, "empty", "message has no value"),
    ]


def test_rejected_content_is_part_of_the_token(flat):
    def token(bad_value: bytes) -> str:
        batch = PartitionBatch(TOPIC, 0, 60)
        batch.add_rejection(0, None, bad_value, Rejection("invalid_json", "x"))
        return batch.token

    assert token(b"{oops") != token(b"{oops!")
    assert token(b"{oops") == token(b"{oops")


def test_batch_of_only_rejections(validator, ctx, sample):
    batch = PartitionBatch(TOPIC, 0, 60)
    payload = orjson.dumps(sample(amount_vnd="100"))
    result = validator.validate(payload, context=ctx)
    assert isinstance(result, Rejection)
    batch.add_rejection(42, None, payload, result)
    assert batch.token.startswith(f"{TOPIC}:0:42-42:")
    assert batch.events == []
    assert len(batch.aggregator) == 0
    (letter,) = batch.dead_letters
    assert letter.value == payload
    assert letter.code == "invalid_event"
    assert letter.reason == result.reason
    assert "amount_vnd" in letter.reason


def _formed(messages, watermark, dedup, first_offset, template):
    batch = PartitionBatch(TOPIC, 0, 60, watermark, 600_000, dedup)
    for offset, (n, ms) in enumerate(messages, start=first_offset):
        event = (f"00000000-0000-4000-8000-{n:012d}", *template[1:3], ms, *template[4:])
        batch.add_event(offset, event, INGESTED, f"{n}:{ms}".encode())
    batch.seal()
    return batch


def _content(batch):
    return (batch.token, batch.events, batch.offsets, batch.late_rows, batch.duplicates,
            list(batch.aggregator.rows()), list(batch.late.rows()), batch.watermark,
            batch.dedup_end)  # fmt: skip


def _rows(*batches):
    return [(o, e[3], e[0]) for b in batches for o, e in zip(b.offsets, b.events, strict=True)]


_MESSAGES = st.lists(
    st.tuples(st.integers(0, 15), st.integers(0, 3_000_000)), min_size=1, max_size=40
)  # (id number from a small pool: duplicates; event time over 50 minutes: late events)


@settings(max_examples=300, deadline=None)
@given(a=_MESSAGES, b=_MESSAGES, c=_MESSAGES, max_ids=st.integers(1, 20))
def test_a_batch_formed_again_from_its_recorded_start_is_identical(flat, a, b, c, max_ids):
    """Invariant 5: a batch depends only on its messages, the watermark it started from
    and the dedup index's front, so a restarted worker re-forms it exactly (a replay, from
    the intent's start) and decides the next batch alike (continuing from its end)."""
    template = flat("mobile_money")
    live = DedupIndex(600_000, max_ids)
    first = _formed(a, -(2**62), live, 0, template)
    second = _formed(b, first.watermark, live, len(a), template)
    third = _formed(c, second.watermark, live, len(a) + len(b), template)

    def restored(front, *written):
        index = DedupIndex(600_000, max_ids)
        rows = [r for r in _rows(*written) if front.offset >= 0 and r[0] >= front.offset]
        index.restore(front, rows)
        return index

    start = restored(second.dedup_start, first)
    replay = _formed(b, second.watermark_start, start, len(a), template)
    assert _content(replay) == _content(second)
    after = restored(second.dedup_end, first, second)
    following = _formed(c, second.watermark, after, len(a) + len(b), template)
    assert _content(following) == _content(third)
