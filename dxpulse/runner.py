"""`dxpulse run`: the whole pipeline on one machine, start to verified finish.

Starts Tansu when no broker is configured, creates topics, starts a worker process
(the same `dxpulse worker` command production runs), produces, waits until everything
produced is committed to ClickHouse, stops the worker gracefully and stops the broker.
`run` owns what it starts: a stop signal ends production and lands what was delivered, a
second one kills everything at once (dxpulse/run_control.py), and its children die with it
if it is killed itself (dxpulse/lifeline.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
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

from dxpulse.core.config import Settings
from dxpulse.core.errors import DxpulseError
from dxpulse.core.waits import WaitStopped, WaitTimedOut, poll
from dxpulse.embedded import EmbeddedBroker, free_port
from dxpulse.lifeline import kill_group, spawn
from dxpulse.producers.backfill import BackfillPlan, plan_backfill
from dxpulse.producers.generator import EventGenerator
from dxpulse.producers.intensity import VN_TZ
from dxpulse.producers.producer import ProduceReport, UndeliveredError, produce, produce_backfill
from dxpulse.progress import PlainLines, per_second
from dxpulse.run_control import RunControl, Tally
from dxpulse.schemas.labels import label
from dxpulse.topics import ensure_topics

# The worker flushes, commits and exits on SIGTERM (well within 10 s); this bound is twice
# that, for a loaded machine, before it is killed.
WORKER_STOP_S = 20.0
# After a stop signal, how long `run` waits for what was delivered to land in ClickHouse.
LAND_AFTER_STOP_S = 60.0


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
    started: bool = True  # False: stopped before producing anything
    undelivered: int = 0  # sent but not delivered to Kafka (not in ``produced.delivered``)
    delivery_error: str | None = None  # the first delivery error, if any

    @property
    def unlanded(self) -> int:
        """Delivered but not committed to ClickHouse when the (bounded) landing ended."""
        committed = int(self.worker_status.get("committed", 0))
        return max(0, self.produced.delivered - committed)


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
            # Its own session: a Ctrl-C at the terminal reaches only `run`, which stops the
            # worker once everything delivered has landed. It dies with `run` (lifeline).
            self._proc = spawn(
                [sys.executable, "-m", "dxpulse", "worker"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
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

    def wait_ready(
        self, timeout_s: float = 120.0, should_stop: Callable[[], bool] = lambda: False
    ) -> None:
        """Until its status page says running, or ``should_stop()``. A worker that exits
        meanwhile is an error at once, with its log's last lines."""

        def running() -> bool:
            self.check_alive()
            snap = self.status()
            return bool(snap and snap.get("state") == "running")

        try:
            poll(running, timeout_s=timeout_s, interval_s=0.2, done=bool, should_stop=should_stop)
        except WaitStopped:
            return
        except WaitTimedOut:
            raise DxpulseError(
                f"worker not ready after {timeout_s:.0f} s; see {self.log_path}"
            ) from None

    def stop(self, timeout_s: float = WORKER_STOP_S) -> int:
        """SIGTERM (it flushes, commits and exits), then SIGKILL after ``timeout_s``.
        Bounded either way; returns its exit code (-9 when it had to be killed)."""
        if self._proc is None:
            return 0
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                kill_group(self._proc, wait_s=10)
        return int(self._proc.returncode if self._proc.returncode is not None else -9)

    def kill(self) -> None:
        """SIGKILL at once, for an abort. Crash-safe: the sink's writes are exactly-once."""
        if self._proc is not None:
            kill_group(self._proc, wait_s=0.5)

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text("utf-8", "replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def run_pipeline(
    settings: Settings,
    console: Console,
    control: RunControl,
    count: int | None,
    duration_s: float | None,
    rate: float,
    seed: int,
    backfill: Backfill | None = None,
) -> tuple[Settings, RunResult]:
    """Start the broker (unless configured), topics and a worker; produce until ``count``
    events or ``duration_s``, whichever comes first, or until ``control`` is stopped; land
    what was delivered; stop the worker, then the broker."""
    with ExitStack() as stack:
        settings = _with_broker(settings, console, control, stack)
        if control.stopping:
            return settings, RunResult(ProduceReport(), {}, started=False)
        created = ensure_topics(settings.kafka)
        if created:
            console.print(f"Created topics: {', '.join(created)}")
        worker = WorkerProcess(settings, settings.data_dir / "worker.log").start()
        control.own("the worker", worker.kill)
        stack.callback(worker.stop)
        with console.status("Starting worker (migrations, consumer group) ..."):
            worker.wait_ready(should_stop=lambda: control.stopping)
        if control.stopping:
            return settings, RunResult(ProduceReport(), {}, started=False)
        result = _produce_and_land(
            settings, console, control, worker, count, duration_s, rate, seed, backfill
        )
        _stop_worker(worker, console)
    return settings, result


def _with_broker(
    settings: Settings, console: Console, control: RunControl, stack: ExitStack
) -> Settings:
    """The settings, with an embedded broker started (and owned) if none is configured."""
    web = settings.web.model_copy(update={"port": free_port()})
    settings = settings.model_copy(update={"web": web})
    if settings.kafka.bootstrap_servers is not None:
        return settings
    broker = stack.enter_context(EmbeddedBroker())
    control.own("the broker", broker.kill)
    console.print(f"Started embedded Tansu broker on {broker.bootstrap_servers}")
    kafka = settings.kafka.model_copy(update={"bootstrap_servers": broker.bootstrap_servers})
    return settings.model_copy(update={"kafka": kafka})


def _stop_worker(worker: WorkerProcess, console: Console) -> None:
    """Everything has landed (or the landing gave up): a worker that does not exit within
    its bound is killed and said so; one that exits with an error is an error."""
    code = worker.stop()
    if code == -signal.SIGKILL:
        console.print(
            f"The worker did not stop within {WORKER_STOP_S:.0f} s of SIGTERM and was killed; "
            f"see {worker.log_path}",
            markup=False,
        )
    elif code != 0:
        raise DxpulseError(f"worker exited with code {code}:\n{worker.log_tail()}")


class _Display:
    """A run's progress: live bars on a terminal, a plain line every few seconds elsewhere.
    Keeps ``tally`` current for the abort line."""

    def __init__(
        self, console: Console, tally: Tally, count: int | None, backfill: Backfill | None
    ) -> None:
        self.tally = tally
        self.lines = PlainLines(console)
        self.progress = Progress(
            TextColumn("{task.description:<22}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            console=console,
            disable=not console.is_terminal,
        )
        self.history = None
        if backfill is not None:
            self.history = self.progress.add_task(
                "backfill to Kafka", total=backfill.count, rate=""
            )
        self.produced = self.progress.add_task("produced to Kafka", total=count, rate="")
        first = backfill.count if backfill else 0
        total = None if count is None else first + count
        self.landed = self.progress.add_task("landed in ClickHouse", total=total, rate="")
        self._started = time.monotonic()

    def __enter__(self) -> _Display:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)

    def advancer(self, task: TaskID, poll: Callable[[], None]) -> Callable[[int], None]:
        """The producer's progress callback for ``task``; calls ``poll`` now and then."""
        started = time.monotonic()
        last_poll = 0.0

        def advance(n: int) -> None:
            nonlocal last_poll
            self.progress.advance(task, n)
            self.tally.sent += n
            done = self.progress.tasks[task].completed
            self.progress.update(task, rate=per_second(int(done), started))
            if time.monotonic() - last_poll > 0.5:
                last_poll = time.monotonic()
                poll()
            self.lines(
                lambda: (
                    f"produced {self.tally.sent:,} events "
                    f"({per_second(self.tally.sent, self._started)}), "
                    f"{self.tally.landed:,} landed in ClickHouse"
                )
            )

        return advance

    def update_landed(self, snap: dict[str, Any] | None) -> None:
        if snap:
            self.tally.landed = int(snap["committed"])
            self.progress.update(self.landed, completed=snap["committed"])

    def landing(self, live: ProduceReport, delivered: int, first: bool = False) -> None:
        """Production is over: the bars show what was delivered; a line says what landed."""
        if first:
            self.tally.delivered = delivered
            self.progress.update(self.produced, total=live.delivered, completed=live.delivered)
            self.progress.update(self.landed, total=delivered)
        self.lines(
            lambda: (
                f"landing: {self.tally.landed:,} of {delivered:,} delivered events in ClickHouse"
            ),
            now=first,
        )


def _produce_and_land(
    settings: Settings,
    console: Console,
    control: RunControl,
    worker: WorkerProcess,
    count: int | None,
    duration_s: float | None,
    rate: float,
    seed: int,
    backfill: Backfill | None,
) -> RunResult:
    with _Display(console, control.tally, count, backfill) as display:

        def poll() -> None:
            worker.check_alive()
            display.update_landed(worker.status())

        past, plan, live = _produce_all(
            settings, display, control, poll, count, duration_s, rate, seed, backfill
        )
        report = _combined(past, live)
        display.landing(live, report.delivered, first=True)
        snap = _land(worker, display, control, live, report.delivered)
    return RunResult(
        report,
        snap,
        past,
        plan,
        undelivered=report.undelivered,
        delivery_error=report.errors[0] if report.errors else None,
    )


def _produce_all(
    settings: Settings,
    display: _Display,
    control: RunControl,
    poll: Callable[[], None],
    count: int | None,
    duration_s: float | None,
    rate: float,
    seed: int,
    backfill: Backfill | None,
) -> tuple[ProduceReport | None, BackfillPlan | None, ProduceReport]:
    """The backfill (if any), then the live events, until their limits or a stop signal.
    Events that were not delivered are counted, not raised: what was delivered still lands."""
    # One generator for both: the live events continue its random streams. Its ids depend
    # on when this run started, so they differ from an earlier run's.
    # The ticket trend is anchored at the start too: the backfill's past has the larger
    # tickets of the past, the live events today's (producers/calibration.py).
    started = datetime.now(UTC)
    generator = EventGenerator(seed=seed, run_start=started, trend_origin=started)
    past, plan = None, None
    if backfill is not None and display.history is not None:
        # Planned up to now, just before it is produced: the live events that follow are
        # newer than all of it, so none of it is late.
        plan = plan_backfill(backfill.span_s, backfill.count, seed=seed)
        past = _delivered(
            lambda: produce_backfill(
                settings,
                generator,
                plan,
                progress=display.advancer(display.history, poll),  # type: ignore[arg-type]
                should_stop=lambda: control.stopping,
            )
        )
    live = ProduceReport()
    if not control.stopping and (past is None or not past.undelivered):
        live = _delivered(
            lambda: produce(
                settings,
                generator,
                count=count,
                duration_s=duration_s,
                rate=rate,
                progress=display.advancer(display.produced, poll),
                should_stop=lambda: control.stopping,
            )
        )
    return past, plan, live


def _delivered(produce_some: Callable[[], ProduceReport]) -> ProduceReport:
    """The report of a production, also when some of its events were not delivered."""
    try:
        return produce_some()
    except UndeliveredError as exc:
        return exc.report


def _land(
    worker: WorkerProcess,
    display: _Display,
    control: RunControl,
    live: ProduceReport,
    delivered: int,
) -> dict[str, Any]:
    """The worker's status once it committed ``delivered`` events. After a stop signal the
    wait is bounded (``LAND_AFTER_STOP_S``): the status then says how many did land."""
    # Count what was produced: the broker's end offsets are not trusted to be exact.
    deadline: float | None = None
    snap: dict[str, Any] | None = None
    while True:
        worker.check_alive()
        snap = worker.status() or snap
        display.update_landed(snap)
        if snap and snap["committed"] >= delivered:
            return snap
        if snap and snap.get("state") == "failed":
            raise DxpulseError(f"worker failed: {snap.get('error')}")
        if control.stopping:
            deadline = deadline or time.monotonic() + LAND_AFTER_STOP_S
            if time.monotonic() >= deadline:
                return snap or {"committed": 0, "dead_lettered": 0, "flushes": 0}
        display.landing(live, delivered)
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
        table.add_column(label("event_type", t), justify="right", footer=f"{report.by_type[t]:,}")
    table.add_column("total", justify="right", footer=f"{report.delivered:,}")
    table.add_column("peaks")
    for day in rows:
        mark = "*" if day.partial else ""
        when = f"{day.day:%Y-%m-%d %a}{mark}"
        table.add_row(when, *_counts(day.by_type, plan), f"{day.total:,}", ", ".join(day.peaks))
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
