"""The data directory (``DXPULSE_DATA_DIR``): embedded chDB data, Faust's state, the worker's
log. Checked before anything is started, so that an unusable one is one clear line, not a
traceback after a broker, topics and a worker were started only to fail on it."""

from __future__ import annotations

import tempfile
from pathlib import Path

from dxpulse.core.errors import DxpulseError


def prepare_data_dir(path: Path) -> None:
    """Create the data directory and prove it writable, before anything is started: a
    broker, topics and a worker started only to fail on ``worker.log`` are left behind."""
    if path.exists() and not path.is_dir():
        raise DxpulseError(f"the data directory {path} is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DxpulseError(f"cannot create the data directory {path}: {exc.strerror}") from exc
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise DxpulseError(f"the data directory {path} is not writable: {exc.strerror}") from exc
