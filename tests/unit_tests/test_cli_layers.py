"""The CLI is the top layer: dxpulse/cli.py gathers dxpulse/commands/, the commands import
components, and nothing imports the CLI back. Its start stays light: the commands import
their components inside the command, so `dxpulse --help` loads none of them."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLI = {"dxpulse/cli.py", "dxpulse/__main__.py"}
# What `import dxpulse.cli` may load of dxpulse beyond the CLI itself.
BASE = {"dxpulse", "dxpulse.core", "dxpulse.core.config", "dxpulse.core.durations",
        "dxpulse.core.errors"}  # fmt: skip
HEAVY = ("faust", "confluent_kafka", "clickhouse_connect", "chdb", "matplotlib", "numpy",
         "tenacity", "grafana_client", "grafana_foundation_sdk", "yaml")  # fmt: skip


def _modules_imported(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _python_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return [name for name in listed if not name.startswith("tests/")]


def _is_cli(module: str) -> bool:
    return module in ("dxpulse.cli", "dxpulse.commands") or module.startswith("dxpulse.commands.")


def test_no_component_imports_the_cli() -> None:
    files = _python_files()
    assert "dxpulse/commands/common.py" in files
    upward = [
        f"{name} imports {module}"
        for name in files
        if name not in CLI and not name.startswith("dxpulse/commands/")
        for module in sorted(_modules_imported(ROOT / name))
        if _is_cli(module) or module == "dxpulse.cli"
    ]
    assert upward == []


def test_a_command_module_imports_no_other_command_only_the_shared_one() -> None:
    sideways = [
        f"{path.name} imports {module}"
        for path in sorted((ROOT / "dxpulse" / "commands").glob("*.py"))
        for module in sorted(_modules_imported(path))
        if _is_cli(module) and not module.startswith("dxpulse.commands.common")
        and module != "dxpulse.commands"
    ]  # fmt: skip
    assert sideways == []


def test_importing_the_cli_loads_no_component_and_no_heavy_library() -> None:
    code = (
        "import sys, dxpulse.cli; "
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] == 'dxpulse')));"
        f"print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    loaded, heavy = [*done.stdout.splitlines(), "", ""][:2]
    # The contract (dxpulse.schemas) sits below the base: the settings take the event-type
    # list from it, so it loads with them; the components (streams, producers...) must not.
    components = sorted(set(loaded.split()) - BASE - {"dxpulse.cli"} - {
        m for m in loaded.split() if _is_cli(m) or m.split(".")[:2] == ["dxpulse", "schemas"]
    })  # fmt: skip
    assert components == []
    assert heavy.split() == []
    assert "dxpulse.commands.migrate" in loaded.split()  # the commands are there, imported
