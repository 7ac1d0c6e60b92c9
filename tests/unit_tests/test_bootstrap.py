"""bin/_bootstrap.sh refuses what it cannot install from the lock in one line, before any venv.

(What it installs is checked by test_locks.py::test_the_venv_holds_exactly_the_dev_lock on the
venv these tests run in; an install needs PyPI, so none is started here.)
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def bootstrap(venv: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(ROOT / "bin" / "dxpulse"), "--version"],
        env={**os.environ, "DXPULSE_VENV": str(venv), **env},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DXPULSE_INSTALLER": "conda"}, "DXPULSE_INSTALLER must be auto, uv or pip, not 'conda'"),
        ({"DXPULSE_PYTHON": "/bin/false"}, "requirements-dev.lock is for CPython 3.11"),
        ({"DXPULSE_PYTHON": "no-such-python3"}, "set DXPULSE_PYTHON to a python3.11"),
    ],
)
def test_bad_installer_settings_are_one_line_and_exit_1(
    env: dict[str, str], message: str, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    done = bootstrap(venv, **env)
    assert done.returncode == 1, done
    assert done.stdout == ""
    assert done.stderr.startswith("dxpulse: error: ") and done.stderr.count("\n") == 1
    assert message in done.stderr
    assert not venv.exists(), "nothing is installed after a refusal"
