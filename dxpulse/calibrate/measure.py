"""What ``{db}.events`` holds, as named metrics: SQL counts, then pure arithmetic on them.

Each query under ``sql/`` returns plain counts and sums; the functions below turn them into
:class:`Measurement` values (shares in percent, tickets in VND) with the sample each one rests
on. Keeping the arithmetic out of SQL lets unit tests cover it, empty tables included.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from clickhouse_connect.driver.client import Client

from dxpulse.schemas.events import Platform, values
from dxpulse.schemas.provinces import REGIONS, provinces


@dataclass(frozen=True)
class Measurement:
    """A measured value and the number of items (events, orders, customers) behind it.

    ``value`` is None when there was nothing to measure.
    """

    value: float | None
    sample: int


Metrics = dict[str, Measurement]


def _share(part: int, whole: int) -> Measurement:
    return Measurement(100 * part / whole if whole else None, whole)


def _mean(total: float, n: int) -> Measurement:
    return Measurement(total / n if n else None, n)


def mobile_money_metrics(rural_customers: int, customers: int) -> Metrics:
    return {"mobile_money.rural_customer_share": _share(rural_customers, customers)}


def ecommerce_metrics(rows: Iterable[tuple[str, int, int, int]]) -> Metrics:
    """From (platform, orders, cash-on-delivery orders, amount) per platform."""
    on_platform: dict[str, int] = {}
    orders = cod = amount = 0
    for platform, n, n_cod, total_vnd in rows:
        on_platform[platform] = n
        orders, cod, amount = orders + n, cod + n_cod, amount + total_vnd
    metrics = {
        f"ecommerce.platform_share.{platform}": _share(on_platform.get(platform, 0), orders)
        for platform in values(Platform)
    }
    metrics["ecommerce.cod_share"] = _share(cod, orders)
    metrics["ecommerce.mean_order_vnd"] = _mean(amount, orders)
    return metrics


def online_payment_metrics(
    payments: int, median_vnd: float, amount_vnd: int, qr_ewallet: int
) -> Metrics:
    return {
        "online_payment.median_vnd": Measurement(float(median_vnd) if payments else None, payments),
        "online_payment.mean_vnd": _mean(amount_vnd, payments),
        "online_payment.qr_ewallet_share": _share(qr_ewallet, payments),
    }


def province_metrics(rows: Iterable[tuple[str, int, int]]) -> Metrics:
    """From (province code, events, population-weighted events) per code.

    Region shares and the total-variation distance are over the population-weighted events;
    codes outside the 63 count in their denominator (and add to the distance in full).
    """
    known = provinces()
    events = {code: (n, weighted) for code, n, weighted in rows}
    total = sum(n for n, _ in events.values())
    weighted_total = sum(w for _, w in events.values())
    metrics = {
        "geography.provinces_present": Measurement(
            float(sum(1 for code, (n, _) in events.items() if n and code in known))
            if total
            else None,
            total,
        ),
        "geography.unknown_province_events": Measurement(
            float(sum(n for code, (n, _) in events.items() if code not in known))
            if total
            else None,
            total,
        ),
        "geography.province_tv_distance": Measurement(
            _tv_distance(events, weighted_total) if weighted_total else None, weighted_total
        ),
    }
    for region in REGIONS:
        in_region = sum(
            w for code, (_, w) in events.items() if code in known and known[code].region == region
        )
        metrics[f"geography.region_share.{region}"] = _share(in_region, weighted_total)
    return metrics


def _tv_distance(events: Mapping[str, tuple[int, int]], weighted_total: int) -> float:
    """Total-variation distance, in percentage points, between the provinces' shares of the
    population-weighted events and their shares of the population."""
    known = provinces()
    population = sum(p.population for p in known.values())
    gap = sum(
        abs(events.get(code, (0, 0))[1] / weighted_total - p.population / population)
        for code, p in known.items()
    )
    gap += sum(w for code, (_, w) in events.items() if code not in known) / weighted_total
    return 100 * gap / 2


def status_metrics(events: int, failed: int) -> Metrics:
    return {"all.failure_rate": _share(failed, events)}


def derive(results: Mapping[str, Sequence[Sequence[Any]]]) -> Metrics:
    """Every metric from the result rows of each query (keyed by the .sql file's stem)."""
    ((rural, customers),) = results["mobile_money"]
    ((payments, median, amount, qr_ewallet),) = results["online_payment"]
    ((events, failed),) = results["status"]
    return {
        **mobile_money_metrics(int(rural), int(customers)),
        **ecommerce_metrics(
            (str(p), int(o), int(c), int(a)) for p, o, c, a in results["ecommerce"]
        ),
        **online_payment_metrics(int(payments), float(median), int(amount), int(qr_ewallet)),
        **province_metrics((str(code), int(n), int(w)) for code, n, w in results["provinces"]),
        **status_metrics(int(events), int(failed)),
    }


QUERIES = ("mobile_money", "ecommerce", "online_payment", "provinces", "status")
_EMPTY: dict[str, list[list[int]]] = {
    "mobile_money": [[0, 0]],
    "online_payment": [[0, 0, 0, 0]],
    "status": [[0, 0]],
    "ecommerce": [],
    "provinces": [],
}
# What the queries on an empty table give: every metric, none with a value.
METRICS: frozenset[str] = frozenset(derive(_EMPTY))


def query_sql(name: str, database: str) -> str:
    text = resources.files("dxpulse.calibrate").joinpath(f"sql/{name}.sql").read_text("utf-8")
    return text.replace("{db}", database)


def measure(client: Client, database: str) -> Metrics:
    """Run every query on ``{database}.events`` and derive the metrics."""
    results = {name: client.query(query_sql(name, database)).result_rows for name in QUERIES}
    return derive(results)
