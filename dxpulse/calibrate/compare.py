"""Measured against target: pass, fail, or not judged for want of sample (pure logic)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dxpulse.calibrate.measure import Measurement
from dxpulse.calibrate.targets import Target

# Measured values are floats computed from integers: forgive rounding noise at the boundary.
_SLACK = 1e-9


PASS, FAIL, TOO_SMALL = "PASS", "FAIL", "SAMPLE TOO SMALL"


@dataclass(frozen=True)
class Result:
    """One figure's verdict. A sample below the figure's minimum (no data included) is not
    judged: on a few thousand events a share is noise, so neither PASS nor FAIL is true."""

    target: Target
    measured: float | None
    sample: int
    passed: bool
    reason: str  # why it failed or was not judged; empty when it passed
    judged: bool = True

    @property
    def deviation(self) -> float | None:
        return None if self.measured is None else self.measured - self.target.value

    @property
    def verdict(self) -> str:
        if not self.judged:
            return TOO_SMALL
        return PASS if self.passed else FAIL

    @property
    def failed(self) -> bool:
        """Judged and off target: what sets calibrate's exit code."""
        return self.judged and not self.passed


def compare(target: Target, measurement: Measurement | None) -> Result:
    """A figure is judged only with enough sample; it passes with a value within the
    tolerance."""
    spec = target.spec
    if measurement is None or measurement.value is None or math.isnan(measurement.value):
        sample = measurement.sample if measurement else 0
        return Result(target, None, sample, False, f"no data: no {spec.sample_unit}", False)
    value, sample = measurement.value, measurement.sample
    if sample < spec.min_sample:
        reason = f"insufficient sample: {sample:,} {spec.sample_unit}, needs {spec.min_sample:,}"
        return Result(target, value, sample, False, reason, False)
    deviation, allowed = value - target.value, target.allowed
    if abs(deviation) <= allowed + _SLACK * max(1.0, abs(target.value)):
        return Result(target, value, sample, True, "")
    reason = f"off by {format_deviation(deviation, spec.unit)}, allowed {format_allowed(target)}"
    return Result(target, value, sample, False, reason)


def compare_all(targets: Sequence[Target], metrics: Mapping[str, Measurement]) -> list[Result]:
    return [compare(t, metrics.get(t.spec.metric)) for t in targets]


def format_value(value: float, unit: str) -> str:
    if unit == "percent":
        return f"{value:.2f}%"
    if unit == "vnd":
        return f"{value:,.0f} VND"
    if unit == "ratio":
        return f"{value:.3f}"
    return f"{value:,.0f}"


def format_deviation(deviation: float, unit: str) -> str:
    if unit == "percent":
        return f"{deviation:+.2f} points"
    if unit == "vnd":
        return f"{deviation:+,.0f} VND"
    if unit == "ratio":
        return f"{deviation:+.3f}"
    return f"{deviation:+,.0f}"


def format_allowed(target: Target) -> str:
    """The tolerance as a reader would say it: ± 2 points, ± 8%, exact."""
    tolerance, unit = target.spec.tolerance, target.spec.unit
    if tolerance.relative is not None:
        return f"± {tolerance.relative * 100:g}%"
    if tolerance.absolute == 0:
        return "exact"
    absolute = tolerance.absolute or 0.0
    if unit == "percent":
        return f"± {absolute:g} point{'' if absolute == 1 else 's'}"
    if unit == "vnd":
        return f"± {absolute:,.0f} VND"
    return f"± {absolute:,g}"
