"""The CLI's argument errors, as a user sees them: one line on stderr, a non-zero exit.

Each case runs ``python -m dxpulse`` in a child process without any DXPULSE_* variable and
with COLUMNS=60, so a console that wrapped long messages would show up as extra lines.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from dxpulse.commands.common import Duration


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("DXPULSE_")}
    env.update(COLUMNS="60", NO_COLOR="1", **extra)
    return env


def dxpulse(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dxpulse", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env=_env(**env),
        stdin=subprocess.DEVNULL,
    )


def _assert_one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("dxpulse: error:"), done.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "code", "mentions"),
    [
        (["run", "--count", "-5"], 2, "--count"),
        (["run", "--count", "0"], 2, "--count"),
        (["run", "--count", "abc"], 2, "--count"),
        (["run", "--duration", "abc"], 2, "--duration"),
        (["run", "--duration", "0"], 2, "--duration"),
        (["run", "--duration", "[/x]"], 2, "[/x]"),  # markup-like input is printed as is
        (["run", "--rate", "-1"], 2, "--rate"),
        (["run", "--partitions", "0"], 2, "--partitions"),
        (["run", "--bogus"], 2, "--bogus"),
        (["produce", "--type", "refunds"], 2, "refunds"),
        (["worker", "--web-port", "70000"], 2, "--web-port"),
        (["query"], 2, "SQL"),
        (["nosuchcommand"], 2, "nosuchcommand"),
    ],
)
def test_bad_arguments(tmp_path, args, code, mentions):
    done = dxpulse(tmp_path, *args)
    line = _assert_one_line_error(done)
    assert mentions in line
    assert done.returncode == code


def test_long_error_messages_are_not_wrapped(tmp_path):
    line = _assert_one_line_error(dxpulse(tmp_path, "run", "--duration", "abc"))
    assert len(line) > 60  # longer than the terminal width the child was given
    assert line.endswith("is not a duration such as 30s, 5m or 1h")


def test_produce_without_a_broker(tmp_path):
    done = dxpulse(tmp_path, "produce", "--count", "1")
    line = _assert_one_line_error(done)
    assert done.returncode == 1
    assert "no Kafka configured" in line
    assert "DXPULSE_KAFKA__BOOTSTRAP_SERVERS" in line
    assert list(tmp_path.iterdir()) == []  # failed before touching anything


def test_dashboards_push_without_a_token(tmp_path):
    # Port 1 would refuse: the error must come before any request.
    done = dxpulse(tmp_path, "dashboards", "push", "--url", "http://127.0.0.1:1")
    line = _assert_one_line_error(done)
    assert done.returncode == 1
    assert line == (
        "dxpulse: error: no Grafana token: set DXPULSE_GRAFANA__TOKEN to a service-account token"
    )


def test_dashboards_push_with_a_bad_url(tmp_path):
    done = dxpulse(tmp_path, "dashboards", "push", "--url", "grafana:3000")
    line = _assert_one_line_error(done)
    assert done.returncode == 2
    assert line.startswith("dxpulse: error: bad setting grafana.url:")


def test_worker_without_a_broker(tmp_path):
    done = dxpulse(tmp_path, "worker", "--data-dir", str(tmp_path / "data"))
    assert "no Kafka configured" in _assert_one_line_error(done)


@pytest.mark.parametrize(
    ("name", "value", "where"),
    [
        ("DXPULSE_KAFKA__PARTITIONS", "abc", "kafka.partitions"),
        ("DXPULSE_LOG_LEVEL", "LOUD", "log_level"),
        # Once a librdkafka KafkaException traceback from the first client built.
        ("DXPULSE_KAFKA__SECURITY_PROTOCOL", "FOO", "kafka.security_protocol"),
        ("DXPULSE_KAFKA__SASL_MECHANISM", "MD5", "kafka.sasl_mechanism"),
        ("DXPULSE_KAFKA__SSL_CA_LOCATION", "/nonexistent/ca.pem", "kafka.ssl_ca_location"),
        ("DXPULSE_KAFKA__LIBRDKAFKA", "not json", "kafka.librdkafka"),
        ("DXPULSE_KAFKA__LIBRDKAFKA", '{"sasl.password": "x"}', "kafka.librdkafka"),
    ],
)
@pytest.mark.parametrize("command", ["produce", "worker"])
def test_bad_setting_in_the_environment(tmp_path, name, value, where, command):
    done = dxpulse(tmp_path, command, "--bootstrap-servers", "127.0.0.1:1", **{name: value})
    line = _assert_one_line_error(done)
    assert done.returncode == 2
    assert line.startswith(f"dxpulse: error: bad setting {where}:")


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["run", "--help"],
        ["produce", "--help"],
        ["worker", "--help"],
        ["migrate", "--help"],
        ["query", "--help"],
        ["schemas", "--help"],
        ["schemas", "export", "--help"],
        ["dashboards", "--help"],
        ["dashboards", "push", "--help"],
        ["run", "-h"],
    ],
)
def test_help_of_every_command(tmp_path, args):
    done = dxpulse(tmp_path, *args)
    assert done.returncode == 0, done.stderr
    command = " ".join(a for a in args if not a.startswith("-"))
    assert f"Usage: dxpulse {command}".rstrip() in done.stdout
    assert done.stderr == ""
    assert list(tmp_path.iterdir()) == []  # help does not create a data directory


def test_version(tmp_path):
    done = dxpulse(tmp_path, "--version")
    assert done.returncode == 0
    assert done.stdout.strip() == "dxpulse, version 0.1.0"


def test_no_arguments_shows_help_not_an_error(tmp_path):
    done = dxpulse(tmp_path)
    assert "Usage: dxpulse" in done.stdout + done.stderr
    assert not done.stderr.startswith("dxpulse: error:")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("90s", 90.0), ("5m", 300.0), ("1.5h", 5400.0), ("2d", 172_800.0),
     ("250ms", 0.25), (" 10 s ", 10.0), (45, 45.0), ("1h30m", 5400.0)],
)  # fmt: skip
def test_duration_values(text, seconds):
    assert Duration().convert(text, None, None) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["abc", "0", "0s", "-5m", "5 minutes", "1h 30", "5x", ""])
def test_bad_durations(text):
    with pytest.raises(click.BadParameter, match="is not a duration"):
        Duration().convert(text, None, None)
