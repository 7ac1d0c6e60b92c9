"""detect-secrets plugins for the two credential shapes of this project it has no plugin for.

.secrets.baseline names this file (`file://tests/secret_detectors.py`), so every scan with the
baseline (tests/unit_tests/test_secrets.py, `detect-secrets scan --baseline .secrets.baseline`)
runs them beside detect-secrets' own (keys, tokens, password-like keywords, high entropy).
"""

from __future__ import annotations

import re

from detect_secrets.plugins.base import RegexBasedDetector


class GrafanaServiceAccountTokenDetector(RegexBasedDetector):
    """`dxpulse dashboards push` takes one (DXPULSE_GRAFANA__TOKEN): never in a file."""

    secret_type = "Grafana Service Account Token"  # pragma: allowlist secret
    denylist = (re.compile(r"\b(glsa_[A-Za-z0-9]{32}_[0-9a-f]{8})\b"),)


class SqlLiteralPasswordDetector(RegexBasedDetector):
    """CREATE/ALTER USER ... IDENTIFIED [WITH x] BY '<literal>': migrations take placeholders.

    The keyword plugin does not read SQL's `BY '...'`; references ({name}, $VAR) are fine.
    """

    secret_type = "SQL Literal Password"  # pragma: allowlist secret
    denylist = (re.compile(r"(?i)\bIDENTIFIED\b[^;]*?\bBY\s+'([^'{}$]{6,})'"),)


class EnvFileLiteralPasswordDetector(RegexBasedDetector):
    """NAME_PASSWORD=<literal>, a whole dotenv line, whatever the file's name.

    The keyword plugin reads `KEY=value` without quotes only in files it knows as dotenv
    (.env), not in .env.example, where a password pasted from a real .env would land.
    Empty values, references (${VAR}, $VAR) and elisions (glsa_...) are fine.
    """

    secret_type = "Env File Literal Password"  # pragma: allowlist secret
    denylist = (
        re.compile(
            r"(?m)^[ \t]*(?:export[ \t]+)?[A-Z][A-Z0-9_]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_KEY)"
            r"[A-Z0-9_]*=[\"']?(?!\S*\.\.\.)([^\s\"'$#{}<>]{6,})[\"']?[ \t]*(?:#.*)?$"
        ),
    )
