"""`dxpulse bench`: one data set, every contender, the same run.

1. Produce the data set with the realistic generator (the producer line).
2. Consume it, each in its own process and consumer group: the plain confluent-kafka
   ceiling, the real `dxpulse worker` (validation, dead letters, exactly-once sink all on),
   vanilla Faust. Throughput counts from a consumer's first message to its last commit.
3. Two workers in one group over the same data (scaling), with the broker's CPU.
4. Freshness at a fixed rate: a fresh worker, Kafka CreateTime -> insert returned.
5. Optionally a soak at a fixed rate, sampling the worker's RSS every second.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from dxpulse.bench.procstat import ProcSample, sample
from dxpulse.bench.report import (
    CEILING,
    FAUST,
    WORKER,
    BenchReport,
    Freshness,
    Measurement,
    Scaling,
    Soak,
    machine_facts,
)
from dxpulse.core.config import Settings
from dxpulse.core.errors import DxpulseError
from dxpulse.core.waits import WaitTimedOut, poll
from dxpulse.embedded import EmbeddedBroker, free_port
from dxpulse.producers.generator import EventGenerator
from dxpulse.producers.producer import produce
from dxpulse.runner import WorkerProcess
from dxpulse.topics import ensure_topics

_POLL_S = 0.05
_STALL_S = 120.0  # no progress for this long: the phase has failed


@dataclass(frozen=True)
class BenchOptions:
    events: int = 1_000_000
    faust_events: int = 200_000  # vanilla Faust runs ~10k/s: a sample of the data set
    partitions: int = 8
    freshness_rate: float = 10_000
    freshness_seconds: float = 30
    scaling: bool = True
    soak_seconds: float = 0
    soak_rate: float = 20_000
    seed: int = 7
    session_timeout_ms: int = 6_000


QUICK = BenchOptions(events=100_000, faust_events=20_000, freshness_seconds=10)


@dataclass
class _Run:
    """Where one bench invocation keeps its settings and files."""

    settings: Settings
    out: Path
    console: Console
    broker_pid: int | None
    run_id: str

    def kafka(self, prefix: str, group: str) -> Settings:
        kafka = self.settings.kafka.model_copy(update={"topic_prefix": prefix, "group_id": group})
        return self.settings.model_copy(update={"kafka": kafka})


def run_bench(
    settings: Settings, options: BenchOptions, out: Path, console: Console
) -> BenchReport:
    out.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        broker_pid = None
        broker_name = f"Kafka at {settings.kafka.bootstrap_servers}"
        if settings.kafka.bootstrap_servers is None:
            broker = stack.enter_context(EmbeddedBroker())
            broker_pid, broker_name = broker.pid, "embedded Tansu (memory storage)"
            kafka = settings.kafka.model_copy(
                update={"bootstrap_servers": broker.bootstrap_servers}
            )
            settings = settings.model_copy(update={"kafka": kafka})
        kafka = settings.kafka.model_copy(
            update={
                "partitions": options.partitions,
                "session_timeout_ms": options.session_timeout_ms,
            }
        )
        settings = settings.model_copy(update={"kafka": kafka})
        run = _Run(settings, out, console, broker_pid, uuid.uuid4().hex[:8])
        return _phases(run, options, broker_name)
    raise AssertionError("unreachable")  # pragma: no cover - ExitStack does not swallow


def _phases(run: _Run, options: BenchOptions, broker_name: str) -> BenchReport:
    data = run.kafka(f"bench-{run.run_id}", "unused")
    ensure_topics(data.kafka)
    producer = _produce_data_set(run, data, options)
    report = BenchReport(
        events=producer.events,
        partitions=options.partitions,
        producer=producer,
        machine=machine_facts(broker_name),
    )
    topics = data.kafka.event_topics
    report.consumers.append(_baseline(run, "confluent", CEILING, topics, producer.events))
    worker, _ = _workers(run, data.kafka.topic_prefix, "worker", 1, producer.events)
    report.consumers.append(worker)
    report.consumers.append(
        _baseline(run, "faust", FAUST, topics, min(options.faust_events, producer.events))
    )
    if options.scaling:
        two, broker_cores = _workers(run, data.kafka.topic_prefix, "scaling", 2, producer.events)
        report.scaling = Scaling(
            one_worker_rate=worker.rate,
            two_worker_rate=two.rate,
            events=two.events,
            seconds=two.seconds,
            broker_cores=broker_cores,
            workers_cores=two.cpu_s / two.seconds if two.seconds else 0.0,
            exact=bool(two.exact),
            note=two.note,
        )
    if options.freshness_seconds > 0:
        report.freshness = _freshness(run, options)
    if options.soak_seconds > 0:
        report.soak = _soak(run, options)
    return report


# -- producing ---------------------------------------------------------------------------
def _produce_data_set(run: _Run, data: Settings, options: BenchOptions) -> Measurement:
    with _progress(run.console) as progress:
        task = progress.add_task("producing the data set", total=options.events)
        before = _self_cpu()
        report = produce(
            data,
            EventGenerator(seed=options.seed),
            count=options.events,
            progress=lambda n: progress.advance(task, n),
        )
        cpu = _self_cpu() - before
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return Measurement("producer", report.delivered, report.seconds, cpu, peak)


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- reference consumers -----------------------------------------------------------------
def _baseline(run: _Run, kind: str, name: str, topics: list[str], events: int) -> Measurement:
    run.console.print(f"[bold]{name}[/bold]: consuming {events:,} events ...")
    command = [
        sys.executable, "-m", "dxpulse.bench.baselines", kind,
        "--bootstrap", str(run.settings.kafka.bootstrap_servers),
        "--topics", ",".join(topics),
        "--group", f"bench-{run.run_id}-{kind}",
        "--expected", str(events),
        "--window-seconds", str(run.settings.stream.window_seconds),
        "--session-timeout-ms", str(run.settings.kafka.session_timeout_ms),
    ]  # fmt: skip
    log = run.out / f"{kind}.log"
    with log.open("wb") as err:
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=err, timeout=3_600)
    if done.returncode != 0:
        tail = log.read_text("utf-8", "replace").strip().splitlines()[-5:]
        raise DxpulseError(f"{name} baseline failed: " + " | ".join(tail))
    result: dict[str, Any] = orjson.loads(done.stdout.strip().splitlines()[-1])
    return Measurement(
        name,
        int(result["events"]),
        float(result["seconds"]),
        float(result["cpu_seconds"]),
        float(result["peak_rss_mb"]),
        exact=int(result["events_aggregated"]) == int(result["events"]),
    )


# -- the dxpulse worker ------------------------------------------------------------------
def _worker_settings(run: _Run, prefix: str, label: str, index: int) -> Settings:
    settings = run.kafka(prefix, f"bench-{run.run_id}-{label}")
    web = settings.web.model_copy(update={"port": free_port()})
    clickhouse = settings.clickhouse
    if clickhouse.dsn:  # a real server: one database per phase, shared by its workers
        clickhouse = clickhouse.model_copy(update={"database": f"bench_{run.run_id}_{label}"})
    return settings.model_copy(
        update={
            "web": web,
            "clickhouse": clickhouse,
            "data_dir": run.out / f"{label}-{index}",
        }
    )


def _workers(
    run: _Run, prefix: str, label: str, count: int, expected: int
) -> tuple[Measurement, float | None]:
    """Run ``count`` workers in one group until ``expected`` messages are committed."""
    name = WORKER if count == 1 else f"{count} × {WORKER}"
    run.console.print(f"[bold]{name}[/bold]: consuming {expected:,} events ...")
    procs = [
        WorkerProcess(_worker_settings(run, prefix, label, i), run.out / f"{label}-{i}.log")
        for i in range(count)
    ]
    with ExitStack() as stack:
        for proc in procs:
            proc.start()
            stack.callback(proc.stop)
        watch = _watch(run, procs, expected, name)
        for proc in procs:
            code = proc.stop()
            if code != 0:
                raise DxpulseError(f"{name} exited with {code}:\n{proc.log_tail()}")
    counted = [_verify(proc.settings, run.out) for proc in procs]
    rows = sum(c["rows"] for c in counted)
    exact = rows == expected and all(c["rows"] == c["distinct"] == c["aggregated"] for c in counted)
    note = "" if count == 1 else f"each worker writes its own chDB store; rows {rows:,}"
    measurement = Measurement(
        name,
        watch.events,
        watch.seconds,
        watch.cpu_s,
        watch.peak_rss_mb,
        exact=exact,
        note="" if exact else note,
        anon_mb=watch.anon_mb,
    )
    return measurement, watch.broker_cores


@dataclass
class _Watch:
    events: int
    seconds: float
    cpu_s: float
    peak_rss_mb: float
    anon_mb: float
    broker_cores: float | None


def _watch(run: _Run, procs: list[WorkerProcess], expected: int, name: str) -> _Watch:
    """Follow the workers' /status until they committed ``expected`` messages.

    The span is the workers' own clock, first message handled to last flush; CPU and the
    broker's CPU are sampled from the last poll before the first message.
    """
    before: tuple[float, float | None] | None = None
    last_progress, last_committed = time.monotonic(), -1
    with _progress(run.console) as progress:
        task = progress.add_task(f"{name}: committed", total=expected)
        while True:
            for proc in procs:
                proc.check_alive()
            statuses = [proc.status() for proc in procs]
            now = time.monotonic()
            consumed = sum(s.get("consumed", 0) for s in statuses if s)
            committed = sum(s.get("committed", 0) for s in statuses if s)
            if consumed == 0 and all(statuses):
                before = (_cpu(procs), _broker_cpu(run))
            progress.update(task, completed=min(committed, expected))
            if committed >= expected:
                break
            if committed != last_committed:
                last_progress, last_committed = now, committed
            elif now - last_progress > _STALL_S:
                raise DxpulseError(f"{name}: no progress for {_STALL_S:.0f} s")
            time.sleep(_POLL_S)
    if before is None:
        raise DxpulseError(f"{name}: consumed before its status page answered; use more events")
    cpu0, broker0 = before
    done = [s for s in statuses if s]
    first = min(s["first_consumed_at"] for s in done if s.get("first_consumed_at"))
    seconds = max(s["last_flush_at"] for s in done) - first
    samples = [s for s in (sample(p.pid) for p in procs if p.pid) if s is not None]
    broker1 = _broker_cpu(run)
    broker_cores = (
        (broker1 - broker0) / seconds
        if broker0 is not None and broker1 is not None and seconds > 0
        else None
    )
    return _Watch(
        expected,
        seconds,
        sum(s.cpu_s for s in samples) - cpu0,
        max((s.peak_rss_mb for s in samples), default=0.0),
        max((s.anon_mb for s in samples), default=0.0),
        broker_cores,
    )


def _cpu(procs: list[WorkerProcess]) -> float:
    samples: list[ProcSample | None] = [sample(p.pid) for p in procs if p.pid]
    return sum(s.cpu_s for s in samples if s is not None)


def _broker_cpu(run: _Run) -> float | None:
    if run.broker_pid is None:
        return None
    found = sample(run.broker_pid)
    return found.cpu_s if found else None


def _verify(settings: Settings, out: Path) -> dict[str, int]:
    command = [
        sys.executable, "-m", "dxpulse.bench.verify",
        "--dsn", settings.clickhouse_dsn(), "--database", settings.clickhouse.database,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, timeout=300)
    if done.returncode != 0:
        raise DxpulseError(done.stderr.decode("utf-8", "replace").strip())
    counted: dict[str, int] = orjson.loads(done.stdout)
    return counted


# -- freshness and soak ------------------------------------------------------------------
def _fixed_rate_run(
    run: _Run, options: BenchOptions, label: str, rate: float, seconds: float,
    on_tick: Callable[[WorkerProcess], None] | None = None,
) -> tuple[int, dict[str, Any], WorkerProcess]:  # fmt: skip
    """A fresh worker on fresh topics, fed at ``rate`` for ``seconds``; waits until landed."""
    settings = _worker_settings(run, f"bench-{run.run_id}-{label}", label, 0)
    ensure_topics(settings.kafka)
    proc = WorkerProcess(settings, run.out / f"{label}.log").start()
    try:
        proc.wait_ready()
        _wait_assigned(proc)
        last_tick = 0.0

        def tick(_n: int) -> None:
            nonlocal last_tick
            if on_tick is not None and time.monotonic() - last_tick >= 1.0:
                last_tick = time.monotonic()
                on_tick(proc)

        with _progress(run.console) as progress:
            task = progress.add_task(f"{label}: {rate:,.0f}/s", total=seconds)
            started = time.monotonic()

            def advance(n: int) -> None:
                tick(n)
                progress.update(task, completed=min(seconds, time.monotonic() - started))

            report = produce(
                settings,
                EventGenerator(seed=options.seed + 1),
                duration_s=seconds,
                rate=rate,
                progress=advance,
            )
        status = _wait_committed(proc, report.delivered)
        return report.delivered, status, proc
    finally:
        code = proc.stop()
        if code != 0:
            raise DxpulseError(f"{label} worker exited with {code}:\n{proc.log_tail()}")


def _wait_committed(proc: WorkerProcess, delivered: int) -> dict[str, Any]:
    """The worker's status once it committed everything delivered. No deadline: the worker
    either gets there or exits (an error, with its log), as in the throughput phases."""

    def status() -> dict[str, Any]:
        proc.check_alive()
        return proc.status() or {}

    def landed(status: dict[str, Any]) -> bool:
        return bool(status.get("committed", 0) >= delivered)

    return poll(status, timeout_s=None, interval_s=_POLL_S, done=landed)


def _wait_assigned(proc: WorkerProcess, timeout_s: float = 60.0) -> None:
    try:
        poll(lambda: bool((proc.status() or {}).get("assigned")), timeout_s=timeout_s,
             interval_s=0.1, done=bool)  # fmt: skip
    except WaitTimedOut:
        raise DxpulseError(f"worker got no partitions in {timeout_s:.0f} s") from None


def _rss_sampler(into: list[float]) -> Callable[[WorkerProcess], None]:
    def on_tick(proc: WorkerProcess) -> None:
        found = sample(proc.pid) if proc.pid else None
        if found:
            into.append(found.rss_mb)

    return on_tick


def _freshness(run: _Run, options: BenchOptions) -> Freshness:
    rss: list[float] = []
    events, status, _ = _fixed_rate_run(
        run,
        options,
        "freshness",
        options.freshness_rate,
        options.freshness_seconds,
        _rss_sampler(rss),
    )
    fresh = status.get("freshness", {})
    return Freshness(
        rate=options.freshness_rate,
        seconds=options.freshness_seconds,
        events=events,
        p50_ms=fresh.get("p50_ms"),
        p99_ms=fresh.get("p99_ms"),
        max_ms=fresh.get("max_ms"),
        worker_rss_mb=max(rss, default=0.0),
    )


def _soak(run: _Run, options: BenchOptions) -> Soak:
    rss: list[float] = []
    events, _, _ = _fixed_rate_run(
        run, options, "soak", options.soak_rate, options.soak_seconds, _rss_sampler(rss)
    )
    return Soak(options.soak_rate, options.soak_seconds, events, rss)


@contextmanager
def _progress(console: Console) -> Iterator[Progress]:
    columns = (
        TextColumn("{task.description:<34}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        yield progress


def quick(options: BenchOptions) -> BenchOptions:
    """The --quick size: same phases, a tenth of the data."""
    return replace(
        options,
        events=QUICK.events,
        faust_events=QUICK.faust_events,
        freshness_seconds=QUICK.freshness_seconds,
    )
