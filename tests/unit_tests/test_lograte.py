"""The log filter that keeps a repeated message to one line per interval."""

from __future__ import annotations

import logging

import pytest

from dxpulse.streams.lograte import RateLimitFilter

S = "dxpulse.streams."  # the loggers of the worker's modules are named after them


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ticks() -> Ticks:
    return Ticks()


def _record(name: str, msg: str, *args: object, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def _passed(limiter: RateLimitFilter, record: logging.LogRecord) -> str | None:
    return record.getMessage() if limiter.filter(record) else None


def test_aiokafka_reconnect_chatter_is_one_line_per_interval(ticks):
    limiter = RateLimitFilter(60, ticks)
    passed = []
    for attempt in range(15 * 120):  # two minutes at the rate a dead broker produced
        ticks.now = attempt / 15
        for name, msg, args in (
            ("aiokafka.conn", "Unable connect to node with id %s: %s", (111, "[Errno 111]")),
            ("aiokafka.client", "Unable to update metadata from [%s]", (111,)),
            ("aiokafka.consumer.fetcher", "Failed fetch messages from %s: %s", (111, "x")),
        ):
            message = _passed(limiter, _record(name, msg, *args))
            if message is not None:
                passed.append((ticks.now, message))
    assert [round(t) for t, _ in passed] == [0, 60]
    assert passed[0][1] == "Unable connect to node with id 111: [Errno 111]"
    assert passed[1][1].endswith(f"[{3 * 15 * 60 - 1} similar held back in the last 60 s]")


def test_own_messages_are_grouped_by_text_without_their_numbers(ticks):
    limiter = RateLimitFilter(60, ticks)
    assert _passed(limiter, _record(S + "ingest", "offset commit failed: %s", "p 3 at 17"))
    assert not _passed(limiter, _record(S + "ingest", "offset commit failed: %s", "p 4 at 99"))
    assert _passed(limiter, _record(S + "ingest", "Kafka consumer error: %s", "other"))
    assert _passed(limiter, _record(S + "sink", "offset commit failed: %s", "p 3 at 17"))
    ticks.now = 60
    again = _passed(limiter, _record(S + "ingest", "offset commit failed: %s", "p 5 at 3"))
    assert again == "offset commit failed: p 5 at 3 [1 similar held back in the last 60 s]"


def test_levels_are_kept_apart(ticks):
    limiter = RateLimitFilter(60, ticks)
    assert _passed(limiter, _record("aiokafka", "a", level=logging.WARNING))
    assert _passed(limiter, _record("aiokafka", "a", level=logging.ERROR))
    assert not _passed(limiter, _record("aiokafka.conn", "b", level=logging.ERROR))


def test_a_quiet_interval_lets_the_next_one_through_without_a_count(ticks):
    limiter = RateLimitFilter(60, ticks)
    assert _passed(limiter, _record("librdkafka", "%s [%s] %s", "FAIL", "rdkafka#consumer-1", "x"))
    ticks.now = 61
    message = _passed(limiter, _record("librdkafka", "%s [%s] %s", "FAIL", "c", "y"))
    assert message == "FAIL [c] y"


def test_the_health_monitors_reminders_are_never_held_back(ticks):
    """The monitor repeats its line every interval itself; the filter, started a tick
    later on the same interval, once held every other reminder back."""
    limiter = RateLimitFilter(60, ticks)
    passed = []
    for minute in range(4):
        ticks.now = minute * 60 + (0.001 if minute == 0 else 0)
        record = _record(S + "liveness", "Kafka still down after %.0f s: %s", minute * 60, "x")
        passed.append(_passed(limiter, record))
    assert None not in passed
