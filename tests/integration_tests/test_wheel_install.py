"""dxpulse installed from its wheel, not editable, run from outside the checkout.

The wheel is built offline and installed into a fresh venv (tests/wheel.py); every command
runs from a temporary directory with no PYTHONPATH, so only the wheel's files can answer.
The first test proves that, the next ones run the README's path on that installation:
`migrate`, then `run --count 2000` whose exactness checks must all hold.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import NamedTuple

import pytest

from dxpulse.clickhouse import load_migrations
from tests.integration_tests.test_cli import _checks
from tests.wheel import ROOT, build_wheel, clean_env, dependency_dirs, install_wheel

COUNT = 2_000


class Installed(NamedTuple):
    venv: Path
    bin: Path
    cwd: Path  # empty, outside the checkout: what a relative path or sys.path[0] would see


# The module-scoped fixture below is set up once per xdist worker that runs a test of this
# module: the module runs on one worker (bin/test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("test_wheel_install")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    work = tmp_path_factory.mktemp("wheel-install")
    venv = work / "venv"
    bin_dir = install_wheel(build_wheel(work), venv)
    cwd = work / "cwd"
    cwd.mkdir()
    return Installed(venv, bin_dir, cwd)


def _dxpulse(
    installed: Installed, *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(installed.bin / "dxpulse"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=installed.cwd,
        env=clean_env(DXPULSE_KAFKA__SESSION_TIMEOUT_MS="2000"),
        stdin=subprocess.DEVNULL,
    )


_WHERE = """
import json, sys
import dxpulse, dxpulse.deploy
from dxpulse import dashboards, producers, schemas, streams
from dxpulse.clickhouse import MIGRATIONS_DIR
print(json.dumps({
    "modules": [m.__file__ for m in (dashboards, dxpulse, producers, schemas, streams)],
    "migrations": str(MIGRATIONS_DIR),
    "sys_path": sys.path,
}))
"""


def test_the_installed_dxpulse_is_the_wheels_not_the_checkouts(installed: Installed) -> None:
    done = subprocess.run(
        [str(installed.bin / "python"), "-c", _WHERE],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=installed.cwd,
        env=clean_env(),
    )
    assert done.returncode == 0, done.stderr
    where = json.loads(done.stdout)
    venv = installed.venv.resolve()
    for module in where["modules"]:
        assert Path(module).resolve().is_relative_to(venv), module
    assert Path(where["migrations"]).resolve().is_relative_to(venv)
    # Within the checkout only this venv's site-packages (the dependencies) is on the path;
    # that holds the editable install's finder, which the plain .pth line does not run.
    dependencies = {Path(p).resolve() for p in dependency_dirs()}
    on_path = [Path(p).resolve() for p in where["sys_path"] if p]
    assert [p for p in on_path if p.is_relative_to(ROOT) and p not in dependencies] == []


def test_migrate_then_run_count_2000_from_the_wheel_is_exact(
    installed: Installed, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    migrated = _dxpulse(installed, "migrate", "--data-dir", str(data))
    assert migrated.returncode == 0, migrated.stdout[-3000:] + migrated.stderr[-3000:]
    recorded = _dxpulse(
        installed,
        "query",
        "SELECT count() FROM dxpulse.schema_migrations",
        "--format",
        "csv",
        "--data-dir",
        str(data),
    )
    assert recorded.returncode == 0, recorded.stderr
    assert recorded.stdout.split() == ["count()", str(len(load_migrations()))]

    done = _dxpulse(installed, "run", "--count", str(COUNT), "--seed", "7", "--data-dir", str(data))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    checks = _checks(done.stdout)
    assert checks and {name: mark for name, (_, _, mark) in checks.items() if mark != "ok"} == {}
    added = checks["raw rows this run added = valid events it produced"]
    assert added == (f"{COUNT:,}", f"{COUNT:,}", "ok")
    # Its hints name the installed command: there is no ./bin/dxpulse without a checkout.
    assert "try: dxpulse query" in done.stdout and "./bin/dxpulse" not in done.stdout
    counted = _dxpulse(
        installed,
        "query",
        "SELECT count(), uniqExact(event_id), (SELECT sum(events) FROM dxpulse.event_aggregates) "
        "FROM dxpulse.events",
        "--format",
        "csv",
        "--data-dir",
        str(data),
    )
    assert counted.returncode == 0, counted.stderr
    assert counted.stdout.splitlines()[1].split(",") == [str(COUNT)] * 3


@pytest.mark.parametrize("argv", [["dashboards", "build"], ["schemas", "export"]])
def test_developer_commands_from_the_wheel_say_so(installed: Installed, argv: list[str]) -> None:
    before = sorted(p for p in installed.venv.rglob("*") if "__pycache__" not in p.parts)
    done = _dxpulse(installed, *argv, timeout=60)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "is a developer command" in done.stderr
    after = sorted(p for p in installed.venv.rglob("*") if "__pycache__" not in p.parts)
    assert after == before
    assert list(installed.cwd.iterdir()) == []
