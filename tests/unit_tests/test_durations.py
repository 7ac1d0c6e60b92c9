"""The one duration parser (dxpulse/core/durations.py) reads Go/Prometheus durations."""

from __future__ import annotations

import ast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dxpulse.core.durations import UNIT_SECONDS, DurationError, parse_duration
from tests.wheel import ROOT

# Any ordered subset of the units, each with a count: "1h30m", "2d5s", "250ms", "3w".
_PARTS = st.lists(
    st.tuples(st.sampled_from(list(UNIT_SECONDS)), st.integers(0, 10_000)),
    min_size=1, max_size=len(UNIT_SECONDS), unique_by=lambda p: p[0],
).map(lambda parts: sorted(parts, key=lambda p: -UNIT_SECONDS[p[0]]))  # fmt: skip


@given(_PARTS)
def test_a_written_duration_reads_back_as_its_seconds(parts: list[tuple[str, int]]) -> None:
    text = "".join(f"{n}{unit}" for unit, n in parts)
    expected = sum(n * UNIT_SECONDS[unit] for unit, n in parts)
    assert parse_duration(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5m", 300), ("300s", 300), ("1h30m", 5_400), ("0", 0), ("0s", 0), ("1.5h", 5_400),
     ("500ms", 0.5), ("5ms", 0.005), ("1d", 86_400), ("2w", 1_209_600), (" 5m ", 300)],
)  # fmt: skip
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "5", "5 m", "5x", "-5m", "5m-", "1h 30m", "five"])
def test_what_is_not_a_duration_is_refused_in_one_line(text: str) -> None:
    with pytest.raises(DurationError, match=r"is not a duration such as 30s, 5m or 1h30m"):
        parse_duration(text)


def test_a_bare_number_takes_the_default_unit_when_there_is_one() -> None:
    assert parse_duration("90", default_unit="s") == 90
    assert parse_duration("1.5", default_unit="h") == 5_400
    assert parse_duration("2m", default_unit="s") == 120


def test_no_other_module_parses_durations() -> None:
    # The unit table's mark: a mapping with "ms" and "h" keys. tests/grafana_fake.py keeps
    # its own on purpose: it stands in for Grafana, so it must not share our parser.
    owners = []
    for path in sorted({*ROOT.glob("dxpulse/**/*.py"), *ROOT.glob("dashboards/*.py"),
                        *ROOT.glob("streams/*.py"), *ROOT.glob("producers/*.py")}):  # fmt: skip
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            keys = {k.value for k in getattr(node, "keys", []) if isinstance(k, ast.Constant)}
            if isinstance(node, ast.Dict) and {"ms", "h"} <= keys:
                owners.append(str(path.resolve().relative_to(ROOT)))
    assert set(owners) == {"dxpulse/core/durations.py"}
