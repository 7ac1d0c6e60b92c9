"""Run as a process by test_cluster_migrations.py: one chDB node of a cluster, configured
with a ZooKeeper and macros, migrated by ``dxpulse.clickhouse.migrate`` in cluster mode
(``ON CLUSTER`` off: chDB refuses distributed DDL), and the same migrations on one server
into another database beside it, to compare. Prints what the tables are, as JSON.

A process of its own because chDB opens one data path per process (the suite's own is
already open), and because chDB hangs closing a handle (and aborts at exit) while a
ZooKeeper session is open: the client is never closed, the result is printed and the
process leaves with ``os._exit``.

Usage: python -m tests.integration_tests.cluster_node DATA_DIR CONFIG_XML WINDOW
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any

import clickhouse_connect

from dxpulse.clickhouse import migrate
from dxpulse.cluster_ddl import ClusterLayout
from dxpulse.core.errors import DxpulseError

CLUSTER_DB, SINGLE_DB, CLUSTER = "dxpulse", "single", "dxpulse"
_KEPT: list[Any] = []


def _rows(client: Any, sql: str) -> list[list[Any]]:
    return [list(r) for r in client.query(sql).result_rows]


def main(data_dir: str, config: str, window: int) -> dict[str, Any]:
    # insert_keeper_max_retries=0: an insert into a read-only replica fails at once instead
    # of retrying (for minutes) for a replica that will never become writable here.
    client = clickhouse_connect.get_client(
        dsn=f"chdb://{data_dir}",
        chdb_options={"config-file": config},
        settings={"insert_keeper_max_retries": 0},
    )
    _KEPT.append(client)  # never closed: closing a chDB handle with a Keeper session hangs
    migrate(client, SINGLE_DB)
    try:
        migrate(client, CLUSTER_DB, cluster=ClusterLayout(CLUSTER, window, on_cluster=False))
        error = ""
    except DxpulseError as exc:
        error = str(exc)
    databases = f"('{CLUSTER_DB}', '{SINGLE_DB}')"
    return {
        "error": error,
        "tables": _rows(
            client,
            "SELECT database, name, engine, engine_full, create_table_query FROM system.tables "
            f"WHERE database IN {databases} ORDER BY database, name",
        ),
        "columns": _rows(
            client,
            f"SELECT database, table, name, type FROM system.columns WHERE database IN {databases} "
            "ORDER BY database, table, position",
        ),
        "replicas": _rows(
            client,
            "SELECT table, zookeeper_path, replica_name, is_readonly FROM system.replicas "
            f"WHERE database = '{CLUSTER_DB}' ORDER BY table",
        ),
        "clusters": _rows(
            client,
            f"SELECT shard_num, replica_num FROM system.clusters WHERE cluster = '{CLUSTER}'",
        ),
    }


if __name__ == "__main__":
    try:
        result = main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
        sys.stdout.write(json.dumps(result, default=str) + "\n")
        code = 0
    except Exception:  # printed, then os._exit: a normal exit would hang in chDB's teardown
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
