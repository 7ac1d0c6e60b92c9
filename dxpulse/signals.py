"""Stop signals for `run` and `produce`: the first asks for an orderly stop, a second aborts.

SIGINT (Ctrl-C), SIGTERM (`timeout`, systemd, docker) and SIGHUP (the terminal closed) are
handled alike. They are watched by a thread, woken through ``signal.set_wakeup_fd``: the
interpreter's C-level handler writes the signal's number to a pipe, whatever the main
thread is doing, even when it waits inside librdkafka or chDB. The Python-level handlers
do nothing, so no KeyboardInterrupt unwinds the main thread halfway through a flush; it
sees ``requested`` and stops in order. A second signal calls ``on_abort`` in the watching
thread, which must end the process itself (``os._exit``): it is the way out when the
orderly stop takes too long, so it must not wait for the main thread.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_QUIT = 0  # written by __exit__ to end the watcher; no signal has number 0


def exit_code(signum: signal.Signals) -> int:
    """128 + the signal's number, the exit status shells give a job a signal ended."""
    return 128 + int(signum)


def silence_hung_up(fds: tuple[int, ...]) -> None:
    """Point each of ``fds`` that was a terminal and is now hung up (it fails with EIO: the
    terminal was closed, hence the SIGHUP) at /dev/null. Nobody can see the output any more,
    and every later write would fail: the summary's, the abort line's, rich's live display's.
    A terminal still open is left alone, so a ``kill -HUP`` still shows the summary."""
    for fd in fds:
        try:
            os.write(fd, b"")
        except OSError as exc:
            if exc.errno != errno.EIO:
                continue
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, fd)
            os.close(devnull)


def _ignore(signum: int, frame: FrameType | None) -> None:
    """Python-level handler: the watcher thread acts on the signal, not the main thread."""


class StopSignals:
    """While entered: the first stop signal sets ``requested`` and calls ``on_stop``; any
    later one calls ``on_abort``, which does not return. Enter it in the main thread."""

    def __init__(
        self,
        on_stop: Callable[[signal.Signals], None],
        on_abort: Callable[[signal.Signals], None],
    ) -> None:
        self.on_stop = on_stop
        self.on_abort = on_abort
        self.requested = threading.Event()
        self.first: signal.Signals | None = None
        self._read_fd = self._write_fd = -1
        self._thread: threading.Thread | None = None
        self._previous: dict[signal.Signals, object] = {}
        self._previous_fd = -1
        self._terminals: tuple[int, ...] = ()

    def __enter__(self) -> StopSignals:
        self._terminals = tuple(fd for fd in (1, 2) if os.isatty(fd))
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._write_fd, False)  # set_wakeup_fd requires it
        self._thread = threading.Thread(target=self._watch, name="stop-signals", daemon=True)
        self._thread.start()
        self._previous_fd = signal.set_wakeup_fd(self._write_fd, warn_on_full_buffer=False)
        self._previous = {s: signal.signal(s, _ignore) for s in STOP_SIGNALS}
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        signal.set_wakeup_fd(self._previous_fd)
        os.write(self._write_fd, bytes([_QUIT]))
        if self._thread is not None:
            self._thread.join(timeout=1)
        os.close(self._write_fd)
        os.close(self._read_fd)

    @property
    def stopping(self) -> bool:
        return self.requested.is_set()

    def _watch(self) -> None:
        while True:
            for number in os.read(self._read_fd, 64):
                if number == _QUIT:
                    return
                if number in STOP_SIGNALS:
                    self._received(signal.Signals(number))

    def _received(self, signum: signal.Signals) -> None:
        silence_hung_up(self._terminals)
        if self.first is None:
            self.first = signum
            self.requested.set()
            # Saying so may fail (the terminal is gone after SIGHUP): the stop was requested
            # all the same, and the watcher must live on for a second signal.
            with contextlib.suppress(Exception):
                self.on_stop(signum)
            return
        try:
            self.on_abort(signum)
        finally:
            os._exit(exit_code(signum))  # on_abort should have ended the process already
