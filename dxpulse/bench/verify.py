"""Count what a benchmark run left in ClickHouse, in a process of its own.

chDB lets one process own a data path, and the bench checks several; so each check runs as
``python -m dxpulse.bench.verify --dsn DSN --database DB`` and prints one JSON line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import clickhouse_connect
import orjson

from dxpulse.core import extras


def counts(dsn: str, database: str) -> dict[str, int]:
    extras.chdb_for(dsn)
    client = clickhouse_connect.get_client(dsn=dsn)
    rows, distinct = client.query(
        f"SELECT count(), uniqExact(event_id) FROM {database}.events"
    ).result_rows[0]
    aggregated = client.query(f"SELECT sum(events) FROM {database}.event_aggregates").result_rows[
        0
    ][0]
    late = client.query(f"SELECT sum(events) FROM {database}.late_events").result_rows[0][0]
    dead = client.query(f"SELECT count() FROM {database}.dead_letters").result_rows[0][0]
    return {
        "rows": int(rows),
        "distinct": int(distinct),
        "aggregated": int(aggregated or 0) + int(late or 0),
        "dead_letters": int(dead),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dxpulse.bench.verify")
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--database", required=True)
    args = parser.parse_args(argv)
    try:
        result = counts(args.dsn, args.database)
    except Exception as exc:  # any driver error: one line for the caller's report
        print(f"verify failed: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
