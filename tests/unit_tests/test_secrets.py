"""Nothing secret is committed: detect-secrets scans every tracked file against a baseline.

Passwords reach the stack only through .env (ignored by git) and the environment; the
committed files hold variable references (${...}) or empty values. detect-secrets' plugins
(keys, tokens, password-like keywords, high-entropy strings) and the project's own three
(tests/secret_detectors.py: Grafana tokens, SQL and dotenv literal passwords) run with the settings
.secrets.baseline records. The baseline lists the findings accepted after an audit, all of
them fake credentials in tests. After such a change, and only then:

    detect-secrets scan --baseline .secrets.baseline   # rescan, keeping the settings
    detect-secrets audit .secrets.baseline             # mark each finding, by hand
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from detect_secrets.core.scan import scan_file
from detect_secrets.settings import transient_settings

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / ".secrets.baseline"
DETECTORS = "file://tests/secret_detectors.py"


def tracked_files() -> list[Path]:
    done = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    )
    return [ROOT / name for name in done.stdout.decode().split("\0") if name]


def baseline(path: Path = BASELINE) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data


def accepted(data: dict[str, Any]) -> set[tuple[str, str, str]]:
    """A finding's identity, as detect-secrets compares them: file, kind, hashed secret."""
    return {
        (name, item["type"], item["hashed_secret"])
        for name, items in data["results"].items()
        for item in items
    }


def rescan(tmp_path: Path) -> dict[str, Any]:
    """`detect-secrets scan --baseline` on a copy: every tracked file, the baseline's settings."""
    copy = tmp_path / "baseline.json"
    shutil.copyfile(BASELINE, copy)
    subprocess.run(
        [sys.executable, "-m", "detect_secrets", "scan", "--baseline", str(copy)],
        cwd=ROOT, check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    return baseline(copy)


def findings(path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What a scan with the baseline's plugins and filters finds in one file."""
    monkeypatch.chdir(ROOT)  # the baseline names the project's plugins relative to the root
    saved = baseline()
    settings = {"plugins_used": saved["plugins_used"], "filters_used": saved["filters_used"]}
    with transient_settings(settings):
        return sorted(secret.type for secret in scan_file(str(path)))


def test_no_tracked_file_holds_a_secret_the_baseline_does_not_accept(tmp_path: Path) -> None:
    assert len(tracked_files()) > 100
    new = accepted(rescan(tmp_path)) - accepted(baseline())
    assert sorted(new) == [], "a secret? if it is a fake one, audit it into .secrets.baseline"


def test_the_baseline_accepts_only_fakes_in_tests_and_runs_the_project_plugins() -> None:
    saved = baseline()
    assert [name for name in saved["results"] if not name.startswith("tests/")] == []
    custom = [p["name"] for p in saved["plugins_used"] if p.get("path") == DETECTORS]
    assert sorted(custom) == [
        "EnvFileLiteralPasswordDetector",
        "GrafanaServiceAccountTokenDetector",
        "SqlLiteralPasswordDetector",
    ]


def test_no_env_file_is_tracked_and_env_is_ignored() -> None:
    names = [p.relative_to(ROOT).as_posix() for p in tracked_files()]
    assert [n for n in names if Path(n).name.startswith(".env")] == [".env.example"]
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT)
    assert ignored.returncode == 0, ".env must be in .gitignore"


@pytest.mark.parametrize(
    ("name", "text", "kind"),
    [
        ("creds.yaml", "clickhouse:\n  password: hunter2hunter2\n", "Secret Keyword"),
        # A line is reported once, by the first plugin that finds it.
        (".env", "GRAFANA_ADMIN_PASSWORD=Zx81bQ4r0kL2\n",
         "Env File Literal Password|Secret Keyword"),
        ("users.sql", "CREATE USER w IDENTIFIED WITH sha256_password BY 'Zx81bQ4r0kL2';\n",
         "SQL Literal Password"),
        ("notes.md", "token glsa_" + "a1B2" * 8 + "_0123abcd\n", "Grafana Service Account Token"),
        ("key.pem", "-----BEGIN RSA " + "PRIVATE KEY-----\n", "Private Key"),
        ("aws.txt", "key AKIA" + "IOSFODNN7EXAMPL3\n", "AWS Access Key"),
        ("gh.txt", "ghp_" + "a1B2c3D4e5" * 3 + "a1B2c3\n", "GitHub Token"),
        # What the regexes this scan replaced missed: code, and credentials in URLs.
        ("settings.py", 'DB_PASSWORD = "Zx81bQ4r0kL2"\n', "Secret Keyword"),
        ("dsn.txt", "clickhouse://dxpulse:Zx81bQ4r0kL2@ch:8123\n", "Basic Auth Credentials"),
        (".env.example", "GRAFANA_ADMIN_PASSWORD=Zx81bQ4r0kL2\n", "Env File Literal Password"),
    ],
)  # fmt: skip
def test_the_scan_catches_a_planted_secret(
    name: str, text: str, kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    planted = tmp_path / name
    planted.write_text(text, "utf-8")
    found = findings(planted, monkeypatch)
    assert set(kind.split("|")) & set(found), found


@pytest.mark.parametrize(
    "text",
    [
        "password: ${DXPULSE_GRAFANA__CLICKHOUSE_PASSWORD}\n",
        "CLICKHOUSE_ADMIN_PASSWORD=\n",
        "CLICKHOUSE_PASSWORD: ${CLICKHOUSE_ADMIN_PASSWORD:?set it in .env}\n",
        "IDENTIFIED WITH sha256_password BY {writer_password}\n",
    ],
)
def test_references_and_empty_values_are_not_secrets(
    text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = tmp_path / "stack.yml"
    stack.write_text(text, "utf-8")
    assert findings(stack, monkeypatch) == []
