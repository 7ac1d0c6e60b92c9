"""Is the worker healthy? The truth about its dependencies, for /health and /status.

A worker is healthy while its ingest loop is running and turning, the Kafka brokers
answered within ``health_timeout_s`` and ClickHouse did too, and its last write did not
fail. The ingest loop reports every successful round trip (an offset commit, a metadata
probe, an insert, a ``SELECT 1`` probe) and every failure; when it is idle it probes both
dependencies every third of the timeout, so a dead broker or server is noticed without
traffic. Unreachable means "no success for the timeout", so /health turns 503 at most
``health_timeout_s`` after the last answer, and 200 again with the first answer after.

One log line per change of verdict, and a reminder while a dependency stays down: the
monitor, not the libraries' connection chatter, tells operators what is wrong.

Time comes from an injectable :class:`Clock`, so the unit tests drive it by hand.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

log = logging.getLogger(__name__)

KAFKA = "kafka"
CLICKHOUSE = "clickhouse"
INGEST = "ingest"
DEPENDENCIES = (KAFKA, CLICKHOUSE)
_LABEL = {KAFKA: "Kafka", CLICKHOUSE: "ClickHouse", INGEST: "The ingest loop"}
_ERROR_CHARS = 300


class Clock(Protocol):
    """Monotonic seconds for intervals, wall seconds for the "since" shown to people."""

    def monotonic(self) -> float: ...

    def time(self) -> float: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()


SYSTEM_CLOCK = SystemClock()


@dataclass
class _Dependency:
    last_ok: float  # monotonic; the monitor's start counts, so a new worker has a grace period
    last_error: str | None = None
    failing_since: float | None = None  # a write failed: down at once, until one succeeds


@dataclass(frozen=True)
class Down:
    """One reason the worker is not healthy."""

    dependency: str
    since: float  # monotonic
    reason: str

    def as_json(self, clock: Clock) -> dict[str, Any]:
        now = clock.monotonic()
        wall = clock.time() - (now - self.since)
        return {
            "dependency": self.dependency,
            "since": datetime.fromtimestamp(wall, UTC).isoformat(timespec="seconds"),
            "for_s": round(now - self.since, 1),
            "reason": self.reason,
        }


class HealthMonitor:
    """Thread-safe: the ingest thread reports, the web handlers and the loop evaluate."""

    def __init__(
        self,
        timeout_s: float = 30.0,
        reminder_s: float = 60.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.timeout_s = timeout_s
        self.reminder_s = reminder_s
        self.clock = clock
        now = clock.monotonic()
        self._deps = {name: _Dependency(last_ok=now) for name in DEPENDENCIES}
        self._beat = now
        self._lock = threading.Lock()
        # What is down as last logged: name -> (down since, logged at), both monotonic.
        self._logged: dict[str, tuple[float, float]] = {}
        self._last_probe = dict.fromkeys(DEPENDENCIES, float("-inf"))

    @property
    def probe_interval_s(self) -> float:
        """How often an idle loop probes: three chances to succeed within the timeout."""
        return self.timeout_s / 3

    @property
    def probe_timeout_s(self) -> float:
        """A probe may block the loop this long: short, it runs in the ingest thread."""
        return min(5.0, max(1.0, self.timeout_s / 10))

    # -- reports from the ingest loop ------------------------------------------------------
    def ok(self, dependency: str) -> None:
        """A round trip to the dependency succeeded (a probe: it does not end a write
        outage, since a server may answer ``SELECT 1`` and still refuse inserts)."""
        with self._lock:
            self._deps[dependency].last_ok = self.clock.monotonic()

    def wrote(self, dependency: str) -> None:
        """A write to the dependency succeeded: it answers, and any write outage is over."""
        with self._lock:
            dep = self._deps[dependency]
            dep.last_ok = self.clock.monotonic()
            dep.failing_since = None

    def error(self, dependency: str, message: str) -> None:
        """Something failed (a probe, a client's error callback): kept as the reason shown
        once the dependency counts as down; it does not make it down by itself."""
        with self._lock:
            self._deps[dependency].last_error = message[:_ERROR_CHARS]

    def failing(self, dependency: str, message: str) -> None:
        """A write failed: the dependency is down now, until the next success."""
        with self._lock:
            dep = self._deps[dependency]
            dep.last_error = message[:_ERROR_CHARS]
            if dep.failing_since is None:
                dep.failing_since = self.clock.monotonic()

    def beat(self) -> None:
        """The ingest loop went round once."""
        with self._lock:
            self._beat = self.clock.monotonic()

    def probe_due(self, dependency: str) -> bool:
        """No success and no probe for a probe interval: time to ask (and the caller asks)."""
        with self._lock:
            now = self.clock.monotonic()
            last = max(self._deps[dependency].last_ok, self._last_probe[dependency])
            if now - last < self.probe_interval_s:
                return False
            self._last_probe[dependency] = now
            return True

    # -- verdict ---------------------------------------------------------------------------
    def down(self) -> list[Down]:
        """What is down right now, in a fixed order (Kafka, ClickHouse, the loop)."""
        with self._lock:
            now = self.clock.monotonic()
            found = [d for name in DEPENDENCIES if (d := self._down(name, now)) is not None]
            stalled = now - self._beat
            if stalled > self.timeout_s:
                found.append(Down(INGEST, self._beat, f"no loop iteration for {stalled:.0f} s"))
            return found

    def _down(self, name: str, now: float) -> Down | None:
        dep = self._deps[name]
        detail = f": {dep.last_error}" if dep.last_error else ""
        if dep.failing_since is not None:
            return Down(name, dep.failing_since, f"writes failing{detail}")
        if now - dep.last_ok > self.timeout_s:
            return Down(name, dep.last_ok, f"no answer within {self.timeout_s:g} s{detail}")
        return None

    def report(self, loop_state: str) -> dict[str, Any]:
        """The health part of /status and the body of /health."""
        down = self.down()
        if loop_state not in ("running", "degraded"):
            down.insert(0, Down(INGEST, self.clock.monotonic(), f"ingest loop {loop_state}"))
        return {
            "healthy": not down,
            "timeout_s": self.timeout_s,
            "down": [d.as_json(self.clock) for d in down],
        }

    # -- logging ---------------------------------------------------------------------------
    def log_changes(self) -> None:
        """One line when a dependency goes down or comes back, and a reminder every
        ``reminder_s`` while it stays down. Cheap: the loop calls it every iteration."""
        now = self.clock.monotonic()
        current = {d.dependency: d for d in self.down()}
        with self._lock:
            for name, down in current.items():
                since, logged_at = self._logged.get(name, (down.since, None))
                if logged_at is None:
                    log.error("%s down: %s; /health answers 503", _LABEL[name], down.reason)
                elif now - logged_at >= self.reminder_s:
                    lasted = now - since
                    log.error("%s still down after %.0f s: %s", _LABEL[name], lasted, down.reason)
                else:
                    continue
                self._logged[name] = (since, now)
            for name in [n for n in self._logged if n not in current]:
                since, _ = self._logged.pop(name)
                log.warning("%s answers again, after %.0f s down", _LABEL[name], now - since)
