"""The Faust application: worker lifecycle, web status, and the dead-letter monitor agent.

Faust runs the worker (signals, graceful shutdown, logging, the HTTP status page) and a
low-volume agent that watches the dead-letter topic. The high-volume path is the
:class:`~streams.ingest.IngestLoop`, run as a Faust service in its own thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import faust
from faust.web import Request, Response, View
from mode import Service
from prometheus_client import generate_latest

from dxpulse.core.config import Settings
from dxpulse.streams import lograte
from dxpulse.streams.deadletter import parse_headers
from dxpulse.streams.ingest import IngestLoop
from dxpulse.streams.live_query import install as install_live_queries
from dxpulse.streams.metrics import CONTENT_TYPE, worker_registry
from dxpulse.streams.status import WorkerStatus

log = logging.getLogger(__name__)


def health_body(snap: dict[str, Any]) -> dict[str, Any]:
    """/health: 200 while the loop runs and Kafka and ClickHouse answer (streams/liveness.py),
    else 503 with the first reason; ``down`` lists them all."""
    health = snap.get("health") or {}
    healthy = snap["state"] == "running" and bool(health.get("healthy", True))
    return {
        "healthy": healthy,
        "state": snap["state"],
        "reason": None if healthy else snap.get("reason") or snap.get("error"),
        "down": health.get("down", []),
    }


def create_app(settings: Settings, ingest: IngestLoop, status: WorkerStatus) -> faust.App:
    """The worker's Faust app: the dead-letter monitor, the status, health and metrics
    pages, /clickhouse, and the ingest loop as a supervised service."""
    app = _faust_app(settings)
    _install_dead_letter_monitor(app, settings.kafka.dead_letter_topic, status)
    _install_status_pages(app, status)
    install_live_queries(app, settings)  # /clickhouse: read-only SQL on an embedded engine
    _install_ingest_service(app, settings, ingest)
    _install_metrics_page(app, status)
    return app


def _faust_app(settings: Settings) -> faust.App:
    kafka = settings.kafka
    return faust.App(
        f"{kafka.group_id}-monitor",
        **kafka.faust_config(),  # the same servers, protocol and credentials as librdkafka's
        store="memory://",
        web_enabled=True,
        web_host=settings.web.host,
        web_port=settings.web.port,
        web_bind=settings.web.host,
        topic_disable_leader=True,
        broker_session_timeout=kafka.session_timeout_ms / 1000,
        broker_heartbeat_interval=max(0.1, kafka.session_timeout_ms / 5000),
        consumer_auto_offset_reset="earliest",
        datadir=str(settings.data_dir / "faust"),
    )


def _install_dead_letter_monitor(app: faust.App, topic: str, status: WorkerStatus) -> None:
    dead_letter_topic = app.topic(
        topic, value_type=bytes, value_serializer="raw", key_serializer="raw"
    )

    @app.agent(dead_letter_topic)
    async def dead_letter_monitor(stream: Any) -> None:
        async for event in stream.events():
            headers = parse_headers(list(event.message.headers or []))
            code = headers.get("code", "unknown")
            with status.lock:
                status.dead_letter_topic_seen[code] += 1


def _install_status_pages(app: faust.App, status: WorkerStatus) -> None:
    @app.page("/status")
    class StatusView(View):
        async def get(self, request: Request) -> Response:
            return self.json(status.snapshot())

    @app.page("/health")
    class HealthView(View):
        async def get(self, request: Request) -> Response:
            body = health_body(status.snapshot())
            return self.json(body, status=200 if body["healthy"] else 503)


def _install_ingest_service(app: faust.App, settings: Settings, ingest: IngestLoop) -> None:
    @app.service
    class IngestService(Service):
        _future: asyncio.Future[None] | None = None

        async def on_started(self) -> None:
            # Faust has set up logging by now: hold back the client libraries' repeats.
            lograte.install(settings.stream.log_reminder_s, time.monotonic)
            self._future = asyncio.get_running_loop().run_in_executor(None, ingest.run)
            self.add_future(self._supervise())

        async def _supervise(self) -> None:
            assert self._future is not None
            try:
                await asyncio.shield(self._future)
            except Exception as exc:
                log.error("ingest loop failed: %s", exc)
                await self.crash(exc)

        async def on_stop(self) -> None:
            ingest.stop()  # the stop signal already did, with a budget (streams/shutdown.py)
            if self._future is not None:
                await asyncio.shield(self._future)


def _install_metrics_page(app: faust.App, status: WorkerStatus) -> None:
    metrics = worker_registry(status)  # the worker's own registry (streams/metrics.py)

    @app.page("/metrics")
    class MetricsView(View):
        async def get(self, request: Request) -> Response:
            return self.bytes(generate_latest(metrics), headers={"Content-Type": CONTENT_TYPE})
