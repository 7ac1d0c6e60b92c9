"""dxpulse installs one import name: the components are dxpulse.streams, dxpulse.producers...

The repository keeps its agreed folders (streams/, producers/, schemas/, dashboards/) at the
top; dxpulse/<component> links to each, so the wheel and the checkout both import them under
the one `dxpulse` namespace (docs/architecture.md, "Packaging"). From the checkout's root the
folders are also importable by their bare names: importing one that way would load a second
copy of the module (two registries, two settings classes), so nothing may.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from tests.wheel import ROOT

COMPONENTS = ("streams", "producers", "schemas", "dashboards")
# An import statement inside a string: code run by `python -c` in a subprocess.
_IN_CODE = re.compile(rf"^\s*(?:from|import) ({'|'.join(COMPONENTS)})\b", re.MULTILINE)


def _python_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return [ROOT / name for name in listed]


def _bare_imports(path: Path) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = _IN_CODE.findall(node.value)
        else:
            continue
        found += [f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in names
                  if n.split(".")[0] in COMPONENTS]
    return found


def test_no_module_imports_a_component_by_its_bare_name() -> None:
    files = _python_files()
    assert len(files) > 100
    assert [hit for path in files for hit in _bare_imports(path)] == []


def test_each_component_is_the_repository_folder_under_the_namespace() -> None:
    for component in COMPONENTS:
        link = ROOT / "dxpulse" / component
        assert link.is_symlink() and link.resolve() == (ROOT / component).resolve()


def test_the_cli_and_the_worker_load_no_bare_component_module() -> None:
    code = (
        "import sys, dxpulse.cli, dxpulse.streams.app, dxpulse.producers.producer;"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {COMPONENTS!r}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[]"]
