"""Write a flush's partition batches to ClickHouse: one insert per table, deduplicated by the
flush's token."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from clickhouse_connect.driver.client import Client

from dxpulse.core.cluster import local_name, shard_for
from dxpulse.streams.aggregate import (
    AGGREGATE_COLUMNS,
    AGGREGATE_TABLE,
    LATE_COLUMNS,
    WindowAggregator,
)
from dxpulse.streams.batch import PartitionBatch
from dxpulse.streams.faults import InsertFault
from dxpulse.streams.health import HEALTH_COLUMNS
from dxpulse.streams.native import NativeInserter
from dxpulse.streams.rows import EVENT_COLUMNS, flush_event_columns

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
    def __init__(
        self,
        client: Client,
        database: str,
        lock: threading.Lock | None = None,
        shards: Sequence[Client] = (),
    ) -> None:
        """``shards``: cluster mode, a client per shard in ``remote_servers`` order; a
        flush's rows then go to the local tables of the shard each partition routes to
        (dxpulse.core.cluster), its health rows through ``client``."""
        self.client = client
        self.database = database
        # One client may serve several ingest loops (tests run two workers in one process).
        self.lock = lock or threading.Lock()
        # A test seam (streams/faults.py): outage tests raise from it before an insert.
        self.fault: InsertFault | None = None
        # Every insert in Native format, each table's encoder built once (its column types
        # asked once: otherwise every insert costs a DESCRIBE query).
        self._native = NativeInserter(client)
        self._shards = [NativeInserter(c) for c in shards]

    def write(self, batch: PartitionBatch, checkpoint: Checkpoint = _no_checkpoint) -> None:
        """One batch as a flush of its own, under the batch's token (what a single-batch
        flush has always used, so a replay of an older worker's record matches it)."""
        self.write_flush([batch], batch.token, checkpoint)

    def write_flush(
        self,
        batches: Sequence[PartitionBatch],
        token: str,
        checkpoint: Checkpoint = _no_checkpoint,
    ) -> None:
        """Insert a flush's batches: one insert per table for all of them, in a fixed order.

        A chDB or server insert costs ~15-30 ms whatever its size (planning it and its
        materialized views), so one insert per table instead of one per batch and table is
        what lets a flush keep up with its interval. Re-sending the same flush is harmless:
        ClickHouse drops a block whose insert_deduplication_token (``token:table``) it has
        already seen (non_replicated_deduplication_window); ``token`` is a function of the
        batches (streams/flush.py), and a replay re-forms exactly the same batches.
        ``checkpoint`` is called with each table's name before its turn, rows or not (fault
        tests crash there, streams/faults.py).

        In cluster mode each shard gets the blocks of its own partitions, in shard order,
        under the same tokens: each shard's replicas keep their own deduplication log, and
        a replay re-forms the same batches, so the same blocks reach the same shards.
        """
        if not self._shards:
            self._write_rows(self._native, batches, token, checkpoint, local=False)
            return
        for shard, group in by_shard(batches, len(self._shards)).items():
            self._write_rows(self._shards[shard], group, token, checkpoint, local=True)

    def _write_rows(
        self,
        native: NativeInserter,
        batches: Sequence[PartitionBatch],
        token: str,
        checkpoint: Checkpoint,
        *,
        local: bool,
    ) -> None:
        """The rows of ``batches``, a table at a time, through ``native`` (into the local
        tables if ``local``)."""
        target = _Target(native, local)
        self._insert_events(target, batches, token)
        checkpoint("aggregates")
        aggregates = list(WindowAggregator.merged([b.aggregator for b in batches]).rows())
        if aggregates:
            columns = [list(c) for c in zip(*aggregates, strict=True)]
            self._insert_native(target, AGGREGATE_TABLE, AGGREGATE_COLUMNS, columns, token)
        checkpoint("late_events")
        late = [row for b in batches for row in b.late.rows()]
        if late:
            self._insert(target, "late_events", LATE_COLUMNS, late, token)
        checkpoint("dead_letters")
        rows = [row for b in batches for row in _dead_letter_rows(b)]
        if rows:
            self._insert(target, "dead_letters", DEAD_LETTER_COLUMNS, rows, token)

    def _insert_events(
        self, target: _Target, batches: Sequence[PartitionBatch], token: str
    ) -> None:
        """The raw rows of every batch in one column-oriented block."""
        if not any(b.events for b in batches):
            return
        columns = flush_event_columns(batches, text_ids=True)
        self._insert_native(target, "events", EVENT_COLUMNS, columns, token)

    def _insert_native(
        self,
        target: _Target,
        table: str,
        names: tuple[str, ...],
        columns: Sequence[Sequence[object]],
        token: str,
    ) -> None:
        """One block of these columns in Native format (streams/native.py)."""
        with self._inserting(target, table) as name:
            target.native.insert_columns(name, names, columns, _deduplicated(token, table))

    def write_health(self, rows: Sequence[Sequence[object]], token: str) -> None:
        """One insert of a flush's pipeline-health rows (streams.health), deduplicated by the
        flush's token like the batches' own inserts (an unsharded table on a cluster)."""
        if rows:
            target = _Target(self._native, local=False)
            self._insert(target, "pipeline_flushes", HEALTH_COLUMNS, rows, token)

    def _insert(
        self,
        target: _Target,
        table: str,
        names: tuple[str, ...],
        rows: Sequence[Sequence[object]],
        token: str,
    ) -> None:
        """Rows of a small table (late events, dead letters, health), as one Native block."""
        with self._inserting(target, table) as name:
            target.native.insert_rows(name, names, rows, _deduplicated(token, table))

    @contextmanager
    def _inserting(self, target: _Target, table: str) -> Iterator[str]:
        """What every insert does first, under the lock: the fault seam (outage tests), then
        the table's qualified name."""
        with self.lock:
            if self.fault is not None:
                self.fault(table)
            yield f"{self.database}.{local_name(table) if target.local else table}"


def by_shard(batches: Sequence[PartitionBatch], shards: int) -> dict[int, list[PartitionBatch]]:
    """A flush's batches grouped by the shard their partition routes to, in shard order,
    each group in the flush's order (so a re-formed flush gives the same blocks)."""
    groups: dict[int, list[PartitionBatch]] = {}
    for batch in batches:
        groups.setdefault(shard_for(batch.topic, batch.partition, shards), []).append(batch)
    return dict(sorted(groups.items()))


@dataclass(frozen=True, slots=True)
class _Target:
    """Where a flush's rows go: one server's (or shard's) encoder, and whether the tables
    are the cluster's local ones."""

    native: NativeInserter
    local: bool


def _deduplicated(token: str, table: str) -> dict[str, str]:
    """The insert's settings: ClickHouse drops a block whose token it has seen."""
    return {"insert_deduplication_token": f"{token}:{table}"}


def _dead_letter_rows(batch: PartitionBatch) -> list[list[object]]:
    ingested_at = batch.ingested_at or datetime.now(UTC)
    return [
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
