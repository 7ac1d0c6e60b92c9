"""What a signal does to `dxpulse run`, which owns every process it starts.

The first SIGINT, SIGTERM or SIGHUP stops production; `run` then flushes the producer,
waits (bounded) until what was delivered is in ClickHouse, stops the worker and the broker
and prints its summary. A second one aborts at once: the worker and the broker are killed
and reaped, one line says what may not have landed, and `run` exits 128 + the signal's
number. Should `run` itself be killed, its children die with it (dxpulse/lifeline.py).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from rich.console import Console

from dxpulse.signals import StopSignals, exit_code


@dataclass
class Tally:
    """How far a run got, as the main thread last saw it; read by the abort, which cannot
    ask the main thread (it may be blocked in a flush)."""

    sent: int = 0  # as progress reported it: may trail the producer by one step
    delivered: int | None = None  # exact, once production ended and the producer flushed
    landed: int = 0  # committed to ClickHouse, at the worker's last status


class RunControl:
    """Stop signals for one run, and the children to kill if a second one comes."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.tally = Tally()
        self._owned: list[tuple[str, Callable[[], None]]] = []
        self.signals = StopSignals(self._stop, self._abort)

    def __enter__(self) -> RunControl:
        self.signals.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.signals.__exit__(exc_type, exc, tb)

    @property
    def stopping(self) -> bool:
        return self.signals.stopping

    @property
    def stopped_by(self) -> signal.Signals | None:
        return self.signals.first

    def own(self, name: str, kill: Callable[[], None]) -> None:
        """Register a started child (``name`` as the abort line names it) and its killer."""
        self._owned.append((name, kill))

    def _stop(self, signum: signal.Signals) -> None:
        self.console.print(
            f"Stopping production ({signum.name}): what was delivered lands first; "
            "a second signal (Ctrl-C) aborts.",
            markup=False,
            highlight=False,
        )

    def _abort(self, signum: signal.Signals) -> None:
        """Kill the children, newest first (the worker before its broker), say what may not
        have landed and exit; the main thread is not waited for."""
        names = []
        for name, kill in reversed(self._owned):
            kill()
            names.append(name)
        if self.console.is_terminal:
            os.write(1, b"\x1b[?25h\n")  # the live display hid the cursor
        line = f"dxpulse: aborted by a second {signum.name}: {self._lost(names)}\n"
        os.write(2, line.encode())
        os._exit(exit_code(signum))

    def _lost(self, killed: list[str]) -> str:
        what = f"killed {' and '.join(killed)}" if killed else "nothing had been started"
        t = self.tally
        if t.delivered is not None:
            rest = max(0, t.delivered - t.landed)
            return (
                f"{what}; {t.landed:,} of the {t.delivered:,} events delivered to Kafka were "
                f"in ClickHouse at the last check, the other {rest:,} may not have landed"
            )
        if t.sent:
            return (
                f"{what}; {t.landed:,} of about {t.sent:,} events sent were in ClickHouse at "
                "the last check, the others may not have landed"
            )
        return f"{what}; no event had been produced"
