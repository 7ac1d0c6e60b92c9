"""producers/geography.py: who is active where, from the e-business index and urban shares."""

from __future__ import annotations

import pytest

from dxpulse.calibrate.stats import spearman
from dxpulse.producers import calibration as cal
from dxpulse.producers.geography import (
    big_city_share,
    ebi_exponent,
    ordered_provinces,
    type_geography,
)
from dxpulse.schemas.provinces import ebi_scores

TYPES = ("online_payment", "ecommerce_order", "mobile_money")


@pytest.mark.parametrize("event_type", TYPES)
def test_weights_are_a_distribution_over_the_63_provinces(event_type: str) -> None:
    geo = type_geography(event_type)
    assert len(geo.weights) == len(geo.urban) == 63
    assert geo.weights.sum() == pytest.approx(1.0)
    assert (geo.weights > 0).all() and ((geo.urban > 0) & (geo.urban < 1)).all()


@pytest.mark.parametrize("event_type", ["online_payment", "ecommerce_order"])
def test_the_two_cities_get_their_share(event_type: str) -> None:
    geo = type_geography(event_type)
    assert big_city_share(geo.weights) == pytest.approx(cal.BIG_CITY_SHARE[event_type], abs=1e-6)
    assert ebi_exponent(event_type) > 0


@pytest.mark.parametrize("event_type", ["online_payment", "ecommerce_order"])
def test_activity_per_head_follows_the_index(event_type: str) -> None:
    geo = type_geography(event_type)
    provs = ordered_provinces()
    per_head = [w / p.population for w, p in zip(geo.weights.tolist(), provs, strict=True)]
    scores = [ebi_scores()[p.code].score for p in provs]
    # a power of the index (tied scores may split by float rounding of the ratio)
    assert spearman(per_head, scores) == pytest.approx(1.0, abs=1e-3)
    codes = [p.code for p in provs]
    ranked = [c for _, c in sorted(zip(per_head, codes, strict=True), reverse=True)]
    assert set(ranked[:2]) == {"01", "79"} and ranked[2] == "48"  # then Đà Nẵng
    assert set(ranked[-2:]) == {"62", "67"}  # Kon Tum and Đắk Nông last, as published


@pytest.mark.parametrize("event_type", TYPES)
def test_rural_tickets_are_smaller_and_the_mean_ticket_is_kept(event_type: str) -> None:
    geo = type_geography(event_type)
    assert geo.rural_ticket / geo.urban_ticket == pytest.approx(cal.RURAL_TICKET_RATIO[event_type])
    mean = geo.urban_share * geo.urban_ticket + (1 - geo.urban_share) * geo.rural_ticket
    assert mean == pytest.approx(1.0)


def test_mobile_money_keeps_the_published_rural_share_and_varies_by_region() -> None:
    geo = type_geography("mobile_money")
    assert 1 - geo.urban_share == pytest.approx(cal.MOBILE_MONEY_RURAL_SHARE)
    rural_by_region: dict[str, list[float]] = {}
    for p, w, u in zip(ordered_provinces(), geo.weights.tolist(), geo.urban.tolist(), strict=True):
        rural_by_region.setdefault(p.region, [0.0, 0.0])
        rural_by_region[p.region][0] += w * (1 - u)
        rural_by_region[p.region][1] += w
    share = {r: rural / total for r, (rural, total) in rural_by_region.items()}
    assert share["south_east"] < 0.55 < 0.8 < share["northern_midlands_mountains"]


def test_urban_residents_are_more_active_than_rural_ones() -> None:
    geo = type_geography("online_payment")
    for p, u in zip(ordered_provinces(), geo.urban.tolist(), strict=True):
        assert u > p.urban_share, p.code
