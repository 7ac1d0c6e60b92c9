"""Small migration sets in temporary directories, with backfills, for the migrate tests.

A backfill copies ``src`` into the rollup ``daily``, an AggregatingMergeTree: rows added
twice are summed twice, so ``sum(n)`` in ``daily`` tells how often the backfill ran.
"""

from __future__ import annotations

from pathlib import Path

from clickhouse_connect.driver.client import Client

SOURCE_ROWS = 1_000

SOURCE = f"""-- The source table and its rows.
CREATE DATABASE IF NOT EXISTS {{db}};
CREATE TABLE IF NOT EXISTS {{db}}.src (day Date, n UInt64) ENGINE = MergeTree ORDER BY day;
INSERT INTO {{db}}.src SELECT toDate('2024-01-01') + number % 30, 1 FROM numbers({SOURCE_ROWS});
"""

# Without a deduplication window: only the recorded steps keep the backfill from repeating.
ROLLUP = """-- A rollup: table, backfill; then the view that keeps it up to date.
CREATE TABLE IF NOT EXISTS {db}.daily (day Date, n SimpleAggregateFunction(sum, UInt64))
ENGINE = AggregatingMergeTree ORDER BY day;

INSERT INTO {db}.daily SELECT day, sum(n) FROM {db}.src GROUP BY day; -- backfill; once!

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.daily_mv TO {db}.daily AS
SELECT day, sum(n) AS n FROM {db}.src GROUP BY day;
"""


def write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text, "utf-8")
    return directory


def scalar(client: Client, sql: str) -> int:
    return int(client.query(sql).result_rows[0][0])


def backfilled(client: Client, db: str) -> int:
    """How many source rows the rollup counts (SOURCE_ROWS once, twice that if repeated)."""
    return scalar(client, f"SELECT sum(n) FROM {db}.daily")


def applied_versions(client: Client, db: str) -> list[int]:
    rows = client.query(f"SELECT version FROM {db}.schema_migrations ORDER BY version")
    return [int(v) for (v,) in rows.result_rows]
