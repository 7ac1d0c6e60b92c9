"""The tests' one reader of .env files (.env.example, what deploy/gen-env.sh writes).

python-dotenv reads them as docker compose does: quotes removed, an unquoted value's
` # comment` dropped, `export ` allowed. Two hand-written readers used to disagree (one kept
surrounding spaces, neither removed quotes or comments).
"""

from __future__ import annotations

from pathlib import Path

from dotenv import dotenv_values


def read_env(path: Path) -> dict[str, str]:
    """NAME -> value; a line without `=` is an error here, not a variable without a value."""
    values = dotenv_values(path, interpolate=False)
    bare = sorted(name for name, value in values.items() if value is None)
    assert bare == [], f"{path.name}: no '=' on the line of {bare}"
    return {name: value for name, value in values.items() if value is not None}
