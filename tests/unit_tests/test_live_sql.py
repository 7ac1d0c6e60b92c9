"""The live-query endpoint's request guard (streams/live_sql.py) and its published file
(streams/worker_endpoint.py), without a worker."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from dxpulse.core.config import Settings
from dxpulse.streams.live_query import is_loopback
from dxpulse.streams.live_sql import Refusal, authorized, parse_request
from dxpulse.streams.worker_endpoint import (
    endpoint_file,
    live_endpoint,
    new_endpoint,
    read,
    remove,
    write,
)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1",
        "  select 1 FORMAT Native",
        "WITH 2 AS x SELECT x",
        "(SELECT 1) UNION ALL (SELECT 2)",
        "SHOW TABLES FROM dxpulse",
        "DESCRIBE TABLE (SELECT 1)",
        "EXISTS TABLE dxpulse.events",
        "EXPLAIN SELECT 1",
        "SELECT 'INTO OUTFILE' AS s",
        "SELECT 1 -- INTO OUTFILE 'x'",
        "SELECT 1;",
    ],
)
def test_one_read_only_statement_passes(sql: str) -> None:
    assert parse_request({}, sql.encode()).sql == sql


@pytest.mark.parametrize(
    ("sql", "code"),
    [
        ("INSERT INTO t VALUES (1)", 164),
        ("DROP TABLE dxpulse.events", 164),
        ("/* hi */ TRUNCATE TABLE dxpulse.events", 164),
        ("SET readonly = 0", 164),
        ("SYSTEM FLUSH LOGS", 164),
        ("KILL QUERY WHERE 1", 164),
        ("SELECT 1 INTO OUTFILE '/tmp/x'", 164),
        ("SELECT 1; DROP TABLE dxpulse.events", 62),
        ("", 62),
        ("SELECT 'unterminated", 62),
    ],
)
def test_anything_else_is_refused_before_the_engine(sql: str, code: int) -> None:
    with pytest.raises(Refusal) as refused:
        parse_request({}, sql.encode())
    assert refused.value.code == code
    assert refused.value.body().startswith(f"Code: {code}. DB::Exception: ".encode())


def test_a_setting_in_the_url_is_refused_but_transport_parameters_are_not() -> None:
    with pytest.raises(Refusal, match="Cannot modify 'readonly' setting"):
        parse_request({"readonly": "0"}, b"SELECT 1")
    ok = parse_request(
        {"database": "dxpulse", "default_format": "JSON", "param_n": "3", "query_id": "q"},
        b"SELECT {n:UInt8}",
    )
    assert (ok.database, ok.fmt, ok.params, ok.query_id) == ("dxpulse", "JSON", {"n": "3"}, "q")
    assert parse_request({"query": "SELECT 1"}, b"FORMAT CSV").fmt == "CSV"


def test_the_token_is_required() -> None:
    assert authorized("Bearer s3cret", "s3cret")
    assert authorized("bearer s3cret ", "s3cret")
    assert not authorized(None, "s3cret")
    assert not authorized("Bearer wrong", "s3cret")
    assert not authorized("Basic s3cret", "s3cret")


def test_only_loopback_serves() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3")


def test_the_endpoint_file_is_the_users_alone_and_trusted_only_while_its_worker_lives(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path)
    file = endpoint_file(settings)
    mine = new_endpoint(settings, "127.0.0.1", 6066)
    write(file, mine)
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert read(file) == mine and live_endpoint(settings) == mine
    assert live_endpoint(Settings(data_dir=tmp_path / "other")) is None
    # A worker killed outright leaves its file: a dead pid is not trusted.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    write(file, replace(mine, pid=int(dead.stdout)))
    assert live_endpoint(settings) is None
    remove(file, mine)  # not this endpoint's file any more: left alone
    assert file.exists()
    write(file, mine)
    remove(file, mine)
    assert not file.exists()
    assert mine.pid == os.getpid() and len(mine.token) >= 40
