"""The deployment files dxpulse reads at run time, shipped inside the package.

``clickhouse`` (migrations and access SQL) and ``grafana`` (dashboards and provisioning) are
symbolic links to the repository's ``deploy/`` directories: docker-compose mounts those, and
git keeps one copy. Through the links they are package data, so a wheel carries them (the
build copies the files the links point at) and the code finds them with
``importlib.resources`` wherever dxpulse is installed, editable or not.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

CLICKHOUSE: Traversable = resources.files(__name__) / "clickhouse"
GRAFANA: Traversable = resources.files(__name__) / "grafana"


def sql_files(directory: Traversable) -> list[Traversable]:
    """The ``*.sql`` files directly in ``directory``, by name; none when it is missing (the
    callers decide whether that is an error)."""
    try:
        entries = list(directory.iterdir())
    except OSError:  # FileNotFoundError, NotADirectoryError: the same "not there"
        return []
    return sorted((f for f in entries if f.name.endswith(".sql") and f.is_file()), key=_name)


def _name(entry: Traversable) -> str:
    return entry.name
