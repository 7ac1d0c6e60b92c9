"""Every number the generator uses, with the figure it comes from.

Sources: the five seed articles (2022–2024 reports on Vietnam's national digital
transformation programme) summarised in docs/calibration.md, and a few public figures
beyond them, marked ``assumption`` where no published number pins the value down.
Weights are relative; the generator normalises them.
"""

from __future__ import annotations

from typing import Final

from dxpulse.schemas.provinces import TWO_CITIES

# --- Mix of event types -------------------------------------------------------------
# NAPAS switched ~26 million retail payments a day in 2024; the top-5 platforms sold
# ~530 billion VND a day in H1 2024 (≈ 2 million orders at the ~270k VND mean order
# below); Mobile Money volume is not published, assumption ~1.5 million a day
# (8.8 million customers). 26 : 2.0 : 1.5 gives the shares below.
EVENT_TYPE_WEIGHTS: Final = {"online_payment": 26.0, "ecommerce_order": 2.0, "mobile_money": 1.5}

# --- Further fields ------------------------------------------------------------------
# Independent string fields beyond the ones above, by event type: field -> value weights.
# Both generator paths draw every field listed here, so a new optional field of the models
# (schemas/events.py) is generated once its distribution is written here, with no code.
FIELD_WEIGHTS: Final[dict[str, dict[str, dict[str, float]]]] = {}

# --- Geography: who is active where (producers/geography.py) --------------------------
# Per-capita activity of a province follows its VECOM E-Business Index 2023
# (schemas/reference/ebi.csv: 5 published scores, 58 estimates): a type's customers are
# drawn by population × EBI^β, β set so that Hà Nội and TP. Hồ Chí Minh together get the
# share of the type's events below. Mobile Money is not drawn this way (see below).
BIG_CITIES: Final = TWO_CITIES  # Hà Nội and TP. Hồ Chí Minh (schemas/provinces.py)
# E-commerce: VECOM EBI 2016–2021, the two cities "continuously accounted for over 70% of
# the national e-commerce scale"; Decision 645/QĐ-TTg aimed at 50% for the other provinces
# by 2025, and the EBI 2025 B2C gap (cities ≥ 62.9, best other province 4.5) says it was not
# reached. Derived: 60% of orders, between the two (their value share is higher: urban
# tickets are larger, see RURAL_TICKET_RATIO).
# Online payments: no provincial split is published; assumption 40%, below e-commerce's
# because QR at markets, bills and public services reach every province (S001: online
# payment reaches 50% of Hải Phòng's public-service payments).
BIG_CITY_SHARE: Final = {"online_payment": 0.40, "ecommerce_order": 0.60}
# Within a province, an urban resident makes this many times a rural resident's events
# (assumption: the urban–rural gap of the seed articles' "leave no one behind", S003).
URBAN_ACTIVITY_RATIO: Final = {"online_payment": 2.0, "ecommerce_order": 2.5}
# Rural tickets as a fraction of urban ones, the type's national mean ticket unchanged
# (assumption, shaped on GSO's urban/rural income-per-head gap of roughly 1.5×).
RURAL_TICKET_RATIO: Final = {"online_payment": 0.65, "ecommerce_order": 0.80, "mobile_money": 0.75}

# --- Mobile Money --------------------------------------------------------------------
# Seed 001: 8.8 million customers, 6.3 million in rural, mountainous and remote areas.
MOBILE_MONEY_RURAL_SHARE: Final = 6.3 / 8.8  # 0.716
# Assumption: Viettel Money holds most Mobile Money customers; VNPT and MobiFone share the rest.
MOBILE_MONEY_PROVIDERS: Final = {"viettel_money": 80, "vnpt_money": 12, "mobifone_money": 8}
# Cash in and out go through an agent: assumption, rural customers use agents more (cash
# economy, fewer bank branches), urban ones pay merchants and bills more from the app.
MOBILE_MONEY_KINDS_BY_AREA: Final = {
    "rural": {
        "cash_in": 25,
        "cash_out": 21,
        "p2p_transfer": 22,
        "bill_payment": 12,
        "merchant_payment": 7,
        "airtime": 13,
    },
    "urban": {
        "cash_in": 14,
        "cash_out": 10,
        "p2p_transfer": 22,
        "bill_payment": 19,
        "merchant_payment": 18,
        "airtime": 17,
    },
}
# The kinds, and their mix at an even rural–urban split: the vocabulary the schema's
# MobileMoneyKind must match; the generator draws by area from the table above.
MOBILE_MONEY_KINDS: Final = {
    k: MOBILE_MONEY_KINDS_BY_AREA["rural"][k] + MOBILE_MONEY_KINDS_BY_AREA["urban"][k]
    for k in MOBILE_MONEY_KINDS_BY_AREA["rural"]
}
# Median ticket per kind (VND) and log-normal sigma. SBV (Sept 2025): 290 million Mobile
# Money transactions worth ~8.5 trillion VND since launch, ≈ 29,300 VND each: small
# top-ups, airtime and bills. The split by kind is an assumption (agent cash the largest);
# the medians are scaled so that the mean over kinds and areas is ≈ 29,200 VND
# (tests/unit_tests/test_calibrate.py holds it to the published figure).
MOBILE_MONEY_TICKETS: Final = {
    "cash_in": (28_000, 0.9),
    "cash_out": (33_000, 0.9),
    "p2p_transfer": (17_000, 1.0),
    "bill_payment": (15_000, 0.7),
    "merchant_payment": (9_000, 0.9),
    "airtime": (8_000, 0.6),
}
# Feature phones: part of rural Mobile Money goes through USSD (84% of subscribers are on
# smartphones, seed 001), the rest through the app; cash kinds go through an agent.
MOBILE_MONEY_USSD_SHARE: Final = {"rural": 0.30, "urban": 0.10}
AGENTS_PER_100K_PEOPLE: Final = 20  # assumption, sizes each province's agent pool

# --- Online payments -----------------------------------------------------------------
# Seeds 000/002: in 2023 online payments grew +66% in count but only +4% in value, so the
# average ticket shrinks by 1.04 / 1.66 ≈ 0.63 a year (many small QR / e-wallet payments).
TICKET_TREND_PER_YEAR: Final = 1.04 / 1.66
# Events of each type per year, as a factor (the history backfill's counts grow by it; the
# trend is anchored at the backfill's end, "now", so data do not depend on the date).
# Online payments: S000, +66% in count (2023). E-commerce: S001, top-5 platforms +80% y/y
# in H1 2024, in value; the order ticket is flat, so orders grow as much. Mobile Money:
# derived, customers 8.8 million (S001, mid-2024) to 10.89 million accounts (SBV, Sept
# 2025): (10.89 / 8.8)^(12 / 15) = 1.186 a year.
COUNT_GROWTH_PER_YEAR: Final = {
    "online_payment": 1.66,
    "ecommerce_order": 1.80,
    "mobile_money": 1.186,
}
# VietQR grew 2.2x in count in 2024 (NAPAS): QR and e-wallets carry most small payments.
PAYMENT_METHODS: Final = {
    "vietqr": 38,
    "ewallet": 22,
    "bank_app": 25,
    "card": 10,
    "internet_banking": 5,
}
# Median ticket (VND) and log-normal sigma per method: heavy-tailed, mean well above median.
PAYMENT_TICKETS: Final = {
    "vietqr": (85_000, 1.1),
    "ewallet": (70_000, 1.0),
    "bank_app": (450_000, 1.3),
    "card": (600_000, 1.1),
    "internet_banking": (1_500_000, 1.2),
}
PAYMENT_CHANNELS: Final = {
    "vietqr": {"mobile_app": 60, "pos": 40},
    "ewallet": {"mobile_app": 90, "web": 10},
    "card": {"pos": 60, "web": 40},
    "bank_app": {"mobile_app": 100},
    "internet_banking": {"web": 100},
}
PAYMENT_PROVIDERS: Final = {
    "bank": {
        "vietcombank": 16,
        "bidv": 14,
        "vietinbank": 13,
        "agribank": 12,
        "techcombank": 11,
        "mbbank": 12,
        "vpbank": 8,
        "acb": 6,
        "tpbank": 5,
        "sacombank": 3,
    },
    "ewallet": {"momo": 50, "zalopay": 20, "vnpay": 15, "shopeepay": 10, "viettel_money": 5},
    "card": {"napas": 55, "visa": 30, "mastercard": 12, "jcb": 3},
}
# Hải Phòng: online payment reaches 50% of public-service payments (seed 001), so public
# services are a visible merchant category.
MERCHANT_CATEGORIES: Final = {
    "food_beverage": 26,
    "grocery_retail": 22,
    "utilities": 8,
    "telecom": 7,
    "transport": 9,
    "education": 5,
    "healthcare": 5,
    "public_services": 4,
    "entertainment": 6,
    "travel": 3,
    "other": 5,
}

# --- E-commerce ----------------------------------------------------------------------
# Seed 001/002: top-5 platforms sold > 97,000 billion VND in H1 2024, +80% y/y. Split among
# the five follows public H1-2024 market-share reports (assumption, not in the seeds).
PLATFORMS: Final = {"shopee": 69.7, "tiktok_shop": 23.6, "lazada": 5.6, "tiki": 1.0, "sendo": 0.1}
ORDER_TICKET: Final = (180_000, 0.9)  # median VND, sigma: mean ≈ 270k VND
# Cash on delivery is still the single largest way to pay for orders, more so in the
# countryside (assumption: ~38% urban, ~60% rural; the national share follows, ~47%).
ORDER_PAYMENTS_BY_AREA: Final = {
    "rural": {"cod": 60, "ewallet": 17, "bank_transfer": 9, "card": 4, "vietqr": 7, "bnpl": 3},
    "urban": {"cod": 38, "ewallet": 28, "bank_transfer": 10, "card": 10, "vietqr": 8, "bnpl": 6},
}
# The ways to pay, and their mix at an even rural–urban split: the vocabulary the schema's
# OrderPayment must match; the generator draws by area from the table above.
ORDER_PAYMENTS: Final = {
    k: ORDER_PAYMENTS_BY_AREA["rural"][k] + ORDER_PAYMENTS_BY_AREA["urban"][k]
    for k in ORDER_PAYMENTS_BY_AREA["rural"]
}
ORDER_STATUSES: Final = {
    "delivered": 78,
    "shipped": 6,
    "confirmed": 3,
    "placed": 3,
    "cancelled": 7,
    "returned": 3,
}
PRODUCT_CATEGORIES: Final = {
    "fashion": 22,
    "beauty": 16,
    "fmcg": 14,
    "home_living": 12,
    "electronics": 9,
    "mother_baby": 8,
    "health": 6,
    "books_stationery": 4,
    "sports_outdoor": 4,
    "other": 5,
}
ORDER_CHANNELS: Final = {"mobile_app": 85, "web": 15}  # 84% of subscribers on smartphones

# --- Outcomes ------------------------------------------------------------------------
# Assumption: a few percent of digital transactions fail; pending/reversed are rarer.
STATUS_WEIGHTS: Final = {"success": 96.8, "failed": 2.5, "pending": 0.5, "reversed": 0.2}

# --- Customers -----------------------------------------------------------------------
# About 30 million active e-wallet accounts (SBV, 2025); the generator draws from a pool
# per event type, scaled down, with a skew so a minority of customers makes most payments.
CUSTOMER_POOL: Final = {
    "online_payment": 300_000,
    "ecommerce_order": 150_000,
    "mobile_money": 80_000,
}
CUSTOMER_ACTIVITY_SKEW: Final = 2.0  # index = pool * u ** skew

# --- Rhythm --------------------------------------------------------------------------
# Relative intensity by local hour (Asia/Ho_Chi_Minh, 0..23) and weekday (Mon..Sun);
# assumption shaped on lunch and evening peaks, e-commerce late-evening, agents by day.
HOURLY: Final = {
    "online_payment": (
        0.15,
        0.08,
        0.05,
        0.04,
        0.05,
        0.15,
        0.45,
        0.85,
        1.10,
        1.10,
        1.15,
        1.45,
        1.50,
        1.20,
        1.00,
        1.00,
        1.10,
        1.30,
        1.45,
        1.40,
        1.30,
        1.10,
        0.70,
        0.35,
    ),
    "ecommerce_order": (
        0.30,
        0.15,
        0.08,
        0.05,
        0.05,
        0.10,
        0.25,
        0.45,
        0.65,
        0.80,
        0.90,
        1.00,
        1.10,
        0.95,
        0.90,
        0.90,
        0.95,
        1.00,
        1.20,
        1.50,
        1.80,
        1.90,
        1.50,
        0.80,
    ),
    "mobile_money": (
        0.05,
        0.03,
        0.02,
        0.02,
        0.05,
        0.20,
        0.60,
        1.00,
        1.30,
        1.40,
        1.35,
        1.20,
        1.00,
        1.10,
        1.25,
        1.30,
        1.25,
        1.20,
        1.10,
        0.90,
        0.70,
        0.50,
        0.25,
        0.10,
    ),
}
WEEKDAY: Final = {
    "online_payment": (1.00, 0.98, 0.98, 1.00, 1.05, 1.10, 0.95),
    "ecommerce_order": (0.95, 0.95, 0.95, 0.97, 1.00, 1.10, 1.15),
    "mobile_money": (1.05, 1.02, 1.00, 1.00, 1.03, 0.98, 0.85),
}
