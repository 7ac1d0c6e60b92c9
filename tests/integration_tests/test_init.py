"""`dxpulse init` against the session's Tansu broker and chDB: topics with their partitions
and retention, the migrations, a no-op second run, and bounded waits for absent services."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from clickhouse_connect.driver.exceptions import OperationalError
from confluent_kafka.admin import AdminClient, ConfigResource

from dxpulse.cli import main
from dxpulse.clickhouse import connect, load_migrations, wait_for_clickhouse
from dxpulse.core.config import ClickHouseSettings, KafkaSettings, Settings
from dxpulse.core.errors import DxpulseError
from dxpulse.embedded import free_port


def _init(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], **env: str
) -> tuple[int, str, str]:
    """Run `dxpulse init ARGS` in this process (chDB allows one store per process, so a
    subprocess could not share the session's), with only ``env`` as DXPULSE_* variables."""
    import os

    for name in list(os.environ):
        if name.upper().startswith("DXPULSE_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as done:
        main(["init", *args])
    out, err = capsys.readouterr()
    return int(done.value.code or 0), " ".join(out.split()), err


@pytest.fixture
def names() -> tuple[str, str]:
    tag = uuid.uuid4().hex[:10]
    return f"i{tag}", f"i{tag}"  # topic prefix, database


def test_init_creates_topics_and_schema_then_changes_nothing(
    bootstrap_servers: str,
    clickhouse_dsn: str,
    names: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    prefix, db = names
    env = {
        "DXPULSE_KAFKA__TOPIC_PREFIX": prefix,
        "DXPULSE_KAFKA__RETENTION_MS": "7200000",
        "DXPULSE_CLICKHOUSE__DATABASE": db,
    }
    args = ["--bootstrap-servers", bootstrap_servers, "--clickhouse-dsn", clickhouse_dsn]
    code, out, err = _init([*args, "--partitions", "3"], monkeypatch, capsys, **env)
    assert code == 0, err
    n = len(load_migrations())
    assert f"Topics: 4 created, 0 existing; migrations: {n} applied;" in out, out
    assert "users: not changed (no --users)." in out

    kafka = KafkaSettings(bootstrap_servers=bootstrap_servers, topic_prefix=prefix)
    topics = [*kafka.event_topics, kafka.dead_letter_topic]
    admin = AdminClient(kafka.client_config())
    meta = admin.list_topics(timeout=10).topics
    assert {t: len(meta[t].partitions) for t in topics} == dict.fromkeys(topics, 3)
    configs = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, t) for t in topics])
    for resource, future in configs.items():
        assert future.result(timeout=10)["retention.ms"].value == "7200000", resource.name
    assert "2h (7,200,000 ms)" in out

    client = connect(Settings(clickhouse=ClickHouseSettings(dsn=clickhouse_dsn, database=db)))
    try:
        recorded = client.query(f"SELECT count() FROM {db}.schema_migrations").result_rows
        assert recorded[0][0] == n

        # Again, asking for other partitions: existing topics are left as they are.
        code, out, err = _init([*args, "--partitions", "5"], monkeypatch, capsys, **env)
        assert code == 0, err
        assert "Topics: 0 created, 4 existing; migrations: 0 applied;" in out, out
        meta = admin.list_topics(timeout=10).topics
        assert {t: len(meta[t].partitions) for t in topics} == dict.fromkeys(topics, 3)
        recorded = client.query(f"SELECT count() FROM {db}.schema_migrations").result_rows
        assert recorded[0][0] == n
    finally:
        client.command(f"DROP DATABASE IF EXISTS {db}")


def test_init_gives_up_on_an_absent_kafka_after_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    nowhere = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    code, _, err = _init(
        ["--bootstrap-servers", nowhere, "--wait", "3s", "--data-dir", str(tmp_path)],
        monkeypatch,
        capsys,
    )
    elapsed = time.monotonic() - started
    assert code == 1
    assert 3 <= elapsed < 20, elapsed
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"dxpulse: error: Kafka at {nowhere} did not answer within 3 s"), err
    assert "waiting for Kafka" in err


def test_init_gives_up_on_an_absent_clickhouse_after_wait(
    bootstrap_servers: str,
    names: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dsn = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    code, _, err = _init(
        ["--bootstrap-servers", bootstrap_servers, "--clickhouse-dsn", dsn, "--wait", "2s"],
        monkeypatch,
        capsys,
        DXPULSE_KAFKA__TOPIC_PREFIX=names[0],
    )
    assert code == 1
    assert 2 <= time.monotonic() - started < 30
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"dxpulse: error: cannot connect to ClickHouse at {dsn}"), err
    assert last.endswith("(waited 2 s, --wait)"), err


def test_waits_out_a_clickhouse_that_is_still_starting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Network failures are retried until ClickHouse answers; anything else fails at once."""
    attempts: list[int] = []
    sentinel = object()

    def flaky(settings: Settings) -> object:
        attempts.append(1)
        if len(attempts) < 3:
            raise DxpulseError("cannot connect") from OperationalError("refused")
        return sentinel

    monkeypatch.setattr("dxpulse.clickhouse.connect", flaky)
    settings = Settings(clickhouse=ClickHouseSettings(dsn="http://ch:8123"))
    assert wait_for_clickhouse(settings, time.monotonic() + 30, 30) is sentinel
    assert len(attempts) == 3

    def refused(settings: Settings) -> object:
        attempts.append(1)
        raise DxpulseError("cannot connect: authentication failed") from ValueError("516")

    monkeypatch.setattr("dxpulse.clickhouse.connect", refused)
    attempts.clear()
    with pytest.raises(DxpulseError, match="authentication failed"):
        wait_for_clickhouse(settings, time.monotonic() + 30, 30)
    assert len(attempts) == 1
