"""Per-partition sink state kept in ClickHouse, so a restarted worker resumes exactly.

Before a flush writes anything, it records each batch's intent: topic, topic id, partition,
offset range, the watermark before and after. After a crash the new owner of the partition
reads the latest intent and (see streams/ingest.py) either replays exactly that range — the
same content gives the same insert tokens, so what already landed is deduplicated — or,
when the consumer resumes past it, carries on from its watermark.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from clickhouse_connect.driver.client import Client

INTENT_COLUMNS = (
    "group_id",
    "topic",
    "topic_id",
    "partition",
    "first_offset",
    "last_offset",
    "watermark_start",
    "watermark_end",
    "token",
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


class SinkStateStore:
    def __init__(self, client: Client, database: str, group_id: str, lock: threading.Lock):
        self.client = client
        self.database = database
        self.group_id = group_id
        self.lock = lock

    def record(self, intents: Iterable[BatchIntent]) -> None:
        rows = [
            [
                self.group_id,
                i.topic,
                i.topic_id,
                i.partition,
                i.first_offset,
                i.last_offset,
                i.watermark_start,
                i.watermark_end,
                i.token,
            ]
            for i in intents
        ]
        if rows:
            with self.lock:
                self.client.insert(
                    f"{self.database}.sink_batches", rows, column_names=list(INTENT_COLUMNS)
                )

    def latest(self, topic: str, topic_id: str, partition: int) -> BatchIntent | None:
        with self.lock:
            result = self.client.query(
                f"""
                SELECT argMax(first_offset, written_at), argMax(last_offset, written_at),
                       argMax(watermark_start, written_at), argMax(watermark_end, written_at),
                       argMax(token, written_at), count()
                FROM {self.database}.sink_batches
                WHERE group_id = {{g:String}} AND topic = {{t:String}}
                  AND topic_id = {{id:String}} AND partition = {{p:UInt16}}
                """,
                parameters={"g": self.group_id, "t": topic, "id": topic_id, "p": partition},
            ).result_rows
        if not result or not result[0][5]:
            return None
        first, last, wm_start, wm_end, token, _ = result[0]
        return BatchIntent(
            topic,
            topic_id,
            partition,
            int(first),
            int(last),
            int(wm_start),
            int(wm_end),
            str(token),
        )

    def written_event_ids(
        self, event_type: str, partition: int, max_offset: int, since_ms: int, limit: int
    ) -> list[tuple[int, str]]:
        """(event_ms, event_id) already written from a partition, to re-seed deduplication.

        The ``limit`` latest by offset, returned in offset order, as the live index held them.
        """
        with self.lock:
            rows = self.client.query(
                f"""
                SELECT toUnixTimestamp64Milli(event_time), event_id
                FROM {self.database}.events
                WHERE event_type = {{t:String}} AND kafka_partition = {{p:UInt16}}
                  AND kafka_offset <= {{o:UInt64}}
                  AND event_time >= fromUnixTimestamp64Milli({{s:Int64}})
                ORDER BY kafka_offset DESC
                LIMIT {{n:UInt64}}
                """,
                parameters={
                    "t": event_type,
                    "p": partition,
                    "o": max(max_offset, 0),
                    "s": max(since_ms, 0),
                    "n": limit,
                },
            ).result_rows
        return [(int(ms), str(event_id)) for ms, event_id in reversed(rows)]
