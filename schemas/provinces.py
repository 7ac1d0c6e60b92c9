"""The 63 provinces (GSO codes) with region, population, urban share and centroid, and
each province's e-business index.

Loaded once from ``reference/provinces.csv`` and ``reference/ebi.csv``; see
``reference/SOURCES.md`` for provenance (which index values are published, which estimated).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

# Hà Nội and TP. Hồ Chí Minh (GSO codes): the two centrally-run cities that VECOM's
# E-Business Index has put first every year, "over 70% of the national e-commerce scale"
# (EBI 2016-2021). The generator, calibrate, the dashboards and the report compare them with
# the other 61 provinces; this is their one list.
TWO_CITIES: tuple[str, ...] = ("01", "79")

REGIONS: dict[str, str] = {
    "northern_midlands_mountains": "Northern Midlands and Mountains",
    "red_river_delta": "Red River Delta",
    "north_central_central_coast": "North Central and Central Coast",
    "central_highlands": "Central Highlands",
    "south_east": "South East",
    "mekong_delta": "Mekong River Delta",
}


@dataclass(frozen=True, slots=True)
class Province:
    code: str
    name_vi: str
    name_ascii: str
    region: str
    population: int
    urban_share: float
    lat: float
    lon: float
    unit_2025_code: str
    unit_2025_name: str


def _parse(row: dict[str, str]) -> Province:
    province = Province(
        code=row["code"],
        name_vi=row["name_vi"],
        name_ascii=row["name_ascii"],
        region=row["region"],
        population=int(row["population"]),
        urban_share=float(row["urban_share"]),
        lat=float(row["lat"]),
        lon=float(row["lon"]),
        unit_2025_code=row["unit_2025_code"],
        unit_2025_name=row["unit_2025_name"],
    )
    if province.region not in REGIONS:
        raise ValueError(f"province {province.code}: unknown region {province.region!r}")
    if not 0.0 < province.urban_share < 1.0:
        raise ValueError(f"province {province.code}: urban_share out of (0, 1)")
    return province


@cache
def provinces() -> dict[str, Province]:
    """All provinces keyed by GSO code, in code order."""
    text = resources.files("dxpulse.schemas").joinpath("reference/provinces.csv").read_text("utf-8")
    rows = [_parse(r) for r in csv.DictReader(text.splitlines())]
    by_code = {p.code: p for p in rows}
    if len(by_code) != len(rows):
        raise ValueError("provinces.csv has duplicate codes")
    return dict(sorted(by_code.items()))


@cache
def province_codes() -> frozenset[str]:
    return frozenset(provinces())


def region_of(code: str) -> str:
    return provinces()[code].region


EBI_BASES = ("published", "estimate")


@dataclass(frozen=True, slots=True)
class EbiScore:
    """A province's VECOM E-Business Index 2023 score and whether VECOM published it."""

    score: float
    basis: str


@cache
def ebi_scores() -> dict[str, EbiScore]:
    """EBI 2023 by GSO code, for every one of the 63 provinces (code order)."""
    text = resources.files("dxpulse.schemas").joinpath("reference/ebi.csv").read_text("utf-8")
    scores = {
        row["code"]: EbiScore(float(row["ebi_2023"]), row["basis"])
        for row in csv.DictReader(text.splitlines())
    }
    if set(scores) != set(provinces()):
        raise ValueError("ebi.csv must have exactly the 63 province codes of provinces.csv")
    bad = [c for c, s in scores.items() if s.basis not in EBI_BASES or s.score <= 0]
    if bad:
        raise ValueError(f"ebi.csv: bad score or basis for {', '.join(bad)}")
    return dict(sorted(scores.items()))
