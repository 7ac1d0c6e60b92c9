"""The access SQL without a server: rendering, passwords, and least privilege by inspection."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr

from dxpulse.access import (
    ACCESS_DIR,
    USERS,
    load_access_sql,
    parse_access,
    password_problem,
    render,
    scrub,
    user_passwords,
)
from dxpulse.cli import main
from dxpulse.clickhouse import MIGRATIONS_DIR, load_migrations
from dxpulse.core.config import Settings
from dxpulse.core.errors import DxpulseError

ROOT = Path(__file__).resolve().parents[2]
PASSWORDS = {u.name: SecretStr(f"Pa55-{u.key}-with 'quotes' \\ and ;") for u in USERS}
ENV = {u.env: PASSWORDS[u.name].get_secret_value() for u in USERS}


def test_access_sql_is_not_a_migration() -> None:
    assert ACCESS_DIR.parent == MIGRATIONS_DIR
    assert list(ACCESS_DIR.glob("*.sql"))
    assert all(m.name != "001_users" for m in load_migrations())


def test_render_fills_every_placeholder_with_hashes_not_passwords() -> None:
    salts = {u.name: f"{i:02d}" * 32 for i, u in enumerate(USERS)}
    rendered = render("dxpulse_x", PASSWORDS, salts=salts)
    text = "\n".join(rendered.statements)
    assert not re.search(r"[{}]", text)
    for user in USERS:
        password = PASSWORDS[user.name].get_secret_value()
        digest = hashlib.sha256((password + salts[user.name]).encode()).hexdigest()
        assert f"BY '{digest}' SALT '{salts[user.name]}'" in text
        assert password not in text
    assert "ON dxpulse_x.* TO" in text and "DEFAULT DATABASE dxpulse_x" in text
    # Only hex and names are ever spliced in: nothing for quoting to get wrong.
    literals = re.findall(r"'([^']*)'", text)
    assert literals and all(re.fullmatch(r"[0-9a-fA-F]+|dxpulse_\w+_profile", q) for q in literals)


def test_salts_are_fresh_each_time() -> None:
    first, second = render("dxpulse", PASSWORDS), render("dxpulse", PASSWORDS)
    assert first.statements != second.statements
    salts = re.findall(r"SALT '([0-9A-F]+)'", "\n".join(first.statements))
    assert len(set(salts)) == len(USERS) and all(len(s) == 64 for s in salts)


def test_render_rejects_bad_names_and_unknown_placeholders() -> None:
    with pytest.raises(DxpulseError, match="not a plain database name"):
        render("dxpulse; DROP", PASSWORDS)
    with pytest.raises(DxpulseError, match=r"unknown placeholder \{admin_sha256\}"):
        render("dxpulse", PASSWORDS, statements=["ALTER USER x BY '{admin_sha256}'"])


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("pw-8char", "too short"),
        ("x" * 257, "too long"),
        (" leading-space-pass", "whitespace"),
        ("trailing-newline-pass\n", "whitespace"),
        ("with-a\x00-nul-inside", "control characters"),
        ("a-fine-password", None),
        ("quotes-'and\"-\\backslash", None),
        ("mật-khẩu-tiếng-việt", None),
    ],
)
def test_password_rules(password: str, problem: str | None) -> None:
    found = password_problem(password)
    assert (found is None) if problem is None else (problem in (found or ""))
    assert password not in (found or "")


def test_passwords_come_from_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        clean_env.setenv(name, value)
    found = user_passwords(Settings())
    assert {k: v.get_secret_value() for k, v in found.items()} == {
        k: v.get_secret_value() for k, v in PASSWORDS.items()
    }


def test_missing_passwords_are_named_in_one_line(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DXPULSE_CLICKHOUSE__ANALYST_PASSWORD", "analyst-password-ok")
    with pytest.raises(DxpulseError) as failed:
        user_passwords(Settings())
    assert str(failed.value) == (
        "no password for the ClickHouse users: set DXPULSE_CLICKHOUSE__WRITER_PASSWORD, "
        "DXPULSE_GRAFANA__CLICKHOUSE_PASSWORD"
    )


def test_bad_passwords_are_named_never_shown(clean_env: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        clean_env.setenv(name, value)
    clean_env.setenv("DXPULSE_CLICKHOUSE__WRITER_PASSWORD", "hunter2")
    with pytest.raises(DxpulseError) as failed:
        user_passwords(Settings())
    message = str(failed.value)
    assert message.startswith("DXPULSE_CLICKHOUSE__WRITER_PASSWORD is too short")
    assert "hunter2" not in message


# --- Least privilege, read from the SQL itself. ----------------------------------------


def test_exactly_the_three_users() -> None:
    users = parse_access(render("dxpulse", PASSWORDS).statements)
    assert sorted(users) == sorted(u.name for u in USERS)
    assert sorted(users) == ["dxpulse_analyst", "dxpulse_grafana", "dxpulse_writer"]


def test_each_user_has_only_its_rights_on_the_database() -> None:
    users = parse_access(render("dxpulse", PASSWORDS).statements)
    assert sorted(users["dxpulse_writer"].privileges) == [
        ("INSERT", "dxpulse.*"),
        ("SELECT", "dxpulse.*"),
    ]
    assert users["dxpulse_analyst"].privileges == [("SELECT", "dxpulse.*")]
    assert users["dxpulse_grafana"].privileges == [("SELECT", "dxpulse.*")]
    for user in users.values():
        assert user.database == "dxpulse"
        assert user.profile == f"{user.name}_profile"


def test_no_statement_grants_more_than_that() -> None:
    statements = render("dxpulse", PASSWORDS).statements
    for statement in statements:
        if statement.startswith("GRANT"):
            assert re.fullmatch(
                r"GRANT ((INSERT|SELECT)(, (INSERT|SELECT))* ON dxpulse\.\*|dxpulse_\w+) "
                r"TO dxpulse_\w+ WITH REPLACE OPTION",
                statement,
            ), statement
    text = " ".join(statements).upper()
    for word in ("ALL", "GRANT OPTION", "ADMIN OPTION", "ACCESS MANAGEMENT", "*.*", "SYSTEM",
                  "ALTER TABLE", "DROP", "TRUNCATE", "CREATE TABLE", "INTROSPECTION"):  # fmt: skip
        assert not re.search(rf"(?<![\w.]){re.escape(word)}(?![\w.])", text), word


def test_analyst_is_read_only_with_limits() -> None:
    analyst = parse_access(render("dxpulse", PASSWORDS).statements)["dxpulse_analyst"]
    readonly = analyst.setting("readonly")
    assert readonly is not None and readonly.value == "1"
    for limit in ("max_execution_time", "max_memory_usage", "max_result_rows"):
        setting = analyst.setting(limit)
        assert setting is not None and int(setting.value) > 0, limit


def test_grafana_may_tune_settings_only_under_caps() -> None:
    grafana = parse_access(render("dxpulse", PASSWORDS).statements)["dxpulse_grafana"]
    readonly = grafana.setting("readonly")
    assert readonly is not None and (readonly.value, readonly.constraint) == ("2", "CONST")
    for limit in ("max_execution_time", "max_memory_usage", "max_result_rows"):
        setting = grafana.setting(limit)
        assert setting is not None and setting.max is not None, limit
        assert 0 < float(setting.value) <= float(setting.max)


def test_writer_may_not_run_ddl_even_by_setting() -> None:
    writer = parse_access(render("dxpulse", PASSWORDS).statements)["dxpulse_writer"]
    allow_ddl = writer.setting("allow_ddl")
    assert allow_ddl is not None and (allow_ddl.value, allow_ddl.constraint) == ("0", "CONST")
    assert writer.setting("readonly") is None  # it sets insert_deduplication_token per insert


@pytest.mark.parametrize(
    "statement",
    [
        "GRANT ALL ON *.* TO dxpulse_ingest WITH REPLACE OPTION",
        "GRANT SELECT ON dxpulse.* TO dxpulse_reader WITH GRANT OPTION WITH REPLACE OPTION",
        "GRANT SELECT ON dxpulse.* TO dxpulse_reader",
        "CREATE USER IF NOT EXISTS x IDENTIFIED WITH plaintext_password BY 'pw'",
        "DROP USER dxpulse_writer",
        "REVOKE SELECT ON dxpulse.* FROM dxpulse_reader",
    ],
)
def test_other_statement_forms_are_refused(statement: str) -> None:
    with pytest.raises(DxpulseError):
        parse_access([statement])


def test_every_file_statement_is_a_known_form() -> None:
    assert len(load_access_sql()) == len(render("dxpulse", PASSWORDS).statements)
    parse_access(render("dxpulse", PASSWORDS).statements)  # raises otherwise


def test_scrub_masks_secrets_and_hashes() -> None:
    digest = "ab" * 32
    text = f"Syntax error near 'Sup3r-secret' BY '{digest}' SALT '{digest.upper()}'"
    scrubbed = scrub(text, ["Sup3r-secret", digest])
    assert "Sup3r-secret" not in scrubbed and digest not in scrubbed.lower()
    assert scrubbed.startswith("Syntax error near '***'")


def test_grafana_provisioning_matches_the_user() -> None:
    path = ROOT / "deploy/grafana/provisioning/datasources/dxpulse.yaml"
    (datasource,) = yaml.safe_load(path.read_text())["datasources"]
    assert datasource["jsonData"]["username"] == "dxpulse_grafana"
    assert datasource["secureJsonData"]["password"] == "${DXPULSE_GRAFANA__CLICKHOUSE_PASSWORD}"


# --- `dxpulse init --users`: refused before any connection. -----------------------------


def _main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as done:
        main(argv)
    return int(done.value.code or 0), capsys.readouterr().err


def test_init_users_without_passwords_fails_first(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Nothing listens on port 1: had it tried to connect, the error would say so.
    code, err = _main(
        ["init", "--users", "--bootstrap-servers", "127.0.0.1:1",
         "--clickhouse-dsn", "http://127.0.0.1:1", "--wait", "1s"],
        capsys,
    )  # fmt: skip
    assert code == 1
    assert err == (
        "dxpulse: error: no password for the ClickHouse users: set "
        "DXPULSE_CLICKHOUSE__WRITER_PASSWORD, DXPULSE_CLICKHOUSE__ANALYST_PASSWORD, "
        "DXPULSE_GRAFANA__CLICKHOUSE_PASSWORD\n"
    )


def test_init_users_on_chdb_is_refused(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for name, value in ENV.items():
        clean_env.setenv(name, value)
    code, err = _main(
        ["init", "--users", "--bootstrap-servers", "127.0.0.1:1", "--data-dir", str(tmp_path)],
        capsys,
    )
    assert code == 1 and err.count("\n") == 1
    assert err.startswith("dxpulse: error: --users needs a ClickHouse server")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--wait", "0"], "Invalid value for '--wait'"),
        (["--partitions", "0"], "Invalid value for '--partitions'"),
        ([], "no Kafka configured"),
    ],
)
def test_init_bad_arguments_are_one_line(
    args: list[str], message: str, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _main(["init", *args], capsys)
    assert code in (1, 2) and err.count("\n") == 1 and message in err, err


def test_init_users_summary(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What `init --users` prints once the server has taken the SQL (services stubbed)."""
    from dxpulse import access, clickhouse, topics
    from dxpulse.access import UserOutcome
    from dxpulse.topics import TopicInfo

    for name, value in ENV.items():
        clean_env.setenv(name, value)
    seen: dict[str, object] = {}

    def applied(client: object, db: str, passwords: dict[str, SecretStr]) -> list[UserOutcome]:
        seen["passwords"] = passwords
        users = parse_access(render(db, passwords).statements)
        return [UserOutcome(users[u.name], "created") for u in USERS]

    clean_env.setattr(topics, "wait_for_kafka", lambda *a, **k: None)
    clean_env.setattr(clickhouse, "wait_for_clickhouse", lambda *a, **k: object())
    letters = [TopicInfo("dxpulse.deadletter", 12, None)]
    clean_env.setattr(topics, "describe_topics", lambda kafka: letters)
    clean_env.setattr(topics, "ensure_topics", lambda kafka: [])
    clean_env.setattr(clickhouse, "migrate", lambda client, db, **options: [])
    clean_env.setattr(access, "apply_access", applied)
    with pytest.raises(SystemExit) as done:
        main(["init", "--users", "--bootstrap-servers", "kafka:9092",
              "--clickhouse-dsn", "http://ch:8123"])  # fmt: skip
    captured = capsys.readouterr()
    assert done.value.code == 0, captured.err
    assert seen["passwords"] == PASSWORDS
    out = " ".join(captured.out.split())
    assert "users: 3 created." in out, out
    for name in ("dxpulse_writer", "dxpulse_analyst", "dxpulse_grafana", "readonly=2 CONST"):
        assert name in out
    assert "broker default" in out
    assert not any(p.get_secret_value() in out for p in PASSWORDS.values())
