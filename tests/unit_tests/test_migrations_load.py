"""Loading the migration set: the shipped one is found, and none at all is an error.

Before package data, a wheel install looked for deploy/clickhouse beside site-packages,
found nothing and migrated an empty set: no schema, exit 0, not a word.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dxpulse.clickhouse import MIGRATIONS_DIR, load_migrations
from dxpulse.core.errors import DxpulseError


def test_the_shipped_set_is_found_in_order() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert migrations[0].name == "001_database"
    assert len(migrations) == len([p for p in MIGRATIONS_DIR.iterdir() if p.name.endswith(".sql")])


@pytest.mark.parametrize("where", ["empty", "missing"])
def test_no_migrations_is_an_error_naming_the_directory(tmp_path: Path, where: str) -> None:
    directory = tmp_path / "clickhouse"
    if where == "empty":
        directory.mkdir()
        (directory / "README.txt").write_text("not a migration")
    with pytest.raises(DxpulseError, match="no migrations") as raised:
        load_migrations(directory)
    assert str(directory) in str(raised.value)
    assert "installation is incomplete" in str(raised.value)
