"""Write partition batches to ClickHouse, each table insert deduplicated by its offset range."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from clickhouse_connect.datatypes.base import ClickHouseType
from clickhouse_connect.driver.client import Client

from dxpulse.streams.aggregate import AGGREGATE_COLUMNS, AGGREGATE_TABLE, LATE_COLUMNS
from dxpulse.streams.batch import PartitionBatch
from dxpulse.streams.faults import InsertFault
from dxpulse.streams.health import HEALTH_COLUMNS
from dxpulse.streams.rows import EVENT_COLUMNS, event_columns

DEAD_LETTER_COLUMNS = (
    "source_topic",
    "source_partition",
    "source_offset",
    "code",
    "reason",
    "value_prefix",
    "ingested_at",
)
Checkpoint = Callable[[str], None]


def _no_checkpoint(table: str) -> None:
    pass


class ClickHouseSink:
    def __init__(self, client: Client, database: str, lock: threading.Lock | None = None) -> None:
        self.client = client
        self.database = database
        # One client may serve several ingest loops (tests run two workers in one process).
        self.lock = lock or threading.Lock()
        # A test seam (streams/faults.py): outage tests raise from it before an insert.
        self.fault: InsertFault | None = None
        # Column types per table, read once: otherwise every insert costs a DESCRIBE query.
        self._types: dict[str, Sequence[ClickHouseType]] = {}

    def write(self, batch: PartitionBatch, checkpoint: Checkpoint = _no_checkpoint) -> None:
        """Insert the batch into every table it touches, in a fixed order.

        Re-sending the same offset range is harmless: ClickHouse drops a block whose
        insert_deduplication_token it has already seen (non_replicated_deduplication_window).
        ``checkpoint`` is called with each table's name before its turn, rows or not (fault
        tests crash there, streams/faults.py).
        """
        if batch.events:
            columns = event_columns(
                batch.events,
                batch.partition,
                batch.offsets,
                batch.ingested_ms,
                batch.late_rows,
                batch.topic_id,
            )
            self._insert("events", EVENT_COLUMNS, columns, batch.token, column_oriented=True)
        checkpoint("aggregates")
        aggregates = list(batch.aggregator.rows())
        if aggregates:
            self._insert(AGGREGATE_TABLE, AGGREGATE_COLUMNS, aggregates, batch.token)
        checkpoint("late_events")
        late = list(batch.late.rows())
        if late:
            self._insert("late_events", LATE_COLUMNS, late, batch.token)
        checkpoint("dead_letters")
        if batch.dead_letters:
            ingested_at = batch.ingested_at or datetime.now(UTC)
            rows: list[list[object]] = [
                [
                    dl.topic,
                    dl.partition,
                    dl.offset,
                    dl.code,
                    dl.reason,
                    (dl.value or b"")[:1024].decode("utf-8", "replace"),
                    ingested_at,
                ]
                for dl in batch.dead_letters
            ]
            self._insert("dead_letters", DEAD_LETTER_COLUMNS, rows, batch.token)

    def write_health(self, rows: Sequence[Sequence[object]], token: str) -> None:
        """One insert of a flush's pipeline-health rows (streams.health), deduplicated by the
        flush's token like the batches' own inserts."""
        if rows:
            self._insert("pipeline_flushes", HEALTH_COLUMNS, rows, token)

    def _insert(
        self,
        table: str,
        columns: tuple[str, ...],
        data: Sequence[Sequence[object]],
        token: str,
        column_oriented: bool = False,
    ) -> None:
        name = f"{self.database}.{table}"
        with self.lock:
            if self.fault is not None:
                self.fault(table)
            types = self._types.get(table)
            if types is None:
                context = self.client.create_insert_context(name, list(columns))
                types = self._types[table] = context.column_types
            self.client.insert(
                name,
                data,
                column_names=list(columns),
                column_types=types,
                column_oriented=column_oriented,
                settings={"insert_deduplication_token": f"{token}:{table}"},
            )
