"""`dxpulse` commands as real processes, signalled the way a terminal, `timeout` or systemd
signals them, and the process table read back to prove that nothing they started is left.

Every process is started in its own session with a marker in its environment
(``LIFECYCLE_MARK``); the children of `run` inherit it, so a walk of ``/proc`` finds them
wherever they were re-parented to. A zombie has no readable environment, so the pids (and
start times, against pid reuse) of the run's descendants are also recorded while it runs.
"""

from __future__ import annotations

import os
import pty
import queue
import re
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

MARK = "LIFECYCLE_MARK"
# A terminal's output, read back as text: its escape sequences (colours, cursor moves of a
# live display) removed, and carriage returns taken as line ends.
_ESCAPES = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|[@-Z\\-_])")


def base_env(**extra: str) -> dict[str, str]:
    """The test's environment without DXPULSE_* variables, a wide console, and ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DXPULSE_")}
    return {**env, "COLUMNS": "200", "NO_COLOR": "1", **extra}


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, start time) of a process, or None when there is no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1]), int(fields[19])


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def marked(mark: str) -> list[int]:
    """Live processes whose environment carries ``LIFECYCLE_MARK=mark``."""
    want = f"{MARK}={mark}".encode()
    found = []
    for pid in _pids():
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if want in environ.split(b"\0"):
            found.append(pid)
    return found


def descendants(root: int) -> dict[int, int]:
    """pid -> start time of every process below ``root`` right now."""
    children: dict[int, list[int]] = {}
    starts: dict[int, int] = {}
    for pid in _pids():
        stat = _stat(pid)
        if stat is not None:
            children.setdefault(stat[1], []).append(pid)
            starts[pid] = stat[2]
    found: dict[int, int] = {}
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found[child] = starts[child]
            todo.append(child)
    return found


def describe(pid: int) -> str:
    stat = _stat(pid)
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
    except OSError:
        cmd = "?"
    return f"pid {pid} {stat and stat[0]} ppid {stat and stat[1]}: {cmd}"


@dataclass
class Command:
    """A `python -m dxpulse ...` process in its own session, its output read as it comes."""

    args: list[str]
    env: dict[str, str] = field(default_factory=base_env)
    wrapper: list[str] = field(default_factory=list)
    terminal: bool = False  # stdout and stderr on a pseudo-terminal, read back as "stdout"

    def __post_init__(self) -> None:
        self.mark = uuid.uuid4().hex
        self.seen: dict[int, int] = {}  # descendants recorded while running
        self.lines: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self._new: queue.Queue[tuple[str, str]] = queue.Queue()
        self._hang_up = threading.Event()
        if self.terminal:
            self._start_on_terminal()
            return
        self.proc = subprocess.Popen(
            [*self.wrapper, sys.executable, "-m", "dxpulse", *self.args],
            env={**self.env, MARK: self.mark},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group, like a job in a terminal
        )
        self._readers = [
            threading.Thread(target=self._read, args=(name, getattr(self.proc, name)), daemon=True)
            for name in ("stdout", "stderr")
        ]
        for reader in self._readers:
            reader.start()

    def _start_on_terminal(self) -> None:
        """As a job in a terminal: its own process group, its output on a pty (so that rich
        draws its live display), Ctrl-C sent to its group by ``signal_group``."""
        master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [*self.wrapper, sys.executable, "-m", "dxpulse", *self.args],
            env={**self.env, MARK: self.mark, "TERM": "xterm"},
            stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, start_new_session=True,
        )  # fmt: skip
        os.close(slave)
        self._readers = [threading.Thread(target=self._read_terminal, args=(master,), daemon=True)]
        self._readers[0].start()

    def _read_terminal(self, master: int) -> None:
        pending = ""
        while not self._hang_up.is_set():
            if not select.select([master], [], [], 0.1)[0]:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every process holding the pty's other end is gone
                chunk = b""
            if not chunk:
                break
            pending += _ESCAPES.sub("", chunk.decode(errors="replace"))
            *done, pending = re.split(r"\r\n|\r|\n", pending)
            for line in done:
                self.lines["stdout"].append(line)
                self._new.put(("stdout", line))
        os.close(master)
        if pending:
            self.lines["stdout"].append(pending)

    def hang_up(self) -> None:
        """Close the terminal, as closing its window does: the pty's master end is closed
        (by its reader), and the command's writes to it fail with EIO from then on."""
        self._hang_up.set()
        self._readers[0].join(timeout=30)

    def _read(self, name: str, stream: IO[str]) -> None:
        for line in stream:
            self.lines[name].append(line.rstrip("\n"))
            self._new.put((name, line))

    @property
    def stdout(self) -> str:
        return "\n".join(self.lines["stdout"])

    @property
    def stderr(self) -> str:
        return "\n".join(self.lines["stderr"])

    def wait_line(self, pattern: str, stream: str = "stdout", timeout_s: float = 180) -> str:
        """The first line of ``stream`` matching ``pattern``, waiting for it (a guard, not a
        timed assertion). Records the descendants of the process meanwhile."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout_s
        checked = 0
        while time.monotonic() < deadline:
            self.record()
            lines = self.lines[stream]
            for line in lines[checked:]:
                if regex.search(line):
                    return line
            checked = len(lines)
            if self.proc.poll() is not None and self._new.empty():
                break
            with suppress(queue.Empty):
                self._new.get(timeout=0.2)
        raise AssertionError(
            f"no line matching {pattern!r} on {stream}; exit {self.proc.poll()}\n"
            f"stdout: {self.stdout[-3000:]}\nstderr: {self.stderr[-3000:]}"
        )

    def record(self) -> None:
        if self.proc.poll() is None:
            self.seen.update(descendants(self.proc.pid))

    def signal_group(self, signum: int) -> None:
        """As a terminal does for Ctrl-C: to every process in the job's process group."""
        os.killpg(self.proc.pid, signum)

    def signal(self, signum: int) -> None:
        """As `kill`, `timeout` or systemd do: to the process itself."""
        self.proc.send_signal(signum)

    def wait(self, timeout_s: float = 240) -> int:
        """Its exit code, once it exited and its output was read to the end (a guard)."""
        code = self.proc.wait(timeout=timeout_s)
        for reader in self._readers:
            reader.join(timeout=30)
        return code

    def left_behind(self) -> list[str]:
        """Processes of this command still in the process table: live ones carrying its mark
        anywhere, and any recorded descendant still there (a zombie included)."""
        pids = set(marked(self.mark))
        for pid, started in self.seen.items():
            stat = _stat(pid)
            if stat is not None and stat[2] == started:
                pids.add(pid)
        pids.discard(os.getpid())
        return [describe(pid) for pid in sorted(pids)]

    def kill_everything(self) -> None:
        """Cleanup after a failed test: SIGKILL the command and whatever carries its mark."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        for pid in marked(self.mark):
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@contextmanager
def started(args: list[str], **kwargs: object) -> Iterator[Command]:
    """A Command that is killed with everything it started when the block ends."""
    command = Command(args, **kwargs)  # type: ignore[arg-type]
    try:
        yield command
    finally:
        command.kill_everything()


def wait_gone(command: Command, timeout_s: float = 30) -> list[str]:
    """What is left of the command once nothing more goes away within ``timeout_s``: the
    processes a signal stopped may take a moment to be reaped."""
    deadline = time.monotonic() + timeout_s
    left = command.left_behind()
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = command.left_behind()
    return left
