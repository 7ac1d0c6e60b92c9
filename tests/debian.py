"""Debian packages a test needs, installed when missing: with apt-get where that is possible
(root, apt-get present, as in CI), else the test is skipped and says why. Nothing else is
downloaded (Debian's registry is one this project may install from)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")


def installed(package: str, find: Callable[[], T | None], what: str) -> T:
    """What ``find`` finds (``what`` names it), ``package`` installed first if it finds
    nothing; else the calling test is skipped with the reason."""
    found = find()
    if found is not None:
        return found
    _apt_install(package)
    found = find()
    if found is None:
        pytest.skip(f"apt-get installed {package} but {what} is missing")
    return found


def _apt_install(package: str) -> None:
    """Install ``package``, or skip the calling test with the reason."""
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        pytest.skip(f"{package} is not installed and cannot be (needs root and apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock = ["-o", "DPkg::Lock::Timeout=300"]  # another test may be installing a package
    for command in (["apt-get", *lock, "update"], ["apt-get", *lock, "install", "-y", package]):
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            pytest.skip(f"could not install {package}: {' '.join(command)}: {done.stderr[-300:]}")
