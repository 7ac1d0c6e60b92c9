"""The Quix Streams contenders of `dxpulse bench`: the worker's aggregation job the Quix way.

Both run inside ``python -m dxpulse.bench.baselines quix|quix-window`` (one process each, so
the CPU time and peak RSS are Quix's own), on Quix's own consumer loop and JSON
deserializer, with no validation and no sink:

- ``quix``: ``sdf.update`` counts each decoded event into the shared :class:`Tally` dict.
- ``quix-window``: per message key (the producer keys by province), a tumbling window of the
  worker's window seconds on the event time, ``reduce`` into {type, province, area, channel:
  [count, sum]} kept in Quix's RocksDB state, ``current()`` emitting every update; the last
  emission of each window is its aggregate. ``final()`` would hold back the newest windows
  until a later event closes them, and a bench's data set has no later event.

Both stop when the Tally has seen every expected message (``on_message_processed``), and use
the same librdkafka settings as the confluent ceiling. No changelog topics, nothing created
on the broker; the state dir is a temporary directory removed afterwards.
"""

from __future__ import annotations

import importlib.util
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dxpulse.bench.baselines import (
    IDLE_LIMIT_S,
    BaselineError,
    GroupKey,
    Options,
    Tally,
    confluent_config,
)
from dxpulse.core import extras

if TYPE_CHECKING:
    from quixstreams import Application

QUIX = "the Quix Streams contenders of `dxpulse bench` (--no-quix skips them)"
_SEP = "\x1f"  # between the group's fields in a reduce state key (JSON needs string keys)
# librdkafka keys Quix sets itself, or that would change what its loop does.
_QUIX_OWNS = ("bootstrap.servers", "group.id", "auto.offset.reset", "enable.auto.commit",
              "enable.partition.eof", "logger")  # fmt: skip


def check_installed() -> None:
    """Raise the one-line MissingExtra before a bench produces anything. Found, not imported:
    the bench process measures the producer's peak RSS, and Quix runs in its own process."""
    with extras.needed("bench", QUIX):
        for module in extras.EXTRAS["bench"]:
            if importlib.util.find_spec(module) is None:
                raise ModuleNotFoundError(f"No module named {module!r}", name=module)


def quix_app(opts: Options, state_dir: str, tally: Tally, count: bool = False) -> Application:
    """An Application that leaves nothing on the broker and stops once ``tally`` is done.

    ``count``: each processed message counts as consumed (when the dataframe does not
    count into the tally itself).
    """
    with extras.needed("bench", QUIX):
        from quixstreams import Application

    app: Application

    def processed(_topic: str, _partition: int, _offset: int) -> None:
        tally.consumed += count
        tally.start_clock()
        tally.progressed()
        if tally.done:
            app.stop()

    config = {k: v for k, v in confluent_config(opts).items() if k not in _QUIX_OWNS}
    app = Application(
        broker_address=opts.bootstrap,
        consumer_group=opts.group,
        auto_offset_reset="earliest",
        consumer_extra_config=config,
        state_dir=state_dir,
        use_changelog_topics=False,
        auto_create_topics=False,
        loglevel="WARNING",
        on_message_processed=processed,
    )
    return app


def _run(app: Application, tally: Tally) -> None:
    """Run until stopped by the tally; Quix's own timeout is the idle limit."""
    app.run(timeout=IDLE_LIMIT_S, collect=False)
    if not tally.done:
        raise BaselineError(f"quix stopped after {tally.consumed} of {tally.expected}")


def run_update(opts: Options) -> dict[str, Any]:
    tally = opts.tally()
    with tempfile.TemporaryDirectory(prefix="dxpulse-quix-") as state_dir:
        app = quix_app(opts, state_dir, tally)
        for name in opts.topics:
            app.dataframe(app.topic(name, value_deserializer="json")).update(tally.add_event)
        _run(app, tally)
    return tally.report("quix")


# -- tumbling window + reduce ---------------------------------------------------------------


def event_time_ms(value: Any, _headers: Any, _timestamp: int, _type: Any) -> int:
    """The window's clock is the event time, as the worker's (not Kafka's CreateTime)."""
    return int(datetime.fromisoformat(value["event_time"]).timestamp() * 1000)


def _group(event: dict[str, Any]) -> str:
    fields = (event["event_type"], event["province_code"], event["area"], event["channel"])
    return _SEP.join(fields)


def initial(event: dict[str, Any]) -> dict[str, list[int]]:
    return {_group(event): [1, event["amount_vnd"]]}


def reduce(state: dict[str, list[int]], event: dict[str, Any]) -> dict[str, list[int]]:
    cell = state.get(key := _group(event))
    if cell is None:
        state[key] = [1, event["amount_vnd"]]
    else:
        cell[0] += 1
        cell[1] += event["amount_vnd"]
    return state


@dataclass
class Windows:
    """Each window's newest aggregate, by (topic, message key, window start in ms)."""

    tally: Tally
    latest: dict[tuple[str, bytes, int], dict[str, list[int]]] = field(default_factory=dict)
    late: int = 0

    def keeper(self, topic: str) -> Callable[[dict[str, Any], bytes, int, Any], None]:
        latest = self.latest

        def keep(window: dict[str, Any], key: bytes, _timestamp: int, _headers: Any) -> None:
            latest[(topic, key, window["start"])] = window["value"]

        return keep

    def on_late(self, *_args: Any, **_kwargs: Any) -> bool:
        """Counted, not logged: a dropped event shows as an inexact run, not a log flood."""
        self.late += 1
        return False

    def fold(self) -> None:
        """Add every window's aggregate to the tally's groups, keyed as the others are."""
        for (_topic, _key, start_ms), state in self.latest.items():
            start = start_ms // 1000
            for group, (count, amount) in state.items():
                etype, province, area, channel = group.split(_SEP)
                key: GroupKey = (start, etype, province, area, channel)
                self.tally.add_group(key, count, amount)


def run_window(opts: Options) -> dict[str, Any]:
    tally = opts.tally()
    windows = Windows(tally)
    duration_ms = opts.window_seconds * 1000

    with tempfile.TemporaryDirectory(prefix="dxpulse-quix-") as state_dir:
        # Messages are counted as processed; the events aggregated, from the windows (fold).
        app = quix_app(opts, state_dir, tally, count=True)
        for name in opts.topics:
            topic = app.topic(name, value_deserializer="json", timestamp_extractor=event_time_ms)
            # One window of grace: the producer's event times only move forward, so nothing
            # is late; a late event would be dropped, counted, and make the run inexact.
            window = app.dataframe(topic).tumbling_window(
                duration_ms, grace_ms=duration_ms, on_late=windows.on_late
            )
            window.reduce(reduce, initial).current().update(windows.keeper(name), metadata=True)
        _run(app, tally)
    windows.fold()
    return {**tally.report("quix-window"), "late_dropped": windows.late}
