"""Province reference data: 63 GSO provinces, totals as documented in reference/SOURCES.md."""

from __future__ import annotations

from collections import Counter

import pytest

from schemas.provinces import REGIONS, _parse, province_codes, provinces, region_of

_ROW = {
    "code": "99",
    "name_vi": "Thử",
    "name_ascii": "Thu",
    "region": "mekong_delta",
    "population": "1000",
    "urban_share": "0.5",
    "lat": "10.0",
    "lon": "105.0",
    "unit_2025_code": "99",
    "unit_2025_name": "Thử",
}


def test_sixty_three_provinces_in_code_order():
    provs = provinces()
    assert len(provs) == 63
    assert list(provs) == sorted(provs)
    assert all(len(code) == 2 and code.isdigit() for code in provs)
    assert all(p.code == code for code, p in provs.items())


def test_province_codes_match_the_table():
    assert province_codes() == frozenset(provinces())
    assert "79" in province_codes()
    assert "00" not in province_codes()


def test_totals_documented_in_sources():
    provs = provinces().values()
    total = sum(p.population for p in provs)
    assert total == 100_309_200
    urban = sum(p.population * p.urban_share for p in provs) / total
    assert urban == pytest.approx(0.3755, abs=0.0001)
    assert len({p.unit_2025_code for p in provs}) == 34


def test_region_counts_and_populations_documented_in_sources():
    provs = provinces().values()
    assert Counter(p.region for p in provs) == {
        "northern_midlands_mountains": 14,
        "red_river_delta": 11,
        "north_central_central_coast": 14,
        "central_highlands": 5,
        "south_east": 6,
        "mekong_delta": 13,
    }
    population = Counter()
    for p in provs:
        population[p.region] += p.population
    assert population["red_river_delta"] == 23_732_400
    assert population["south_east"] == 19_018_800


def test_largest_provinces():
    provs = provinces()
    biggest = sorted(provs.values(), key=lambda p: p.population, reverse=True)[:2]
    assert [p.code for p in biggest] == ["79", "01"]
    assert provs["79"].name_ascii == "Ho Chi Minh City"
    assert provs["01"].name_vi == "Hà Nội"


def test_every_row_is_plausible():
    for p in provinces().values():
        assert p.region in REGIONS
        assert 0 < p.urban_share < 1
        assert 100_000 < p.population < 10_000_000
        assert 8.0 <= p.lat <= 23.5 and 102.0 <= p.lon <= 110.0, p.code
        assert p.unit_2025_code in provinces(), p.code
        assert p.name_vi and p.name_ascii.isascii()


def test_region_of():
    assert region_of("79") == "south_east"
    assert region_of("01") == "red_river_delta"
    assert region_of("92") == "mekong_delta"
    with pytest.raises(KeyError):
        region_of("00")


def test_parse_converts_types():
    p = _parse(_ROW)
    assert (p.population, p.urban_share, p.lat, p.lon) == (1000, 0.5, 10.0, 105.0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"region": "atlantis"}, "unknown region"),
        ({"urban_share": "1.0"}, "urban_share"),
        ({"urban_share": "0"}, "urban_share"),
    ],
)
def test_parse_rejects_bad_rows(change, message):
    with pytest.raises(ValueError, match=message):
        _parse({**_ROW, **change})
