"""The tests read .env files as docker compose does (tests/envfile.py, python-dotenv).

Before, test_compose.py and test_container.py each had a reader of their own: one kept the
spaces around a value, the other stripped them, and both kept quotes and inline comments, so
`DXPULSE_LOG_LEVEL="INFO"  # or DEBUG` was a different value to each and to compose.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.envfile import read_env


def test_quotes_comments_and_export_are_read_as_compose_reads_them(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(
        "# a comment line\n"
        "\n"
        'DXPULSE_LOG_LEVEL="INFO"  # or DEBUG\n'
        "DXPULSE_PRODUCER_RATE=1000 # events per second\n"
        "GRAFANA_ADMIN_USER='admin'\n"
        "export COMPOSE_PROJECT_NAME=dxpulse\n"
        "CLICKHOUSE_ADMIN_PASSWORD=\n"
        'QUOTED_HASH="a#b c"\n',
        "utf-8",
    )
    assert read_env(env) == {
        "DXPULSE_LOG_LEVEL": "INFO",
        "DXPULSE_PRODUCER_RATE": "1000",
        "GRAFANA_ADMIN_USER": "admin",
        "COMPOSE_PROJECT_NAME": "dxpulse",
        "CLICKHOUSE_ADMIN_PASSWORD": "",
        "QUOTED_HASH": "a#b c",
    }


def test_a_line_without_an_equals_sign_is_named(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("GOOD=1\nDXPULSE_TYPO\n", "utf-8")
    with pytest.raises(AssertionError, match="DXPULSE_TYPO"):
        read_env(env)
