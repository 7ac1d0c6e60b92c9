"""`dxpulse query` as users run it, on an embedded data dir: what it prints and how it fails.

Each call is a process of its own (chDB lets one process open a data dir), on a data dir that
`dxpulse migrate` made and a helper process filled with known rows, so the tests can say
exactly what a cell must read.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

FILL = """
import sys
from dxpulse.clickhouse import connect
from dxpulse.core.config import Settings
client = connect(Settings(data_dir=sys.argv[1]))
client.command('''
    INSERT INTO dxpulse.event_aggregates
        (window_start, window_seconds, event_type, region, province_code, area, channel,
         events, successes, failures, amount_vnd, success_amount_vnd, min_amount_vnd,
         max_amount_vnd, customers)
    SELECT toDateTime('2026-11-20 10:00:00', 'Asia/Ho_Chi_Minh') + 60 * number, 60,
           'mobile_money', 'mekong_delta', '92', 'rural', 'agent',
           3, 2, 1, 1234567 * (number + 1), 1000000, 1000, 900000,
           uniqState(toString(customer))
    FROM numbers(3) ARRAY JOIN range(number + 1) AS customer GROUP BY number
''')
"""


def dxpulse(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("DXPULSE_")}
    return subprocess.run(
        [sys.executable, "-m", "dxpulse", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, "COLUMNS": "250", "NO_COLOR": "1", **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    """The single ``dxpulse: error:`` line of a failed command."""
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("dxpulse: error: "), done.stderr
    return lines[0]


# The module-scoped fixture below is set up once per xdist worker that runs a test of this
# module: the module runs on one worker (bin/test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("test_query")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("query") / "data"
    assert dxpulse("migrate", "--data-dir", str(data)).returncode == 0
    filled = subprocess.run([sys.executable, "-c", FILL, str(data)], capture_output=True, text=True)
    assert filled.returncode == 0, filled.stderr
    return data


def query(data: Path, sql: str, *args: str) -> subprocess.CompletedProcess[str]:
    return dxpulse("query", sql, "--data-dir", str(data), *args)


def test_aggregate_state_columns_print_readably(data: Path) -> None:
    # What `dxpulse run` used to suggest: the uniq state column failed to deserialize.
    done = query(data, "SELECT * FROM dxpulse.event_aggregates ORDER BY window_start LIMIT 5")
    assert done.returncode == 0, done.stderr
    header = next(line for line in done.stdout.splitlines() if "customers" in line)
    assert "window_start" in header
    rows = [line for line in done.stdout.splitlines() if "mekong_delta" in line]
    assert len(rows) == 3
    assert [row.split("│")[-2].strip() for row in rows] == ["1", "2", "3"]  # distinct customers
    assert "finalizeAggregation" in done.stderr and "customers" in done.stderr
    assert done.stderr.count("\n") == 1


def test_numbers_are_right_aligned_with_thousands_separators(data: Path) -> None:
    done = query(
        data,
        "SELECT region, amount_vnd, amount_vnd / 7 AS share FROM dxpulse.event_aggregates "
        "ORDER BY window_start",
    )
    assert done.returncode == 0, done.stderr
    rows = [line.split("│")[1:-1] for line in done.stdout.splitlines() if "mekong" in line]
    amounts = [cell for _, cell, _ in rows]
    assert [a.strip() for a in amounts] == ["1,234,567", "2,469,134", "3,703,701"]
    assert all(len(a) - len(a.rstrip()) == 1 for a in amounts)  # flush right, one pad
    assert len(rows[0][0]) - len(rows[0][0].lstrip()) == 1  # text stays flush left
    assert rows[0][2].strip() == "176,366.7143"
    assert done.stdout.rstrip().endswith("3 rows")


def test_a_result_without_rows_prints_its_header_and_0_rows(data: Path) -> None:
    done = query(data, "SELECT region, events FROM dxpulse.event_aggregates WHERE 0")
    assert done.returncode == 0, done.stderr
    assert "region" in done.stdout and "events" in done.stdout
    assert done.stdout.rstrip().endswith("0 rows")
    as_csv = query(data, "SELECT region, events FROM dxpulse.event_aggregates WHERE 0",
                   "--format", "csv")  # fmt: skip
    assert as_csv.stdout == "region,events\n"


def test_json_format(data: Path) -> None:
    done = query(
        data,
        "SELECT region, events, amount_vnd, window_start, customers "
        "FROM dxpulse.event_aggregates ORDER BY window_start",
        "--format",
        "json",
    )
    assert done.returncode == 0, done.stderr
    rows = orjson.loads(done.stdout)
    assert rows[0] == {
        "region": "mekong_delta",
        "events": 3,
        "amount_vnd": 1234567,
        "window_start": "2026-11-20T10:00:00+07:00",
        "customers": 1,
    }
    assert len(rows) == 3
    empty = query(data, "SELECT 1 WHERE 0", "--format", "json")
    assert empty.returncode == 0 and orjson.loads(empty.stdout) == []


@pytest.mark.parametrize(
    "sql", ["SELECT 1; SELECT 2", "SELECT 1;\nDROP TABLE dxpulse.events", "SELECT 1; ;SELECT 2;"]
)
def test_several_statements_are_refused_in_one_line(data: Path, sql: str) -> None:
    line = one_line_error(query(data, sql))
    assert "one statement at a time" in line
    still = query(data, "SELECT count() FROM dxpulse.events", "--format", "csv")
    assert still.returncode == 0, still.stderr  # nothing was dropped


def test_one_statement_with_a_trailing_semicolon_runs(data: Path) -> None:
    done = query(data, "SELECT 1 AS one;  -- done", "--format", "csv")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "one\n1\n"


def test_an_empty_data_dir_says_to_migrate_or_run(tmp_path: Path) -> None:
    empty = tmp_path / "nothing-here"
    line = one_line_error(query(empty, "SELECT count() FROM dxpulse.events"))
    assert line == (
        f"dxpulse: error: no dxpulse schema in {empty}: run `dxpulse migrate` or `dxpulse run`"
    )
    assert not empty.exists()  # a read creates nothing


def test_a_data_dir_without_the_schema_says_to_migrate_or_run(tmp_path: Path) -> None:
    made = subprocess.run(
        [sys.executable, "-c", "import sys; from dxpulse.clickhouse import connect; "
         "from dxpulse.core.config import Settings; connect(Settings(data_dir=sys.argv[1]))"
         ".command('SELECT 1')", str(tmp_path)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    line = one_line_error(query(tmp_path, "SELECT count() FROM dxpulse.events"))
    assert line.endswith(f"no dxpulse schema in {tmp_path}: run `dxpulse migrate` or `dxpulse run`")
    ok = query(tmp_path, "SELECT 1 + 1 AS two", "--format", "csv")
    assert ok.returncode == 0 and ok.stdout == "two\n2\n"  # SQL that needs no schema still runs


@pytest.mark.parametrize(
    "args",
    [
        ["query", "SELECT 1"],
        ["report"],
        ["calibrate"],
        ["migrate"],
    ],
)
def test_an_unknown_dsn_scheme_is_a_config_error(tmp_path: Path, args: list[str]) -> None:
    done = dxpulse(*args, "--clickhouse-dsn", "mysql://x")
    line = one_line_error(done)
    assert done.returncode == 2
    assert line.startswith("dxpulse: error: bad setting clickhouse.dsn:")
    assert "mysql" in line and "http://" in line and "chdb://" in line
    from_env = dxpulse(*args, env={"DXPULSE_CLICKHOUSE__DSN": "mysql://x"})
    assert one_line_error(from_env) == line


def test_the_query_run_suggests_merges_the_customer_states(data: Path) -> None:
    from dxpulse.query_output import SUGGESTED_QUERY

    done = query(data, SUGGESTED_QUERY.format(db="dxpulse"), "--format", "json")
    assert done.returncode == 0, done.stderr
    assert orjson.loads(done.stdout) == [
        {"event_type": "mobile_money", "events": 9, "vnd": 7407402, "customers": 3}
    ]
    assert done.stderr == ""  # merged in SQL: no finalizeAggregation note
