"""`dxpulse run`: the whole pipeline on one machine, start to verified finish.

Starts Tansu when no broker is configured, creates topics, starts a worker process
(the same `dxpulse worker` command production runs), produces, waits until everything
produced is committed to ClickHouse, stops the worker gracefully and stops the broker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import orjson
from pydantic import BaseModel, SecretStr
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from dxpulse.config import Settings
from dxpulse.embedded import EmbeddedBroker, free_port
from dxpulse.errors import DxpulseError
from dxpulse.topics import ensure_topics
from producers.backfill import BackfillPlan, plan_backfill
from producers.generator import EventGenerator
from producers.intensity import VN_TZ
from producers.producer import ProduceReport, produce, produce_backfill


@dataclass(frozen=True)
class Backfill:
    """History to produce before the live events: ``count`` events over the past span."""

    span_s: float
    count: int


@dataclass
class RunResult:
    produced: ProduceReport  # everything the run produced: the backfill and the live events
    worker_status: dict[str, Any]
    backfill: ProduceReport | None = None  # the backfill's part of ``produced``
    backfill_plan: BackfillPlan | None = None


def settings_env(settings: Settings) -> dict[str, str]:
    """Flatten settings into DXPULSE_* variables, so a child process sees the same config."""
    env: dict[str, str] = {}
    for name, value in settings:
        if isinstance(value, BaseModel):
            for sub, subvalue in value:
                if subvalue is not None:
                    env[f"DXPULSE_{name.upper()}__{sub.upper()}"] = _env_value(subvalue)
        elif value is not None:
            env[f"DXPULSE_{name.upper()}"] = _env_value(value)
    return env


def _env_value(value: object) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, Path):
        return str(value.resolve())
    return str(value)


class WorkerProcess:
    """A `dxpulse worker` child process and its HTTP status page."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.settings = settings
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.settings.web.host}:{self.settings.web.port}/status"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> WorkerProcess:
        env = {**os.environ, **settings_env(self.settings)}
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "dxpulse", "worker"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Own process group: a Ctrl-C at the terminal stops production, and the
                # worker is then stopped by us only after everything produced has landed.
                start_new_session=True,
            )
        return self

    def status(self) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(self.url, timeout=2) as resp:
                data: dict[str, Any] = orjson.loads(resp.read())
                return data
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def check_alive(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            raise DxpulseError(
                f"worker exited with code {self._proc.returncode}; last log lines:\n"
                + self.log_tail()
            )

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.check_alive()
            snap = self.status()
            if snap and snap.get("state") == "running":
                return
            time.sleep(0.2)
        raise DxpulseError(f"worker not ready after {timeout_s:.0f} s; see {self.log_path}")

    def stop(self, timeout_s: float = 60.0) -> int:
        if self._proc is None:
            return 0
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        return int(self._proc.returncode)

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text("utf-8", "replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def run_pipeline(
    settings: Settings,
    console: Console,
    count: int | None,
    duration_s: float | None,
    rate: float,
    seed: int,
    backfill: Backfill | None = None,
) -> tuple[Settings, RunResult]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        if settings.kafka.bootstrap_servers is None:
            broker = stack.enter_context(EmbeddedBroker())
            console.print(f"Started embedded Tansu broker on {broker.bootstrap_servers}")
            kafka = settings.kafka.model_copy(
                update={"bootstrap_servers": broker.bootstrap_servers}
            )
            settings = settings.model_copy(update={"kafka": kafka})
        web = settings.web.model_copy(update={"port": free_port()})
        settings = settings.model_copy(update={"web": web})
        created = ensure_topics(settings.kafka)
        if created:
            console.print(f"Created topics: {', '.join(created)}")
        worker = WorkerProcess(settings, settings.data_dir / "worker.log").start()
        stack.callback(worker.stop)
        with console.status("Starting worker (migrations, consumer group) ..."):
            worker.wait_ready()
        result = _produce_and_land(
            settings, console, worker, count, duration_s, rate, seed, backfill
        )
        code = worker.stop()
        if code != 0:
            raise DxpulseError(f"worker exited with code {code}:\n{worker.log_tail()}")
    return settings, result


def _produce_and_land(
    settings: Settings,
    console: Console,
    worker: WorkerProcess,
    count: int | None,
    duration_s: float | None,
    rate: float,
    seed: int,
    backfill: Backfill | None,
) -> RunResult:
    columns = (
        TextColumn("{task.description:<22}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        history = None
        if backfill is not None:
            history = progress.add_task("backfill to Kafka", total=backfill.count, rate="")
        produced = progress.add_task("produced to Kafka", total=count, rate="")
        first = backfill.count if backfill else 0
        total = None if count is None else first + count
        landed = progress.add_task("landed in ClickHouse", total=total, rate="")
        last_poll = 0.0

        def on_progress(task: TaskID) -> Callable[[int], None]:
            started = time.monotonic()

            def advance(n: int) -> None:
                nonlocal last_poll
                progress.advance(task, n)
                done = progress.tasks[task].completed
                progress.update(task, rate=f"{done / (time.monotonic() - started):,.0f}/s")
                if time.monotonic() - last_poll > 0.5:
                    last_poll = time.monotonic()
                    worker.check_alive()
                    _update_landed(progress, landed, worker.status())

            return advance

        # One generator for both: the live events continue its random streams. Its ids
        # depend on when this run started, so they differ from an earlier run's.
        generator = EventGenerator(seed=seed, run_start=datetime.now(UTC))
        with _interrupt_stops_production(console) as interrupted:
            past, plan = None, None
            if backfill is not None and history is not None:
                # Planned up to now, just before it is produced: the live events that
                # follow are newer than all of it, so none of it is late.
                plan = plan_backfill(backfill.span_s, backfill.count, seed=seed)
                past = produce_backfill(
                    settings,
                    generator,
                    plan,
                    progress=on_progress(history),
                    should_stop=interrupted.is_set,
                )
            live = ProduceReport()
            if not interrupted.is_set():
                live = produce(
                    settings,
                    generator,
                    count=count,
                    duration_s=duration_s,
                    rate=rate,
                    progress=on_progress(produced),
                    should_stop=interrupted.is_set,
                )
        report = _combined(past, live)
        progress.update(produced, total=live.delivered, completed=live.delivered)
        progress.update(landed, total=report.delivered)
        # Count what was produced: the broker's end offsets are not trusted to be exact.
        while True:
            worker.check_alive()
            snap = worker.status()
            _update_landed(progress, landed, snap)
            if snap and snap["committed"] >= report.delivered:
                return RunResult(report, snap, past, plan)
            if snap and snap.get("state") == "failed":
                raise DxpulseError(f"worker failed: {snap.get('error')}")
            time.sleep(0.2)


def _combined(past: ProduceReport | None, live: ProduceReport) -> ProduceReport:
    """One report of everything produced: the backfill (if any), then the live events."""
    if past is None:
        return live
    return ProduceReport(
        sent=past.sent + live.sent,
        delivered=past.delivered + live.delivered,
        failed=past.failed + live.failed,
        seconds=past.seconds + live.seconds,
        by_type=past.by_type + live.by_type,
        errors=past.errors + live.errors,
    )


_DAYS_SHOWN = 62  # a backfill table lists every day up to two months


def backfill_table(plan: BackfillPlan, report: ProduceReport) -> Table:
    """Events of a completed backfill per Vietnam local day and type, peak days named.

    Up to ``_DAYS_SHOWN`` days, every day; a longer span shows its peak days and the mean of
    its ordinary full days.
    """
    days = plan.days()
    rows = days if len(days) <= _DAYS_SHOWN else [d for d in days if d.peaks]
    table = Table(
        title=f"Backfilled {report.delivered:,} events in {report.seconds:.1f} s, "
        f"{_vn(plan.start)} to {_vn(plan.end)} Vietnam time",
        caption="* partial day: the span starts or ends inside it",
        show_footer=True,
    )
    table.add_column("day", footer="total")
    for t in plan.event_types:
        table.add_column(t, justify="right", footer=f"{report.by_type[t]:,}")
    table.add_column("total", justify="right", footer=f"{report.delivered:,}")
    table.add_column("peaks")
    for day in rows:
        mark = "*" if day.partial else ""
        label = f"{day.day:%Y-%m-%d %a}{mark}"
        table.add_row(label, *_counts(day.by_type, plan), f"{day.total:,}", ", ".join(day.peaks))
    ordinary = [d for d in days if not d.peaks and not d.partial]
    if len(rows) < len(days) and ordinary:
        n = len(ordinary)
        mean = {t: round(sum(d.by_type[t] for d in ordinary) / n) for t in plan.event_types}
        total = f"{sum(mean.values()):,}"
        table.add_row(f"ordinary day, mean of {n}", *_counts(mean, plan), total, "")
    return table


def _counts(by_type: dict[str, int], plan: BackfillPlan) -> list[str]:
    return [f"{by_type[t]:,}" for t in plan.event_types]


def _vn(at: datetime) -> str:
    return f"{at.astimezone(VN_TZ):%Y-%m-%d %H:%M}"


@contextmanager
def _interrupt_stops_production(console: Console) -> Iterator[threading.Event]:
    """First Ctrl-C: stop producing and finish cleanly. Second: abort."""
    interrupted = threading.Event()

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        if interrupted.is_set():
            raise KeyboardInterrupt
        interrupted.set()
        console.print("Stopping production; waiting for what was produced to land ...")

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)


def _update_landed(progress: Progress, task: Any, snap: dict[str, Any] | None) -> None:
    if snap:
        progress.update(task, completed=snap["committed"])
