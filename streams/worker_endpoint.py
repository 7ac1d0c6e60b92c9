"""``worker.json``: where a running worker answers read-only queries on the data dir it owns.

chDB lets one process open a data directory. While ``dxpulse worker`` (or ``run``'s worker)
holds one, ``query``, ``report`` and ``calibrate`` cannot open it; they read this file instead
and send their SQL to the worker (streams/live_query.py). The worker writes it once its
endpoint answers and removes it when it stops. A worker killed outright leaves it behind, so
a reader trusts it only while its pid is alive and its chDB path is the one asked for.

The file holds a random token that the endpoint requires: it is written with mode 0600, so
only the worker's own user (who could open the data dir anyway) can query through it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from dxpulse.core.config import Settings

FILE_NAME = "worker.json"
URL_PATH = "/clickhouse"  # the endpoint's path on the worker's status port
_LOOPBACK_ANY = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


@dataclass(frozen=True)
class WorkerEndpoint:
    pid: int
    host: str
    port: int
    path: str
    token: str
    chdb_path: str
    started_at: str

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.path}"


def endpoint_file(settings: Settings) -> Path:
    return settings.data_dir / FILE_NAME


def chdb_path(settings: Settings) -> str | None:
    """The real path of the embedded engine the settings name, or None for a server."""
    dsn = settings.clickhouse_dsn()
    if not dsn.startswith("chdb://"):
        return None
    # clickhouse-connect opens chDB at the real path, and chDB compares paths literally.
    return os.path.realpath(dsn.removeprefix("chdb://"))


def new_endpoint(settings: Settings, host: str, port: int) -> WorkerEndpoint:
    """This process's endpoint, with a fresh token; a listener on any address is reached
    through loopback."""
    path = chdb_path(settings)
    assert path is not None, "only an embedded engine is served"
    return WorkerEndpoint(
        pid=os.getpid(),
        host=_LOOPBACK_ANY.get(host, host),
        port=port,
        path=URL_PATH,
        token=secrets.token_urlsafe(32),
        chdb_path=path,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def write(file: Path, endpoint: WorkerEndpoint) -> None:
    """Publish atomically (a reader never sees half a file), readable by this user only."""
    file.parent.mkdir(parents=True, exist_ok=True)
    partial = file.with_name(f".{file.name}.{endpoint.pid}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(orjson.dumps(asdict(endpoint), option=orjson.OPT_INDENT_2) + b"\n")
    os.replace(partial, file)


def remove(file: Path, endpoint: WorkerEndpoint) -> None:
    """Remove the file if it is still this endpoint's (never another worker's)."""
    if read(file) == endpoint:
        with contextlib.suppress(FileNotFoundError):
            file.unlink()


def read(file: Path) -> WorkerEndpoint | None:
    """The endpoint in ``file``; None when there is none or it cannot be read as one."""
    try:
        data = orjson.loads(file.read_bytes())
        return WorkerEndpoint(**{name: data[name] for name in WorkerEndpoint.__dataclass_fields__})
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError):
        return None


def live_endpoint(settings: Settings) -> WorkerEndpoint | None:
    """The running worker that owns the settings' embedded engine, if any: its file exists,
    names the same chDB path, and its process is alive."""
    path = chdb_path(settings)
    if path is None:
        return None
    endpoint = read(endpoint_file(settings))
    if endpoint is None or endpoint.chdb_path != path or not pid_alive(endpoint.pid):
        return None
    return endpoint


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True
