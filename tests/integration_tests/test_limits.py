"""`--count` and `--duration` together: `run` and `produce` stop at whichever comes first."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from dxpulse.core.config import Settings
from dxpulse.runner import settings_env
from tests.integration_tests.processes import base_env

SESSION = {"DXPULSE_KAFKA__SESSION_TIMEOUT_MS": "2000"}


def _dxpulse(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dxpulse", *args],
        capture_output=True, text=True, timeout=300, env=base_env(**env),
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _produced(done: subprocess.CompletedProcess[str]) -> int:
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    found = re.search(r"Produced ([\d,]+) events", done.stdout)
    assert found, done.stdout[-3000:]
    return int(found[1].replace(",", ""))


def test_run_stops_at_the_count_before_the_duration(tmp_path: Path) -> None:
    done = _dxpulse("run", "--count", "10", "--duration", "5m", "--seed", "41",
                    "--data-dir", str(tmp_path), env=SESSION)  # fmt: skip
    assert _produced(done) == 10
    assert "MISMATCH" not in done.stdout


def test_run_stops_at_the_duration_before_the_count(tmp_path: Path) -> None:
    done = _dxpulse("run", "--count", "10000000", "--duration", "3s", "--rate", "1000",
                    "--seed", "42", "--data-dir", str(tmp_path), env=SESSION)  # fmt: skip
    assert 0 < _produced(done) < 10_000_000
    assert "MISMATCH" not in done.stdout


def test_produce_stops_at_whichever_limit_comes_first(settings: Settings, topics: list[str]):
    env = settings_env(settings)
    assert _produced(_dxpulse("produce", "--count", "10", "--duration", "5m", env=env)) == 10
    by_time = _dxpulse("produce", "--count", "10000000", "--duration", "2s", "--rate", "500",
                       env=env)  # fmt: skip
    assert 0 < _produced(by_time) < 10_000_000
