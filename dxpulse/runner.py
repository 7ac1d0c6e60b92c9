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
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import orjson
from pydantic import BaseModel, SecretStr
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from dxpulse.config import Settings
from dxpulse.embedded import EmbeddedBroker, free_port
from dxpulse.errors import DxpulseError
from dxpulse.topics import ensure_topics
from producers.generator import EventGenerator
from producers.producer import ProduceReport, produce


@dataclass
class RunResult:
    produced: ProduceReport
    worker_status: dict[str, Any]


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
        report, snap = _produce_and_land(settings, console, worker, count, duration_s, rate, seed)
        code = worker.stop()
        if code != 0:
            raise DxpulseError(f"worker exited with code {code}:\n{worker.log_tail()}")
    return settings, RunResult(report, snap)


def _produce_and_land(
    settings: Settings,
    console: Console,
    worker: WorkerProcess,
    count: int | None,
    duration_s: float | None,
    rate: float,
    seed: int,
) -> tuple[ProduceReport, dict[str, Any]]:
    columns = (
        TextColumn("{task.description:<22}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        produced = progress.add_task("produced to Kafka", total=count, rate="")
        landed = progress.add_task("landed in ClickHouse", total=count, rate="")
        started = time.monotonic()
        last_poll = 0.0

        def on_progress(n: int) -> None:
            nonlocal last_poll
            progress.advance(produced, n)
            done = progress.tasks[produced].completed
            progress.update(produced, rate=f"{done / (time.monotonic() - started):,.0f}/s")
            if time.monotonic() - last_poll > 0.5:
                last_poll = time.monotonic()
                worker.check_alive()
                _update_landed(progress, landed, worker.status())

        with _interrupt_stops_production(console) as interrupted:
            report = produce(
                settings,
                EventGenerator(seed=seed),
                count=count,
                duration_s=duration_s,
                rate=rate,
                progress=on_progress,
                should_stop=interrupted.is_set,
            )
        progress.update(produced, total=report.delivered, completed=report.delivered)
        progress.update(landed, total=report.delivered)
        # Count what was produced: the broker's end offsets are not trusted to be exact.
        while True:
            worker.check_alive()
            snap = worker.status()
            _update_landed(progress, landed, snap)
            if snap and snap["committed"] >= report.delivered:
                return report, snap
            if snap and snap.get("state") == "failed":
                raise DxpulseError(f"worker failed: {snap.get('error')}")
            time.sleep(0.2)


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
