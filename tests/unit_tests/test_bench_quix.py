"""The Quix window contender's pieces give the groups the plain Tally gives (no broker here).

The windowed contender never touches the Tally's dict while it runs: its reduce state lives
in Quix's store and the last emission of each window is folded in at the end. Fed the same
events the way Quix feeds them (per message key, per tumbling window of event time), the
fold must produce the Tally's groups exactly, and the digest the bench compares must tell a
different sum apart.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from dxpulse.bench.baselines import Tally
from dxpulse.bench.quix import Windows, event_time_ms, initial, reduce
from dxpulse.producers.generator import EventGenerator

WINDOW_S = 60


def _events() -> list[dict[str, Any]]:
    """400 events over 6 minutes (7 windows), as the consumers decode them from Kafka."""
    generator = EventGenerator(seed=3)
    start = datetime(2026, 3, 1, 8, 59, 30, tzinfo=UTC)
    events = [generator.event(start + timedelta(seconds=0.9 * i)) for i in range(400)]
    return [orjson.loads(orjson.dumps(e)) for e in events]


def _windowed(events: list[dict[str, Any]]) -> Tally:
    """What quix-window computes: a state per (topic, message key, window start), the last
    emission of each kept, folded at the end."""
    tally = Tally(WINDOW_S, len(events))
    windows = Windows(tally)
    states: dict[tuple[str, bytes, int], dict[str, list[int]]] = {}
    for event in events:
        ts = event_time_ms(event, None, 0, None)
        start = ts - ts % (WINDOW_S * 1000)
        # One dataframe, so one state store, per topic (= event type); keyed by province.
        topic, key = event["event_type"], event["province_code"].encode()
        state = states.get((topic, key, start))
        if state is None:
            state = initial(event)
        else:  # Quix keeps the state as JSON in RocksDB: a round trip per message
            state = reduce(orjson.loads(orjson.dumps(state)), event)
        states[(topic, key, start)] = state
        windows.keeper(topic)({"start": start, "value": state}, key, ts, None)
    windows.fold()
    return tally


def test_the_folded_windows_are_the_tallys_groups() -> None:
    events = _events()
    plain = Tally(WINDOW_S, len(events))
    for event in events:
        plain.add_event(event)
    windowed = _windowed(events)
    assert windowed.groups == plain.groups
    assert windowed.digest() == plain.digest()
    assert sum(c for c, _ in plain.groups.values()) == len(events)


def test_the_digest_tells_one_changed_sum_apart() -> None:
    events = _events()
    plain = Tally(WINDOW_S, len(events))
    for event in events:
        plain.add_event(event)
    before = plain.digest()
    key = next(iter(plain.groups))
    plain.groups[key][1] += 1
    assert plain.digest() != before
