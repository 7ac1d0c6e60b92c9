"""The calibration targets: a YAML file of figures with their sources, validated on load."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dxpulse.calibrate.implied import implied_values
from dxpulse.calibrate.measure import METRICS
from dxpulse.core.errors import DxpulseError

Unit = Literal["percent", "vnd", "count", "ratio"]  # ratio: a plain number, e.g. 0.65
# published: a figure stated by the source; derived: arithmetic on published figures;
# assumption: the project's own choice where no published figure pins the value down.
Basis = Literal["published", "derived", "assumption"]
_STRICT = ConfigDict(extra="forbid", frozen=True)


class Source(BaseModel):
    model_config = _STRICT

    title: str = Field(min_length=1)
    date: str = Field(min_length=1)


class Tolerance(BaseModel):
    """How far the measured value may be from the target: one of the two."""

    model_config = _STRICT

    absolute: float | None = Field(default=None, ge=0, description="in the target's unit")
    relative: float | None = Field(default=None, gt=0, lt=1, description="a fraction of it")

    @model_validator(mode="after")
    def _exactly_one(self) -> Tolerance:
        if (self.absolute is None) == (self.relative is None):
            raise ValueError("give exactly one of absolute or relative")
        return self

    def allowed(self, target: float) -> float:
        """The largest deviation from ``target`` that passes."""
        return self.absolute if self.absolute is not None else (self.relative or 0) * abs(target)


class TargetSpec(BaseModel):
    """One target as written in the file."""

    model_config = _STRICT

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{2,63}$")
    figure: str = Field(min_length=1, description="the figure, in plain words")
    metric: str = Field(description="the measurement it is compared with (measure.METRICS)")
    target: float | None = None
    implied: str | None = Field(default=None, description="a name from implied_values()")
    tolerance: Tolerance
    unit: Unit
    min_sample: int = Field(ge=1, description="below this sample the figure fails")
    sample_unit: str = Field(min_length=1, description="what the sample counts")
    measured_as: str = Field(min_length=1, description="how it is measured, in plain words")
    source: str
    reference: str = Field(min_length=1, description="quote or pointer into the source")
    basis: Basis

    @model_validator(mode="after")
    def _one_target(self) -> TargetSpec:
        if (self.target is None) == (self.implied is None):
            raise ValueError("give exactly one of target or implied")
        return self


class TargetsFile(BaseModel):
    model_config = _STRICT

    version: Literal[1]
    sources: dict[str, Source] = Field(min_length=1)
    targets: list[TargetSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> TargetsFile:
        ids = [t.id for t in self.targets]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"duplicate target ids: {', '.join(repeated)}")
        for t in self.targets:
            if t.source not in self.sources:
                raise ValueError(f"target {t.id}: unknown source {t.source!r}")
            if t.metric not in METRICS:
                raise ValueError(f"target {t.id}: unknown metric {t.metric!r}")
        return self


@dataclass(frozen=True)
class Target:
    """A target with its value settled (implied ones computed) and its source looked up."""

    spec: TargetSpec
    value: float
    source: Source

    @property
    def allowed(self) -> float:
        return self.spec.tolerance.allowed(self.value)


def default_path() -> Path:
    reference = resources.files("dxpulse.schemas").joinpath("reference")
    return Path(str(reference.joinpath("calibration_targets.yaml")))


def parse_targets(text: str, implied: Mapping[str, float] | None = None) -> list[Target]:
    """Targets from the file's text; DxpulseError names what is wrong with it."""
    implied = implied_values() if implied is None else implied
    try:
        parsed = TargetsFile.model_validate(yaml.safe_load(text))
    except (yaml.YAMLError, ValidationError) as exc:
        raise DxpulseError(f"bad calibration targets: {_first_error(exc)}") from exc
    targets = []
    for spec in parsed.targets:
        if spec.implied is not None and spec.implied not in implied:
            raise DxpulseError(f"bad calibration targets: {spec.id}: unknown {spec.implied!r}")
        value = spec.target if spec.implied is None else implied[spec.implied]
        assert value is not None  # one of target and implied is set (validated)
        targets.append(Target(spec, value, parsed.sources[spec.source]))
    return targets


def load_targets(path: Path | None = None) -> list[Target]:
    return parse_targets((path or default_path()).read_text("utf-8"))


def _first_error(exc: yaml.YAMLError | ValidationError) -> str:
    if isinstance(exc, yaml.YAMLError):
        return str(exc).splitlines()[0]
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']}" if where else str(first["msg"])
