"""What a worker checks and says before Faust takes over: one line, or one error.

Faust reports a taken web port as a 47-line traceback from deep inside its web server,
long after the consumer group was joined; checking the port first turns it into one line
and a non-zero exit. The startup line replaces Faust's banner and spinner (off: their
cursor escapes litter terminals and log files alike) with what an operator needs: where
the worker reads, where it writes, and where its status page is.
"""

from __future__ import annotations

import errno
import socket

from dxpulse.core.config import Settings, redact_dsn
from dxpulse.core.errors import DxpulseError


def ensure_port_free(host: str, port: int) -> None:
    """Raise one clear :class:`DxpulseError` if the status page could not listen there.

    The probe socket sets SO_REUSEADDR as aiohttp does, so a port in TIME_WAIT (a worker
    just restarted) is not mistaken for one in use."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            why = "is already in use" if exc.errno == errno.EADDRINUSE else f"failed: {exc}"
            raise DxpulseError(
                f"web port {host}:{port} {why}; pass --web-port or set DXPULSE_WEB__PORT"
            ) from None


def startup_line(settings: Settings) -> str:
    """One line: broker, ClickHouse (password redacted), topics and partitions, status URL."""
    kafka = settings.kafka
    topics = ", ".join(kafka.event_topics)
    return (
        f"dxpulse worker: Kafka {kafka.bootstrap_servers} ({kafka.security_protocol}), "
        f"group {kafka.group_id}; ClickHouse {redact_dsn(settings.clickhouse_dsn())} "
        f"database {settings.clickhouse.database}; topics {topics} "
        f"({kafka.partitions} partitions each); status "
        f"http://{settings.web.host}:{settings.web.port}/status"
    )
