"""Signals on `dxpulse run` and `dxpulse produce`, as real processes: a terminal's Ctrl-C (to
the whole process group), `timeout`'s SIGTERM, a hangup, a second Ctrl-C, and a SIGKILL of
`run` itself. Afterwards the process table holds nothing the command started, and what
ClickHouse (or Kafka) holds is exactly what the command says it delivered.

The runs are paced (``--rate``) so that a signal lands mid-production, and each test waits
for a progress line before it signals instead of sleeping.
"""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from dxpulse.core.config import EVENT_TYPES, Settings
from dxpulse.runner import settings_env
from tests.integration_tests.processes import base_env, started, wait_gone

PRODUCING = r"^produced [\d,]+ events"
SESSION = {"DXPULSE_KAFKA__SESSION_TIMEOUT_MS": "2000"}
# A guard, not a timing: an orderly stop would wait for the held-back events to land (up to
# LAND_AFTER_STOP_S) and then for the worker; an abort does not wait at all. The documented
# bound is a second; the measured time is printed (pytest -s) for the record.
ABORT_GUARD_S = 10.0


def _query(sql: str, data: Path) -> list[list[str]]:
    done = subprocess.run(
        [sys.executable, "-m", "dxpulse", "query", sql, "--format", "csv", "--data-dir", str(data)],
        capture_output=True, text=True, timeout=120, env=base_env(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return list(csv.reader(io.StringIO(done.stdout)))[1:]


def _rows(data: Path) -> int:
    ((count,),) = _query("SELECT count() FROM dxpulse.events", data)
    return int(count)


def _number(pattern: str, text: str) -> int:
    found = re.search(pattern, text)
    assert found, f"{pattern!r} not in:\n{text[-3000:]}"
    return int(found[1].replace(",", ""))


def _checks_not_ok(stdout: str) -> list[str]:
    table = stdout[stdout.index("Exactness checks") :]
    rows = [line for line in table.splitlines() if line.startswith("│")]
    assert len(rows) >= 10, table
    return [row for row in rows if not row.rstrip(" │").endswith("ok")]


def _run_args(data: Path, count: int, rate: int, seed: int) -> list[str]:
    return ["run", "--count", str(count), "--rate", str(rate), "--seed", str(seed),
            "--data-dir", str(data)]  # fmt: skip


@pytest.mark.parametrize(
    ("signum", "to_group", "code"),
    [
        (signal.SIGINT, True, 130),  # Ctrl-C at a terminal: the whole foreground job
        (signal.SIGTERM, False, 143),  # `timeout`, systemd, docker: the process itself
        (signal.SIGHUP, True, 129),  # the terminal closed
    ],
    ids=["ctrl-c", "sigterm", "sighup"],
)
def test_a_stop_signal_lands_what_was_produced_and_leaves_nothing(
    tmp_path: Path, signum: signal.Signals, to_group: bool, code: int
) -> None:
    data = tmp_path / "run"
    asked = 2_000_000  # 400 s at this rate: the signal always lands mid-production
    with started(_run_args(data, asked, 5_000, seed=31), env=base_env(**SESSION)) as run:
        run.wait_line(PRODUCING)
        at = time.monotonic()
        (run.signal_group if to_group else run.signal)(signum)
        exit_code = run.wait()
        took = time.monotonic() - at
        out = run.stdout
        assert exit_code == code, out[-3000:] + run.stderr[-3000:]
        assert run.left_behind() == []
    name = signal.Signals(signum).name
    assert f"Stopping production ({name})" in out
    assert "Traceback" not in out + run.stderr
    produced = _number(r"Produced ([\d,]+) events", out)
    assert 0 < produced < asked
    assert _number(r"Stopped by \w+ after ([\d,]+) of", out) == produced
    assert "not delivered" not in out
    assert _checks_not_ok(out) == []
    rows = _rows(data)  # the chDB lock is free again
    print(f"\n{name}: exit {exit_code} {took:.1f} s after the signal; produced {produced:,}, "
          f"rows {rows:,}")  # fmt: skip
    assert rows == produced  # every event delivered is in


def test_a_second_ctrl_c_aborts_without_waiting_for_the_landing(tmp_path: Path) -> None:
    data = tmp_path / "run"
    # The worker holds a remainder of events back (a flush every 7,919 events, or after
    # 300 s), so the landing after the first Ctrl-C is still waiting when the second comes.
    slow = {**SESSION, "DXPULSE_STREAM__FLUSH_INTERVAL_S": "300",
            "DXPULSE_STREAM__FLUSH_MAX_EVENTS": "7919"}  # fmt: skip
    with started(_run_args(data, 2_000_000, 5_000, seed=32), env=base_env(**slow)) as run:
        run.wait_line(PRODUCING)
        run.signal_group(signal.SIGINT)
        run.wait_line(r"^landing: ")
        at = time.monotonic()
        run.signal_group(signal.SIGINT)
        exit_code = run.wait()
        took = time.monotonic() - at
        assert exit_code == 130, run.stdout[-3000:] + run.stderr[-3000:]
        assert run.left_behind() == []
    assert took < ABORT_GUARD_S, f"{took:.2f} s"
    line = run.lines["stderr"][-1]
    assert line.startswith("dxpulse: aborted by a second SIGINT: killed the worker and the broker")
    landed = _number(r"; ([\d,]+) of the", line)
    delivered = _number(r"of the ([\d,]+) events delivered", line)
    assert f"the other {delivered - landed:,} may not have landed" in line
    assert "Traceback" not in run.stdout + run.stderr
    rows = _rows(data)
    print(f"\nsecond SIGINT: exit {exit_code} {took:.2f} s after it; delivered {delivered:,}, "
          f"landed {landed:,} at the last check, rows {rows:,}")  # fmt: skip
    assert landed <= rows <= delivered


def test_a_stop_before_production_stops_the_broker_and_the_worker(tmp_path: Path) -> None:
    data = tmp_path / "run"
    with started(_run_args(data, 1_000, 0, seed=33), env=base_env(**SESSION)) as run:
        run.wait_line(r"^Started embedded Tansu broker")
        run.signal(signal.SIGTERM)
        exit_code = run.wait()
        assert exit_code == 143, run.stdout[-3000:] + run.stderr[-3000:]
        assert run.left_behind() == []
    assert "Stopped by SIGTERM before producing any event" in run.stdout
    assert "Traceback" not in run.stdout + run.stderr


# Sets itself as the subreaper of what it starts, so that the orphans of a killed `run` are
# re-parented here, not to PID 1 (which, on some machines, never reaps them); exits once
# every descendant has been reaped.
REAPER = """
import ctypes, os, subprocess, sys
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
child = subprocess.Popen(sys.argv[1:])
print(f"reaper: child {child.pid}", file=sys.stderr, flush=True)
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
"""


def test_a_killed_run_takes_its_broker_and_worker_with_it(tmp_path: Path) -> None:
    data = tmp_path / "run"
    reaper = [sys.executable, "-c", REAPER]
    args = _run_args(data, 2_000_000, 5_000, seed=34)
    with started(args, env=base_env(**SESSION), wrapper=reaper) as run:
        pid = _number(r"reaper: child (\d+)", run.wait_line(r"^reaper: child", "stderr"))
        run.wait_line(PRODUCING)
        assert len(run.seen) >= 3, run.seen  # run, its broker and its worker
        os.kill(pid, signal.SIGKILL)
        assert run.wait(timeout_s=60) == 0  # every descendant died and was reaped
        assert wait_gone(run) == []
    assert _rows(data) >= 0  # the worker's chDB lock went with it


def _in_topic(settings: Settings, topic: str, partitions: int, quiet_s: float = 5) -> int:
    """The messages in ``topic``, read from the start of each partition until none came for
    ``quiet_s``; assigned, not subscribed, so that no rebalance re-reads any of them."""
    consumer = Consumer({**settings.kafka.client_config(), "group.id": "lifecycle-reader",
                         "enable.auto.commit": False})  # fmt: skip
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    seen: set[tuple[int, int]] = set()
    try:
        while batch := consumer.consume(1000, quiet_s):
            seen.update((m.partition(), m.offset()) for m in batch if m.error() is None)
    finally:
        consumer.close()
    return len(seen)


def _produced_by_type(stdout: str) -> dict[str, int]:
    rows = re.findall(r"│ (\w+)\s+│\s+([\d,]+) │", stdout)
    return {t: int(n.replace(",", "")) for t, n in rows if t in EVENT_TYPES}


@pytest.mark.parametrize(
    ("signum", "to_group", "code"),
    [(signal.SIGINT, True, 130), (signal.SIGTERM, False, 143)],
    ids=["ctrl-c", "sigterm"],
)
def test_produce_without_a_count_shows_its_rate_and_sums_up_on_a_stop_signal(
    settings: Settings, topics: list[str], signum: signal.Signals, to_group: bool, code: int
) -> None:
    env = base_env(**settings_env(settings))
    with started(["produce", "--rate", "2000", "--seed", "35"], env=env) as produce:
        first = produce.wait_line(r"^produced [\d,]+ events, [\d,]+/s", "stderr")
        (produce.signal_group if to_group else produce.signal)(signum)
        exit_code = produce.wait()
        assert exit_code == code, produce.stdout + produce.stderr
        assert produce.left_behind() == []
    assert first
    assert "\x1b" not in produce.stdout + produce.stderr  # no escape codes off a terminal
    total = _number(r"Produced ([\d,]+) events", produce.stdout)
    assert f"Stopped by {signal.Signals(signum).name} after {total:,} events." in produce.stdout
    by_type = _produced_by_type(produce.stdout)
    assert sum(by_type.values()) == total > 0
    for event_type, n in by_type.items():
        topic = settings.kafka.topic(event_type)
        assert _in_topic(settings, topic, settings.kafka.partitions) == n


def test_ctrl_c_at_a_terminal_lands_what_was_produced(tmp_path: Path) -> None:
    """On a terminal `run` draws rich's live bars; the broker and the worker must still be
    out of reach of the terminal's Ctrl-C, and the bars must not hang the landing."""
    data = tmp_path / "run"
    args = _run_args(data, 2_000_000, 5_000, seed=36)
    with started(args, env=base_env(**SESSION), terminal=True) as run:
        run.wait_line(r"produced to Kafka\s.*\b[1-9]\d*/2000000")
        at = time.monotonic()
        run.signal_group(signal.SIGINT)
        exit_code = run.wait()
        took = time.monotonic() - at
        assert exit_code == 130, run.stdout[-3000:]
        assert run.left_behind() == []
    out = run.stdout
    assert "Stopping production (SIGINT)" in out
    assert "Traceback" not in out
    produced = _number(r"Produced ([\d,]+) events", out)
    assert _number(r"Stopped by SIGINT after ([\d,]+) of", out) == produced > 0
    assert _checks_not_ok(out) == []
    rows = _rows(data)
    print(f"\nCtrl-C at a terminal: exit 130 {took:.1f} s after it; produced {produced:,}, "
          f"rows {rows:,}")  # fmt: skip
    assert rows == produced


def test_a_closed_terminal_stops_the_run_in_order(tmp_path: Path) -> None:
    """The terminal's window closed: SIGHUP, and every write to the terminal fails (EIO).
    The run still lands what it delivered, stops everything and exits 129, not 1."""
    data = tmp_path / "run"
    args = _run_args(data, 2_000_000, 5_000, seed=37)
    with started(args, env=base_env(**SESSION), terminal=True) as run:
        run.wait_line(r"produced to Kafka\s.*\b[1-9]\d*/2000000")
        run.hang_up()
        run.signal_group(signal.SIGHUP)
        assert run.wait() == 129
        assert run.left_behind() == []
    ((rows, ids, late),) = _query(
        "SELECT count(), uniqExact(event_id), countIf(is_late) FROM dxpulse.events", data
    )
    ((aggregated,),) = _query("SELECT sum(events) FROM dxpulse.event_aggregates", data)
    print(f"\nclosed terminal: exit 129; rows {rows}, distinct ids {ids}, aggregated {aggregated}")
    assert int(rows) > 0
    assert rows == ids  # each delivered event once
    assert int(aggregated) == int(rows) - int(late)  # the aggregates were flushed too
