"""A logging filter that lets a repeated message through once per interval, with a count.

A worker cut off from Kafka used to log ~15 lines a second: aiokafka (the Faust monitor's
client) reports every reconnect attempt, fetch and heartbeat, and librdkafka every connect.
The health monitor (streams/liveness.py) already says what is wrong, once per change and
in a periodic reminder; this filter keeps the libraries' echo of it to one line per kind
per interval, and the next line that passes says how many were held back.

Records are grouped by their logger and text with the digits taken out (offsets, ports,
node ids and timings change from one attempt to the next); for the chatty client
libraries (``aiokafka``, ``librdkafka``, ``kafka``) by the library and level alone, since
one outage makes them log a dozen different sentences.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable

_DIGITS = re.compile(r"\d+")
CHATTY = ("aiokafka", "librdkafka", "kafka")
# Loggers that pace themselves: the health monitor's reminder comes every interval exactly,
# and a filter with the same interval could hold it back by a clock tick.
SELF_PACED = frozenset({"dxpulse.streams.liveness"})


def _key(record: logging.LogRecord) -> tuple[str, int, str]:
    top = record.name.split(".", 1)[0]
    if top in CHATTY:
        return (top, record.levelno, "")
    try:
        text = record.getMessage()
    except Exception:  # a malformed record: let logging report it as usual
        text = str(record.msg)
    return (record.name, record.levelno, _DIGITS.sub("#", text))


class RateLimitFilter(logging.Filter):
    """Pass the first record of each kind, hold back its repeats for ``interval_s``, then
    pass the next one with the number held back. Thread-safe (handlers are shared)."""

    def __init__(self, interval_s: float, clock: Callable[[], float]) -> None:
        super().__init__()
        self.interval_s = interval_s
        self.clock = clock
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, int, str], tuple[float, int]] = {}  # passed at, held back

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name in SELF_PACED:
            return True
        key = _key(record)
        now = self.clock()
        with self._lock:
            passed_at, held = self._seen.get(key, (None, 0))
            if passed_at is not None and now - passed_at < self.interval_s:
                self._seen[key] = (passed_at, held + 1)
                return False
            self._seen[key] = (now, 0)
        if held:
            window = f"{self.interval_s:.0f} s"
            record.msg = f"{record.msg} [{held} similar held back in the last {window}]"
        return True


def install(interval_s: float, clock: Callable[[], float]) -> RateLimitFilter:
    """Put one shared filter on every handler of the root logger (a filter on a logger would
    not see its children's records), so that every record reaching a handler goes through it."""
    limiter = RateLimitFilter(interval_s, clock)
    for handler in logging.getLogger().handlers:
        handler.addFilter(limiter)
    return limiter
