"""The data directory of `dxpulse run` and `dxpulse worker`, and `run`'s limits, as a user
sees them: a data directory that cannot be used is one line and exit 1 before anything
starts; `--backfill` needs a unit; `--help` says how `--count` and `--duration` combine."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.unit_tests.test_cli_errors import _assert_one_line_error, _env


def dxpulse(
    cwd: Path, *args: str, prefix: list[str] | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """`python -m dxpulse ARGS` without DXPULSE_* variables, behind an optional ``prefix``."""
    return subprocess.run(
        [*(prefix or []), sys.executable, "-m", "dxpulse", *args],
        capture_output=True, text=True, timeout=120, cwd=cwd, env=_env(**env),
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _refused_before_starting(done: subprocess.CompletedProcess[str]) -> str:
    line = _assert_one_line_error(done)
    assert done.returncode == 1
    assert done.stdout == ""  # no seed, no broker, no topics: nothing was started
    return line


def test_a_data_dir_under_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    data = tmp_path / "file" / "data"
    line = _refused_before_starting(dxpulse(tmp_path, "run", "--data-dir", str(data)))
    assert line == f"dxpulse: error: cannot create the data directory {data}: Not a directory"


def test_a_data_dir_that_is_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    done = dxpulse(tmp_path, "run", DXPULSE_DATA_DIR=str(tmp_path / "file"))
    line = _refused_before_starting(done)
    assert line == f"dxpulse: error: the data directory {tmp_path / 'file'} is not a directory"


def test_a_data_dir_under_proc(tmp_path: Path) -> None:
    line = _refused_before_starting(dxpulse(tmp_path, "run", "--data-dir", "/proc/dxpulse-data"))
    assert line.startswith("dxpulse: error: cannot create the data directory /proc/dxpulse-data:")


@pytest.mark.parametrize("under", ["file", "proc"])
def test_the_worker_refuses_an_unusable_data_dir_in_one_line(tmp_path: Path, under: str) -> None:
    (tmp_path / "file").write_text("not a directory")
    data = tmp_path / "file" / "data" if under == "file" else Path("/proc/dxpulse-data")
    done = dxpulse(tmp_path, "worker", "--no-create-topics", "--data-dir", str(data),
                   DXPULSE_KAFKA__BOOTSTRAP_SERVERS="127.0.0.1:1")  # fmt: skip
    line = _assert_one_line_error(done)
    assert done.returncode == 1
    assert line.startswith(f"dxpulse: error: cannot create the data directory {data}:")


def _read_only(data: Path) -> list[str]:
    """A command prefix that runs what follows with ``data`` read-only: a read-only bind
    mount in a mount namespace of its own when root (root writes through file modes),
    else the directory's mode."""
    if os.geteuid() != 0:
        data.chmod(0o555)
        return []
    if shutil.which("unshare") is None:
        pytest.skip("root without unshare(1): cannot make a directory read-only")
    script = f'mount --bind "{data}" "{data}" && mount -o remount,ro,bind "{data}" && exec "$@"'
    return ["unshare", "--mount", "sh", "-c", script, "sh"]


def test_a_read_only_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    done = dxpulse(tmp_path, "run", "--data-dir", str(data), prefix=_read_only(data))
    line = _refused_before_starting(done)
    assert line.startswith(f"dxpulse: error: the data directory {data} is not writable:")
    assert list(data.iterdir()) == []


@pytest.mark.parametrize("command", ["run", "produce"])
def test_a_backfill_span_needs_a_unit(tmp_path: Path, command: str) -> None:
    line = _assert_one_line_error(dxpulse(tmp_path, command, "--backfill", "7"))
    assert "'7' needs a unit: 12h, 7d or 30d" in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["run", "produce"])
def test_help_says_the_first_limit_stops(tmp_path: Path, command: str) -> None:
    done = dxpulse(tmp_path, command, "--help")
    assert done.returncode == 0
    assert "whichever comes first" in " ".join(done.stdout.split())


def _result(delivered: int, seconds: float, past: tuple[int, float] | None = None) -> Any:
    from dxpulse.producers.producer import ProduceReport
    from dxpulse.runner import RunResult

    history = ProduceReport(delivered=past[0], seconds=past[1]) if past else None
    return RunResult(ProduceReport(delivered=delivered, seconds=seconds), {}, backfill=history)


def test_run_says_how_its_live_event_times_are_spread() -> None:
    """A live run at --rate 0 is one spike of event time on every chart: `run` says so, and
    what spreads it; at a rate it says the span the events cover."""
    from dxpulse.commands.run import live_times_line

    fast = live_times_line(_result(300_000, 2.5), 0)
    assert fast is not None and fast.startswith("Live event times: 300,000 events stamped as")
    assert "~2.5 s" in fast and "--rate R" in fast
    paced = live_times_line(_result(300_000, 30.2), 10_000)
    assert paced == "Live event times: 300,000 events at 10,000/s cover 30.0 s."
    after_history = live_times_line(_result(150_000, 9.0, past=(100_000, 6.0)), 0)
    assert (
        after_history is not None and "50,000 events" in after_history and "~3.0 s" in after_history
    )
    assert live_times_line(_result(100_000, 6.0, past=(100_000, 6.0)), 0) is None
