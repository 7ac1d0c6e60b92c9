"""Human-readable names for every code people see: one table for the report, `run`'s summary
and the dashboards.

Why one table: the codes (``red_river_delta``, ``p2p_transfer``) are the data's stable keys,
but a reader should never have to decode them, and a name written in three places drifts.
The codes themselves come from the event contract (:mod:`schemas.events`) and the province
reference (:mod:`schemas.provinces`); :func:`_checked` refuses a table whose codes differ
from the contract's, so a new code cannot ship without its name.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from dxpulse.schemas.events import (
    Area,
    Channel,
    EventType,
    MerchantCategory,
    MobileMoneyKind,
    MobileMoneyProvider,
    OrderPayment,
    OrderStatus,
    PaymentMethod,
    Platform,
    ProductCategory,
    Status,
    values,
)
from dxpulse.schemas.provinces import REGIONS, provinces


def _checked(literal: Any, names: Mapping[str, str]) -> Mapping[str, str]:
    expected, given = set(values(literal)), set(names)
    if expected != given:
        raise ValueError(
            f"label table out of step with the contract: missing {sorted(expected - given)},"
            f" unknown {sorted(given - expected)}"
        )
    # In the contract's order, so lists built from it keep the order people know.
    return MappingProxyType({code: names[code] for code in values(literal)})


def _province_names() -> Mapping[str, str]:
    return MappingProxyType({code: p.name_vi for code, p in provinces().items()})


def _unit_2025_names() -> Mapping[str, str]:
    return MappingProxyType({p.unit_2025_code: p.unit_2025_name for p in provinces().values()})


# Dimension (the column name in ClickHouse) -> code -> name.
LABELS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "event_type": _checked(
            EventType,
            {
                "online_payment": "Online payments",
                "ecommerce_order": "E-commerce orders",
                "mobile_money": "Mobile Money",
            },
        ),
        "region": MappingProxyType(dict(REGIONS)),
        "province_code": _province_names(),
        "unit_2025_code": _unit_2025_names(),
        "area": _checked(Area, {"urban": "Urban", "rural": "Rural"}),
        "channel": _checked(
            Channel,
            {
                "mobile_app": "Mobile app",
                "web": "Web",
                "pos": "POS terminal",
                "agent": "Agent",
                "ussd": "USSD (feature phone)",
            },
        ),
        "status": _checked(
            Status,
            {
                "success": "Success",
                "failed": "Failed",
                "pending": "Pending",
                "reversed": "Reversed",
            },
        ),
        "method": _checked(
            PaymentMethod,
            {
                "vietqr": "VietQR",
                "ewallet": "E-wallet",
                "card": "Card",
                "bank_app": "Banking app",
                "internet_banking": "Internet banking",
            },
        ),
        "merchant_category": _checked(
            MerchantCategory,
            {
                "food_beverage": "Food & beverage",
                "grocery_retail": "Grocery & retail",
                "utilities": "Utilities",
                "telecom": "Telecom",
                "transport": "Transport",
                "education": "Education",
                "healthcare": "Healthcare",
                "public_services": "Public services",
                "entertainment": "Entertainment",
                "travel": "Travel",
                "other": "Other",
            },
        ),
        "platform": _checked(
            Platform,
            {
                "shopee": "Shopee",
                "tiktok_shop": "TikTok Shop",
                "lazada": "Lazada",
                "tiki": "Tiki",
                "sendo": "Sendo",
            },
        ),
        "product_category": _checked(
            ProductCategory,
            {
                "fashion": "Fashion",
                "beauty": "Beauty",
                "electronics": "Electronics",
                "home_living": "Home & living",
                "fmcg": "Everyday goods (FMCG)",
                "mother_baby": "Mother & baby",
                "health": "Health",
                "books_stationery": "Books & stationery",
                "sports_outdoor": "Sports & outdoor",
                "other": "Other",
            },
        ),
        "payment_method": _checked(
            OrderPayment,
            {
                "cod": "Cash on delivery",
                "ewallet": "E-wallet",
                "card": "Card",
                "bank_transfer": "Bank transfer",
                "vietqr": "VietQR",
                "bnpl": "Buy now, pay later",
            },
        ),
        "order_status": _checked(
            OrderStatus,
            {
                "placed": "Placed",
                "confirmed": "Confirmed",
                "shipped": "Shipped",
                "delivered": "Delivered",
                "cancelled": "Cancelled",
                "returned": "Returned",
            },
        ),
        "provider": _checked(
            MobileMoneyProvider,
            {
                "viettel_money": "Viettel Money",
                "vnpt_money": "VNPT Money",
                "mobifone_money": "MobiFone Money",
            },
        ),
        "kind": _checked(
            MobileMoneyKind,
            {
                "cash_in": "Cash in",
                "cash_out": "Cash out",
                "p2p_transfer": "Person-to-person transfer",
                "bill_payment": "Bill payment",
                "merchant_payment": "Merchant payment",
                "airtime": "Airtime top-up",
            },
        ),
    }
)


def label(dimension: str, code: str) -> str:
    """The name of ``code`` in ``dimension``; the code itself where the table has none (an
    empty string, or a value from before a code was renamed), so nothing is dropped."""
    return LABELS.get(dimension, {}).get(code, code)
