"""Cluster mode's migrations on a real engine: chDB as one node of a 2 shards x 2 replicas
cluster, its Replicated tables registered in a real ZooKeeper (tests/zookeeper.py).

What this proves: every statement ``migrate`` sends in cluster mode is accepted by the
engine; every table gets the expected engine (Replicated* for storage, Distributed over the
local table for reads, Null stays Null), the columns equal the single-server schema's, the
views read and write the local tables, and the replicas are registered in ZooKeeper under
the paths the macros give. What it cannot: chDB's replicated tables stay read-only, so
``migrate`` stops at recording the first migration (the test asserts that it is exactly
that), and nothing is inserted or replicated.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import defaultdict
from typing import Any

import pytest

from dxpulse.core.cluster import is_sharded, local_name
from tests.wheel import ROOT
from tests.zookeeper import zookeeper

WINDOW = 31_752  # above every file's non_replicated window: the layout's must win
pytestmark = pytest.mark.xdist_group("test_cluster_migrations")


def _config(port: int) -> str:
    # Loopback addresses for the four nodes: a host name that does not resolve makes chDB
    # wait on DNS. Nothing connects to them (no query here reads through a Distributed table).
    shards = "".join(
        "<shard><internal_replication>true</internal_replication>"
        + "".join(f"<replica><host>127.0.{s}.{r}</host><port>9000</port></replica>" for r in (1, 2))
        + "</shard>"
        for s in (1, 2)
    )
    return (
        "<clickhouse>"
        f"<zookeeper><node><host>127.0.0.1</host><port>{port}</port></node></zookeeper>"
        "<macros><shard>01</shard><replica>r1</replica></macros>"
        f"<remote_servers><dxpulse>{shards}</dxpulse></remote_servers>"
        "</clickhouse>"
    )


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    where = tmp_path_factory.mktemp("cluster")
    with zookeeper(where / "zookeeper") as port:
        config = where / "node.xml"
        config.write_text(_config(port), "utf-8")
        done = subprocess.run(
            [sys.executable, "-m", "tests.integration_tests.cluster_node",
             str(where / "chdb"), str(config), str(WINDOW)],
            cwd=ROOT, capture_output=True, text=True, timeout=180,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _tables(node: dict[str, Any], database: str) -> dict[str, tuple[str, str, str]]:
    return {name: (engine, full, query) for db, name, engine, full, query in node["tables"]
            if db == database}  # fmt: skip


def _columns(node: dict[str, Any], database: str) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for db, table, name, kind in node["columns"]:
        if db == database:
            found[table].append((name, kind))
    return found


def _single_tables(node: dict[str, Any]) -> dict[str, tuple[str, str, str]]:
    # The migration lock (Null) exists only while a migrator runs; bookkeeping is included.
    return {n: t for n, t in _tables(node, "single").items() if n != "migration_lock"}


def test_migrate_creates_everything_then_stops_at_the_read_only_record(
    node: dict[str, Any],
) -> None:
    assert "could not be recorded" in node["error"]
    assert "TABLE_IS_READ_ONLY" in node["error"] or "readonly" in node["error"].lower()


def test_every_table_has_its_replicated_or_distributed_form(node: dict[str, Any]) -> None:
    single, cluster = _single_tables(node), _tables(node, "dxpulse")
    for name, (engine, _, _) in single.items():
        if engine in ("View", "MaterializedView"):
            assert cluster[name][0] == engine, name
        elif engine == "Null":
            assert cluster[local_name(name)][0] == "Null", name
            assert cluster[name][0] == "Distributed", name
        elif is_sharded(name):
            assert cluster[local_name(name)][0] == f"Replicated{engine}", name
            assert cluster[name][0] == "Distributed", name
            assert cluster[name][1] == (
                f"Distributed('dxpulse', 'dxpulse', '{local_name(name)}', rand())"
            ), name
        else:
            assert cluster[name][0] == f"Replicated{engine}", name
    views = {n for n, (e, _, _) in single.items() if e in ("View", "MaterializedView")}
    expected = set(single) | {local_name(n) for n in set(single) - views}
    assert set(cluster) == expected


def test_the_columns_are_the_single_server_schemas(node: dict[str, Any]) -> None:
    single, cluster = _columns(node, "single"), _columns(node, "dxpulse")
    for table, (engine, _, _) in _single_tables(node).items():
        if engine in ("View", "MaterializedView"):
            continue
        assert cluster[local_name(table)] == single[table], table
        assert cluster[table] == single[table], table


def test_replicated_tables_are_registered_where_the_macros_say(node: dict[str, Any]) -> None:
    replicas = {table: (path, replica) for table, path, replica, _ in node["replicas"]}
    engines = _tables(node, "dxpulse")
    replicated = {n for n, (e, _, _) in engines.items() if e.startswith("Replicated")}
    assert set(replicas) == replicated
    for table, (path, replica) in replicas.items():
        if table.endswith("_local"):
            assert (path, replica) == (f"/clickhouse/tables/01/dxpulse/{table}", "r1")
        else:  # unsharded: one replica set over all four nodes
            assert (path, replica) == (f"/clickhouse/tables/all/dxpulse/{table}", "01-r1")
    assert sorted(map(tuple, node["clusters"])) == [(1, 1), (1, 2), (2, 1), (2, 2)]


def test_deduplication_windows_are_replicated_and_at_least_the_layouts(
    node: dict[str, Any],
) -> None:
    for name, (_engine, full, _) in _tables(node, "dxpulse").items():
        assert "non_replicated_deduplication_window" not in full, name
    single = _tables(node, "single")
    for name, (_, full, _) in single.items():
        if "non_replicated_deduplication_window" in full:
            cluster_full = _tables(node, "dxpulse")[local_name(name)][1]
            assert f"replicated_deduplication_window = {WINDOW}" in cluster_full, name


def test_materialized_views_read_and_write_local_tables(node: dict[str, Any]) -> None:
    views = {n: q for n, (e, _, q) in _tables(node, "dxpulse").items() if e == "MaterializedView"}
    assert len(views) == 5
    for name, query in views.items():
        named = set(re.findall(r"dxpulse\.(\w+)", query)) - {name}
        assert named and all(n.endswith("_local") for n in named), (name, named)
