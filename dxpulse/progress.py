"""Progress of `run` and `produce` on a console that is not a terminal.

A terminal gets rich's live bars. A pipe or a log file gets neither bars nor escape codes
(rich prints a live display there only once, when it ends): instead a plain line now and
then, which is also what a script or a test can wait for before it signals the process.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

LINE_EVERY_S = 5.0


class PlainLines:
    """Prints a line on a non-terminal console at most every ``every_s`` (the first at once);
    prints nothing on a terminal, where the live bars show the same."""

    def __init__(self, console: Console, every_s: float = LINE_EVERY_S) -> None:
        self.console = console
        self.enabled = not console.is_terminal
        self.every_s = every_s
        self._next = 0.0

    def __call__(self, line: Callable[[], str], now: bool = False) -> None:
        """Print ``line()`` if it is time, or ``now``; ``line`` is not called otherwise."""
        if not self.enabled or (not now and time.monotonic() < self._next):
            return
        self._next = time.monotonic() + self.every_s
        self.console.print(line(), markup=False, highlight=False, soft_wrap=True)


def per_second(count: int, since: float) -> str:
    """``count`` over the time since the monotonic ``since``, as ``1,234/s``."""
    elapsed = time.monotonic() - since
    return f"{count / elapsed:,.0f}/s" if elapsed > 0 else "-"


class CountProgress:
    """One growing count (events sent) and its rate: a live bar on a terminal (a bar only
    when there is a total), a plain line every few seconds elsewhere."""

    def __init__(self, console: Console, verb: str, total: int | None = None) -> None:
        self.verb = verb
        self.count = 0
        self.lines = PlainLines(console)
        of = f" of {total:,}" if total else ""
        self.progress = Progress(
            TextColumn("{task.description}"),
            *([BarColumn()] if total else []),
            TextColumn("{task.completed:,.0f}" + of + " events"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            console=console,
            disable=not console.is_terminal,
        )
        self.task = self.progress.add_task(verb, total=total, rate="")
        self._started = time.monotonic()

    def __enter__(self) -> CountProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)

    def advance(self, n: int) -> None:
        self.count += n
        rate = per_second(self.count, self._started)
        self.progress.update(self.task, advance=n, rate=rate)
        self.lines(lambda: f"{self.verb} {self.count:,} events, {rate}")
