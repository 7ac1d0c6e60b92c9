"""Province reference data: 63 GSO provinces, totals as documented in reference/SOURCES.md."""

from __future__ import annotations

from collections import Counter

import pytest

from dxpulse.schemas.provinces import (
    REGIONS,
    _parse,
    ebi_scores,
    province_codes,
    provinces,
    region_of,
)

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


# Resolution 202/2025/QH15 (in force 1 July 2025), written out independently of the CSV:
# each of the 34 units and the pre-2025 provinces it is made of.
UNITS_2025 = {
    "Hà Nội": {"Ha Noi"},
    "Huế": {"Thua Thien Hue"},
    "Lai Châu": {"Lai Chau"},
    "Điện Biên": {"Dien Bien"},
    "Sơn La": {"Son La"},
    "Lạng Sơn": {"Lang Son"},
    "Quảng Ninh": {"Quang Ninh"},
    "Thanh Hóa": {"Thanh Hoa"},
    "Nghệ An": {"Nghe An"},
    "Hà Tĩnh": {"Ha Tinh"},
    "Cao Bằng": {"Cao Bang"},
    "Tuyên Quang": {"Tuyen Quang", "Ha Giang"},
    "Lào Cai": {"Lao Cai", "Yen Bai"},
    "Thái Nguyên": {"Thai Nguyen", "Bac Kan"},
    "Phú Thọ": {"Phu Tho", "Vinh Phuc", "Hoa Binh"},
    "Bắc Ninh": {"Bac Ninh", "Bac Giang"},
    "Hưng Yên": {"Hung Yen", "Thai Binh"},
    "Hải Phòng": {"Hai Phong", "Hai Duong"},
    "Ninh Bình": {"Ninh Binh", "Ha Nam", "Nam Dinh"},
    "Quảng Trị": {"Quang Tri", "Quang Binh"},
    "Đà Nẵng": {"Da Nang", "Quang Nam"},
    "Quảng Ngãi": {"Quang Ngai", "Kon Tum"},
    "Gia Lai": {"Gia Lai", "Binh Dinh"},
    "Khánh Hòa": {"Khanh Hoa", "Ninh Thuan"},
    "Lâm Đồng": {"Lam Dong", "Dak Nong", "Binh Thuan"},
    "Đắk Lắk": {"Dak Lak", "Phu Yen"},
    "TP. Hồ Chí Minh": {"Ho Chi Minh City", "Binh Duong", "Ba Ria - Vung Tau"},
    "Đồng Nai": {"Dong Nai", "Binh Phuoc"},
    "Tây Ninh": {"Tay Ninh", "Long An"},
    "Cần Thơ": {"Can Tho", "Soc Trang", "Hau Giang"},
    "Vĩnh Long": {"Vinh Long", "Ben Tre", "Tra Vinh"},
    "Đồng Tháp": {"Dong Thap", "Tien Giang"},
    "Cà Mau": {"Ca Mau", "Bac Lieu"},
    "An Giang": {"An Giang", "Kien Giang"},
}


def test_every_province_maps_to_exactly_one_2025_unit():
    provs = provinces()
    assert len(UNITS_2025) == 34
    members = [name for names in UNITS_2025.values() for name in names]
    assert len(members) == len(set(members)) == 63  # the resolution's own partition
    unit_of = {name: unit for unit, names in UNITS_2025.items() for name in names}
    for p in provs.values():
        assert p.unit_2025_code and p.unit_2025_name, p.code
        assert p.unit_2025_name == unit_of[p.name_ascii], p.code
        # the unit is coded by its namesake province, which belongs to it
        assert provs[p.unit_2025_code].unit_2025_code == p.unit_2025_code, p.code
    by_code: dict[str, set[str]] = {}
    for p in provs.values():
        by_code.setdefault(p.unit_2025_code, set()).add(p.unit_2025_name)
    assert all(len(names) == 1 for names in by_code.values())  # one name per unit code


# --- The e-business index (schemas/reference/ebi.csv) -------------------------------------


def test_ebi_has_every_province_and_the_published_scores() -> None:
    scores = ebi_scores()
    assert list(scores) == list(provinces())
    published = {c: s.score for c, s in scores.items() if s.basis == "published"}
    # VECOM EBI 2023 (SOURCES.md): TP.HCM, Hà Nội, Đà Nẵng; Đắk Nông and Kon Tum last
    assert published == {"79": 89.2, "01": 85.7, "48": 39.5, "67": 10.6, "62": 10.2}


def test_ebi_estimates_keep_the_published_average_and_places() -> None:
    scores = ebi_scores()
    average = sum(s.score for s in scores.values()) / len(scores)
    assert average == pytest.approx(19.24, abs=0.01)  # published average 19.24
    estimates = [s.score for s in scores.values() if s.basis == "estimate"]
    assert len(estimates) == 58
    assert min(estimates) > 10.6 and max(estimates) < 39.5  # between 4th-from-top and last two
