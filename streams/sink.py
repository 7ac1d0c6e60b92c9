"""Write partition batches to ClickHouse, each table insert deduplicated by its offset range."""

from __future__ import annotations

from clickhouse_connect.driver.client import Client

from streams.aggregate import AGGREGATE_COLUMNS
from streams.batch import PartitionBatch
from streams.rows import EVENT_COLUMNS


class ClickHouseSink:
    def __init__(self, client: Client, database: str) -> None:
        self.client = client
        self.database = database

    def write(self, batch: PartitionBatch) -> None:
        """Insert the batch's raw rows and aggregates.

        Re-sending the same offset range is harmless: ClickHouse drops a block whose
        insert_deduplication_token it has already seen (non_replicated_deduplication_window).
        """
        if batch.event_rows:
            self._insert("events", EVENT_COLUMNS, batch.event_rows, batch.token)
        aggregates = list(batch.aggregator.rows())
        if aggregates:
            self._insert("event_aggregates", AGGREGATE_COLUMNS, aggregates, batch.token)

    def _insert(
        self, table: str, columns: tuple[str, ...], rows: list[list[object]], token: str
    ) -> None:
        self.client.insert(
            f"{self.database}.{table}",
            rows,
            column_names=list(columns),
            settings={"insert_deduplication_token": f"{token}:{table}"},
        )
