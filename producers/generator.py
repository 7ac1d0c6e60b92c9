"""Deterministic generator of realistic synthetic events (pure logic, no I/O).

Same seed and same event times give the same events. Customers are stable: a customer
index always maps to the same pseudonymous id, province and area, so per-customer
questions (active customers, rural share of customers) have consistent answers.
"""

from __future__ import annotations

import hashlib
import math
import random
import uuid
from bisect import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import accumulate
from typing import Any

import orjson

from dxpulse.config import EVENT_TYPES
from producers import calibration as cal
from producers.intensity import type_weights
from schemas.events import SCHEMA_VERSION, format_event_time
from schemas.provinces import Province, provinces

_SECONDS_PER_YEAR = 365.25 * 86_400
_ID_PREFIX = {"online_payment": "P", "ecommerce_order": "E", "mobile_money": "M"}


class _Choice:
    """Weighted choice with precomputed cumulative weights."""

    __slots__ = ("_cum", "_items", "_total")

    def __init__(self, weights: Mapping[str, float]) -> None:
        self._items = list(weights)
        self._cum = list(accumulate(weights.values()))
        self._total = self._cum[-1]

    def __call__(self, rng: random.Random) -> str:
        return self._items[bisect(self._cum, rng.random() * self._total)]


@dataclass(frozen=True, slots=True)
class Customer:
    customer_id: str
    province: Province
    area: str


class EventGenerator:
    def __init__(
        self,
        seed: int = 0,
        event_types: Sequence[str] = EVENT_TYPES,
        trend_origin: datetime | None = None,
    ) -> None:
        unknown = set(event_types) - set(EVENT_TYPES)
        if unknown or not event_types:
            raise ValueError(f"unknown event types: {sorted(unknown) or 'none given'}")
        self.seed = seed
        self.event_types = tuple(event_types)
        self._rng = random.Random(seed)
        self._trend_origin = trend_origin
        provs = list(provinces().values())
        self._by_population = _ProvincePicker(provs, lambda p: p.population)
        self._by_area = {
            "urban": _ProvincePicker(provs, lambda p: p.population * p.urban_share),
            "rural": _ProvincePicker(provs, lambda p: p.population * (1 - p.urban_share)),
        }
        self._customers: dict[tuple[str, int], Customer] = {}
        self._mix_key: tuple[int, int] = (-1, -1)
        self._mix: _Choice | None = None
        self._status = _Choice(cal.STATUS_WEIGHTS)
        self._methods = _Choice(cal.PAYMENT_METHODS)
        self._pay_channels = {m: _Choice(w) for m, w in cal.PAYMENT_CHANNELS.items()}
        self._providers = {k: _Choice(w) for k, w in cal.PAYMENT_PROVIDERS.items()}
        self._merchants = _Choice(cal.MERCHANT_CATEGORIES)
        self._platforms = _Choice(cal.PLATFORMS)
        self._order_payments = _Choice(cal.ORDER_PAYMENTS)
        self._order_statuses = _Choice(cal.ORDER_STATUSES)
        self._products = _Choice(cal.PRODUCT_CATEGORIES)
        self._order_channels = _Choice(cal.ORDER_CHANNELS)
        self._mm_providers = _Choice(cal.MOBILE_MONEY_PROVIDERS)
        self._mm_kinds = _Choice(cal.MOBILE_MONEY_KINDS)

    # -- public API ---------------------------------------------------------------------
    def event(self, at: datetime, event_type: str | None = None) -> dict[str, Any]:
        """One event at time ``at`` (timezone-aware); type drawn from the mix unless given."""
        etype = event_type or self._pick_type(at)
        customer = self.customer(etype, self._customer_index(etype))
        rng = self._rng
        event: dict[str, Any] = {
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "event_type": etype,
            "schema_version": SCHEMA_VERSION,
            "event_time": format_event_time(at),
            "province_code": customer.province.code,
            "area": customer.area,
            "channel": "",
            "amount_vnd": 0,
            "status": self._status(rng),
            "customer_id": customer.customer_id,
        }
        if etype == "online_payment":
            self._fill_payment(event, at)
        elif etype == "ecommerce_order":
            self._fill_order(event)
        else:
            self._fill_mobile_money(event, customer)
        return event

    def customer(self, event_type: str, index: int) -> Customer:
        key = (event_type, index)
        found = self._customers.get(key)
        if found is None:
            found = self._customers[key] = self._make_customer(event_type, index)
        return found

    @staticmethod
    def encode(event: Mapping[str, Any]) -> bytes:
        return orjson.dumps(event)

    # -- customers ----------------------------------------------------------------------
    def _customer_index(self, event_type: str) -> int:
        pool = cal.CUSTOMER_POOL[event_type]
        return int(pool * self._rng.random() ** cal.CUSTOMER_ACTIVITY_SKEW)

    def _make_customer(self, event_type: str, index: int) -> Customer:
        label = f"{self.seed}:{event_type}:{index}"
        rng = random.Random(label)  # str seeds hash with SHA-512: stable across runs
        if event_type == "mobile_money":
            # Seed 001: ~72% of Mobile Money customers are rural; the province then
            # follows where rural (or urban) people live.
            area = "rural" if rng.random() < cal.MOBILE_MONEY_RURAL_SHARE else "urban"
            province = self._by_area[area](rng)
        else:
            province = self._by_population(rng)
            area = "urban" if rng.random() < province.urban_share else "rural"
        digest = hashlib.blake2b(label.encode(), digest_size=8).hexdigest()
        return Customer(f"{_ID_PREFIX[event_type]}{digest}", province, area)

    # -- per-type fields ----------------------------------------------------------------
    def _pick_type(self, at: datetime) -> str:
        if len(self.event_types) == 1:
            return self.event_types[0]
        key = (int(at.timestamp()) // 3600, 0)
        if key != self._mix_key or self._mix is None:
            weights = type_weights(at)
            self._mix = _Choice({t: weights[t] for t in self.event_types})
            self._mix_key = key
        return self._mix(self._rng)

    def _ticket(self, median: float, sigma: float) -> int:
        amount = median * math.exp(sigma * self._rng.gauss(0.0, 1.0))
        return max(1_000, int(round(amount, -3)))

    def _trend(self, at: datetime) -> float:
        if self._trend_origin is None:
            self._trend_origin = at
        years = (at - self._trend_origin).total_seconds() / _SECONDS_PER_YEAR
        return float(cal.TICKET_TREND_PER_YEAR**years)

    def _fill_payment(self, event: dict[str, Any], at: datetime) -> None:
        rng = self._rng
        method = self._methods(rng)
        median, sigma = cal.PAYMENT_TICKETS[method]
        family = "ewallet" if method == "ewallet" else "card" if method == "card" else "bank"
        event["channel"] = self._pay_channels[method](rng)
        event["amount_vnd"] = self._ticket(median * self._trend(at), sigma)
        event["method"] = method
        event["provider"] = self._providers[family](rng)
        event["merchant_category"] = self._merchants(rng)

    def _fill_order(self, event: dict[str, Any]) -> None:
        rng = self._rng
        event["channel"] = self._order_channels(rng)
        event["amount_vnd"] = self._ticket(*cal.ORDER_TICKET)
        event["platform"] = self._platforms(rng)
        event["product_category"] = self._products(rng)
        event["payment_method"] = self._order_payments(rng)
        failed = event["status"] == "failed"
        event["order_status"] = "cancelled" if failed else self._order_statuses(rng)

    def _fill_mobile_money(self, event: dict[str, Any], customer: Customer) -> None:
        rng = self._rng
        kind = self._mm_kinds(rng)
        event["amount_vnd"] = self._ticket(*cal.MOBILE_MONEY_TICKETS[kind])
        event["provider"] = self._mm_providers(rng)
        event["kind"] = kind
        if kind in ("cash_in", "cash_out"):
            event["channel"] = "agent"
            agents = max(5, customer.province.population * cal.AGENTS_PER_100K_PEOPLE // 100_000)
            event["agent_id"] = f"AG{customer.province.code}{rng.randrange(agents):05d}"
        else:
            ussd = cal.MOBILE_MONEY_USSD_SHARE[customer.area]
            event["channel"] = "ussd" if rng.random() < ussd else "mobile_app"
            event["agent_id"] = None


class _ProvincePicker:
    def __init__(self, provs: Sequence[Province], weight: Any) -> None:
        self._provs = list(provs)
        self._choice = _Choice({p.code: float(weight(p)) for p in provs})
        self._by_code = {p.code: p for p in provs}

    def __call__(self, rng: random.Random) -> Province:
        return self._by_code[self._choice(rng)]
