"""Test seams stay out of product modules, or sit behind the one test-support module.

streams/faults.py is that module: the flush's crash points, the DXPULSE_TEST_CRASH_AT hook
and the sink's insert-fault type. Anything else a test needs lives under tests/ (the SDK
decoder hook that reading dashboards back needs is in test_dashboards_build.py).
"""

from __future__ import annotations

import ast
from pathlib import Path

from dxpulse.dashboards import query
from dxpulse.streams import sink
from tests.wheel import ROOT

SUPPORT = "streams/faults.py"


def _product_files() -> list[Path]:
    # Resolved, so a component reached through its dxpulse/<component> link counts once.
    files = {p.resolve() for p in ROOT.glob("dxpulse/**/*.py")}
    for component in ("streams", "producers", "schemas", "dashboards"):
        files |= {p.resolve() for p in ROOT.glob(f"{component}/*.py")}
    return sorted(files)


def _test_hooks(path: Path) -> list[str]:
    """Env names for tests, and functions or classes named as being for tests."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found += [node.value] if node.value.startswith("DXPULSE_TEST") else []
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            name = node.name.lower()
            found += [node.name] if "for_test" in name or name.startswith("_test") else []
    return found


def test_only_the_test_support_module_holds_test_hooks() -> None:
    files = _product_files()
    assert len(files) > 60
    hooks = {str(p.relative_to(ROOT)): h for p in files if (h := _test_hooks(p))}
    assert hooks == {SUPPORT: ["DXPULSE_TEST_CRASH_AT"]}


def test_the_sink_seam_is_typed_by_the_support_module() -> None:
    source = (ROOT / "streams/sink.py").read_text("utf-8")
    assert "from dxpulse.streams.faults import InsertFault" in source
    assert not hasattr(sink, "FaultHook")


def test_the_dashboards_ship_no_decoder_hook_only_tests_call() -> None:
    assert not hasattr(query, "register")
