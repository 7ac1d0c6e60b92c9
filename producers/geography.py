"""Where each event type's customers live, and how their area scales their tickets.

Pure functions of ``producers/calibration.py`` and the province tables (population, urban
share, e-business index), so the generator draws from them and ``dxpulse calibrate``
derives its targets from them: one definition of the model.

- Online payments and e-commerce: a province's customers are in proportion to its
  population × EBI^β, β chosen so that Hà Nội and TP. Hồ Chí Minh get ``BIG_CITY_SHARE`` of
  the type; per head, activity then follows the index (the cities far ahead, the Central
  Highlands and the northern mountains last). Within a province, an urban resident is
  ``URBAN_ACTIVITY_RATIO`` times as active as a rural one.
- Mobile Money: ``MOBILE_MONEY_RURAL_SHARE`` of customers are rural, spread over the
  provinces by rural population, the rest by urban population: the national rural share is
  the published one and each region's follows how rural it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from dxpulse.producers import calibration as cal
from dxpulse.schemas.provinces import Province, ebi_scores, provinces

FloatArray = npt.NDArray[np.float64]
_BETA_RANGE = (0.0, 8.0)  # EBI exponents searched; 8 puts ~all activity in the two cities
_BISECTIONS = 100


@dataclass(frozen=True)
class TypeGeography:
    """One event type's customers over the provinces, in GSO code order."""

    weights: FloatArray  # each province's share of the type's customers; sums to 1
    urban: FloatArray  # P(urban | province) for one of the type's customers
    rural_ticket: float  # ticket multiplier of a rural customer's events
    urban_ticket: float  # and of an urban one's; their mean over the type's events is 1

    @property
    def urban_share(self) -> float:
        """The type's customers (and, in expectation, its events) who are urban."""
        return float((self.weights * self.urban).sum())


def ordered_provinces() -> tuple[Province, ...]:
    """The provinces in the order of every array here (GSO code order)."""
    return tuple(provinces().values())


@cache
def type_geography(event_type: str) -> TypeGeography:
    if event_type == "mobile_money":
        weights, urban = _mobile_money()
    else:
        weights, urban = _by_intensity(event_type)
    share = float((weights * urban).sum())
    rural_ratio = cal.RURAL_TICKET_RATIO[event_type]
    urban_ticket = 1.0 / (share + (1.0 - share) * rural_ratio)  # keeps the mean ticket
    return TypeGeography(weights, urban, rural_ratio * urban_ticket, urban_ticket)


def big_city_share(weights: FloatArray) -> float:
    """Hà Nội's and TP. Hồ Chí Minh's part of province weights in code order."""
    codes = [p.code for p in ordered_provinces()]
    return float(sum(weights[codes.index(code)] for code in cal.BIG_CITIES))


@cache
def ebi_exponent(event_type: str) -> float:
    """β that gives the two cities ``BIG_CITY_SHARE[event_type]`` (bisection: their share
    grows with β, as they have the highest index)."""
    target = cal.BIG_CITY_SHARE[event_type]
    low, high = _BETA_RANGE
    if not big_city_share(_ebi_weights(low)) < target < big_city_share(_ebi_weights(high)):
        raise ValueError(f"BIG_CITY_SHARE[{event_type!r}] = {target} is out of reach")
    for _ in range(_BISECTIONS):
        mid = (low + high) / 2
        low, high = (mid, high) if big_city_share(_ebi_weights(mid)) < target else (low, mid)
    return (low + high) / 2


def _ebi_weights(beta: float) -> FloatArray:
    scores = ebi_scores()
    provs = ordered_provinces()
    raw = np.array([p.population * scores[p.code].score ** beta for p in provs])
    return np.asarray(raw / raw.sum(), dtype=np.float64)


def _by_intensity(event_type: str) -> tuple[FloatArray, FloatArray]:
    share = np.array([p.urban_share for p in ordered_provinces()], dtype=np.float64)
    ratio = cal.URBAN_ACTIVITY_RATIO[event_type]
    urban = share * ratio / (share * ratio + 1.0 - share)
    return _ebi_weights(ebi_exponent(event_type)), urban


def _mobile_money() -> tuple[FloatArray, FloatArray]:
    provs = ordered_provinces()
    pop = np.array([p.population for p in provs], dtype=np.float64)
    share = np.array([p.urban_share for p in provs], dtype=np.float64)
    rural_share = cal.MOBILE_MONEY_RURAL_SHARE
    rural = rural_share * pop * (1 - share) / (pop * (1 - share)).sum()
    urban = (1 - rural_share) * pop * share / (pop * share).sum()
    weights = rural + urban
    return weights, urban / weights
