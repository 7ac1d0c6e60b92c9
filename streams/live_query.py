"""Read-only SQL on the worker's status port, for the commands that cannot open its chDB.

chDB lets one process own a data dir, so while a worker runs, `dxpulse query`, `report` and
`calibrate` on that dir ask the worker instead (dxpulse/readers.py). The worker speaks the
part of ClickHouse's HTTP interface that clickhouse-connect's HTTP client uses (POST the
statement, parameters in the URL, the result in the requested format, the exception code in
a header), so those commands run their usual ``Client`` code unchanged against it.

Guard, in order: a bearer token that only the worker's user can read (worker.json, mode
0600); loopback only; one read-only statement (streams/live_sql.py); and the statement runs
on a chDB session of its own with ``readonly = 1`` and bounded time, result and memory.

That session is a second handle to the engine the sink writes through, with its own lock:
a query never waits for the sink's lock nor holds it, so ingest goes on while a report runs
(sharing the CPU: a query gets one thread, see ``LIMITS``).
"""

from __future__ import annotations

import asyncio
import atexit
import ipaddress
import logging
import socket
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import faust
import orjson
from faust.web import Request, Response, View
from mode import Service

from dxpulse.core import extras
from dxpulse.core.config import Settings
from dxpulse.core.waits import WaitTimedOut, poll
from dxpulse.streams import worker_endpoint
from dxpulse.streams.live_sql import LiveRequest, Refusal, authorized, engine_refusal, parse_request
from dxpulse.streams.worker_endpoint import URL_PATH, WorkerEndpoint, chdb_path

log = logging.getLogger(__name__)

# Per statement. A report runs about forty small ones; an ad-hoc query over the raw events
# of a long run fits easily. Beyond these, the statement fails with the engine's own error.
LIMITS: dict[str, int | str] = {
    "max_execution_time": 120,
    "max_result_rows": 1_000_000,
    "max_result_bytes": 256 * 1024 * 1024,
    "result_overflow_mode": "throw",
    "max_memory_usage": 2 * 1024 * 1024 * 1024,
    # One core for the query, so that ingest keeps the other (see the module docstring).
    "max_threads": 1,
}
QUEUE_WAIT_S = 30.0  # a second query waits this long for the first, then is told to retry
_CONTENT_TYPES = {
    "Native": "application/octet-stream",
    "RowBinary": "application/octet-stream",
    "JSON": "application/json",
    "JSONCompact": "application/json",
    "JSONEachRow": "application/x-ndjson",
    "CSV": "text/csv",
    "CSVWithNames": "text/csv",
}


@dataclass(frozen=True)
class Answer:
    body: bytes
    fmt: str
    summary: dict[str, str]


def busy(message: str) -> Refusal:
    return Refusal(202, "TOO_MANY_SIMULTANEOUS_QUERIES", message, status=503)


class ReadOnlyEngine:
    """A read-only chDB session on the engine this process already hosts; one statement at
    a time."""

    def __init__(self, path: str, limits: dict[str, int | str] = LIMITS) -> None:
        self.path = path
        self.limits = limits
        self.timezone = "UTC"
        self._conn: Any = None
        self._database = ""
        self._lock = threading.Lock()

    def open(self) -> None:
        with self._lock:
            self._conn = self._connect()
            tz = self._conn.query("SELECT timezone()", "TabSeparated").bytes()
            self.timezone = tz.decode().strip() or "UTC"

    def _connect(self) -> Any:
        chdb = extras.load("chdb", "embedded", extras.CHDB)  # only a worker on chDB gets here
        conn = chdb.connect(self.path)
        for name, value in self.limits.items():
            conn.query(f"SET {name} = {_literal(value)}")
        conn.query("SET readonly = 1")  # last: from here on no setting can change
        self._database = ""
        return conn

    def execute(self, request: LiveRequest, wait_s: float = QUEUE_WAIT_S) -> Answer:
        if not self._lock.acquire(timeout=wait_s):
            raise busy(f"the worker is answering another query (waited {wait_s:g} s); retry")
        try:
            if self._conn is None:
                raise busy("the worker is not answering queries (starting or stopping)")
            return self._run(request)
        finally:
            self._lock.release()

    def _run(self, request: LiveRequest) -> Answer:
        try:
            self._use(request.database or "default")
            result = self._conn.query(request.sql, request.fmt, params=request.params)
            body = result.bytes() or b""
        except Exception as exc:
            # chDB can hand a failed statement's partial output to the session's next one
            # (seen after "Limit for result exceeded"): start each failure's successor afresh.
            self._reopen()
            raise engine_refusal(str(exc)) from exc
        return Answer(body, request.fmt, _summary(result, len(body)))

    def _use(self, database: str) -> None:
        if database != self._database:
            self._conn.query(f"USE {_identifier(database)}")
            self._database = database

    def _reopen(self) -> None:
        try:
            self._conn.close()
        finally:
            self._conn = self._connect()

    def close(self, wait_s: float = 5.0) -> None:
        """Close unless a statement is still running (its thread owns the session; the
        process exit ends it)."""
        if self._lock.acquire(timeout=wait_s):
            try:
                if self._conn is not None:
                    self._conn.close()
                self._conn = None
            finally:
                self._lock.release()


def _literal(value: int | str) -> str:
    return str(value) if isinstance(value, int) else "'" + value.replace("'", "\\'") + "'"


def _identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def _summary(result: Any, result_bytes: int) -> dict[str, str]:
    try:
        return {
            "read_rows": str(result.rows_read()),
            "read_bytes": str(result.bytes_read()),
            "written_rows": "0",
            "written_bytes": "0",
            "result_bytes": str(result_bytes),
            "elapsed_ns": str(int(result.elapsed() * 1e9)),
        }
    except Exception:  # statistics are a courtesy; the result is what matters
        return {}


class LiveQueries:
    """The endpoint's state: the read-only engine, its published endpoint and its token."""

    def __init__(self, settings: Settings, path: str) -> None:
        self.settings = settings
        self.engine = ReadOnlyEngine(path)
        self.endpoint: WorkerEndpoint | None = None
        self.file = worker_endpoint.endpoint_file(settings)
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="live-query")

    def start(self) -> None:
        """Open the engine session, wait until the status port answers, then publish."""
        self.engine.open()
        web = self.settings.web
        endpoint = worker_endpoint.new_endpoint(self.settings, web.host, web.port)
        _wait_listening(endpoint.host, endpoint.port)
        worker_endpoint.write(self.file, endpoint)
        self.endpoint = endpoint
        atexit.register(self.unpublish)  # also on an exit that skips the service's stop
        log.info("answering read-only queries at %s (token in %s)", endpoint.url, self.file)

    def unpublish(self) -> None:
        if self.endpoint is not None:
            worker_endpoint.remove(self.file, self.endpoint)

    def stop(self) -> None:
        self.unpublish()
        self.endpoint = None
        self.engine.close()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def handle(self, view: View, request: Request) -> Response:
        query_id = request.query.get("query_id") or str(uuid.uuid4())
        try:
            answer = await self._answer(request)
        except Refusal as refusal:
            return view.bytes(
                refusal.body(),
                content_type="text/plain",
                status=refusal.status,
                headers={"X-ClickHouse-Exception-Code": str(refusal.code),
                         "X-ClickHouse-Query-Id": query_id},
            )  # fmt: skip
        headers = {
            "X-ClickHouse-Format": answer.fmt,
            "X-ClickHouse-Timezone": self.engine.timezone,
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Summary": orjson.dumps(answer.summary).decode(),
            "X-ClickHouse-Server-Display-Name": f"dxpulse-worker-{self.endpoint_pid()}",
        }
        content_type = _CONTENT_TYPES.get(answer.fmt, "text/plain")
        return view.bytes(answer.body, content_type=content_type, headers=headers)

    def endpoint_pid(self) -> int:
        return self.endpoint.pid if self.endpoint is not None else 0

    async def _answer(self, request: Request) -> Answer:
        endpoint = self.endpoint
        if endpoint is None:
            raise busy("the worker is not answering queries (starting or stopping)")
        if not authorized(request.headers.get("Authorization"), endpoint.token):
            raise Refusal(
                516,
                "AUTHENTICATION_FAILED",
                f"wrong or missing token: it is in {self.file}, readable by the worker's user",
                status=403,
            )
        if request.headers.get("Content-Type", "").startswith("multipart/"):
            raise Refusal(48, "NOT_IMPLEMENTED", "form-encoded queries are not supported")
        parsed = parse_request(dict(request.query), await request.read())
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.engine.execute, parsed)


def _wait_listening(host: str, port: int, timeout_s: float = 10.0) -> None:
    """Until the port accepts a connection; past ``timeout_s``, the last refusal (OSError)."""
    try:
        poll(
            lambda: socket.create_connection((host, port), timeout=1).close(),
            timeout_s=timeout_s,
            interval_s=0.1,
            retry_on=(OSError,),
        )
    except WaitTimedOut as exc:
        assert exc.last.error is not None
        raise exc.last.error from None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def install(app: faust.App, settings: Settings) -> None:
    """Serve read-only queries at /clickhouse on the status port, when this worker owns an
    embedded engine and the status port listens on loopback only."""
    path = chdb_path(settings)
    if path is None:
        return  # a ClickHouse server: analysts query it directly
    if not is_loopback(settings.web.host):
        log.warning(
            "not answering queries on %s: the status page is not on loopback (the token would "
            "cross the network in clear); `dxpulse query` needs the worker stopped",
            settings.web.host,
        )
        return
    live = LiveQueries(settings, path)

    @app.page(URL_PATH)
    class LiveQueryView(View):
        async def get(self, request: Request) -> Response:
            return await live.handle(self, request)

        async def post(self, request: Request) -> Response:
            return await live.handle(self, request)

    @app.page(URL_PATH + "/ping")
    class LiveQueryPing(View):
        async def get(self, request: Request) -> Response:
            return self.bytes(b"Ok.\n", content_type="text/plain")

    @app.service
    class LiveQueryService(Service):
        async def on_start(self) -> None:
            await asyncio.get_running_loop().run_in_executor(None, live.start)

        async def on_stop(self) -> None:
            await asyncio.get_running_loop().run_in_executor(None, live.stop)
