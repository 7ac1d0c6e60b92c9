"""Nothing secret is committed: every tracked file is scanned for keys, tokens and passwords.

Passwords reach the stack only through .env (ignored by git) and the environment; the
committed files hold variable references (${...}) or empty values.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Shapes of real credentials, wherever they appear.
TOKEN_PATTERNS = {
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "Grafana service-account token": re.compile(r"\bglsa_[A-Za-z0-9]{32}_[0-9a-f]{8}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b"),
}
# A literal value given to a password-like key, in configuration files. References
# (${VAR}, $VAR, {placeholder}) and empty values are fine.
ASSIGNMENT = re.compile(
    r"""(?ix)
    \b[\w.-]*(password|passwd|secret|token|api_key)[\w.-]*   # the key
    ["']?[ \t]*[:=][ \t]*["']?                                # : or =, maybe quoted
    (?P<value>[^\s"'$<>{}\#]{6,})                             # a literal value
    """
)
CONFIG_SUFFIXES = {".yml", ".yaml", ".env", ".example", ".xml", ".sql", ".toml", ".ini", ".sh",
                   ".cfg", ".conf", ".json"}  # fmt: skip
# A literal password in SQL: CREATE USER ... IDENTIFIED [WITH x] BY '...'.
SQL_PASSWORD = re.compile(r"(?i)\bIDENTIFIED\b[^;]*?\bBY\s+'(?P<value>[^'{}$]{6,})'")
# Words that name a kind of value rather than being one.
NOT_VALUES = {"SecretStr", "required", "password", "sha256_password", "double_sha1_password"}


def tracked_files() -> list[Path]:
    done = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    )
    return [ROOT / name for name in done.stdout.decode().split("\0") if name]


def findings(path: Path, text: str) -> list[str]:
    found = [f"{path.name}: {kind}" for kind, rx in TOKEN_PATTERNS.items() if rx.search(text)]
    is_config = (
        path.suffix in CONFIG_SUFFIXES
        or path.name.startswith(".env")
        or path.name in {"Dockerfile", "Makefile"}
    )
    if is_config and "tests" not in path.parts:
        for rx in (ASSIGNMENT, SQL_PASSWORD):
            for match in rx.finditer(text):
                value = match.group("value")
                if value not in NOT_VALUES and not value.startswith("%"):
                    found.append(f"{path.name}: {match.group(0)!r}")
    return found


def test_no_tracked_file_holds_a_secret() -> None:
    problems = []
    files = tracked_files()
    assert len(files) > 100
    for path in files:
        if not path.is_file():
            continue
        try:
            text = path.read_text("utf-8")
        except UnicodeDecodeError:
            continue  # images
        problems += findings(path.relative_to(ROOT), text)
    assert problems == []


def test_no_env_file_is_tracked_and_env_is_ignored() -> None:
    names = [p.relative_to(ROOT).as_posix() for p in tracked_files()]
    assert [n for n in names if Path(n).name.startswith(".env")] == [".env.example"]
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT)
    assert ignored.returncode == 0, ".env must be in .gitignore"


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("creds.yaml", "clickhouse:\n  password: hunter2hunter2\n"),
        (".env", "GRAFANA_ADMIN_PASSWORD=Zx81bQ4r0kL2\n"),
        ("users.sql", "CREATE USER w IDENTIFIED WITH sha256_password BY 'Zx81bQ4r0kL2';\n"),
        ("notes.md", "token glsa_" + "a1B2" * 8 + "_0123abcd\n"),
        ("key.pem", "-----BEGIN RSA " + "PRIVATE KEY-----\n"),  # split: this file is scanned
    ],
)
def test_the_scan_catches_a_planted_secret(name: str, text: str) -> None:
    assert findings(Path(name), text)


@pytest.mark.parametrize(
    "text",
    [
        "password: ${DXPULSE_GRAFANA__CLICKHOUSE_PASSWORD}\n",
        "CLICKHOUSE_ADMIN_PASSWORD=\n",
        "CLICKHOUSE_PASSWORD: ${CLICKHOUSE_ADMIN_PASSWORD:?set it in .env}\n",
        "IDENTIFIED WITH sha256_password BY {writer_password}\n",
    ],
)
def test_references_and_empty_values_are_not_secrets(text: str) -> None:
    assert findings(Path("stack.yml"), text) == []
