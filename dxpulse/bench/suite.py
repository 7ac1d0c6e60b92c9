"""`dxpulse bench`: one data set, every contender, the same run.

1. Produce the data set with the realistic generator (the producer line).
2. Consume it, each in its own process and consumer group: the plain confluent-kafka
   ceiling, the real `dxpulse worker` (validation, dead letters, exactly-once sink all on),
   vanilla Faust. Throughput counts from a consumer's first message to its last commit.
   The Quix Streams contenders (``sdf.update`` into a dict; a tumbling window + reduce) read
   the whole data set too; their groups' counts and sums must equal the ceiling's.
3. Two workers in one group over the same data (scaling), with the broker's CPU.
4. Freshness at a fixed rate (--freshness-rate) and at half the single worker's throughput
   from step 2: a fresh worker each, Kafka CreateTime -> insert returned. The producer is
   connected and warmed up on topics the worker does not read before the measured window.
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

from dxpulse.bench import quix
from dxpulse.bench.procstat import ProcSample, sample
from dxpulse.bench.report import (
    CEILING,
    FAUST,
    FIXED_RATE,
    HALF_MAX,
    QUIX,
    QUIX_WINDOW,
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
from dxpulse.producers.producer import ProduceReport, SharedProducer, produce
from dxpulse.runner import WorkerProcess
from dxpulse.topics import ensure_topics

_POLL_S = 0.05
_STALL_S = 120.0  # no progress for this long: the phase has failed
# Unmeasured: a freshness or soak run's producer sends this long at the phase's rate to topics
# the worker does not read, so it is connected, has its producer id, and has run its code.
_WARMUP_S = 2.0


@dataclass(frozen=True)
class BenchOptions:
    events: int = 1_000_000
    faust_events: int = 200_000  # vanilla Faust runs ~10k/s: a sample of the data set
    partitions: int = 8
    freshness_rate: float = 10_000
    freshness_seconds: float = 30
    # Also freshness at half the single worker's measured throughput.
    freshness_half_max: bool = True
    quix: bool = True  # the Quix Streams contenders (the `bench` extra)
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
    if options.quix:  # before anything runs: a missing extra is a one-line error
        quix.check_installed()
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
    worker = _contenders(run, options, data, report)
    if options.scaling:
        report.scaling = _scaling(run, data, worker)
    if options.freshness_seconds > 0:
        report.freshness = _freshness_phases(run, options, worker.rate)
    if options.soak_seconds > 0:
        report.soak = _soak(run, options)
    return report


def _contenders(
    run: _Run, options: BenchOptions, data: Settings, report: BenchReport
) -> Measurement:
    """Every single-process contender over the data set, into ``report``; the worker's."""
    topics, events = data.kafka.event_topics, report.events
    ceiling, truth = _baseline(run, "confluent", CEILING, topics, events)
    worker, _ = _workers(run, data.kafka.topic_prefix, "worker", 1, events)
    faust, _ = _baseline(run, "faust", FAUST, topics, min(options.faust_events, events))
    report.consumers += [ceiling, worker, faust]
    if options.quix:
        for kind, name in (("quix", QUIX), ("quix-window", QUIX_WINDOW)):
            report.consumers.append(_baseline(run, kind, name, topics, events, truth)[0])
    return worker


def _scaling(run: _Run, data: Settings, worker: Measurement) -> Scaling:
    two, broker_cores = _workers(run, data.kafka.topic_prefix, "scaling", 2, worker.events)
    return Scaling(
        one_worker_rate=worker.rate,
        two_worker_rate=two.rate,
        events=two.events,
        seconds=two.seconds,
        broker_cores=broker_cores,
        workers_cores=two.cpu_s / two.seconds if two.seconds else 0.0,
        exact=bool(two.exact),
        note=two.note,
    )


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
def _baseline(
    run: _Run, kind: str, name: str, topics: list[str], events: int,
    truth: dict[str, Any] | None = None,
) -> tuple[Measurement, dict[str, Any]]:  # fmt: skip
    """Run one reference consumer; exact when it aggregated every event it read and, given
    the ``truth`` (the ceiling's result over the same data), its groups equal the truth's."""
    result = _run_baseline(run, kind, name, topics, events)
    exact = int(result["events_aggregated"]) == int(result["events"])
    if truth is not None:
        same = ("events", "groups", "amount_vnd", "groups_digest")
        exact = exact and all(result[k] == truth[k] for k in same)
    measurement = Measurement(
        name,
        int(result["events"]),
        float(result["seconds"]),
        float(result["cpu_seconds"]),
        float(result["peak_rss_mb"]),
        exact=exact,
        note=f"{result['late_dropped']:,} late events dropped"
        if result.get("late_dropped")
        else "",
    )
    return measurement, result


def _run_baseline(
    run: _Run, kind: str, name: str, topics: list[str], events: int
) -> dict[str, Any]:
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
    return result


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
@dataclass
class _Paced:
    delivered: int
    warmup_events: int
    status: dict[str, Any]


def _fixed_rate_run(
    run: _Run, options: BenchOptions, label: str, rate: float, seconds: float,
    on_tick: Callable[[WorkerProcess], None] | None = None,
) -> _Paced:  # fmt: skip
    """A fresh worker on fresh topics, fed at ``rate`` for ``seconds`` by a producer warmed up
    beforehand; waits until everything delivered in the measured window has landed."""
    settings = _worker_settings(run, f"bench-{run.run_id}-{label}", label, 0)
    ensure_topics(settings.kafka)
    proc = WorkerProcess(settings, run.out / f"{label}.log").start()
    try:
        proc.wait_ready()
        _wait_assigned(proc)
        generator = EventGenerator(seed=options.seed + 1)
        shared, warmed = _warm_producer(run, settings, label, generator, rate)
        ticks = _Ticks(proc, on_tick)
        report = _paced(
            run, settings, generator, shared, f"{label}: {rate:,.0f}/s", seconds, rate, ticks
        )
        return _Paced(report.delivered, warmed, _wait_committed(proc, report.delivered))
    finally:
        code = proc.stop()
        if code != 0:
            raise DxpulseError(f"{label} worker exited with {code}:\n{proc.log_tail()}")


def _warm_producer(
    run: _Run, settings: Settings, label: str, generator: EventGenerator, rate: float
) -> tuple[SharedProducer, int]:
    """A producer connected, with its producer id, its code run for ``_WARMUP_S`` at ``rate``
    on warm-up topics (read by nobody) and the measured topics' metadata: a fresh one would
    hold the measured window's first messages ~1 s. Returns it and the warm-up's count."""
    warm = run.kafka(f"bench-{run.run_id}-{label}-warmup", "unused")
    ensure_topics(warm.kafka)
    shared = SharedProducer(settings)
    report = produce(warm, generator, duration_s=_WARMUP_S, rate=rate, shared=shared)
    for topic in settings.kafka.event_topics:
        shared.client.list_topics(topic, timeout=10)
    return shared, report.delivered


@dataclass
class _Ticks:
    """Calls ``on_tick`` with the worker at most once a second while the producer runs."""

    proc: WorkerProcess
    on_tick: Callable[[WorkerProcess], None] | None
    last: float = 0.0

    def __call__(self) -> None:
        if self.on_tick is not None and time.monotonic() - self.last >= 1.0:
            self.last = time.monotonic()
            self.on_tick(self.proc)


def _paced(
    run: _Run, settings: Settings, generator: EventGenerator, shared: SharedProducer,
    description: str, seconds: float, rate: float, tick: Callable[[], None],
) -> ProduceReport:  # fmt: skip
    """The measured window: ``rate`` events/s for ``seconds`` from the warm producer."""
    with _progress(run.console) as progress:
        task = progress.add_task(description, total=seconds)
        started = time.monotonic()

        def advance(_n: int) -> None:
            tick()
            progress.update(task, completed=min(seconds, time.monotonic() - started))

        return produce(
            settings, generator, duration_s=seconds, rate=rate, progress=advance, shared=shared
        )


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


def _freshness_phases(run: _Run, options: BenchOptions, worker_rate: float) -> list[Freshness]:
    """At the fixed rate, then at half the single worker's throughput measured in this run
    (a load it sustains with headroom, whatever the machine)."""
    phases = [_freshness(run, options, "freshness", FIXED_RATE, options.freshness_rate)]
    if options.freshness_half_max and worker_rate > 0:
        phases.append(_freshness(run, options, "freshness-half", HALF_MAX, worker_rate / 2))
    return phases


def _freshness(run: _Run, options: BenchOptions, label: str, basis: str, rate: float) -> Freshness:
    rss: list[float] = []
    seconds = options.freshness_seconds
    paced = _fixed_rate_run(run, options, label, rate, seconds, _rss_sampler(rss))
    fresh = paced.status.get("freshness", {})
    return Freshness(
        rate=rate,
        seconds=seconds,
        events=paced.delivered,
        p50_ms=fresh.get("p50_ms"),
        p99_ms=fresh.get("p99_ms"),
        max_ms=fresh.get("max_ms"),
        worker_rss_mb=max(rss, default=0.0),
        basis=basis,
        warmup_events=paced.warmup_events,
    )


def _soak(run: _Run, options: BenchOptions) -> Soak:
    rss: list[float] = []
    paced = _fixed_rate_run(
        run, options, "soak", options.soak_rate, options.soak_seconds, _rss_sampler(rss)
    )
    return Soak(options.soak_rate, options.soak_seconds, paced.delivered, rss)


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
