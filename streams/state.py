"""Per-partition sink state kept in ClickHouse, so a restarted worker resumes exactly.

Before a flush writes anything, it records each batch's intent in ``sink_intents``: topic,
topic id, partition, offset range, the watermark and the dedup index's front before and
after. After a crash the new owner of the partition reads the latest intent and (see
streams/ingest.py) either replays exactly that range — the same content gives the same
insert tokens, so what already landed is deduplicated — or, when the consumer resumes past
it, carries on from its end. Either way it rebuilds the dedup index from the front and the
rows already written (streams/dedup.py), so it decides every later message as the worker
before it would have.

Invariants this relies on (docs/reliability.md): a flush records at most one intent per
partition; a partition's intents have increasing first offsets, so "latest" is the one with
the highest first offset, whatever the clocks and whether or not parts have merged.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from clickhouse_connect.driver.client import Client

from dxpulse.core.errors import DxpulseError
from dxpulse.streams.dedup import Front
from dxpulse.streams.native import NativeInserter

INTENTS = "sink_intents"
INTENT_COLUMNS = (
    "group_id",
    "topic",
    "topic_id",
    "partition",
    "first_offset",
    "last_offset",
    "watermark_start",
    "watermark_end",
    "dedup_known",
    "dedup_start_offset",
    "dedup_start_key",
    "dedup_end_offset",
    "dedup_end_key",
    "token",
    "flush_token",
    "flush_batches",
)


@dataclass(frozen=True, slots=True)
class BatchIntent:
    topic: str
    topic_id: str
    partition: int
    first_offset: int
    last_offset: int
    watermark_start: int
    watermark_end: int
    token: str
    dedup_start: Front
    dedup_end: Front
    # False for an intent written before the index was recorded (copied by migration 010).
    dedup_known: bool = True
    # The flush this batch was written in, and how many batches it held: whoever finds the
    # flush incomplete re-forms all of them (streams/replay.py). A record from before
    # migration 011 is a flush of its own batch, under the batch's token.
    flush_token: str = ""
    flush_batches: int = 1

    @property
    def flush(self) -> str:
        return self.flush_token or self.token


class SinkStateStore:
    def __init__(self, client: Client, database: str, group_id: str, lock: threading.Lock):
        self.client = client
        self.database = database
        self.group_id = group_id
        self.lock = lock
        # Its encoder asks the intents table's column types once: without that every flush's
        # record would cost a DESCRIBE query before its insert.
        self._native = NativeInserter(client)

    def record(self, intents: Iterable[BatchIntent]) -> None:
        """One insert for a flush's intents: at most one per partition, or rows would
        collapse into one (the table keeps one row per partition)."""
        rows = [
            [
                self.group_id, i.topic, i.topic_id, i.partition, i.first_offset, i.last_offset,
                i.watermark_start, i.watermark_end, int(i.dedup_known), i.dedup_start.offset,
                i.dedup_start.key_ms, i.dedup_end.offset, i.dedup_end.key_ms, i.token,
                i.flush_token, i.flush_batches,
            ]
            for i in intents
        ]  # fmt: skip
        partitions = {(r[1], r[2], r[3]) for r in rows}
        if len(partitions) != len(rows):
            raise DxpulseError("a flush must record at most one batch per partition")
        if rows:
            with self.lock:
                self._native.insert_rows(f"{self.database}.{INTENTS}", INTENT_COLUMNS, rows)

    def latest(self, topic: str, topic_id: str, partition: int) -> BatchIntent | None:
        """The intent with the highest first offset: the last batch a worker set out to
        write. Merge-independent: argMax reads every unmerged row."""
        fields = ", ".join(f"argMax({c}, first_offset)" for c in INTENT_COLUMNS[4:])
        with self.lock:
            result = self.client.query(
                f"""
                SELECT {fields}, count()
                FROM {self.database}.{INTENTS}
                WHERE group_id = {{g:String}} AND topic = {{t:String}}
                  AND topic_id = {{id:String}} AND partition = {{p:UInt16}}
                """,
                parameters={"g": self.group_id, "t": topic, "id": topic_id, "p": partition},
            ).result_rows
        if not result or not result[0][-1]:
            return None
        return _intent(topic, topic_id, partition, result[0][:-1])

    def flush_intents(self, flush: str) -> list[BatchIntent]:
        """Every batch recorded under one flush token, one per partition, in partition
        order. Fewer than the flush held when a partition's later record replaced its row
        (ReplacingMergeTree): that partition moved on, so the flush was complete."""
        columns = ", ".join(INTENT_COLUMNS[1:])
        with self.lock:
            rows = self.client.query(
                f"""
                SELECT DISTINCT {columns}
                FROM {self.database}.{INTENTS}
                WHERE group_id = {{g:String}}
                  AND (flush_token = {{f:String}} OR (flush_token = '' AND token = {{f:String}}))
                ORDER BY topic, partition
                """,
                parameters={"g": self.group_id, "f": flush},
            ).result_rows
        return [_intent(str(r[0]), str(r[1]), int(r[2]), r[3:]) for r in rows]

    def written_rows(
        self, event_type: str, topic_id: str, partition: int, first: int, last: int
    ) -> list[tuple[int, int, str]]:
        """(offset, event_ms, event_id) of the events written from offsets first..last of
        this topic's partition, in offset order: the dedup index's contents past its front."""
        if first < 0 or last < first:
            return []
        return self._id_rows(
            """kafka_topic_id = {id:String}
               AND kafka_offset BETWEEN {lo:UInt64} AND {hi:UInt64}
               ORDER BY kafka_offset""",
            {"t": event_type, "p": partition, "id": topic_id, "lo": first, "hi": last},
        )

    def legacy_event_ids(
        self, event_type: str, partition: int, last: int, since_ms: int, limit: int
    ) -> list[tuple[int, int, str]]:
        """Rows to seed the index for an intent that did not record it (before migration
        010): the ``limit`` latest by offset up to ``last`` with event time from
        ``since_ms``, in offset order. Close to what the old index held, not exact."""
        if last < 0:
            return []
        newest_first = self._id_rows(
            """kafka_offset <= {o:UInt64}
               AND event_time >= fromUnixTimestamp64Milli({s:Int64})
               ORDER BY kafka_offset DESC LIMIT {n:UInt64}""",
            {"t": event_type, "p": partition, "o": last, "s": max(since_ms, 0), "n": limit},
        )
        return newest_first[::-1]

    def _id_rows(self, condition: str, parameters: dict[str, object]) -> list[tuple[int, int, str]]:
        """(offset, event_ms, event_id) of one event type's partition, filtered further."""
        with self.lock:
            rows = self.client.query(
                f"""
                SELECT kafka_offset, toUnixTimestamp64Milli(event_time), toString(event_id)
                FROM {self.database}.events
                WHERE event_type = {{t:String}} AND kafka_partition = {{p:UInt16}}
                  AND {condition}
                """,
                parameters=parameters,
            ).result_rows
        return [(int(offset), int(ms), str(event_id)) for offset, ms, event_id in rows]


def _intent(topic: str, topic_id: str, partition: int, row: Sequence[Any]) -> BatchIntent:
    """A BatchIntent from INTENT_COLUMNS[4:] as read back."""
    first, last, wm_start, wm_end, known, s_off, s_key, e_off, e_key, token, flush, n = row
    return BatchIntent(
        topic,
        topic_id,
        partition,
        int(first),
        int(last),
        int(wm_start),
        int(wm_end),
        str(token),
        Front(int(s_off), int(s_key)),
        Front(int(e_off), int(e_key)),
        bool(known),
        str(flush),
        int(n),
    )
