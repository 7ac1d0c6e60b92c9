"""ClickHouse itself agrees with the splitter: each piece is one whole statement to its
parser, and a `;` inside literals and comments stays data."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from clickhouse_connect.driver.client import Client

from dxpulse.clickhouse import Migration, connect, load_migrations
from dxpulse.core.config import Settings
from tests.unit_tests.test_sqlsplit import CASES


@pytest.fixture
def client(settings: Settings) -> Iterator[Client]:
    client = connect(settings)
    yield client
    client.command(f"DROP DATABASE IF EXISTS {settings.clickhouse.database}")


def _parses_as_one_statement(client: Client, statement: str) -> None:
    # formatQuery parses exactly one statement: it fails on two, and on a cut-off one.
    client.query("SELECT formatQuery({q:String})", parameters={"q": statement})


def test_every_statement_of_every_migration_parses_on_its_own(client: Client) -> None:
    for migration in load_migrations():
        for statement in migration.statements("dxpulse"):
            _parses_as_one_statement(client, statement)


@pytest.mark.parametrize(("script", "expected"), CASES)
def test_every_tricky_piece_parses_on_its_own(
    client: Client, script: str, expected: list[str]
) -> None:
    for statement in expected:
        if not statement.startswith("INSERT"):  # its VALUES are data, not parsed here
            _parses_as_one_statement(client, statement)


def test_semicolons_in_literals_are_data(settings: Settings, client: Client) -> None:
    db = settings.clickhouse.database
    script = r"""-- strings with semicolons; and comments around them
CREATE DATABASE IF NOT EXISTS {db};
CREATE TABLE {db}.t (s String) ENGINE = MergeTree ORDER BY s; -- trailing; comment
INSERT INTO {db}.t VALUES ('it\'s; here'), ('it''s; there'), ('back\\');
INSERT INTO {db}.t SELECT "a; -- b" FROM (SELECT 'named; quoted' AS `a; -- b`);
# a hash comment; ClickHouse has those too
INSERT INTO {db}.t SELECT $tag$here; doc$tag$ /* a /* nested; */ comment */ ;
/* only a comment; */
"""
    for statement in Migration(1, "001_t", script).statements(db):
        client.command(statement)
    rows = client.query(f"SELECT s FROM {db}.t ORDER BY s").result_rows
    assert [s for (s,) in rows] == [
        "back\\",
        "here; doc",
        "it's; here",
        "it's; there",
        "named; quoted",
    ]
