"""Cluster mode's DDL, derived from the single-server migrations: one copy of the SQL.

Each statement of deploy/clickhouse/*.sql is rewritten by a few fixed rules (the files are
ours, and a test renders every one of them, so the rules only need to cover the forms they
use; anything else is refused rather than guessed):

- ``CREATE TABLE {db}.t … ENGINE = XMergeTree(args)`` of a sharded table becomes the local
  table ``{db}.t_local`` with ``ReplicatedXMergeTree('/clickhouse/tables/{shard}/…', '{replica}',
  args)``, plus ``{db}.t``, a ``Distributed`` table over it (what analysts, dashboards and
  views read, under the single-server name). An unsharded table (dxpulse.core.cluster) keeps
  its name, with one replica set over every node. ``non_replicated_deduplication_window``
  becomes ``replicated_deduplication_window``, at least the layout's window.
- A materialized view reads and writes the local tables, so each shard folds its own rows.
- ``ALTER`` changes the local table, and the Distributed one too when it changes columns.
- An ``INSERT … SELECT`` (a backfill) runs on every shard, local table to local table, with
  the statement's token (each shard has its own deduplication log); into an unsharded
  table, once.
- Every DDL statement carries ``ON CLUSTER``, unless ``on_cluster`` is off: the form a test
  applies to one chDB node, which refuses distributed DDL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from dxpulse.core.cluster import is_sharded, local_name
from dxpulse.core.config import IDENTIFIER
from dxpulse.core.errors import DxpulseError

Where = Literal["once", "each_shard"]
_NAME = r"\{db\}\.(\w+)"
_CREATE_TABLE = re.compile(rf"^CREATE TABLE IF NOT EXISTS {_NAME}\b", re.S)
_CREATE_VIEW = re.compile(rf"^CREATE (MATERIALIZED )?VIEW IF NOT EXISTS {_NAME}\b", re.S)
_ALTER = re.compile(rf"^ALTER TABLE {_NAME}\b", re.S)
_DROP = re.compile(rf"^DROP TABLE IF EXISTS {_NAME}$", re.S)
_INSERT = re.compile(rf"^INSERT INTO {_NAME}\b", re.S)
_DATABASE = re.compile(r"^CREATE DATABASE IF NOT EXISTS \{db\}$")
_ENGINE = re.compile(r"^ENGINE = (\w+)(?:\(([^()]*)\))?", re.M)
_WINDOW = re.compile(r"\bnon_replicated_deduplication_window = (\d+)")
_COLUMN_CHANGE = re.compile(r"\b(ADD|DROP|MODIFY|RENAME|COMMENT) COLUMN\b")
# The Distributed tables' sharding key. dxpulse never inserts through them (the sink routes
# each partition to its shard, dxpulse.core.cluster), so it only spreads what someone else
# inserts there.
_SHARDING_KEY = "rand()"


@dataclass(frozen=True)
class ClusterLayout:
    """How the tables are laid out: the ``remote_servers`` cluster, the smallest
    replicated deduplication window (dxpulse.core.cluster.deduplication_window), and
    whether DDL says ``ON CLUSTER`` (off only to apply it node by node)."""

    cluster: str
    window: int = 10_000
    on_cluster: bool = True

    def __post_init__(self) -> None:
        if not re.match(IDENTIFIER, self.cluster):
            raise DxpulseError(f"cluster name not an identifier: {self.cluster!r}")


@dataclass(frozen=True)
class ClusterStatement:
    """One statement to run: ``once`` (DDL with ON CLUSTER, or an insert into an unsharded
    table), or on one replica of ``each_shard`` (a backfill between local tables)."""

    sql: str
    where: Where = "once"


def render(sql: str, layout: ClusterLayout) -> list[ClusterStatement]:
    """The cluster form of one migration statement (``{db}`` still unfilled)."""
    for pattern, rule in (
        (_DATABASE, _database),
        (_CREATE_TABLE, _create_table),
        (_CREATE_VIEW, _create_view),
        (_ALTER, _alter),
        (_DROP, _drop),
        (_INSERT, _insert),
    ):
        match = pattern.match(sql)
        if match:
            return rule(sql, match, layout)
    raise DxpulseError(f"cluster mode has no rule for this statement: {' '.join(sql.split())[:80]}")


def render_all(statements: Iterable[str], layout: ClusterLayout) -> list[ClusterStatement]:
    return [out for sql in statements for out in render(sql, layout)]


def _on(layout: ClusterLayout) -> str:
    return f" ON CLUSTER {layout.cluster}" if layout.on_cluster else ""


def _locals(sql: str) -> str:
    """Every table named in ``sql`` replaced by its local table (views keep their names:
    only tables are sharded, and a view's name never ends up in a FROM here)."""
    return re.sub(_NAME, lambda m: "{db}." + local_name(m.group(1)), sql)


def _database(sql: str, match: re.Match[str], layout: ClusterLayout) -> list[ClusterStatement]:
    return [ClusterStatement(sql + _on(layout))]


def _create_table(sql: str, match: re.Match[str], layout: ClusterLayout) -> list[ClusterStatement]:
    table = match.group(1)
    name = local_name(table)
    body = sql[match.end() :]
    body = _replicated_engine(body, table, layout)
    body = _WINDOW.sub(lambda m: f"replicated_deduplication_window = {_window(m, layout)}", body)
    created = [ClusterStatement(f"CREATE TABLE IF NOT EXISTS {{db}}.{name}{_on(layout)}{body}")]
    if is_sharded(table):
        created.append(
            ClusterStatement(
                f"CREATE TABLE IF NOT EXISTS {{db}}.{table}{_on(layout)} AS {{db}}.{name} "
                f"ENGINE = Distributed({layout.cluster}, {{db}}, {name}, {_SHARDING_KEY})"
            )
        )
    return created


def _window(match: re.Match[str], layout: ClusterLayout) -> int:
    return max(int(match.group(1)), layout.window)


def _replicated_engine(body: str, table: str, layout: ClusterLayout) -> str:
    """``ENGINE = XMergeTree(args)`` as its Replicated form; Null stays Null (it stores
    nothing, its view does the work on each node)."""
    engine = _ENGINE.search(body)
    if engine is None:
        raise DxpulseError(f"cluster mode: no ENGINE in CREATE TABLE {table}")
    kind, args = engine.group(1), engine.group(2)
    if kind == "Null":
        return body
    if not kind.endswith("MergeTree"):
        raise DxpulseError(f"cluster mode: no replicated form of engine {kind} ({table})")
    if is_sharded(table):
        path, replica = "/clickhouse/tables/{shard}/{database}/{table}", "{replica}"
    else:  # one replica set over all the nodes: its replica names must differ across shards
        path, replica = "/clickhouse/tables/all/{database}/{table}", "{shard}-{replica}"
    arguments = ", ".join([f"'{path}'", f"'{replica}'", *([args] if args else [])])
    return body[: engine.start()] + f"ENGINE = Replicated{kind}({arguments})" + body[engine.end() :]


def _create_view(sql: str, match: re.Match[str], layout: ClusterLayout) -> list[ClusterStatement]:
    materialized, view = match.group(1), match.group(2)
    rest = sql[match.end() :]
    if materialized:
        # TO and FROM name local tables: each node's view folds the blocks inserted there.
        rest = _locals(rest)
    kind = "MATERIALIZED VIEW" if materialized else "VIEW"
    return [ClusterStatement(f"CREATE {kind} IF NOT EXISTS {{db}}.{view}{_on(layout)}{rest}")]


def _alter(sql: str, match: re.Match[str], layout: ClusterLayout) -> list[ClusterStatement]:
    table = match.group(1)
    rest = sql[match.end() :]
    altered = [ClusterStatement(f"ALTER TABLE {{db}}.{local_name(table)}{_on(layout)}{rest}")]
    if is_sharded(table) and _COLUMN_CHANGE.search(rest):
        altered.append(ClusterStatement(f"ALTER TABLE {{db}}.{table}{_on(layout)}{rest}"))
    return altered


def _drop(sql: str, match: re.Match[str], layout: ClusterLayout) -> list[ClusterStatement]:
    table = match.group(1)
    names = [table, local_name(table)] if is_sharded(table) else [table]
    # SYNC: a replicated table's Keeper path is freed before the statement returns, so
    # creating it again cannot find the old replica still registered.
    return [ClusterStatement(f"DROP TABLE IF EXISTS {{db}}.{n}{_on(layout)} SYNC") for n in names]


def _insert(sql: str, match: re.Match[str], layout: ClusterLayout) -> list[ClusterStatement]:
    where: Where = "each_shard" if is_sharded(match.group(1)) else "once"
    return [ClusterStatement(_locals(sql), where)]


_ADD_COLUMN = re.compile(r"^\s*ADD COLUMN IF NOT EXISTS (\w+) (.+?)(?:\s+AFTER (\w+))?$", re.S)
_ADD_INDEX = re.compile(r"^\s*ADD INDEX IF NOT EXISTS (\w+) (.+)$", re.S)
_COLUMNS = re.compile(r"\(\n(.*?)\n\)\n", re.S)


def fresh_schema(statements: Iterable[str]) -> list[str]:
    """The migrations' end state as CREATE statements only: every ``ALTER … ADD`` folded
    into its table's CREATE, dropped tables left out, backfills left out.

    What a new cluster database is created from. A fresh database has no rows to backfill,
    and it is created with its final columns instead of altered into them because every
    node's replicas must agree on the columns before any insert; the single-server files
    stay the only source (this folds them). Later migrations, applied to a cluster that
    already has this schema, run statement by statement (:func:`render`).
    """
    created: dict[str, str] = {}  # table -> its CREATE, in creation order
    out: list[str | tuple[str]] = []  # statements, or (table,) where its CREATE goes
    for sql in statements:
        if (match := _CREATE_TABLE.match(sql)) is not None:
            created[match.group(1)] = sql
            out.append((match.group(1),))
        elif (match := _ALTER.match(sql)) is not None:
            table = match.group(1)
            if table not in created:
                raise DxpulseError(f"cluster mode: ALTER of {table}, which no migration creates")
            created[table] = _fold(created[table], table, sql[match.end() :])
        elif (match := _DROP.match(sql)) is not None:
            created.pop(match.group(1), None)
        elif not _INSERT.match(sql):
            out.append(sql)
    return [
        item if isinstance(item, str) else created[item[0]]
        for item in out
        if isinstance(item, str) or item[0] in created
    ]


def _fold(create: str, table: str, change: str) -> str:
    """``create`` with the column or index that ``change`` (an ALTER's action) adds."""
    block = _COLUMNS.search(create)
    if block is None:
        raise DxpulseError(f"cluster mode: no column list in CREATE TABLE {table}")
    lines = [line.rstrip(",") for line in block.group(1).split("\n")]
    if (column := _ADD_COLUMN.match(change)) is not None:
        name, definition, after = column.groups()
        names = [line.split()[0] for line in lines]
        if name in names:
            return create
        at = names.index(after) + 1 if after else len(lines)
        lines.insert(at, f"    {name} {' '.join(definition.split())}")
    elif (index := _ADD_INDEX.match(change)) is not None:
        lines.append(f"    INDEX {index.group(1)} {' '.join(index.group(2).split())}")
    else:
        raise DxpulseError(f"cluster mode: cannot fold into {table}: {' '.join(change.split())}")
    return create[: block.start(1)] + ",\n".join(lines) + create[block.end(1) :]
