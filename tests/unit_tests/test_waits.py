"""dxpulse.core.waits.poll, on a fake clock: what ends a wait, how long it sleeps, what it raises.

The clock only moves when the wait sleeps (or a try says it took time), so every figure
below is exact and nothing here waits for real.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import pytest

from dxpulse.core import waits
from dxpulse.core.waits import Pending, WaitStopped, WaitTimedOut, poll


class FakeTime:
    """A monotonic clock that advances by what is slept (and by ``take`` per try)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 9))
        self.now += seconds


def tries(
    *outcomes: object, time: FakeTime | None = None, take_s: float = 0.0
) -> Callable[[], object]:
    """An attempt that returns (or raises, for exceptions) each outcome in turn."""
    queue = list(outcomes)

    def attempt() -> object:
        if time is not None:
            time.now += take_s
        outcome = queue.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    attempt.left = queue  # type: ignore[attr-defined]
    return attempt


def test_the_first_done_result_is_returned_after_a_sleep_per_try() -> None:
    t = FakeTime()
    got = poll(tries(None, None, "ready"), timeout_s=10, interval_s=0.5,
               done=lambda r: r is not None, clock=t.clock, sleep=t.sleep)  # fmt: skip
    assert got == "ready"
    assert t.slept == [0.5, 0.5]


def test_a_retried_exception_means_not_yet() -> None:
    t = FakeTime()
    got = poll(tries(OSError("refused"), OSError("refused"), 7), timeout_s=10, interval_s=1,
               retry_on=(OSError,), clock=t.clock, sleep=t.sleep)  # fmt: skip
    assert got == 7 and t.slept == [1, 1]


def test_any_other_exception_ends_the_wait_at_once() -> None:
    t = FakeTime()
    attempt = tries(ValueError("bad dsn"), 1)
    with pytest.raises(ValueError, match="bad dsn"):
        poll(attempt, timeout_s=10, interval_s=1, retry_on=(OSError,), clock=t.clock,
             sleep=t.sleep)  # fmt: skip
    assert t.slept == [] and attempt.left == [1]  # type: ignore[attr-defined]


def test_retry_if_narrows_the_retried_exceptions() -> None:
    """As `init` waits out a ClickHouse that refuses connections, not one that refuses a login."""
    t = FakeTime()
    network = RuntimeError("cannot connect")
    network.__cause__ = ConnectionError()
    login = RuntimeError("authentication failed")
    attempt = tries(network, login, "never")
    with pytest.raises(RuntimeError, match="authentication failed"):
        poll(attempt, timeout_s=10, interval_s=1, retry_on=(RuntimeError,),
             retry_if=lambda e: isinstance(e.__cause__, ConnectionError),
             clock=t.clock, sleep=t.sleep)  # fmt: skip
    assert t.slept == [1]


def test_the_deadline_raises_timed_out_from_the_last_error_and_the_last_sleep_is_cut() -> None:
    t = FakeTime()
    attempt = tries(*[OSError(f"refused {n}") for n in range(10)])
    with pytest.raises(WaitTimedOut) as ended:
        poll(attempt, timeout_s=2.5, interval_s=1, retry_on=(OSError,), clock=t.clock,
             sleep=t.sleep)  # fmt: skip
    assert t.slept == [1, 1, 0.5]  # never past the deadline
    assert t.now == 102.5
    assert isinstance(ended.value.__cause__, OSError)
    assert str(ended.value.__cause__) == "refused 3"  # the fourth try, at the deadline
    assert ended.value.last.number == 4 and ended.value.timeout_s == 2.5
    assert str(ended.value) == "not done within 2.5 s: refused 3"


def test_a_timed_out_wait_keeps_the_last_result_that_was_not_done() -> None:
    t = FakeTime()
    with pytest.raises(WaitTimedOut) as ended:
        poll(tries(*range(100)), timeout_s=3, interval_s=1, done=lambda n: n < 0,
             clock=t.clock, sleep=t.sleep)  # fmt: skip
    assert ended.value.last.result == 3 and ended.value.last.error is None
    assert ended.value.__cause__ is None


def test_slow_tries_count_against_the_deadline() -> None:
    t = FakeTime()
    with pytest.raises(WaitTimedOut):
        poll(tries(*[OSError()] * 10, time=t, take_s=2.0), timeout_s=5, interval_s=1,
             retry_on=(OSError,), clock=t.clock, sleep=t.sleep)  # fmt: skip
    assert t.slept == [1]  # try 1 ends at 102, sleep to 103, try 2 ends at 105: over
    assert t.now == 105


def test_a_zero_timeout_still_tries_once() -> None:
    t = FakeTime()
    assert poll(tries("up"), timeout_s=0, interval_s=1, clock=t.clock, sleep=t.sleep) == "up"
    with pytest.raises(WaitTimedOut):
        poll(tries(OSError()), timeout_s=0, interval_s=1, retry_on=(OSError,), clock=t.clock,
             sleep=t.sleep)  # fmt: skip
    assert t.slept == []


def test_no_deadline_waits_as_long_as_it_takes() -> None:
    t = FakeTime()
    got = poll(tries(*[False] * 1000, True), timeout_s=None, interval_s=60,
               done=bool, clock=t.clock, sleep=t.sleep)  # fmt: skip
    assert got is True and len(t.slept) == 1000 and t.now == 100 + 60_000


def test_should_stop_ends_it_before_the_first_try_or_after_any() -> None:
    t = FakeTime()
    attempt = tries("never tried")
    with pytest.raises(WaitStopped):
        poll(attempt, timeout_s=10, interval_s=1, should_stop=lambda: True, clock=t.clock,
             sleep=t.sleep)  # fmt: skip
    assert attempt.left == ["never tried"]  # type: ignore[attr-defined]

    asked = iter([False, False, False, True])
    with pytest.raises(WaitStopped):
        poll(tries(*[None] * 10), timeout_s=None, interval_s=1, done=lambda r: r is not None,
             should_stop=lambda: next(asked), clock=t.clock, sleep=t.sleep)  # fmt: skip
    assert t.slept == [1, 1]  # asked before try 1, after tries 1 and 2, stopped after 3


def test_on_retry_sees_each_pending_try_before_its_sleep() -> None:
    t = FakeTime()
    seen: list[Pending[object]] = []
    poll(tries("held", OSError("gone"), "free"), timeout_s=10, interval_s=2,
         done=lambda r: r == "free", retry_on=(OSError,), on_retry=seen.append,
         clock=t.clock, sleep=t.sleep)  # fmt: skip
    assert [(p.number, p.elapsed_s, p.result, str(p.error)) for p in seen] == [
        (1, 0.0, "held", "None"),
        (2, 2.0, None, "gone"),
    ]


def test_waits_is_in_the_shared_base_it_imports_only_stdlib_and_tenacity() -> None:
    """streams/ uses it as the CLI does: it may depend on no dxpulse module."""
    tree = ast.parse(Path(waits.__file__).read_text("utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            roots.add((node.module or "").split(".")[0])
        elif isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
    assert roots == {"__future__", "time", "collections", "dataclasses", "typing", "tenacity"}
