"""Targets implied by the generator's parameters and the province tables, not typed in twice.

The online-payment ticket is a log-normal mixture (``PAYMENT_METHODS`` weights,
``PAYMENT_TICKETS`` median and sigma per method, scaled by area), so its median and mean
follow from those parameters; the geography figures (region shares, the two cities' shares,
value per head against the e-business index) follow from producers/geography.py, the model
the generator draws from; the growth figures from ``COUNT_GROWTH_PER_YEAR``. Computing them
here means a change of calibration moves the targets with it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from dxpulse.calibrate.stats import spearman
from dxpulse.producers import calibration as cal
from dxpulse.producers.geography import (
    TypeGeography,
    big_city_share,
    ordered_provinces,
    type_geography,
)
from dxpulse.schemas.provinces import REGIONS, ebi_scores, provinces

# The generator rounds every ticket to whole thousands of VND, and never below 1,000.
TICKET_STEP_VND = 1_000
TICKET_MIN_VND = 1_000
_BISECTIONS = 200  # in log space: far below a VND of error


class LogNormal(NamedTuple):
    """One mixture component: its weight (normalised by the mixture), median and sigma."""

    weight: float
    median: float
    sigma: float


def payment_ticket_mixture() -> list[LogNormal]:
    """The online-payment ticket as the generator draws it (at the trend's origin): each
    method's log-normal, in rural and in urban areas with their ticket multipliers."""
    geo = type_geography("online_payment")
    areas = ((1 - geo.urban_share, geo.rural_ticket), (geo.urban_share, geo.urban_ticket))
    return [
        LogNormal(
            weight * share, cal.PAYMENT_TICKETS[method][0] * factor, cal.PAYMENT_TICKETS[method][1]
        )
        for method, weight in cal.PAYMENT_METHODS.items()
        for share, factor in areas
    ]


def mixture_cdf(x: float, mixture: Sequence[LogNormal]) -> float:
    """P(X <= x) for the continuous mixture."""
    if x <= 0:
        return 0.0
    total = sum(c.weight for c in mixture)
    below = sum(
        c.weight * 0.5 * (1 + math.erf(math.log(x / c.median) / (c.sigma * math.sqrt(2))))
        for c in mixture
    )
    return below / total


def mixture_quantile(q: float, mixture: Sequence[LogNormal]) -> float:
    """The q-quantile of the continuous mixture, by bisection on its CDF (in log space)."""
    if not 0 < q < 1:
        raise ValueError(f"quantile level must be in (0, 1), not {q}")
    # Every component's q-quantile lies within 40 sigma of its median: bracket them all.
    low = math.log(min(c.median for c in mixture)) - 40 * max(c.sigma for c in mixture)
    high = math.log(max(c.median for c in mixture)) + 40 * max(c.sigma for c in mixture)
    for _ in range(_BISECTIONS):
        mid = (low + high) / 2
        if mixture_cdf(math.exp(mid), mixture) < q:
            low = mid
        else:
            high = mid
    return math.exp(high)


def rounded_quantile(q: float, mixture: Sequence[LogNormal]) -> float:
    """The q-quantile of the tickets as generated: rounded to TICKET_STEP_VND, at least
    TICKET_MIN_VND.

    A generated ticket is at most k steps exactly when the drawn amount is below k steps plus
    half a step, so the quantile is the first whole step at or above the continuous quantile
    minus half a step.
    """
    continuous = mixture_quantile(q, mixture)
    steps = math.ceil((continuous - TICKET_STEP_VND / 2) / TICKET_STEP_VND)
    return float(max(TICKET_MIN_VND, steps * TICKET_STEP_VND))


def mixture_mean(mixture: Sequence[LogNormal]) -> float:
    """Σ w · median · exp(σ²/2) over normalised weights.

    Rounding to whole thousands is symmetric and the 1,000 VND floor touches about one ticket
    in ten thousand, so the generated tickets' mean differs from this by far less than 0.1%.
    """
    total = sum(c.weight for c in mixture)
    return sum(c.weight * c.median * math.exp(c.sigma**2 / 2) for c in mixture) / total


def region_payment_shares() -> dict[str, float]:
    """Each GSO region's share of online payments, in percent, as the model draws them."""
    return region_shares(type_geography("online_payment").weights.tolist())


def region_shares(weights: Sequence[float]) -> dict[str, float]:
    """Province weights (code order) summed by region, in percent."""
    total = dict.fromkeys(REGIONS, 0.0)
    for province, weight in zip(ordered_provinces(), weights, strict=True):
        total[province.region] += weight
    whole = sum(total.values())
    return {region: 100 * w / whole for region, w in total.items()}


def area_mean(event_type: str, area: str) -> float:
    """The type's mean ticket in one area (VND, at the trend's origin)."""
    geo = type_geography(event_type)
    factor = geo.rural_ticket if area == "rural" else geo.urban_ticket
    if event_type == "online_payment":
        base = sum(
            w * m * math.exp(s**2 / 2)
            for w, (m, s) in zip(
                cal.PAYMENT_METHODS.values(),
                (cal.PAYMENT_TICKETS[k] for k in cal.PAYMENT_METHODS),
                strict=True,
            )
        ) / sum(cal.PAYMENT_METHODS.values())
    elif event_type == "ecommerce_order":
        median, sigma = cal.ORDER_TICKET
        base = median * math.exp(sigma**2 / 2)
    else:
        kinds = cal.MOBILE_MONEY_KINDS_BY_AREA[area]
        base = sum(
            w * cal.MOBILE_MONEY_TICKETS[k][0] * math.exp(cal.MOBILE_MONEY_TICKETS[k][1] ** 2 / 2)
            for k, w in kinds.items()
        ) / sum(kinds.values())
    return base * factor


def province_value(event_type: str) -> list[float]:
    """Expected value of the type's events per province (code order), per event overall."""
    geo: TypeGeography = type_geography(event_type)
    rural, urban = area_mean(event_type, "rural"), area_mean(event_type, "urban")
    return [
        float(w * (u * urban + (1 - u) * rural))
        for w, u in zip(geo.weights.tolist(), geo.urban.tolist(), strict=True)
    ]


def value_per_head_spearman() -> float:
    """Spearman's correlation of expected value per head (all types, at today's mix) with the
    provinces' e-business index: the ranking the generator is built to follow."""
    mix = cal.EVENT_TYPE_WEIGHTS
    per_type = {t: province_value(t) for t in mix}
    provs = ordered_provinces()
    per_head = [
        sum(mix[t] * per_type[t][i] for t in mix) / p.population for i, p in enumerate(provs)
    ]
    scores = ebi_scores()
    return spearman(per_head, [scores[p.code].score for p in provs])


def big_city_value_share(event_type: str) -> float:
    """Hà Nội's and TP. Hồ Chí Minh's share of the type's value, in percent."""
    value = province_value(event_type)
    codes = [p.code for p in ordered_provinces()]
    cities = sum(value[codes.index(c)] for c in cal.BIG_CITIES)
    return 100 * cities / sum(value)


def cod_share() -> float:
    """Orders paid cash on delivery, in percent: each area's share by its part of orders."""
    urban = type_geography("ecommerce_order").urban_share
    by_area = cal.ORDER_PAYMENTS_BY_AREA
    share = {a: w["cod"] / sum(w.values()) for a, w in by_area.items()}
    return 100 * (urban * share["urban"] + (1 - urban) * share["rural"])


def growth_values() -> dict[str, float]:
    """Yearly growth in percent: counts by ``COUNT_GROWTH_PER_YEAR``; value by the count
    times the ticket trend (online payments; the other tickets have none)."""
    growth = cal.COUNT_GROWTH_PER_YEAR
    return {
        "growth.online_payment.count": 100 * (growth["online_payment"] - 1),
        "growth.online_payment.value": 100
        * (growth["online_payment"] * cal.TICKET_TREND_PER_YEAR - 1),
        "growth.ecommerce_order.count": 100 * (growth["ecommerce_order"] - 1),
        "growth.ecommerce_order.value": 100 * (growth["ecommerce_order"] - 1),
    }


def region_population_shares() -> dict[str, float]:
    """Each GSO region's share of the 2023 population, in percent (provinces.csv)."""
    population: dict[str, int] = dict.fromkeys(REGIONS, 0)
    for province in provinces().values():
        population[province.region] += province.population
    total = sum(population.values())
    return {region: 100 * n / total for region, n in population.items()}


def implied_values() -> Mapping[str, float]:
    """Every value a target may take with ``implied: <name>``."""
    mixture = payment_ticket_mixture()
    values = {
        "payment_ticket_median": rounded_quantile(0.5, mixture),
        "payment_ticket_mean": mixture_mean(mixture),
    }
    for region, share in region_payment_shares().items():
        values[f"region_payment_share.{region}"] = share
    return {
        **values,
        **growth_values(),
        "payment_rural_ticket_ratio": cal.RURAL_TICKET_RATIO["online_payment"],
        "ecommerce_big_city_order_share": 100
        * big_city_share(type_geography("ecommerce_order").weights),
        "ecommerce_big_city_value_share": big_city_value_share("ecommerce_order"),
        "payment_big_city_share": 100 * big_city_share(type_geography("online_payment").weights),
        "value_per_head_spearman": value_per_head_spearman(),
        "ecommerce_cod_share": cod_share(),
    }
