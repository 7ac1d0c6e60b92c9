"""The developer commands refuse, in one line, to run without a source checkout.

An installed wheel has no checkout: `dashboards build` would fail on a missing README.md
and `schemas export` would write into site-packages. Here the checkout's root is pointed at
an empty directory, as an installation's site-packages would look to them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dxpulse.cli import main
from dxpulse.core import source_tree
from dxpulse.core.errors import DxpulseError
from tests.wheel import ROOT


def test_this_checkout_is_one() -> None:
    assert source_tree.ROOT == ROOT
    assert source_tree.checkout_root("dashboards build") == ROOT


def test_a_directory_without_the_project_is_not() -> None:
    with pytest.raises(DxpulseError, match=r"`dxpulse schemas export` is a developer command"):
        source_tree.checkout_root("schemas export", Path("/"))


@pytest.mark.parametrize(
    "argv",
    [
        ["dashboards", "build"],
        ["dashboards", "build", "--check"],
        ["schemas", "export"],
        ["schemas", "export", "--check"],
    ],
)
def test_developer_commands_outside_a_checkout_say_so(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(source_tree, "ROOT", tmp_path)
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"`dxpulse {' '.join(argv[:2])}` is a developer command" in err
    assert "run it from a git checkout" in err
    assert list(tmp_path.iterdir()) == []


def test_hints_name_the_wrapper_in_a_checkout_and_the_console_script_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert source_tree.command_name() == "./bin/dxpulse"
    monkeypatch.setattr(source_tree, "ROOT", tmp_path)
    assert source_tree.command_name() == "dxpulse"
