"""The access SQL on chDB, as far as chDB allows.

chDB cannot create users: its embedded server only ever loads one read-only users.xml
storage, so CREATE USER fails (ACCESS_DENIED for its default user; with a users.xml granting
access management, ACCESS_STORAGE_FOR_INSERTION_NOT_FOUND). What these tests do instead:

* every statement parses in ClickHouse's own parser (EXPLAIN AST), and ClickHouse's own
  formatting shows that re-running replaces profiles, settings and grants;
* applying the SQL on chDB fails with one line that shows no password, hash or salt;
* the rights are enforced: chDB's only user is given, through a users.xml, exactly the
  grants and settings profile that the SQL gives each user (roles resolved), and a
  separate process then checks what that user can and cannot do on a migrated database,
  the workers' real write path included.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client
from pydantic import SecretStr

from dxpulse.access import (
    USERS,
    UserAccess,
    apply_access,
    parse_access,
    password_hash,
    render,
    run_statements,
)
from dxpulse.core.config import Settings
from dxpulse.core.errors import DxpulseError

PASSWORDS = {u.name: SecretStr(f"pw-{u.key}-'quote'\\slash-ok") for u in USERS}
DB = "dxpulse_acl"


def test_every_statement_parses_in_clickhouse(settings: Settings, ch: Client) -> None:
    statements = render(settings.clickhouse.database, PASSWORDS).statements
    for statement in statements:
        ast = ch.query(f"EXPLAIN AST {statement}").result_rows
        assert ast, statement
    kinds = {str(ch.query(f"EXPLAIN AST {s}").result_rows[0][0]).split()[0] for s in statements}
    assert kinds == {
        "CreateSettingsProfileQuery",
        "CreateRoleQuery",
        "GrantQuery",
        "CreateUserQuery",
    }


def _formatted(ch: Client, statement: str) -> str:
    return str(
        ch.query("SELECT formatQuery({q:String})", parameters={"q": statement}).result_rows[0][0]
    )


def test_rerunning_replaces_instead_of_accumulating(settings: Settings, ch: Client) -> None:
    """ClickHouse's own reading of the statements: ALTER ... SETTINGS drops the old list
    and grants replace the old ones, so a narrowed SQL file narrows the server."""
    for statement in render(settings.clickhouse.database, PASSWORDS).statements:
        formatted = _formatted(ch, statement)
        if statement.startswith(("ALTER SETTINGS PROFILE", "ALTER USER")):
            assert "DROP ALL SETTINGS, DROP ALL PROFILES, ADD " in formatted, formatted
        if statement.startswith("GRANT"):
            assert formatted.endswith("WITH REPLACE OPTION"), formatted
            assert "GRANT OPTION" not in formatted and "ADMIN OPTION" not in formatted


def test_hash_is_what_clickhouse_computes(ch: Client) -> None:
    salt = "A1" * 32
    expected = ch.query(
        "SELECT lower(hex(SHA256(concat({p:String}, {s:String}))))",
        parameters={"p": "pw-'q'\\x", "s": salt},
    ).result_rows[0][0]
    assert password_hash("pw-'q'\\x", salt) == expected


def test_chdb_cannot_create_users_and_the_error_hides_the_secrets(
    settings: Settings, ch: Client
) -> None:
    with pytest.raises(DxpulseError) as failed:
        apply_access(ch, settings.clickhouse.database, PASSWORDS)
    message = str(failed.value)
    assert "\n" not in message
    assert "ACCESS_DENIED" in message, message
    assert message.startswith("access SQL failed at `CREATE SETTINGS PROFILE"), message
    for secret in PASSWORDS.values():
        assert secret.get_secret_value() not in message


def test_chdb_has_no_user_directory_to_create_users_in(tmp_path: Path) -> None:
    """Even when its user may manage access, chDB has nowhere to store a new user: the
    reason these tests enforce the rights through users.xml instead."""
    users = tmp_path / "users.xml"
    users.write_text(
        "<clickhouse><profiles><default/></profiles><quotas><default/></quotas><users>"
        "<default><password/><networks><ip>::/0</ip></networks><profile>default</profile>"
        "<quota>default</quota><access_management>1</access_management></default>"
        "</users></clickhouse>"
    )
    config = tmp_path / "config.xml"
    config.write_text(f"<clickhouse><users_config>{users}</users_config></clickhouse>")
    statements = render(DB, PASSWORDS).statements
    create_user = next(s for s in statements if s.startswith("CREATE USER"))
    (result,) = _run(tmp_path / "store", config, [create_user])
    assert not result["ok"]
    # Failing only at storage also means ClickHouse accepted the IDENTIFIED WITH sha256_hash
    # clause: a malformed hash or salt fails earlier, with BAD_ARGUMENTS.
    assert "ACCESS_STORAGE_FOR_INSERTION_NOT_FOUND" in result["value"], result


def test_a_syntax_error_quoting_the_statement_is_scrubbed(ch: Client) -> None:
    password, salt = "Sup3r-secret-pass", "B2" * 32
    digest = password_hash(password, salt)
    broken = f"CREATE USER nobody IDENTIFIED WITH sha256_hash BY '{digest}' SALT '{salt}' oops"
    with pytest.raises(DxpulseError) as failed:
        run_statements(ch, [broken], [password, digest, salt])
    message = str(failed.value)
    assert "SYNTAX_ERROR" in message or "Syntax error" in message, message
    assert digest not in message and salt not in message and password not in message
    assert failed.value.__cause__ is None and failed.value.__suppress_context__


# --- Enforcement, one process per user (chDB reads its users.xml once per process). ----

PROBE = r"""
import json, sys, threading
from datetime import UTC, datetime
import clickhouse_connect

job = json.load(sys.stdin)
options = {"config-file": job["config"]} if job["config"] else None
client = clickhouse_connect.get_client(dsn="chdb://" + job["path"], chdb_options=options)
db = job["db"]


def sink():
    from dxpulse.producers.generator import EventGenerator
    from dxpulse.schemas.validation import EventValidator, Rejection
    from dxpulse.streams.batch import PartitionBatch
    from dxpulse.streams.sink import ClickHouseSink
    from dxpulse.streams.dedup import EMPTY, Front
    from dxpulse.streams.state import BatchIntent, SinkStateStore

    gen, validator, now = EventGenerator(seed=3), EventValidator(), datetime.now(UTC)
    batch = PartitionBatch("t.online_payment", 0, 60)
    for offset in range(200):
        value = gen.encode(gen.event(now))
        event = validator.validate_flat(value)
        assert not isinstance(event, Rejection)
        batch.add_event(offset, event, now, value)
    state = SinkStateStore(client, db, "g", threading.Lock())
    intent = BatchIntent(
        "t.online_payment", "id", 0, 0, 199, 0, 1, batch.token, EMPTY, Front(0, 1)
    )
    state.record([intent])
    ClickHouseSink(client, db).write(batch)
    assert state.latest("t.online_payment", "id", 0) == intent
    payments = sum(e[1] == "online_payment" for e in batch.events)  # the rows read back
    assert len(state.written_rows("online_payment", "", 0, 0, 199)) == payments
    return client.query(f"SELECT count() FROM {db}.events").result_rows[0][0]


def migrate():
    from dxpulse.clickhouse import migrate as apply
    apply(client, db)


results = []
for step in job["steps"]:
    try:
        if step == "sink()":
            value = sink()
        elif step == "migrate()":
            value = migrate()
        elif step.startswith(("SELECT", "WITH")):
            value = client.query(step).result_rows
        else:
            value = client.command(step)
        results.append({"ok": True, "value": repr(value)})
    except Exception as exc:
        results.append({"ok": False, "value": str(exc).strip().splitlines()[0][:300]})
print(json.dumps(results))
"""


def _run(path: Path, config: Path | None, steps: list[str]) -> list[dict[str, Any]]:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        input=json.dumps(
            {"path": str(path), "config": str(config) if config else "", "db": DB, "steps": steps}
        ),
        capture_output=True,
        text=True,
        timeout=180,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results: list[dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return results


def users_xml(user: UserAccess) -> str:
    """A users.xml that gives chDB's one user (``default``) exactly ``user``'s rights:
    the same GRANT texts the SQL gives its roles, and the same profile settings and
    constraints."""
    grants = "".join(f"<query>GRANT {p} ON {on}</query>" for p, on in user.privileges)
    values = "".join(f"<{s.name}>{s.value.strip(chr(39))}</{s.name}>" for s in user.settings)
    tags = {"CONST": "<const/>", "WRITABLE": "<writable/>",
            "CHANGEABLE_IN_READONLY": "<changeable_in_readonly/>"}  # fmt: skip
    constraints = "".join(
        f"<{s.name}>"
        + (f"<min>{s.min}</min>" if s.min else "")
        + (f"<max>{s.max}</max>" if s.max else "")
        + (tags[s.constraint] if s.constraint else "")
        + f"</{s.name}>"
        for s in user.settings
        if s.min or s.max or s.constraint
    )
    return (
        "<clickhouse><profiles><default/>"
        f"<{user.profile}>{values}<constraints>{constraints}</constraints></{user.profile}>"
        "</profiles><quotas><default/></quotas><users><default><password/>"
        f"<networks><ip>::/0</ip></networks><profile>{user.profile}</profile>"
        f"<quota>default</quota><grants>{grants}</grants></default></users></clickhouse>"
    )


# The module-scoped fixture below is set up once per xdist worker that runs a test of this
# module: the module runs on one worker (bin/test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("test_access")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A chDB store with the migrated schema and a database dxpulse has no rights on."""
    path = tmp_path_factory.mktemp("acl")
    results = _run(
        path,
        None,
        [
            "migrate()",
            "CREATE DATABASE other",
            "CREATE TABLE other.t (x UInt8) ENGINE = MergeTree ORDER BY x",
            "INSERT INTO other.t VALUES (1)",
        ],
    )
    assert all(r["ok"] for r in results), results
    return path


def _as_user(store: Path, tmp_path: Path, name: str, steps: list[tuple[str, str]]) -> None:
    user = parse_access(render(DB, PASSWORDS).statements)[name]
    users = tmp_path / "users.xml"
    users.write_text(users_xml(user))
    config = tmp_path / "config.xml"
    config.write_text(f"<clickhouse><users_config>{users}</users_config></clickhouse>")
    results = _run(store, config, [s for s, _ in steps])
    failures = []
    for (step, expect), result in zip(steps, results, strict=True):
        if expect == "ok" and not result["ok"]:
            failures.append(f"{step!r} should work: {result['value']}")
        elif expect.startswith("="):
            if not result["ok"] or result["value"] != expect[1:]:
                failures.append(f"{step!r} gave {result['value']}, not {expect[1:]}")
        elif expect != "ok" and (result["ok"] or expect not in result["value"]):
            failures.append(f"{step!r} should fail with {expect}: {result['value']}")
    assert not failures, "\n".join(failures)


DENIED = "ACCESS_DENIED"


def test_writer_writes_as_the_worker_does_and_nothing_more(store: Path, tmp_path: Path) -> None:
    _as_user(
        store,
        tmp_path,
        "dxpulse_writer",
        [
            ("sink()", "=200"),  # the worker's inserts, its dedup-token setting, sink_batches
            (f"SELECT count() FROM {DB}.event_aggregates", "ok"),
            ("migrate()", DENIED),  # hence `worker --no-migrate` as dxpulse_writer
            (f"CREATE TABLE {DB}.x (a UInt8) ENGINE = Memory", DENIED),
            (f"DROP TABLE {DB}.events", DENIED),
            (f"TRUNCATE TABLE {DB}.provinces", DENIED),
            (f"ALTER TABLE {DB}.events DELETE WHERE 1", DENIED),
            ("CREATE DATABASE x", DENIED),
            ("SELECT * FROM other.t", DENIED),
            ("INSERT INTO other.t VALUES (2)", DENIED),
            ("CREATE USER intruder", DENIED),
            (f"GRANT SELECT ON {DB}.* TO default", DENIED),
            ("SET allow_ddl = 1", "QUERY_IS_PROHIBITED"),
        ],
    )


def test_analyst_reads_within_limits(store: Path, tmp_path: Path) -> None:
    p = f"{DB}.provinces"
    _as_user(
        store,
        tmp_path,
        "dxpulse_analyst",
        [
            (f"SELECT count() FROM {p}", "=[(63,)]"),
            ("SELECT getSetting('readonly'), getSetting('max_result_rows')", "=[(1, 1000000)]"),
            ("SET max_execution_time = 1", "READONLY"),
            ("SELECT 1 SETTINGS max_result_rows = 0", "READONLY"),
            # No grant for these (checked before readonly, which would refuse them too).
            (f"INSERT INTO {p} SELECT * FROM {p}", DENIED),
            (f"DROP TABLE {DB}.events", DENIED),
            (f"CREATE TABLE {DB}.x (a UInt8) ENGINE = Memory", DENIED),
            ("CREATE USER intruder", DENIED),
            ("SELECT * FROM other.t", DENIED),
            # 63^4 rows: more than max_result_rows.
            (f"SELECT 1 FROM {p} AS a, {p} AS b, {p} AS c, {p} AS d", "TOO_MANY_ROWS_OR_BYTES"),
        ],
    )


def test_grafana_reads_and_may_tune_only_within_caps(store: Path, tmp_path: Path) -> None:
    p = f"{DB}.provinces"
    _as_user(
        store,
        tmp_path,
        "dxpulse_grafana",
        [
            (f"SELECT count() FROM {p}", "=[(63,)]"),
            (
                "SELECT getSetting('max_execution_time') SETTINGS max_execution_time = 120",
                "=[(120.0,)]",
            ),
            ("SET max_execution_time = 30", "ok"),
            ("SET max_execution_time = 3600", "SETTING_CONSTRAINT_VIOLATION"),
            ("SET max_memory_usage = 68719476736", "SETTING_CONSTRAINT_VIOLATION"),
            ("SET max_concurrent_queries_for_user = 100", "SETTING_CONSTRAINT_VIOLATION"),
            ("SET readonly = 0", "READONLY"),
            (f"INSERT INTO {p} SELECT * FROM {p}", DENIED),
            (f"DROP TABLE {DB}.events", DENIED),
            ("CREATE USER intruder", DENIED),
            ("SELECT * FROM other.t", DENIED),
        ],
    )
