"""The container image and what its containers run, checked without a Docker engine.

- requirements.lock (checked in test_locks.py) is compiled for the image's Python;
- the Dockerfile builds from a pinned base, installs only from the lock (hash-checked) in a
  layer before the source, and runs the dxpulse CLI as a non-root user;
- every command docker-compose.yml gives a dxpulse container (and the image's default CMD)
  is parsed by the real CLI, options converted and checked, without running anything; the
  DXPULSE_* variables they get name real settings; their healthchecks use what the image has.

Compose `${VAR:-default}` interpolations are checked twice: with their defaults, and with the
values of .env.example (what `deploy/gen-env.sh` writes into .env). A variable with neither
(the `${PASSWORD:?}` ones) gets a placeholder password; any other such variable fails the test
until it has a value in PLAUSIBLE below.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import pytest
import yaml
from click.testing import CliRunner
from packaging.specifiers import SpecifierSet
from packaging.version import Version
from pydantic import BaseModel

from dxpulse.cli import cli
from dxpulse.core.config import Settings
from tests.envfile import read_env

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
LOCK = ROOT / "requirements.lock"
LOCK_COMMAND = ROOT / "bin" / "lock"
PYPROJECT = ROOT / "pyproject.toml"
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
WORKER_APP = ROOT / "streams" / "app.py"
SOURCE_PACKAGES = ("dxpulse", "streams", "producers", "schemas", "dashboards")

# Values for compose variables with neither a default nor a value in .env.example.
PLAUSIBLE: dict[str, str] = {}
PLACEHOLDER_PASSWORD = "placeholder-password-0123456789"
# What a healthcheck may start: the image is python:*-slim plus dxpulse, so no curl or wget.
IMAGE_EXECUTABLES = {"dxpulse", "python", "python3"}


def pyproject() -> dict[str, Any]:
    return tomllib.loads(PYPROJECT.read_text("utf-8"))


def test_the_locks_are_compiled_for_the_image_python() -> None:
    # The lock files themselves are checked in test_locks.py; this is what ties them to the image.
    match = re.search(r"--python-version[ =](\d+\.\d+)", LOCK_COMMAND.read_text("utf-8"))
    assert match, f"{LOCK_COMMAND.name} does not say which Python it compiles for"
    image_python = ".".join(map(str, base_image_python()[:2]))
    assert image_python == match.group(1), "the lock is for another Python than the image"


# --- Dockerfile ----------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    instructions = []
    pending = ""
    for raw in DOCKERFILE.read_text("utf-8").splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not pending):
            continue  # Docker drops comment lines, even inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends in a line continuation"
    return instructions


def arguments_of(keyword: str) -> list[str]:
    return [arguments for instruction, arguments in dockerfile() if instruction == keyword]


def exec_form(keyword: str) -> list[str]:
    """The last ENTRYPOINT or CMD: the one that counts. Exec form (JSON), or it fails."""
    values = arguments_of(keyword)
    assert values, f"the Dockerfile has no {keyword}"
    parsed = json.loads(values[-1])  # a shell-form CMD would not parse, and would need sh -c
    assert isinstance(parsed, list) and all(isinstance(a, str) for a in parsed), values[-1]
    return parsed


def base_images() -> list[str]:
    images = []
    for arguments in arguments_of("FROM"):
        words = [w for w in arguments.split() if not w.startswith("--")]  # --platform=...
        images.append(words[0])
    return images


def base_image_python() -> tuple[int, int, int]:
    image = base_images()[-1]  # the stage the image is made of
    match = re.fullmatch(r"(?:docker\.io/)?(?:library/)?python:(\d+)\.(\d+)\.(\d+)-\S+", image)
    assert match, f"{image}: expected python:X.Y.Z-<variant>"
    major, minor, micro = (int(g) for g in match.groups())
    return major, minor, micro


def dockerfile_env() -> dict[str, str]:
    env = {}
    for arguments in arguments_of("ENV"):
        for word in shlex.split(arguments):
            name, _, value = word.partition("=")
            env[name] = value
    return env


def index_of(predicate: Callable[[str, str], bool], what: str) -> int:
    for index, (instruction, arguments) in enumerate(dockerfile()):
        if predicate(instruction, arguments):
            return index
    raise AssertionError(f"the Dockerfile has no {what}")


def test_the_base_image_is_a_pinned_python_that_the_project_supports() -> None:
    for image in base_images():
        name, _, tag = image.partition("@")[0].rpartition(":")
        assert name and tag and tag != "latest", f"{image}: pin a version tag"
        assert re.match(r"\d+\.\d+\.\d+", tag), f"{image}: pin the patch release, not {tag}"
    version = Version(".".join(map(str, base_image_python())))
    assert SpecifierSet(pyproject()["project"]["requires-python"]).contains(version)
    assert "slim" in base_images()[-1], "the full image adds ~600 MB of compilers and headers"


def test_the_image_runs_as_a_non_root_user() -> None:
    users = arguments_of("USER")
    assert users, "no USER: the containers would run as root"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}, users[-1]
    if user.isdigit():  # a numeric USER must be a uid the image creates
        assert any(f"--uid {user}" in run for run in arguments_of("RUN")), user


def test_dependencies_come_only_from_the_lock_hash_checked_in_a_layer_before_the_source() -> None:
    lock = LOCK.name
    copy_lock = index_of(lambda i, a: i == "COPY" and a.split()[0] == lock, f"COPY {lock}")
    install_lock = index_of(
        lambda i, a: i == "RUN" and "pip install" in a and f"-r {lock}" in a,
        f"RUN pip install -r {lock}",
    )
    copy_source = index_of(
        lambda i, a: i == "COPY" and a.split()[0] in {".", "./", "dxpulse", "pyproject.toml"},
        "COPY of the source",
    )
    assert copy_lock < install_lock < copy_source, "a source edit would reinstall everything"
    installs = [a for a in arguments_of("RUN") if "pip install" in a]
    assert "--require-hashes" in dockerfile()[install_lock][1]
    # --no-deps everywhere: nothing but the lock's pins (and the project itself) gets in.
    assert all("--no-deps" in a for a in installs), installs
    install_project = index_of(
        lambda i, a: i == "RUN" and re.search(r"pip install [^&;]*\s\.(\s|$)", a) is not None,
        "RUN pip install . of the project",
    )
    assert install_project > copy_source


def test_the_entrypoint_is_the_dxpulse_cli() -> None:
    assert exec_form("ENTRYPOINT") == ["dxpulse"]
    assert pyproject()["project"]["scripts"]["dxpulse"] == "dxpulse.cli:main"


def test_the_default_cmd_is_a_cli_command_that_exits_0() -> None:
    args = exec_form("CMD")
    result = CliRunner().invoke(cli, args, prog_name="dxpulse")
    assert result.exit_code == 0, result.output
    assert "Usage: dxpulse" in result.output


def runtime_user() -> set[str]:
    """The last USER, as every name it goes by: a uid also by the name useradd gives it."""
    users = arguments_of("USER")
    assert users, "no USER: the containers would run as root"
    user = users[-1].split(":")[0]
    names = {user}
    for run in arguments_of("RUN"):
        for match in re.finditer(r"useradd\b([^&;|]*)", run):
            words = match.group(1).split()
            if f"--uid {user}" in match.group(1) or (words and words[-1] == user):
                names |= {words[-1], *re.findall(r"--uid (\d+)", match.group(1))}
    return names


def test_the_image_exposes_the_worker_status_port_and_a_writable_data_dir() -> None:
    assert str(Settings().web.port) in " ".join(arguments_of("EXPOSE")).split()
    data_dir = dockerfile_env()["DXPULSE_DATA_DIR"]
    # Outside /app: the code stays read-only to the user that runs it.
    assert data_dir.startswith("/") and not data_dir.startswith("/app"), data_dir
    owners = "|".join(map(re.escape, runtime_user()))
    chown = re.compile(rf"chown\s+(-R\s+)?({owners})(:\S+)?\s+{re.escape(data_dir)}\b")
    assert any(chown.search(run) for run in arguments_of("RUN")), f"{data_dir}: not chown'ed"


# --- .dockerignore -------------------------------------------------------------------------


def _ignore_regex(pattern: str) -> re.Pattern[str]:
    # Docker's rules: relative to the context root, * and ? stay within one path segment,
    # ** spans segments, and excluding a directory excludes everything under it.
    out, i, pattern = "", 0, pattern.strip("/")
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[" and "]" in pattern[i:]:
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + "(?:/.*)?")


def dockerignored(path: str) -> bool:
    ignored = False
    for line in DOCKERIGNORE.read_text("utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        if _ignore_regex(line.removeprefix("!")).fullmatch(path):
            ignored = not negated
    return ignored


def test_the_build_context_leaves_out_local_state_but_keeps_what_the_image_needs() -> None:
    local = [".git/HEAD", ".venv/bin/python", ".env", "dxpulse-data/worker.log",
             "dxpulse-bench/report.md", "dxpulse/__pycache__/cli.cpython-311.pyc",
             "tests/unit_tests/test_container.py", ".pytest_cache/v/cache/nodeids"]  # fmt: skip
    for path in local:
        assert dockerignored(path), f"{path} would be sent into the build context"
    needed = [LOCK.name, "pyproject.toml", "README.md", "deploy/clickhouse/001_database.sql",
              "dxpulse/cli.py", "dashboards/build.py", "schemas/reference/provinces.csv",
              "streams/app.py", "producers/generator.py"]  # fmt: skip
    assert [path for path in needed if dockerignored(path)] == []
    assert [path for path in needed if not (ROOT / path).exists()] == []  # real paths


def test_the_dockerignore_matcher_follows_dockers_rules() -> None:
    assert _ignore_regex("build").fullmatch("build/lib/x.py")
    assert not _ignore_regex("build").fullmatch("dashboards/build.py")  # root-anchored
    assert _ignore_regex("**/__pycache__").fullmatch("a/b/__pycache__/c.pyc")
    assert not _ignore_regex("*.egg-info").fullmatch("sub/x.egg-info")


# --- docker-compose.yml: the commands the containers run -----------------------------------


def compose() -> dict[str, Any]:
    if not COMPOSE.exists():
        pytest.fail(f"{COMPOSE.name} is missing at the repository root: the containers' "
                    "commands cannot be checked")  # fmt: skip
    data = yaml.safe_load(COMPOSE.read_text("utf-8"))  # also resolves the <<: merge keys
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


def dxpulse_services() -> dict[str, dict[str, Any]]:
    """The services built from this repository's Dockerfile, or running the image it builds."""
    services: dict[str, dict[str, Any]] = compose()["services"]

    def built_here(service: dict[str, Any]) -> bool:
        build = service.get("build")
        if isinstance(build, dict):
            dockerfile_name = build.get("dockerfile", "Dockerfile")
            build = build.get("context") if dockerfile_name == "Dockerfile" else None
        return isinstance(build, str) and build.rstrip("/") in {".", ""}

    images = {s["image"] for s in services.values() if built_here(s) and "image" in s}
    found = {
        name: service
        for name, service in services.items()
        if built_here(service) or service.get("image") in images
    }
    assert {"init", "producer", "worker"} <= set(found), sorted(found)
    return found


def env_example() -> dict[str, str]:
    if not ENV_EXAMPLE.exists():
        return {}
    return read_env(ENV_EXAMPLE)


_INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR:?error}` and `$$`, given env."""

    def one(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        expression = match.group("braced") or match.group("bare")
        parts = re.fullmatch(r"([A-Za-z_]\w*)(?:(:?[-?+])(.*))?", expression, re.DOTALL)
        assert parts, f"cannot read the interpolation ${{{expression}}}"
        name, operator, argument = parts.groups()
        current = env.get(name)
        if operator in {":-", "-"}:
            unset = current is None or (operator == ":-" and current == "")
            return argument if unset else str(current)
        if operator in {":+", "+"}:
            return argument if current else ""
        if current:
            return current
        if name in PLAUSIBLE:
            return PLAUSIBLE[name]
        if name.endswith("PASSWORD"):
            return PLACEHOLDER_PASSWORD  # required secrets: any non-empty value parses
        raise AssertionError(f"${{{expression}}} has no default: add a value to PLAUSIBLE")

    return _INTERPOLATION.sub(one, value)


def scenarios() -> dict[str, dict[str, str]]:
    """Variable sets to interpolate with: none (defaults), and .env.example's non-empty values."""
    example = {k: v for k, v in env_example().items() if v}
    return {"compose defaults": {}, ".env.example": example}


def service_environment(service: dict[str, Any], env: dict[str, str]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):  # the KEY=VALUE list form
        raw = dict(item.partition("=")[::2] for item in raw)
    return {str(k): interpolate("" if v is None else str(v), env) for k, v in raw.items()}


def parse_cli(args: list[str]) -> click.Context:
    """Parse args exactly as `dxpulse` would, down to the subcommand, without running it.

    Unknown commands or options, missing or surplus arguments and values of the wrong type
    raise click's UsageError or BadParameter, as they would in the container.
    """
    command: click.Command = cli
    context = click.Context(cli, info_name="dxpulse")
    rest = list(args)
    while isinstance(command, click.Group):
        assert rest and not rest[0].startswith("-"), f"{args}: expected a subcommand first"
        name, sub, rest = command.resolve_command(context, rest)
        assert name is not None and sub is not None  # resolve_command fails otherwise
        command = sub
        if isinstance(command, click.Group):
            context = click.Context(command, info_name=name, parent=context)
        else:
            context = command.make_context(name, rest, parent=context, resilient_parsing=False)
    return context


def check_cli_command(args: list[str], where: str) -> click.Context:
    try:
        context = parse_cli(args)
    except click.ClickException as exc:
        message = f"{where}: `dxpulse {shlex.join(args)}`: {exc.format_message()}"
        raise AssertionError(message) from exc
    # And the same words with --help, through click's full entry point.
    result = CliRunner().invoke(cli, [*args, "--help"], prog_name="dxpulse")
    assert result.exit_code == 0, f"{where}: --help exited {result.exit_code}: {result.output}"
    assert f"Usage: dxpulse {context.info_name}" in result.output, result.output
    return context


def test_the_cli_parser_check_rejects_what_the_container_would_reject() -> None:
    assert parse_cli(["produce", "--rate", "250", "--diurnal"]).params["rate"] == 250.0
    assert parse_cli(["schemas", "export", "--check"]).params["check"] is True
    for bad in (["nosuchcommand"], ["produce", "--rate", "fast"], ["worker", "--no-such"],
                ["worker", "surplus"], ["produce", "--duration"], ["schemas"]):  # fmt: skip
        with pytest.raises((click.ClickException, AssertionError)):
            parse_cli(bad)


def test_every_dxpulse_container_runs_a_real_cli_command_with_valid_arguments() -> None:
    services = dxpulse_services()
    for scenario, env in scenarios().items():
        for name, service in services.items():
            command = service.get("command")
            # Without one, the image's CMD (--help) runs: a restart loop, not a service.
            assert command is not None, f"service {name} has no command"
            if isinstance(command, str):
                command = shlex.split(command)  # compose splits a string command like a shell
            args = [interpolate(str(word), env) for word in command]
            check_cli_command(args, f"service {name} ({scenario})")


def _settings_field(path: list[str]) -> bool:
    model: type[BaseModel] = Settings
    for depth, part in enumerate(path):
        field = model.model_fields.get(part)
        if field is None:
            return False
        annotation = field.annotation
        if depth < len(path) - 1:
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                return False
            model = annotation
    return True


def _named_in_the_code(variable: str) -> bool:
    return any(
        variable in path.read_text("utf-8")
        for package in SOURCE_PACKAGES
        for path in (ROOT / package).rglob("*.py")
    )


def test_every_dxpulse_variable_the_containers_get_is_a_real_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # pydantic-settings ignores unknown DXPULSE_* variables: a misspelt one would be dropped
    # silently, and the container would run with the default instead.
    for scenario, env in scenarios().items():
        for name, service in dxpulse_services().items():
            variables = service_environment(service, env)
            for variable in variables:
                if not variable.startswith("DXPULSE_"):
                    continue
                path = variable.removeprefix("DXPULSE_").lower().split("__")
                assert _settings_field(path) or _named_in_the_code(variable), (
                    f"service {name} ({scenario}): {variable} is no dxpulse setting"
                )
            for variable in [v for v in os.environ if v.upper().startswith("DXPULSE_")]:
                monkeypatch.delenv(variable)
            for variable, value in variables.items():
                monkeypatch.setenv(variable, value)
            Settings()  # and their values are valid (raises ValidationError otherwise)
            monkeypatch.undo()


def _served_pages() -> set[str]:
    return set(re.findall(r"\.page\(\s*[\"'](/[^\"']*)[\"']", WORKER_APP.read_text("utf-8")))


def test_dxpulse_healthchecks_use_what_the_image_has_and_the_configured_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checked = 0
    for scenario, env in scenarios().items():
        for name, service in dxpulse_services().items():
            test = (service.get("healthcheck") or {}).get("test")
            if not test or test == ["NONE"] or service["healthcheck"].get("disable"):
                continue
            if isinstance(test, str):
                argv = shlex.split(test)
            elif test[0] == "CMD-SHELL":
                argv = shlex.split(test[1])
            else:
                assert test[0] == "CMD", f"service {name}: healthcheck test {test}"
                argv = list(test[1:])
            argv = [interpolate(word, env) for word in argv]
            where = f"service {name} healthcheck ({scenario})"
            assert argv[0] in IMAGE_EXECUTABLES, f"{where}: the image has no {argv[0]}"
            if argv[0] == "dxpulse":
                check_cli_command(argv[1:], where)
                checked += 1
                continue
            assert argv[1] == "-c", f"{where}: expected python -c CODE"
            code = argv[2]
            compile(code, where, "exec")  # a SyntaxError would make the check always fail
            for variable in [v for v in os.environ if v.upper().startswith("DXPULSE_")]:
                monkeypatch.delenv(variable)
            for variable, value in service_environment(service, env).items():
                monkeypatch.setenv(variable, value)
            port = Settings().web.port
            monkeypatch.undo()
            command = service["command"]
            context = parse_cli([interpolate(str(w), env) for w in command])
            port = context.params.get("web_port") or port
            urls = re.findall(r"https?://[^\s'\"]+", code)
            assert urls, f"{where}: no URL in {code!r}"
            for url in urls:
                parts = urlsplit(url)
                assert parts.hostname in {"127.0.0.1", "localhost"}, f"{where}: {url}"
                assert parts.port == port, f"{where}: {url}, but the worker listens on {port}"
                assert parts.path in _served_pages(), f"{where}: the worker serves no {url}"
            checked += 1
    assert checked, "no dxpulse service has a healthcheck (the worker should)"
