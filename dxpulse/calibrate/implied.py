"""Targets implied by the generator's parameters and the province table, not typed in twice.

The online-payment ticket is a log-normal mixture (``PAYMENT_METHODS`` weights,
``PAYMENT_TICKETS`` median and sigma per method), so its median and mean follow from those
parameters; region population shares follow from ``provinces.csv``. Computing them here means
a change of calibration moves the targets with it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from dxpulse.producers import calibration as cal
from dxpulse.schemas.provinces import REGIONS, provinces

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
    """The online-payment ticket as the generator draws it (at the trend's origin)."""
    return [
        LogNormal(weight, *cal.PAYMENT_TICKETS[method])
        for method, weight in cal.PAYMENT_METHODS.items()
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
    for region, share in region_population_shares().items():
        values[f"region_population_share.{region}"] = share
    return values
