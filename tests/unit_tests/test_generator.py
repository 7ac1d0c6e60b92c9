"""EventGenerator: calibration over a generated week, determinism, validity, stable customers.

The week fixtures (conftest.py) hold 100,000 events each, one every 6.048 s from Monday
2024-03-04 00:00 UTC: the mix of types, Mobile Money only, and e-commerce only.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from producers import calibration as cal
from producers.generator import EventGenerator
from producers.intensity import VN_TZ, type_weights
from schemas.events import Envelope
from schemas.provinces import provinces
from schemas.validation import EventValidator, Rejection

EVENT_TYPES = ("online_payment", "ecommerce_order", "mobile_money")
T0 = datetime(2024, 3, 4, tzinfo=UTC)  # a Monday


def _share(weights: dict[str, float], key: str) -> float:
    return weights[key] / sum(weights.values())


def _fraction(items, predicate) -> float:
    items = list(items)
    return sum(1 for x in items if predicate(x)) / len(items)


# --- Mobile Money ------------------------------------------------------------------------


def test_mobile_money_rural_share_of_events(mobile_money_events):
    assert len(mobile_money_events) == 100_000
    rural = _fraction(mobile_money_events, lambda e: e["area"] == "rural")
    assert rural == pytest.approx(0.72, abs=0.02)
    assert rural == pytest.approx(cal.MOBILE_MONEY_RURAL_SHARE, abs=0.015)


def test_mobile_money_rural_share_of_distinct_customers(mobile_money_events):
    area_of = {e["customer_id"]: e["area"] for e in mobile_money_events}
    assert len(area_of) > 20_000  # many customers, not a handful of heavy users
    rural = _fraction(area_of.values(), lambda a: a == "rural")
    assert rural == pytest.approx(0.72, abs=0.02)


def test_mobile_money_agents_only_for_cash(mobile_money_events):
    kinds = Counter(e["kind"] for e in mobile_money_events)
    assert set(kinds) == set(cal.MOBILE_MONEY_KINDS)
    for e in mobile_money_events[:20_000]:
        if e["kind"] in ("cash_in", "cash_out"):
            assert e["channel"] == "agent"
            assert e["agent_id"].startswith("AG" + e["province_code"])
        else:
            assert e["channel"] in ("ussd", "mobile_app")
            assert e["agent_id"] is None


def test_mobile_money_ussd_is_mostly_rural(mobile_money_events):
    non_agent = [e for e in mobile_money_events if e["channel"] != "agent"]
    for area, expected in cal.MOBILE_MONEY_USSD_SHARE.items():
        share = _fraction(
            (e for e in non_agent if e["area"] == area), lambda e: e["channel"] == "ussd"
        )
        assert share == pytest.approx(expected, abs=0.02), area


def test_mobile_money_provider_shares(mobile_money_events):
    counts = Counter(e["provider"] for e in mobile_money_events)
    for provider in cal.MOBILE_MONEY_PROVIDERS:
        expected = _share(cal.MOBILE_MONEY_PROVIDERS, provider)
        assert counts[provider] / 100_000 == pytest.approx(expected, abs=0.01), provider


# --- Online payments -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def payments(mix_events):
    found = [e for e in mix_events if e["event_type"] == "online_payment"]
    assert len(found) > 80_000
    return found


def test_online_payment_ticket_is_heavy_tailed(payments):
    amounts = [e["amount_vnd"] for e in payments]
    median, mean = statistics.median(amounts), statistics.fmean(amounts)
    assert median < 0.5 * mean
    assert _fraction(amounts, lambda a: a < 100_000) > 0.30
    assert max(amounts) > 50 * median
    assert min(amounts) >= 1_000
    assert all(a % 1_000 == 0 for a in amounts)


def test_online_payment_method_shares_and_small_qr_tickets(payments):
    counts = Counter(e["method"] for e in payments)
    for method in cal.PAYMENT_METHODS:
        expected = _share(cal.PAYMENT_METHODS, method)
        assert counts[method] / len(payments) == pytest.approx(expected, abs=0.01), method
    median_by = {
        m: statistics.median(e["amount_vnd"] for e in payments if e["method"] == m)
        for m in ("vietqr", "internet_banking")
    }
    assert median_by["vietqr"] == pytest.approx(cal.PAYMENT_TICKETS["vietqr"][0], rel=0.05)
    assert median_by["internet_banking"] > 10 * median_by["vietqr"]


def test_online_payment_province_shares_follow_population(payments):
    provs = provinces()
    total_pop = sum(p.population for p in provs.values())
    counts = Counter(e["province_code"] for e in payments)
    assert set(counts) == set(provs)  # every province shows up
    top_two = [code for code, _ in counts.most_common(2)]
    assert set(top_two) == {"79", "01"}
    shares = {c: counts[c] / len(payments) for c in provs}
    pop_shares = {c: p.population / total_pop for c, p in provs.items()}
    for code, p in provs.items():
        if p.population >= 2_000_000:
            assert shares[code] == pytest.approx(pop_shares[code], rel=0.15), code
        assert abs(shares[code] - pop_shares[code]) < 0.006, code
    codes = sorted(provs)
    correlation = statistics.correlation([shares[c] for c in codes], [pop_shares[c] for c in codes])
    assert correlation > 0.98


def test_online_payment_area_follows_province_urban_share(payments):
    urban = _fraction(payments, lambda e: e["area"] == "urban")
    provs = provinces().values()
    national = sum(p.population * p.urban_share for p in provs) / sum(p.population for p in provs)
    assert urban == pytest.approx(national, abs=0.03)


def test_online_ticket_shrinks_with_the_yearly_trend():
    origin = datetime(2023, 1, 2, tzinfo=UTC)
    gen = EventGenerator(seed=5, trend_origin=origin)
    year_later = origin + timedelta(days=365.25)
    now = [gen.event(origin, "online_payment")["amount_vnd"] for _ in range(20_000)]
    later = [gen.event(year_later, "online_payment")["amount_vnd"] for _ in range(20_000)]
    ratio = statistics.median(later) / statistics.median(now)
    assert ratio == pytest.approx(cal.TICKET_TREND_PER_YEAR, abs=0.05)


# --- E-commerce ----------------------------------------------------------------------------


def test_ecommerce_platform_shares(order_events):
    counts = Counter(e["platform"] for e in order_events)
    assert counts["shopee"] / 100_000 == pytest.approx(0.697, abs=0.02)
    for platform in cal.PLATFORMS:
        expected = _share(cal.PLATFORMS, platform)
        assert counts[platform] / 100_000 == pytest.approx(expected, abs=0.02), platform
    assert [p for p, _ in counts.most_common(3)] == ["shopee", "tiktok_shop", "lazada"]


def test_cash_on_delivery_share(order_events):
    cod = _fraction(order_events, lambda e: e["payment_method"] == "cod")
    assert cod == pytest.approx(_share(cal.ORDER_PAYMENTS, "cod"), abs=0.015)
    methods = Counter(e["payment_method"] for e in order_events)
    assert methods.most_common(1)[0][0] == "cod"


def test_order_ticket_mean_is_about_270k(order_events):
    amounts = [e["amount_vnd"] for e in order_events]
    assert statistics.median(amounts) == pytest.approx(cal.ORDER_TICKET[0], rel=0.05)
    assert statistics.fmean(amounts) == pytest.approx(270_000, rel=0.08)


def test_failed_orders_are_cancelled(order_events):
    failed = [e for e in order_events if e["status"] == "failed"]
    assert failed
    assert all(e["order_status"] == "cancelled" for e in failed)


# --- Across types --------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", ["mix_events", "mobile_money_events", "order_events"])
def test_status_shares_follow_calibration(request, fixture):
    events = request.getfixturevalue(fixture)
    counts = Counter(e["status"] for e in events)
    assert counts["failed"] / len(events) == pytest.approx(
        _share(cal.STATUS_WEIGHTS, "failed"), abs=0.003
    )
    assert counts["success"] / len(events) == pytest.approx(
        _share(cal.STATUS_WEIGHTS, "success"), abs=0.005
    )
    assert set(counts) == set(cal.STATUS_WEIGHTS)


def test_type_mix_follows_the_intensity_model(mix_events, week_times):
    counts = Counter(e["event_type"] for e in mix_events)
    expected: dict[str, float] = defaultdict(float)
    for at in week_times[::100]:  # one sample per ~10 minutes is plenty: the mix is hourly
        weights = type_weights(at)
        for t in EVENT_TYPES:
            expected[t] += _share(weights, t) / (len(week_times) / 100)
    for t in EVENT_TYPES:
        assert counts[t] / len(mix_events) == pytest.approx(expected[t], abs=0.005), t
    assert counts.most_common(1)[0][0] == "online_payment"


def test_ecommerce_share_is_higher_in_the_evening_than_at_night(mix_events, week_times):
    def ecommerce_share(local_hour: int) -> float:
        selected = [
            e
            for e, at in zip(mix_events, week_times, strict=True)
            if at.astimezone(VN_TZ).hour == local_hour
        ]
        assert len(selected) > 3_000
        return _fraction(selected, lambda e: e["event_type"] == "ecommerce_order")

    evening, night = ecommerce_share(21), ecommerce_share(4)
    assert evening > night + 0.03
    # and both agree with the model at those hours (a Monday, in VN time)
    monday_21 = datetime(2024, 3, 4, 21, tzinfo=VN_TZ)
    assert evening == pytest.approx(_share(type_weights(monday_21), "ecommerce_order"), abs=0.02)


def test_type_shares_in_every_local_hour_follow_the_model(mix_events, week_times):
    observed: dict[int, Counter[str]] = defaultdict(Counter)
    expected: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for event, at in zip(mix_events, week_times, strict=True):
        hour = at.astimezone(VN_TZ).hour
        observed[hour][event["event_type"]] += 1
    for at in week_times[::50]:
        weights = type_weights(at)
        for t in EVENT_TYPES:
            expected[at.astimezone(VN_TZ).hour][t] += _share(weights, t)
    for hour in range(24):
        n = observed[hour].total()
        samples = sum(expected[hour].values())
        for t in EVENT_TYPES:
            share = observed[hour][t] / n
            assert share == pytest.approx(expected[hour][t] / samples, abs=0.02), (hour, t)
    mm_share = {h: observed[h]["mobile_money"] / observed[h].total() for h in range(24)}
    assert mm_share[9] > 2.5 * mm_share[2]  # agents work by day


def test_every_generated_event_validates(mix_events, mobile_money_events, order_events, week_start):
    validator = EventValidator()
    ctx = validator.context(now=week_start + timedelta(days=8))
    rejected = []
    for events in (mix_events, mobile_money_events, order_events[:20_000]):
        for event in events:
            result = validator.validate(
                EventGenerator.encode(event), expected_type=event["event_type"], context=ctx
            )
            if isinstance(result, Rejection):
                rejected.append((result, event))
            else:
                assert isinstance(result, Envelope)
    assert rejected == []


def test_event_time_is_the_given_time(mix_events, week_times):
    for event, at in zip(mix_events[:1_000], week_times[:1_000], strict=True):
        parsed = datetime.fromisoformat(event["event_time"])
        assert abs(parsed - at) < timedelta(milliseconds=1)
        assert event["event_time"].endswith("Z")


def test_event_ids_are_unique_uuid4(mix_events):
    ids = {e["event_id"] for e in mix_events}
    assert len(ids) == len(mix_events)
    assert all(i[14] == "4" for i in list(ids)[:1_000])


# --- Customers -----------------------------------------------------------------------------


def test_customers_are_stable(mix_events, mobile_money_events, order_events):
    seen: dict[str, tuple[str, str, str]] = {}
    repeats = 0
    for events in (mix_events, mobile_money_events, order_events):
        for e in events:
            identity = (e["province_code"], e["area"], e["event_type"])
            if e["customer_id"] in seen:
                repeats += 1
                assert seen[e["customer_id"]] == identity, e["customer_id"]
            else:
                seen[e["customer_id"]] = identity
    assert repeats > 50_000  # the check had plenty of returning customers to look at


def test_customer_ids_are_prefixed_by_type(mix_events):
    prefix = {"online_payment": "P", "ecommerce_order": "E", "mobile_money": "M"}
    assert all(e["customer_id"][0] == prefix[e["event_type"]] for e in mix_events)


def test_customer_activity_is_skewed(mix_events):
    payments = Counter(e["customer_id"] for e in mix_events if e["event_type"] == "online_payment")
    top_1_percent = sum(n for _, n in payments.most_common(len(payments) // 100))
    assert top_1_percent / sum(payments.values()) > 0.05


def test_customer_lookup_is_a_function_of_seed_type_and_index():
    a, b = EventGenerator(seed=11), EventGenerator(seed=11)
    for index in (0, 1, 999, 79_999):
        assert a.customer("mobile_money", index) == b.customer("mobile_money", index)
    assert a.customer("mobile_money", 5) != a.customer("mobile_money", 6)
    other_seed = EventGenerator(seed=12).customer("mobile_money", 5)
    assert other_seed.customer_id != a.customer("mobile_money", 5).customer_id


# --- Determinism ---------------------------------------------------------------------------


def _times(n: int) -> list[datetime]:
    return [T0 + timedelta(seconds=37 * i) for i in range(n)]


def test_same_seed_and_times_give_identical_events():
    times = _times(3_000)
    gen_a, gen_b = EventGenerator(seed=99), EventGenerator(seed=99)
    a = [gen_a.event(at) for at in times]
    b = [gen_b.event(at) for at in times]
    assert a == b
    assert len({e["event_type"] for e in a}) == 3


def test_week_fixture_is_reproducible(mix_events, week_times, week_seed):
    gen = EventGenerator(seed=week_seed)
    assert [gen.event(at) for at in week_times[:2_000]] == mix_events[:2_000]


def test_different_seed_gives_different_events():
    times = _times(1_000)
    gen_a, gen_b = EventGenerator(seed=1), EventGenerator(seed=2)
    a = [gen_a.event(at) for at in times]
    b = [gen_b.event(at) for at in times]
    assert {e["event_id"] for e in a}.isdisjoint(e["event_id"] for e in b)
    assert [e["amount_vnd"] for e in a] != [e["amount_vnd"] for e in b]


def test_events_do_not_depend_on_the_hash_seed_of_the_process():
    script = (
        "import sys, orjson\n"
        "from datetime import UTC, datetime, timedelta\n"
        "from producers.generator import EventGenerator\n"
        "g = EventGenerator(seed=99)\n"
        "t0 = datetime(2024, 3, 4, tzinfo=UTC)\n"
        "sys.stdout.buffer.write(orjson.dumps("
        "[g.event(t0 + timedelta(seconds=37 * i)) for i in range(300)]))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, env=env, timeout=60, check=True
    )
    gen = EventGenerator(seed=99)
    assert orjson.loads(done.stdout) == [gen.event(at) for at in _times(300)]


# --- Construction and options --------------------------------------------------------------


def test_single_type_generator_only_makes_that_type():
    gen = EventGenerator(seed=3, event_types=["mobile_money"])
    assert {gen.event(at)["event_type"] for at in _times(500)} == {"mobile_money"}


def test_two_type_generator_never_makes_the_third():
    gen = EventGenerator(seed=3, event_types=["ecommerce_order", "mobile_money"])
    types = Counter(gen.event(at)["event_type"] for at in _times(3_000))
    assert set(types) == {"ecommerce_order", "mobile_money"}


@pytest.mark.parametrize("types", [[], ["refunds"], ["online_payment", "bogus"]])
def test_unknown_or_no_event_types_raise(types):
    with pytest.raises(ValueError, match="unknown event types"):
        EventGenerator(event_types=types)


def test_encode_is_compact_json():
    gen = EventGenerator(seed=1)
    event = gen.event(T0, "ecommerce_order")
    encoded = gen.encode(event)
    assert orjson.loads(encoded) == event
    assert b": " not in encoded
