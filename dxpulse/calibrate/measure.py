"""What ``{db}.events`` holds, as named metrics: SQL counts, then pure arithmetic on them.

Each query under ``sql/`` returns plain counts and sums; the functions below turn them into
:class:`Measurement` values (shares in percent, tickets in VND) with the sample each one rests
on. Keeping the arithmetic out of SQL lets unit tests cover it, empty tables included.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import Any

from clickhouse_connect.driver.client import Client

from dxpulse.calibrate.stats import spearman, yearly_growth
from dxpulse.producers import calibration as cal
from dxpulse.producers.geography import ordered_provinces, type_geography
from dxpulse.producers.intensity import SECONDS_PER_YEAR
from dxpulse.producers.peaks import peaks_on
from dxpulse.schemas.events import Platform, values
from dxpulse.schemas.provinces import REGIONS, ebi_scores, provinces


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


def mobile_money_metrics(
    rural_customers: int, customers: int, transactions: int = 0, amount_vnd: int = 0
) -> Metrics:
    return {
        "mobile_money.rural_customer_share": _share(rural_customers, customers),
        "mobile_money.mean_vnd": _mean(amount_vnd, transactions),
    }


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


@dataclass(frozen=True)
class AreaTickets:
    """Online payments and their value (VND), rural and urban."""

    rural: int = 0
    rural_vnd: float = 0
    urban: int = 0
    urban_vnd: float = 0


def online_payment_metrics(
    payments: int,
    median_vnd: float,
    amount_vnd: float,
    qr_ewallet: int,
    areas: AreaTickets | None = None,
) -> Metrics:
    """``median_vnd`` and ``amount_vnd`` are of the tickets brought to today by the trend."""
    a = areas or AreaTickets()
    both = a.rural and a.urban
    ratio = (a.rural_vnd / a.rural) / (a.urban_vnd / a.urban) if both else None
    return {
        "online_payment.median_vnd": Measurement(float(median_vnd) if payments else None, payments),
        "online_payment.mean_vnd": _mean(amount_vnd, payments),
        "online_payment.qr_ewallet_share": _share(qr_ewallet, payments),
        "online_payment.rural_urban_ticket_ratio": Measurement(ratio, min(a.rural, a.urban)),
    }


ProvinceRow = tuple[str, str, int, int]  # province code, event type, events, value (VND)


def province_metrics(rows: Iterable[ProvinceRow]) -> Metrics:
    """From (province code, event type, events, value) rows.

    Region shares and the total-variation distance are over online payments, against the
    model's shares (producers/geography.py); codes outside the 63 count in their denominator
    (and add to the distance in full).
    """
    rows = list(rows)
    known = provinces()
    events: dict[str, int] = {}
    for code, _, n, _ in rows:
        events[code] = events.get(code, 0) + n
    total = sum(events.values())
    payments = {code: n for code, etype, n, _ in rows if etype == "online_payment"}
    paid = sum(payments.values())
    metrics = {
        "geography.provinces_present": Measurement(
            float(sum(1 for code, n in events.items() if n and code in known)) if total else None,
            total,
        ),
        "geography.unknown_province_events": Measurement(
            float(sum(n for code, n in events.items() if code not in known)) if total else None,
            total,
        ),
        "geography.province_tv_distance": Measurement(
            _tv_distance(payments, paid) if paid else None, paid
        ),
        "geography.value_per_head_spearman": _value_per_head_spearman(rows, total),
        **_big_city_metrics(rows),
    }
    for region in REGIONS:
        in_region = sum(
            n for code, n in payments.items() if code in known and known[code].region == region
        )
        metrics[f"geography.region_share.{region}"] = _share(in_region, paid)
    return metrics


def _tv_distance(payments: Mapping[str, int], paid: int) -> float:
    """Total-variation distance, in percentage points, between the provinces' shares of
    online payments and the model's (population × EBI^β)."""
    model = type_geography("online_payment").weights.tolist()
    provs = ordered_provinces()
    gap = sum(abs(payments.get(p.code, 0) / paid - w) for p, w in zip(provs, model, strict=True))
    gap += sum(n for code, n in payments.items() if code not in provinces()) / paid
    return float(100 * gap / 2)


def _big_city_metrics(rows: Sequence[ProvinceRow]) -> Metrics:
    """Hà Nội's and TP. Hồ Chí Minh's shares of e-commerce orders and value, and of online
    payments."""

    def share(etype: str, of_value: bool) -> Measurement:
        mine = [(code, vnd if of_value else n, n) for code, t, n, vnd in rows if t == etype]
        whole = sum(x for _, x, _ in mine)
        cities = sum(x for code, x, _ in mine if code in cal.BIG_CITIES)
        return Measurement(100 * cities / whole if whole else None, sum(n for *_, n in mine))

    return {
        "ecommerce.big_city_order_share": share("ecommerce_order", of_value=False),
        "ecommerce.big_city_value_share": share("ecommerce_order", of_value=True),
        "online_payment.big_city_share": share("online_payment", of_value=False),
    }


def _value_per_head_spearman(rows: Sequence[ProvinceRow], total: int) -> Measurement:
    """Spearman's correlation of each province's value per head (all types) with its EBI."""
    known, scores = provinces(), ebi_scores()
    value: dict[str, int] = {}
    for code, _, _, vnd in rows:
        if code in known:
            value[code] = value.get(code, 0) + vnd
    if len(value) < 2:
        return Measurement(None, total)
    codes = sorted(value)
    per_head = [value[c] / known[c].population for c in codes]
    return Measurement(spearman(per_head, [scores[c].score for c in codes]), total)


GROWTH_TYPES = {"online_payment": "online_payment", "ecommerce_order": "ecommerce"}


def growth_metrics(rows: Iterable[tuple[date, str, int, int]]) -> Metrics:
    """From (Vietnam local day, event type, events, value) rows: the yearly growth of each
    type's count and value, fitted over the full days (the first and the last day of the
    table are partial, and the last one holds the live events: both are left out) without
    the named peaks (Tết, double days, paydays: producers/peaks.py), which would tilt the
    line by where in the span they fall. The sample is the number of days fitted."""
    rows = list(rows)
    days = sorted({r[0] for r in rows})
    inner = {d for d in days[1:-1] if not peaks_on(d)}
    metrics: Metrics = {}
    for etype, prefix in GROWTH_TYPES.items():
        mine = sorted(
            (r[0].toordinal(), r[2], r[3]) for r in rows if r[1] == etype and r[0] in inner
        )
        day_numbers = [d for d, _, _ in mine]
        for name, column in (("count", 1), ("value", 2)):
            growth = (
                yearly_growth(day_numbers, [float(r[column]) for r in mine])
                if len(mine) >= 2
                else None
            )
            metrics[f"{prefix}.{name}_growth"] = Measurement(growth, len(mine))
    return metrics


def status_metrics(events: int, failed: int) -> Metrics:
    return {"all.failure_rate": _share(failed, events)}


def derive(results: Mapping[str, Sequence[Sequence[Any]]]) -> Metrics:
    """Every metric from the result rows of each query (keyed by the .sql file's stem)."""
    ((rural, customers, transactions, mm_vnd),) = results["mobile_money"]
    # On an empty table the median and the sums of brought-to-today tickets are NULL.
    ((payments, median, amount, qr_ewallet, *areas),) = (
        [0 if v is None else v for v in row] for row in results["online_payment"]
    )
    by_area = AreaTickets(int(areas[0]), float(areas[1]), int(areas[2]), float(areas[3]))
    ((events, failed),) = results["status"]
    return {
        **mobile_money_metrics(int(rural), int(customers), int(transactions), int(mm_vnd)),
        **ecommerce_metrics(
            (str(p), int(o), int(c), int(a)) for p, o, c, a in results["ecommerce"]
        ),
        **online_payment_metrics(
            int(payments),
            float(median),
            float(amount),
            int(qr_ewallet),
            by_area,
        ),
        **province_metrics(
            (str(code), str(t), int(n), int(v)) for code, t, n, v in results["provinces"]
        ),
        **growth_metrics((d, str(t), int(n), int(v)) for d, t, n, v in results["daily"]),
        **status_metrics(int(events), int(failed)),
    }


QUERIES = ("mobile_money", "ecommerce", "online_payment", "provinces", "status", "daily")
_EMPTY: dict[str, list[list[int]]] = {
    "mobile_money": [[0, 0, 0, 0]],
    "online_payment": [[0, 0, 0, 0, 0, 0, 0, 0]],
    "status": [[0, 0]],
    "ecommerce": [],
    "provinces": [],
    "daily": [],
}
# What the queries on an empty table give: every metric, none with a value.
METRICS: frozenset[str] = frozenset(derive(_EMPTY))


def query_sql(name: str, database: str) -> str:
    text = resources.files("dxpulse.calibrate").joinpath(f"sql/{name}.sql").read_text("utf-8")
    # The trend's constants come from producers/calibration.py: one definition.
    return (
        text.replace("{db}", database)
        .replace("{ticket_trend}", repr(cal.TICKET_TREND_PER_YEAR))
        .replace("{year_ms}", str(round(SECONDS_PER_YEAR * 1000)))
    )


def measure(client: Client, database: str) -> Metrics:
    """Run every query on ``{database}.events`` and derive the metrics."""
    results = {name: client.query(query_sql(name, database)).result_rows for name in QUERIES}
    return derive(results)
