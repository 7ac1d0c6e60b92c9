"""The ClickHouse client of the read-only commands (`query`, `report`, `calibrate`).

On a ClickHouse server it is :func:`dxpulse.clickhouse.connect`. On the embedded engine it
depends on who holds the data dir, since chDB lets one process open it:

- a running worker that published ``worker.json`` (streams/worker_endpoint.py): an HTTP
  client to that worker, which answers read-only SQL on the engine it owns. It is
  clickhouse-connect's own HTTP client, so the commands run unchanged on it;
- nobody: the engine itself, opened in this process; a data dir that does not exist is not
  created (there is nothing to read) but reported as unmigrated;
- another process (not a worker that serves queries): one line naming its pid.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError, OperationalError
from urllib3 import PoolManager

from dxpulse.clickhouse import connect
from dxpulse.core.config import Settings, redact_dsn
from dxpulse.core.errors import DxpulseError, one_line
from dxpulse.streams.worker_endpoint import WorkerEndpoint, chdb_path, endpoint_file, live_endpoint

# A little over the worker's own limit (streams/live_query.py), so its error arrives first.
READ_TIMEOUT_S = 150
_UNKNOWN_SCHEMA_CODES = (60, 81)  # UNKNOWN_TABLE, UNKNOWN_DATABASE
_PID = re.compile(rb"^PID: (\d+)", re.M)

Note = Callable[[str], None]


def open_reader(settings: Settings, note: Note) -> Client:
    """A client to read the configured ClickHouse with; ``note`` hears where it reads from
    when that is a running worker."""
    path = chdb_path(settings)
    if path is None:
        return connect(settings)
    endpoint = live_endpoint(settings)
    if endpoint is not None:
        client = connect_worker(endpoint)
        if client is not None:
            note(f"querying the running worker (pid {endpoint.pid}) at {endpoint.url}")
            return client
    if not Path(path).is_dir():
        raise DxpulseError(no_schema(settings))
    return _open_embedded(settings, path)


def connect_worker(endpoint: WorkerEndpoint) -> Client | None:
    """clickhouse-connect's HTTP client to the worker's endpoint; None when nothing answers
    there (the worker is stopping, or its pid now belongs to another process)."""
    try:
        return clickhouse_connect.get_client(
            host=endpoint.host,
            port=endpoint.port,
            proxy_path=endpoint.path,
            access_token=endpoint.token,
            compress=False,
            autogenerate_session_id=False,
            connect_timeout=5,
            send_receive_timeout=READ_TIMEOUT_S,
            # Its own pool: an HTTP(S)_PROXY in the environment must not see the token.
            pool_mgr=PoolManager(num_pools=1, maxsize=1),
        )
    except OperationalError:
        return None
    except ClickHouseError as exc:
        raise DxpulseError(
            f"the running worker (pid {endpoint.pid}) at {endpoint.url} refused this "
            f"connection: {one_line(exc)}"
        ) from exc


def _open_embedded(settings: Settings, path: str) -> Client:
    with _captured_stderr() as captured:
        try:
            return connect(settings)
        except DxpulseError as exc:
            if b"Cannot lock file" not in captured():
                raise
            raise DxpulseError(in_use(settings, path)) from exc


def in_use(settings: Settings, path: str) -> str:
    holder = _holder_pid(Path(path))
    who = f"another process (pid {holder})" if holder else "another process"
    return (
        f"{settings.data_dir} is open in {who} that does not answer queries for it "
        f"(no running worker's {endpoint_file(settings).name} there): wait until it ends"
    )


def _holder_pid(path: Path) -> int | None:
    """The pid in the engine's status file: chDB writes it while it holds the data dir."""
    try:
        found = _PID.search((path / "status").read_bytes())
    except OSError:
        return None
    return int(found.group(1)) if found else None


@contextlib.contextmanager
def _captured_stderr() -> Iterator[Callable[[], bytes]]:
    """Collect what is written to file descriptor 2 meanwhile (chDB prints a failed lock
    there itself, which would make a one-line error two); replayed unless asked for."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        taken = False

        def read() -> bytes:
            nonlocal taken
            taken = True
            sink.seek(0)
            return sink.read()

        try:
            yield read
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            if not taken:
                sink.seek(0)
                sys.stderr.buffer.write(sink.read())
                sys.stderr.flush()


def no_schema(settings: Settings) -> str:
    if settings.clickhouse.dsn is None:
        where = f"in {settings.data_dir}"
    elif chdb_path(settings) is not None:
        where = f"in {settings.clickhouse.dsn.removeprefix('chdb://')}"
    else:
        where = f"at {redact_dsn(settings.clickhouse_dsn())}"
    return f"no dxpulse schema {where}: run `dxpulse migrate` or `dxpulse run`"


def has_schema(client: Client, settings: Settings) -> bool:
    database = settings.clickhouse.database
    return str(client.command(f"EXISTS DATABASE {database}")).strip() == "1"


def require_schema(client: Client, settings: Settings) -> None:
    """A one-line error when dxpulse's database is missing, before a command reads it."""
    try:
        present = has_schema(client, settings)
    except ClickHouseError as exc:
        raise DxpulseError(one_line(exc)) from exc
    if not present:
        raise DxpulseError(no_schema(settings))


def explain_failure(client: Client, settings: Settings, exc: ClickHouseError) -> DxpulseError:
    """The error to show for a failed query: an unknown table or database in a data dir
    without dxpulse's schema says so; anything else is the engine's own line."""
    if getattr(exc, "code", None) in _UNKNOWN_SCHEMA_CODES or "UNKNOWN_" in str(exc):
        with contextlib.suppress(ClickHouseError):
            if not has_schema(client, settings):
                return DxpulseError(no_schema(settings))
    return DxpulseError(one_line(exc))
