"""Durations as Go and Prometheus write them: "5m", "1h30m", "1.5h", "250ms", "0".

One parser for every place a duration is text: the alert rules' ``for`` that Grafana writes
back in its own spelling ("300s" comes back as "5m"), a panel's minimum interval in the
report, and the CLI's ``--duration``-style options. It lives in the base layer because the
components (dashboards/diff.py) and the application (dxpulse/report/) both read them.
"""

from __future__ import annotations

import re

# Largest unit first, as Go prints them; "ms" before "m" so "5ms" is not "5m" + "s".
UNIT_SECONDS: dict[str, float] = {
    "y": 31_536_000, "w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1, "ms": 0.001,
}  # fmt: skip
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|[ywdhms])")


class DurationError(ValueError):
    """Text that is not a duration; the message names it and shows the expected form."""


def parse_duration(text: str, *, default_unit: str | None = None) -> float:
    """Seconds of ``text``: one or more ``<number><unit>`` parts with no space between
    (units y, w, d, h, m, s, ms), or "0". With ``default_unit``, a bare number is read
    in that unit (the CLI's ``--duration 90`` is seconds); without, it is refused."""
    stripped = text.strip()
    if stripped == "0":
        return 0.0
    if default_unit is not None and _is_number(stripped):
        return float(stripped) * UNIT_SECONDS[default_unit]
    parts = _PART.findall(stripped)
    if not parts or "".join(n + u for n, u in parts) != stripped:
        raise DurationError(f"{text!r} is not a duration such as 30s, 5m or 1h30m")
    return sum(float(n) * UNIT_SECONDS[u] for n, u in parts)


def _is_number(text: str) -> bool:
    return re.fullmatch(r"\d+(?:\.\d+)?", text) is not None
