"""Where the source checkout is, for the developer commands that write into it.

`dxpulse dashboards build` and `dxpulse schemas export` regenerate files committed to git
(deploy/grafana, README.md, schemas/json). From an installed wheel there is no checkout:
the packages sit in site-packages, and writing there would change the installation, not
the repository. Those commands ask here first and stop with one line that says why.
"""

from __future__ import annotations

from pathlib import Path

from dxpulse.core.errors import DxpulseError

# The directory above the dxpulse package (this file is dxpulse/core/source_tree.py): the
# checkout's root when run from one.
ROOT = Path(__file__).resolve().parents[2]


def is_checkout(root: Path) -> bool:
    """A checkout has the project file and the deploy/ tree beside the packages."""
    return (root / "pyproject.toml").is_file() and (root / "deploy").is_dir()


def command_name() -> str:
    """How a hint should spell the command: the checkout's wrapper (which bootstraps the
    venv) in a checkout, the installed console script anywhere else."""
    return "./bin/dxpulse" if is_checkout(ROOT) else "dxpulse"


def checkout_root(command: str, root: Path | None = None) -> Path:
    """The checkout's root, or an error naming ``command`` as a developer command."""
    root = ROOT if root is None else root
    if not is_checkout(root):
        raise DxpulseError(
            f"`dxpulse {command}` is a developer command: it writes files of the source "
            f"checkout, and this dxpulse is installed without one ({root}); "
            "run it from a git checkout of dxpulse"
        )
    return root
