"""Every command's --help: defaults written one way, and only options the command has.

Walks the whole command tree, so a new command or option is checked without a new test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from dxpulse.cli import cli

_BRACKETS = re.compile(r"\[([^\[\]]*)\]")
_OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
_QUOTED = re.compile(r"`([a-z]+) (--[a-z][a-z0-9-]*)")


def commands(group: click.Group = cli, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, sub in sorted(group.commands.items()):
        if isinstance(sub, click.Group):
            yield from commands(sub, (*path, name))
        else:
            yield (*path, name)


def command_at(path: tuple[str, ...]) -> click.Command:
    found: click.Command = cli
    for name in path:
        assert isinstance(found, click.Group)
        found = found.commands[name]
    return found


def help_text(path: tuple[str, ...]) -> str:
    """The --help as printed, with the wrapping undone (a bracket may span two lines)."""
    done = CliRunner().invoke(cli, [*path, "--help"], terminal_width=100)
    assert done.exit_code == 0, done.output
    return " ".join(done.output.split()).replace("- ", "-")


ALL = list(commands())


@pytest.mark.parametrize("path", ALL, ids=lambda p: " ".join(p) or "dxpulse")
def test_defaults_are_written_one_way(path: tuple[str, ...]) -> None:
    text = help_text(path)
    for inside in _BRACKETS.findall(text):
        for part in (p.strip() for p in inside.split(";")):
            if "default" in part:
                assert part.startswith("default: "), f"[{inside}] in {' '.join(path)} --help"
        if inside.startswith("env "):  # [env VAR] or [env VAR; default: X]
            env, *rest = (p.strip() for p in inside.split(";"))
            assert re.fullmatch(r"env DXPULSE_[A-Z0-9_]+", env), f"[{inside}]"
            assert all(p.startswith("default: ") for p in rest), f"[{inside}] in {path}"


@pytest.mark.parametrize("path", ALL, ids=lambda p: " ".join(p) or "dxpulse")
def test_help_names_only_options_the_command_has(path: tuple[str, ...]) -> None:
    command = command_at(path)
    # A group's help lists its commands' short helps, which may name their options.
    described = [command, *(command.commands.values() if isinstance(command, click.Group) else ())]
    has = {"--help"}.union(*(options(c) for c in described))
    text = help_text(path)
    # `worker --no-migrate`: another command's option, checked against that command.
    for other, option in _QUOTED.findall(text):
        assert option in options(command_at((other,))), f"`{other} {option}` in {path}"
    named = set(_OPTION.findall(_QUOTED.sub("", text)))
    assert named <= has, f"{' '.join(path)} --help names {sorted(named - has)}"


def options(command: click.Command) -> set[str]:
    return {name for p in command.params for name in (*p.opts, *p.secondary_opts)}


def test_the_check_sees_a_default_written_another_way() -> None:
    # The checks above pass on every command; this shows they can fail.
    assert _BRACKETS.findall("port [default 6066]") == ["default 6066"]
    assert not "default 6066".startswith("default: ")
