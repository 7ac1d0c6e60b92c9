"""The bounded stop's last word: one line, and an exit code saying if all was committed."""

from __future__ import annotations

import logging
import os
from types import SimpleNamespace

import pytest

from dxpulse.streams.shutdown import BoundedStopWorker
from dxpulse.streams.status import WorkerStatus

_UNCOMMITTED = (
    "DxpulseError: stopped while Kafka is unreachable: 12 messages are in ClickHouse but "
    "their offsets are not committed"
)


@pytest.mark.parametrize(
    ("state", "error", "code", "says"),
    [
        ("stopped", None, 0, "the ingest loop stopped cleanly"),
        ("failed", _UNCOMMITTED, 1, "12 messages"),
        ("running", None, 1, "ingest loop running"),  # still in its last flush
    ],
)
def test_the_deadline_exits_with_one_line(monkeypatch, caplog, state, error, code, says):
    exits: list[int] = []
    monkeypatch.setattr(os, "_exit", exits.append)
    status = WorkerStatus(state=state, error=error)
    caplog.set_level(logging.WARNING, logger="dxpulse.streams.shutdown")
    BoundedStopWorker._expire(SimpleNamespace(_status=status, _budget_s=8.0))
    assert exits == [code]
    [record] = caplog.records
    assert "stop took over 8 s" in record.getMessage() and says in record.getMessage()
