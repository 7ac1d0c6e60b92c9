"""Waiting until something holds, up to a deadline: the one poll loop of dxpulse.

Brokers, ClickHouse, workers and locks are all waited for the same way: try, and if the
try failed in an expected way (a refused connection, a lock held, a status not yet
"running"), sleep a little and try again, until it succeeds, the deadline passes or the
caller says to give up. Each place used to hand-write that loop with its own clock
arithmetic; here it is tenacity's retry machinery, with the policies dxpulse needs:

- the last sleep is cut to the deadline, so a wait never sleeps past it;
- a failure that is not expected (a worker that exited, a bad DSN) ends it at once;
- the end is told apart: :class:`WaitTimedOut` (with what the last try said) or
  :class:`WaitStopped` (``should_stop()`` turned true).

It imports only the standard library and tenacity: components at every layer use it
(``dxpulse.streams.live_query`` as well as the CLI), so it must depend on none of them.
The clock and the sleep are parameters, so tests drive it without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, NoReturn, TypeVar

from tenacity import RetryCallState, Retrying

T = TypeVar("T")


@dataclass(frozen=True)
class Pending(Generic[T]):
    """A try that did not end the wait, as ``on_retry`` sees it before the sleep."""

    number: int  # 1 for the first try
    elapsed_s: float
    result: T | None  # what it returned, when it returned something not yet done
    error: BaseException | None  # what it raised, when it raised a retried exception


class WaitTimedOut(Exception):
    """The deadline passed first; raised ``from`` the last try's exception, if any."""

    def __init__(self, timeout_s: float, last: Pending[Any]) -> None:
        self.timeout_s = timeout_s
        self.last = last
        cause = f": {last.error}" if last.error is not None else ""
        super().__init__(f"not done within {timeout_s:g} s{cause}")


class WaitStopped(Exception):
    """``should_stop()`` turned true before the wait was over."""


def _never() -> bool:
    return False


def _anything(result: object) -> bool:
    return True


def poll(
    attempt: Callable[[], T],
    *,
    timeout_s: float | None,
    interval_s: float,
    done: Callable[[T], bool] = _anything,
    retry_on: tuple[type[BaseException], ...] = (),
    retry_if: Callable[[BaseException], bool] | None = None,
    should_stop: Callable[[], bool] = _never,
    on_retry: Callable[[Pending[T]], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``attempt()``'s first result that is ``done``, trying every ``interval_s``.

    An exception of ``retry_on`` (and, if given, passing ``retry_if``) means "not yet";
    any other propagates at once. ``timeout_s=None`` waits without a deadline (the caller
    then ends it with ``should_stop`` or an exception). ``should_stop`` is asked before
    the first try and after each; the deadline after each try, so there is always one.
    Raises :class:`WaitTimedOut` or :class:`WaitStopped`.
    """
    if should_stop():
        raise WaitStopped
    policy = _Policy(timeout_s, interval_s, done, retry_on, retry_if, should_stop, on_retry, clock)
    retrying = Retrying(
        sleep=sleep,
        stop=policy.stop,
        wait=policy.wait,
        retry=policy.retry,
        before_sleep=policy.before_sleep,
        retry_error_callback=policy.gave_up,
    )
    return retrying(attempt)


@dataclass
class _Policy(Generic[T]):
    """:func:`poll`'s arguments as tenacity's retry, stop, wait and callbacks."""

    timeout_s: float | None
    interval_s: float
    done: Callable[[T], bool]
    retry_on: tuple[type[BaseException], ...]
    retry_if: Callable[[BaseException], bool] | None
    should_stop: Callable[[], bool]
    on_retry: Callable[[Pending[T]], None] | None
    clock: Callable[[], float]
    stopped: bool = False

    def __post_init__(self) -> None:
        self.start = self.clock()
        self.deadline = None if self.timeout_s is None else self.start + self.timeout_s

    def pending(self, state: RetryCallState) -> Pending[T]:
        outcome = state.outcome
        assert outcome is not None
        failed = outcome.failed
        return Pending(
            number=state.attempt_number,
            elapsed_s=self.clock() - self.start,
            result=None if failed else outcome.result(),
            error=outcome.exception() if failed else None,
        )

    def retry(self, state: RetryCallState) -> bool:
        outcome = state.outcome
        assert outcome is not None
        if not outcome.failed:
            return not self.done(outcome.result())
        error = outcome.exception()
        if not isinstance(error, self.retry_on):
            return False
        return self.retry_if is None or self.retry_if(error)

    def stop(self, state: RetryCallState) -> bool:
        self.stopped = self.should_stop()
        return self.stopped or (self.deadline is not None and self.clock() >= self.deadline)

    def wait(self, state: RetryCallState) -> float:
        """The interval, cut to what is left of the deadline: never sleep past it."""
        if self.deadline is None:
            return self.interval_s
        return max(0.0, min(self.interval_s, self.deadline - self.clock()))

    def before_sleep(self, state: RetryCallState) -> None:
        if self.on_retry is not None:
            self.on_retry(self.pending(state))

    def gave_up(self, state: RetryCallState) -> NoReturn:
        last = self.pending(state)
        if self.stopped:
            raise WaitStopped from last.error
        assert self.timeout_s is not None
        raise WaitTimedOut(self.timeout_s, last) from last.error
