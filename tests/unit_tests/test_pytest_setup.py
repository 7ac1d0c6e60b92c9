"""How the suite is run: ``-m integration`` selects exactly tests/integration_tests/, an
unknown marker is an error, and ``./bin/test`` runs in parallel unless told not to.

Each case runs pytest (or bin/test) in a child process on this checkout, as a developer
would; the children get their own ``--basetemp`` and no cache, so they touch nothing of the
session running them.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INTEGRATION = "tests/integration_tests/"
# A small, fast module for the runs of bin/test.
SMALL = "tests/unit_tests/test_envfile.py"


def _env() -> dict[str, str]:
    """This environment without what would steer the child pytest (options, xdist's worker
    variables) or the settings."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "DXPULSE_")) and k != "PYTHONPATH"
    }


def _pytest(tmp: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--basetemp={tmp}", *args],
        cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def _collected(proc: subprocess.Popen[str]) -> list[str]:
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out[-3000:]
    return [line for line in out.splitlines() if "::" in line]


def test_the_integration_marker_splits_the_suite_by_directory(tmp_path: Path) -> None:
    """``-m integration`` and ``-m "not integration"`` are complements, so if the first holds
    only tests of tests/integration_tests/ and the second none, the first is all of them."""
    marked = _pytest(tmp_path / "a", "--collect-only", "-q", "-m", "integration")
    unmarked = _pytest(tmp_path / "b", "--collect-only", "-q", "-m", "not integration")
    integration, unit = _collected(marked), _collected(unmarked)
    assert integration, "-m integration selects nothing"
    assert [t for t in integration if not t.startswith(INTEGRATION)] == []
    assert [t for t in unit if t.startswith(INTEGRATION)] == []
    assert unit, '-m "not integration" selects nothing'


def test_an_unknown_marker_is_an_error(tmp_path: Path) -> None:
    test = tmp_path / "test_typo.py"
    test.write_text("import pytest\n\n@pytest.mark.integraton\ndef test_x():\n    pass\n")
    proc = _pytest(tmp_path / "t", "-c", str(ROOT / "pyproject.toml"), "--collect-only", str(test))
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode != 0, out
    assert "'integraton' not found in `markers` configuration option" in out


def test_a_module_with_a_module_scoped_fixture_runs_on_one_xdist_worker() -> None:
    """Else each worker that gets one of its tests sets the fixture up again (a pipeline run,
    a chDB store, the wheel's venv): with --dist loadgroup, an xdist_group keeps them on one."""
    ungrouped = [
        path.relative_to(ROOT).as_posix()
        for path in sorted((ROOT / INTEGRATION).glob("test_*.py"))
        if 'scope="module"' in (text := path.read_text("utf-8"))
        and f'pytestmark = pytest.mark.xdist_group("{path.stem}")' not in text
    ]
    assert ungrouped == []


def _venv_is_current(venv: Path) -> bool:
    """bin/_bootstrap.sh's stamp for this checkout's inputs is there: bin/test will not
    install anything (nothing may download during the tests)."""
    inputs = b"".join(
        (ROOT / name).read_bytes()
        for name in ("pyproject.toml", "requirements-dev.lock", "bin/_bootstrap.sh")
    )
    return (venv / f".dxpulse-installed-{hashlib.sha1(inputs).hexdigest()[:12]}").exists()


def _bin_test(tmp: Path, *args: str) -> str:
    venv = Path(sys.prefix)
    if not _venv_is_current(venv):
        pytest.fail(f"{venv} is not installed from this checkout's lock: run ./bin/test once")
    done = subprocess.run(
        [str(ROOT / "bin" / "test"), "-p", "no:cacheprovider", f"--basetemp={tmp}", *args, SMALL],
        cwd=ROOT, env={**_env(), "DXPULSE_VENV": str(venv)}, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    assert " passed" in out, out[-3000:]
    return out


# One after another: each runs ruff and mypy on the checkout (one .mypy_cache) and 3 workers.
BIN_TEST = pytest.mark.xdist_group("bin_test")


@BIN_TEST
def test_bin_test_runs_the_tests_in_parallel_by_default(tmp_path: Path) -> None:
    assert "created: 3/3 workers" in _bin_test(tmp_path / "default")


@BIN_TEST
@pytest.mark.parametrize("serial", [["-n", "0"], ["-p", "no:xdist"]], ids=["n0", "no-xdist"])
def test_bin_test_runs_serially_on_request(tmp_path: Path, serial: list[str]) -> None:
    assert "workers" not in _bin_test(tmp_path / "serial", *serial)
