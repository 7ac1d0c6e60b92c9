"""A real ZooKeeper for the cluster-mode tests: Debian's ``zookeeper`` package, run as a
plain Java process (no systemd), memory and a temp directory only.

Why ZooKeeper and not ClickHouse Keeper: neither a ClickHouse server nor its Keeper runs
here, but chDB speaks the ZooKeeper protocol, and creates Replicated tables through it (they
then stay read-only: chDB has no replication threads). Where the package is missing it is
installed with apt-get when that is possible (root, apt-get present, as in CI); otherwise
the test is skipped and says why. Nothing else is downloaded.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.debian import installed

JARS = Path("/usr/share/java")
MAIN = "org.apache.zookeeper.server.ZooKeeperServerMain"
START_TIMEOUT_S = 60


def _classpath() -> str | None:
    if not (JARS / "zookeeper.jar").exists() or shutil.which("java") is None:
        return None
    return ":".join(str(p) for p in sorted(JARS.glob("*.jar")))


def installed_classpath() -> str:
    """The Java classpath of the zookeeper package, installed first when missing."""
    return installed("zookeeper", _classpath, "its jars or java")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _answers(port: int) -> bool:
    """ZooKeeper's ``ruok`` four-letter word: ``imok`` once it serves."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"ruok")
            return s.recv(16) == b"imok"
    except OSError:
        return False


@contextmanager
def zookeeper(directory: Path) -> Iterator[int]:
    """A standalone ZooKeeper on a free loopback port (yielded), stopped on exit."""
    classpath = installed_classpath()
    port = _free_port()
    (directory / "data").mkdir(parents=True)
    config = directory / "zoo.cfg"
    config.write_text(
        f"tickTime=2000\ndataDir={directory / 'data'}\nclientPort={port}\n"
        "clientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=ruok\n",
        "utf-8",
    )
    log = (directory / "zookeeper.log").open("wb")
    process = subprocess.Popen(
        ["java", "-Xmx256m", "-cp", classpath, f"-Dzookeeper.log.dir={directory}",
         "-Dzookeeper.root.logger=WARN,CONSOLE", MAIN, str(config)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = (directory / "zookeeper.log").read_text("utf-8", "replace")[-1500:]
                raise AssertionError(f"ZooKeeper did not start: {tail}")
            time.sleep(0.2)
        yield port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
