"""Build dxpulse's wheel from this checkout, and install it where the checkout is not.

Nothing is downloaded: the build uses this venv's setuptools and wheel
(``--no-build-isolation --no-index``), from a copy of the tree so the checkout gets no
build/ or egg-info. The install goes into a fresh ``python -m venv`` whose dependencies
are this venv's site-packages, added by a ``.pth`` line that is a plain path (so the
``.pth`` files there, among them the editable install's finder, do not run): the new venv's
dxpulse is the wheel's files and nothing else.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__")


def build_wheel(work: Path) -> Path:
    """The wheel built from a copy of the checkout's working tree, in ``work``."""
    if importlib.util.find_spec("setuptools") is None or importlib.util.find_spec("wheel") is None:
        pytest.fail(
            "building the wheel offline needs setuptools>=68 and wheel in this venv "
            "(requirements.lock pins both)"
        )
    source = work / "source"
    copy_source(source)
    dist = work / "dist"
    done = _pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(source))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (wheel,) = dist.glob("dxpulse-*.whl")
    return wheel


def copy_source(target: Path) -> None:
    """The files git would commit (tracked, or new and not ignored), links kept as links;
    without git, the tree minus the usual local state."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    if listed.returncode != 0:
        shutil.copytree(ROOT, target, symlinks=True, ignore=_NOT_SOURCE)
        return
    for name in filter(None, listed.stdout.decode().split("\0")):
        source, copy = ROOT / name, target / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree, not yet in the index
        copy.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            copy.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, copy)


def install_wheel(wheel: Path, venv: Path) -> Path:
    """A new venv with only ``wheel`` installed in it; returns its bin directory."""
    done = subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    lines = "".join(f"{path}\n" for path in dependency_dirs())
    (Path(purelib) / "_dxpulse_test_dependencies.pth").write_text(lines)
    done = _pip("--python", str(python), "install", "--no-deps", str(wheel))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return venv / "bin"


def dependency_dirs() -> list[str]:
    """This venv's site-packages: where the installed wheel finds its dependencies."""
    return sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without DXPULSE_* settings or PYTHONPATH (which could name the
    checkout)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith("DXPULSE_") and k not in ("PYTHONPATH", "PYTHONHOME")
    }
    env.update(COLUMNS="200", NO_COLOR="1", **extra)
    return env


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args, "--no-index"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT.parent,
        env=clean_env(),
    )
