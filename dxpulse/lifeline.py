"""Child processes that cannot outlive the process that started them.

`dxpulse run` starts a broker and a worker. Each starts in a session of its own, so a
terminal's Ctrl-C reaches only `run`, which then stops them in order. Should `run` itself
be killed (SIGKILL, the OOM killer), nothing is left to stop them: on Linux the kernel then
sends them SIGKILL, as asked with ``prctl(PR_SET_PDEATHSIG)``.

The ``prctl`` is made by this module run as a program, between the fork and the real
program: ``python -m dxpulse.lifeline PARENT_PID PROGRAM ARGS...`` sets the death signal
and execs PROGRAM, which keeps it (the kernel keeps it across ``execve`` of a program that
is not set-user-ID). It is not made in a ``preexec_fn``: that runs Python in the forked
copy of a process with threads (librdkafka's, our signal watcher), which the subprocess
documentation calls unsafe. If the parent died before the ``prctl`` took effect, the
parent-pid check sees it and the child exits instead of running unowned.

The kernel sends the death signal when the *thread* that started the child ends, not only
the process: call `spawn` from a thread that lives as long as the child should (`run` calls
it from its main thread).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

_PR_SET_PDEATHSIG = 1
# Exit code when the parent was already gone, or the program could not be executed.
_ORPHANED = 125
_NOT_EXECUTED = 127


def owned_command(command: Sequence[str]) -> list[str]:
    """``command`` behind the lifeline on Linux, so it dies with this process; as is elsewhere."""
    if not sys.platform.startswith("linux"):
        return list(command)
    return [sys.executable, "-m", "dxpulse.lifeline", str(os.getpid()), *command]


def spawn(command: Sequence[str], **popen: Any) -> subprocess.Popen[bytes]:
    """Start ``command`` in its own session, owned by this process (see the module's doc)."""
    return subprocess.Popen(owned_command(command), start_new_session=True, **popen)


def kill_group(proc: subprocess.Popen[bytes], wait_s: float) -> None:
    """SIGKILL the process group of a child that `spawn` started (its pid is the group's id:
    the group goes with it), then reap it for up to ``wait_s``, so it is not left a zombie."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=wait_s)


def _die_with(parent: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl(PR_SET_PDEATHSIG): {os.strerror(errno)}")
    if os.getppid() != parent:
        sys.stderr.write(f"dxpulse lifeline: parent {parent} is gone; not starting\n")
        os._exit(_ORPHANED)


def main(argv: Sequence[str]) -> None:
    """``PARENT_PID PROGRAM ARGS...``: die with PARENT_PID, then become PROGRAM."""
    parent, *command = argv
    _die_with(int(parent))
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        sys.stderr.write(f"dxpulse lifeline: cannot execute {command[0]}: {exc.strerror}\n")
        os._exit(_NOT_EXECUTED)


if __name__ == "__main__":
    main(sys.argv[1:])
