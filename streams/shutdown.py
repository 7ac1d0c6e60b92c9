"""A worker told to stop exits within ``stream.stop_timeout_s``, even with Kafka gone.

Faust's own shutdown waits on its aiokafka clients, which retry a dead broker for over a
minute and then print "Task was destroyed but it is pending!". The ingest loop is what
matters: it gets most of the budget for its last flush and commit (what it cannot finish
is read again by the next owner, docs/reliability.md), and when the budget is spent the
process exits with one line: 0 if the loop stopped cleanly, 1 if it did not.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from typing import Any

import faust

from dxpulse.streams.ingest import IngestLoop
from dxpulse.streams.status import WorkerStatus

log = logging.getLogger(__name__)

# What the budget keeps for Faust's own stop after the ingest loop's last flush.
_FAUST_SHARE_S = 2.0


class BoundedStopWorker(faust.Worker):
    """``faust.Worker`` whose stop signal also starts the ingest loop's last flush and a
    deadline for the whole process."""

    def __init__(
        self, app: faust.App, ingest: IngestLoop, status: WorkerStatus, budget_s: float,
        **kwargs: Any,
    ) -> None:  # fmt: skip
        super().__init__(app, **kwargs)
        self._ingest, self._status, self._budget_s = ingest, status, budget_s
        self._deadline: threading.Timer | None = None

    def _schedule_shutdown(self, signum: signal.Signals) -> None:
        if self._deadline is None:
            self._ingest.stop(budget_s=max(1.0, self._budget_s - _FAUST_SHARE_S))
            self._deadline = threading.Timer(self._budget_s, self._expire)
            self._deadline.daemon = True
            self._deadline.start()
        super()._schedule_shutdown(signum)

    def _expire(self) -> None:
        """The budget is spent: say how the ingest loop ended, and exit without waiting."""
        with self._status.lock:
            state, error = self._status.state, self._status.error
        code = 0 if state == "stopped" else 1
        what = "the ingest loop stopped cleanly" if code == 0 else f"ingest loop {state}"
        if error:
            what += f": {error}"
        log.warning("stop took over %.0f s (Kafka unreachable?), exiting: %s", self._budget_s, what)
        for handler in logging.getLogger().handlers:
            handler.flush()
        sys.stdout.flush()
        os._exit(code)


def quiet_thread_errors() -> None:
    """A client thread that fails while the broker is gone logs one line, not a traceback
    (aiokafka's consumer thread raises NodeNotReadyError from its stop)."""

    def hook(args: threading.ExceptHookArgs) -> None:
        name = args.thread.name if args.thread is not None else "?"
        log.warning("thread %s failed: %s: %s", name, args.exc_type.__name__, args.exc_value)

    threading.excepthook = hook
