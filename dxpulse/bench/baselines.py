"""Reference consumers for `dxpulse bench`: the worker's aggregation job done plain ways.

``python -m dxpulse.bench.baselines {confluent|faust|quix|quix-window} --bootstrap HOST:PORT
--topics A,B --group G --expected N`` consumes the topics from the earliest offset in a fresh
group, aggregates every event into (window start, event type, province, area, channel) ->
[count, sum of amount_vnd], stops after N messages and prints one JSON line on stdout, with a
digest of those groups so that the bench can compare contenders that read the same data.

The Quix Streams contenders (the `bench` extra) do the job the Quix way: ``quix`` with
``sdf.update`` into the same dict, ``quix-window`` with a tumbling window and ``reduce``
(dxpulse/bench/quix.py).

Each baseline runs in its own process, so the CPU time and peak RSS it reports are its own.
The stop condition counts messages; the broker's end offsets are not trusted (Tansu reports
them about 1% short).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

import orjson

from dxpulse.bench.procstat import sample

if TYPE_CHECKING:
    import faust

log = logging.getLogger("dxpulse.bench.baselines")

GroupKey = tuple[int, str, str, str, str]
# Without a message for this long, a run is stuck (topics empty, group never assigned).
IDLE_LIMIT_S = 120.0
CONFLUENT_BATCH = 10_000
CONFLUENT_POLL_S = 0.5
FAUST_TAKE = 1_000
FAUST_WITHIN_S = 0.5
# How long mode may take to stop the Faust worker once it is done before the baseline gives
# its result out and exits anyway.
FAUST_STOP_S = 60.0


class BaselineError(Exception):
    """The baseline could not complete its run; the message goes to stderr."""


def _peak_rss_mb() -> float:
    found = sample(os.getpid())
    return found.peak_rss_mb if found else 0.0


def window_start(event_time: str, window_seconds: int) -> int:
    """Epoch second starting the tumbling window of an ISO-8601 UTC time (``...Z``)."""
    # Events are after 1970, so int() truncation is the floor; sub-second digits never
    # move a whole-second window boundary.
    seconds = int(datetime.fromisoformat(event_time).timestamp())
    return seconds - seconds % window_seconds


@dataclass
class Tally:
    """The aggregate plus the measurements around it, shared by both baselines."""

    window_seconds: int
    expected: int
    groups: dict[GroupKey, list[int]] = field(default_factory=dict)
    consumed: int = 0
    _wall: list[float] = field(default_factory=list)  # [first, last] message times
    _cpu: list[float] = field(default_factory=list)
    _last_progress: float = field(default_factory=time.monotonic)

    @property
    def done(self) -> bool:
        return self.consumed >= self.expected

    def add_batch(self, values: Iterable[bytes]) -> None:
        """Aggregate one received batch; the clock starts with the first batch."""
        self.start_clock()
        for value in values:
            self.add_event(orjson.loads(value))
        self.progressed()

    def start_clock(self) -> None:
        if not self._wall:
            self._wall.append(time.perf_counter())
            self._cpu.append(time.process_time())

    def progressed(self) -> None:
        """Messages arrived: the idle clock restarts, and the run clock stops once done."""
        self._last_progress = time.monotonic()
        if self.done and len(self._wall) == 1:
            self._wall.append(time.perf_counter())
            self._cpu.append(time.process_time())

    def add_event(self, event: Mapping[str, Any]) -> None:
        """Count one decoded event into its group (consumed counts it too)."""
        key = (
            window_start(event["event_time"], self.window_seconds),
            event["event_type"],
            event["province_code"],
            event["area"],
            event["channel"],
        )
        amount: int = event["amount_vnd"]
        self.consumed += 1
        cell = self.groups.get(key)
        if cell is None:
            self.groups[key] = [1, amount]
        else:
            cell[0] += 1
            cell[1] += amount

    def add_group(self, key: GroupKey, count: int, amount: int) -> None:
        """Fold in a group another engine aggregated (the Quix window's reduce)."""
        cell = self.groups.setdefault(key, [0, 0])
        cell[0] += count
        cell[1] += amount

    def digest(self) -> str:
        """The groups, order-free: equal digests mean equal counts and sums per key."""
        rows = sorted([*key, *cell] for key, cell in self.groups.items())
        return hashlib.sha256(orjson.dumps(rows)).hexdigest()

    def check_idle(self) -> None:
        idle = time.monotonic() - self._last_progress
        if idle > IDLE_LIMIT_S:
            raise BaselineError(
                f"no message for {idle:.0f}s after {self.consumed} of {self.expected}"
            )

    def report(self, name: str) -> dict[str, Any]:
        if len(self._wall) < 2:
            raise BaselineError(f"{name} stopped after {self.consumed} of {self.expected}")
        return {
            "name": name,
            "events": self.consumed,
            "seconds": self._wall[1] - self._wall[0],
            # process_time() counts every thread, librdkafka's and aiokafka's included.
            "cpu_seconds": self._cpu[1] - self._cpu[0],
            # VmHWM, not ru_maxrss: after fork+exec ru_maxrss still holds the parent's peak.
            "peak_rss_mb": _peak_rss_mb(),
            "groups": len(self.groups),
            "amount_vnd": sum(cell[1] for cell in self.groups.values()),
            "events_aggregated": sum(cell[0] for cell in self.groups.values()),
            "groups_digest": self.digest(),
        }


@dataclass(frozen=True)
class Options:
    bootstrap: str
    topics: list[str]
    group: str
    expected: int
    window_seconds: int
    session_timeout_ms: int

    def tally(self) -> Tally:
        return Tally(self.window_seconds, self.expected)


# -- confluent-kafka ------------------------------------------------------------------------


def confluent_config(opts: Options) -> dict[str, Any]:
    return {
        "bootstrap.servers": opts.bootstrap,
        "group.id": opts.group,
        "auto.offset.reset": "earliest",
        # A ceiling: the baseline never commits, so it pays nothing for durability.
        "enable.auto.commit": False,
        # librdkafka's default backoff stalls a full second whenever its queue fills.
        "fetch.queue.backoff.ms": 10,
        "session.timeout.ms": opts.session_timeout_ms,
        # The default (3 s) exceeds a short session timeout; same ratio as the worker.
        "heartbeat.interval.ms": max(100, opts.session_timeout_ms // 5),
        "enable.partition.eof": False,
        "logger": logging.getLogger("librdkafka"),
    }


def run_confluent(opts: Options) -> dict[str, Any]:
    from confluent_kafka import Consumer

    tally = opts.tally()
    errors: list[Any] = []
    consumer = Consumer({**confluent_config(opts), "error_cb": errors.append})
    try:
        consumer.subscribe(opts.topics)
        while not tally.done:
            batch = consumer.consume(num_messages=CONFLUENT_BATCH, timeout=CONFLUENT_POLL_S)
            _raise_client_errors(errors)
            if batch:
                tally.add_batch(_confluent_values(batch))
            else:
                tally.check_idle()
    finally:
        consumer.close()
    return tally.report("confluent")


def _raise_client_errors(errors: list[Any]) -> None:
    """Fail fast when the broker is gone: a benchmark has nothing to wait for."""
    from confluent_kafka import KafkaError

    for err in errors:
        if err.fatal() or err.code() == KafkaError._ALL_BROKERS_DOWN:
            raise BaselineError(f"kafka client error: {err}")
        log.warning("kafka client error: %s", err)
    errors.clear()


def _confluent_values(batch: Sequence[Any]) -> list[bytes]:
    from confluent_kafka import KafkaError

    values: list[bytes] = []
    for msg in batch:
        err = msg.error()
        if err is None:
            values.append(msg.value())
        elif err.fatal() or err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
            # The bench creates and fills the topics first: a missing one is a wrong name.
            raise BaselineError(f"consumer error: {err}")
        else:  # transient (a reconnect, a leader move): librdkafka retries by itself
            log.warning("consumer error: %s", err)
    return values


# -- Faust ----------------------------------------------------------------------------------


@dataclass
class FaustRun:
    """What the agent hands back across the worker's lifetime."""

    tally: Tally
    error: BaseException | None = None
    # Stop tasks are held here so they are not garbage-collected mid-flight.
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)


def faust_app(opts: Options, datadir: str) -> faust.App:
    # Imported here, not at the top, so the confluent baseline's RSS excludes Faust.
    import faust

    return faust.App(
        opts.group,  # the app id is Faust's consumer group
        broker=f"kafka://{opts.bootstrap}",
        store="memory://",
        web_enabled=False,
        # No leader-election topic: the baseline leaves nothing behind on the broker.
        topic_disable_leader=True,
        broker_session_timeout=opts.session_timeout_ms / 1000,
        # aiokafka's default heartbeat (3 s) exceeds a short session timeout.
        broker_heartbeat_interval=max(0.1, opts.session_timeout_ms / 5000),
        consumer_auto_offset_reset="earliest",
        datadir=datadir,
    )


def faust_worker(app: faust.App) -> faust.Worker:
    import faust

    worker = faust.Worker(
        app,
        loglevel="WARNING",
        # stdout carries only the result line: Faust's banner and logs go to stderr (its
        # logging defaults to stdout), and print() is not redirected into the log.
        logfile=sys.stderr,
        stdout=sys.stderr,
        stderr=sys.stderr,
        redirect_stdouts=False,
    )
    worker.spinner = None  # no terminal to animate: it would only add noise to stderr
    return worker


def run_faust(opts: Options) -> dict[str, Any]:
    run = FaustRun(opts.tally())
    with tempfile.TemporaryDirectory(prefix="dxpulse-faust-") as datadir:
        app = faust_app(opts, datadir)
        worker = faust_worker(app)
        _install_agent(app, opts, run, lambda: _stop(worker, run))
        _install_watchdog(app, run, lambda: _stop(worker, run))
        code = _execute(worker)
    if run.error is not None:
        raise BaselineError(f"faust: {run.error}") from run.error
    if not run.tally.done:
        raise BaselineError(f"faust worker exited ({code}) before the expected count")
    return run.tally.report("faust")


def _install_agent(app: faust.App, opts: Options, run: FaustRun, stop: Callable[[], None]) -> None:
    # One topic object over every event topic: Faust refuses to start with none.
    topic = app.topic(*opts.topics, value_serializer="raw")

    @app.agent(topic)
    async def aggregate(stream: Any) -> None:
        async for values in stream.take(FAUST_TAKE, within=FAUST_WITHIN_S):
            run.tally.add_batch(values)
            if run.tally.done:
                stop()
                return


def _install_watchdog(app: faust.App, run: FaustRun, stop: Callable[[], None]) -> None:
    """Stop with an error when messages stop coming: take() never wakes on an empty topic."""

    async def idle_watchdog() -> None:
        try:
            run.tally.check_idle()
        except BaselineError as exc:
            run.error = exc
            stop()

    # Called, not used as a decorator: mypy sees app.timer as an untyped decorator.
    app.timer(1.0)(idle_watchdog)


def _stop(worker: faust.Worker, run: FaustRun) -> None:
    """Stop the worker from inside it: a separate task, since stopping cancels agents."""
    if not run.tasks:
        run.tasks.append(asyncio.ensure_future(worker.stop()))
        _exit_if_stop_hangs(run)


def _exit_if_stop_hangs(run: FaustRun) -> None:
    """mode's stop once never returned (a bench on a loaded 2-core machine, 20,000 events,
    the worker asleep 3 minutes after its last message): the result is known by now, so after
    FAUST_STOP_S it is written out and the process exits, instead of the bench waiting an hour.
    """
    result = run.tally.report("faust") if run.tally.done and run.error is None else None

    def give_up() -> None:
        print(f"faust: the worker did not stop in {FAUST_STOP_S:.0f} s", file=sys.stderr)
        if result is not None:
            emit(result, sys.__stdout__ or sys.stdout)
        os._exit(0 if result is not None else 1)

    timer = threading.Timer(FAUST_STOP_S, give_up)
    timer.daemon = True  # a worker that stops in time exits without waiting for it
    timer.start()


def _execute(worker: faust.Worker) -> int | str | None:
    """Run the worker until it stops; mode always leaves through SystemExit."""
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return exc.code
    return None


# -- command line ---------------------------------------------------------------------------


def run_quix(opts: Options) -> dict[str, Any]:
    from dxpulse.bench import quix

    return quix.run_update(opts)


def run_quix_window(opts: Options) -> dict[str, Any]:
    from dxpulse.bench import quix

    return quix.run_window(opts)


RUNNERS: dict[str, Callable[[Options], dict[str, Any]]] = {
    "confluent": run_confluent,
    "faust": run_faust,
    "quix": run_quix,
    "quix-window": run_quix_window,
}


def parse_args(argv: Sequence[str] | None = None) -> tuple[str, Options]:
    parser = argparse.ArgumentParser(prog="python -m dxpulse.bench.baselines")
    parser.add_argument("baseline", choices=sorted(RUNNERS))
    parser.add_argument("--bootstrap", required=True, help="HOST:PORT")
    parser.add_argument("--topics", required=True, help="comma-separated topic names")
    parser.add_argument("--group", required=True, help="a fresh consumer group id")
    parser.add_argument("--expected", required=True, type=int, help="messages to consume")
    parser.add_argument("--window-seconds", type=int, default=60)
    parser.add_argument("--session-timeout-ms", type=int, default=2_000)
    args = parser.parse_args(argv)
    topics = [t for t in args.topics.split(",") if t]
    if not topics:
        parser.error("--topics: at least one topic is required")
    if args.expected < 1 or args.window_seconds < 1 or args.session_timeout_ms < 1:
        parser.error("--expected, --window-seconds and --session-timeout-ms must be >= 1")
    opts = Options(
        bootstrap=args.bootstrap,
        topics=topics,
        group=args.group,
        expected=args.expected,
        window_seconds=args.window_seconds,
        session_timeout_ms=args.session_timeout_ms,
    )
    return args.baseline, opts


def emit(result: dict[str, Any], out: IO[str]) -> None:
    out.write(orjson.dumps(result).decode() + "\n")
    out.flush()


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    name, opts = parse_args(argv)
    # Held before Faust starts: whatever it does to sys.stdout, the result goes here.
    out = sys.stdout
    try:
        result = RUNNERS[name](opts)
    except Exception as exc:
        print(f"{name} baseline failed: {exc}", file=sys.stderr)
        return 1
    emit(result, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
