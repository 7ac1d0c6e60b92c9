"""History backfill: the plan (exact count, ascending times in the span, deterministic, the
rhythm and the named peaks), the generator's many-times batch, the summary table and the
CLI's argument errors. Producing it to a real broker: tests/integration_tests/test_backfill.py.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta

import numpy as np
import orjson
import pytest
from rich.console import Console

from dxpulse.calibrate.stats import yearly_growth
from dxpulse.core.config import EVENT_TYPES
from dxpulse.producers import calibration as cal
from dxpulse.producers.backfill import MAX_SPAN_S, BackfillPlan, Step, default_count, plan_backfill
from dxpulse.producers.generator import EventGenerator
from dxpulse.producers.intensity import VN_TZ, total_intensity, type_weights
from dxpulse.producers.producer import ProduceReport
from dxpulse.runner import backfill_table
from dxpulse.schemas.events import format_event_time
from dxpulse.schemas.validation import EventValidator, Rejection
from tests.unit_tests.test_cli_errors import _assert_one_line_error, dxpulse

DAY = 86_400
# Three whole weeks, Monday 4 to Monday 25 March 2024 in Vietnam: no named peak inside.
QUIET_END = datetime(2024, 3, 25, tzinfo=VN_TZ)
QUIET_SPAN = 21 * DAY
# November 2026: payday on 1-3 November, 11.11 mega sale on Wednesday the 11th.
NOVEMBER_END = datetime(2026, 11, 22, tzinfo=VN_TZ)


def _steps(plan: BackfillPlan) -> list[Step]:
    return list(plan.steps())


def _times(plan: BackfillPlan, event_type: str | None = None) -> np.ndarray:
    chosen = [s.times_ms for s in plan.steps() if event_type in (None, s.event_type)]
    return np.concatenate(chosen)


def _day(plan: BackfillPlan, day: date) -> dict[str, int]:
    return next(d.by_type for d in plan.days() if d.day == day)


def _ordinary_mean(plan: BackfillPlan, event_type: str, weekdays: set[int]) -> float:
    days = [d for d in plan.days() if not d.peaks and not d.partial]
    counts = [d.by_type[event_type] for d in days if d.day.weekday() in weekdays]
    return sum(counts) / len(counts)


@pytest.fixture(scope="module")
def quiet() -> BackfillPlan:
    return plan_backfill(QUIET_SPAN, 400_000, end=QUIET_END, seed=7)


@pytest.fixture(scope="module")
def november() -> BackfillPlan:
    return plan_backfill(21 * DAY, 21 * 50_000, end=NOVEMBER_END, seed=3)


# --- the plan ------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 2, 7, 999, 123_457])
def test_plan_allocates_exactly_the_count(count):
    plan = plan_backfill(3 * DAY, count, end=QUIET_END, seed=count)
    assert int(plan.counts.sum()) == count
    assert sum(len(s.times_ms) for s in plan.steps()) == count
    assert sum(plan.by_type().values()) == count
    assert sum(d.total for d in plan.days()) == count


def test_times_are_inside_the_span(quiet):
    times = _times(quiet)
    start_ms = int((QUIET_END - timedelta(seconds=QUIET_SPAN)).timestamp() * 1000)
    end_ms = int(QUIET_END.timestamp() * 1000)
    assert quiet.start == QUIET_END - timedelta(seconds=QUIET_SPAN) and quiet.end == QUIET_END
    assert start_ms <= times.min() and times.max() < end_ms


def test_each_type_comes_in_ascending_time_order(quiet):
    for event_type in EVENT_TYPES:
        times = _times(quiet, event_type)
        assert len(times) > 1_000
        assert np.all(np.diff(times) >= 0)


def test_steps_come_chunk_by_chunk_in_time_order(quiet):
    starts = [s.times_ms[0] // quiet.chunk_ms for s in quiet.steps()]
    assert starts == sorted(starts)
    assert all(s.at == datetime.fromtimestamp(s.times_ms[0] / 1000, UTC) for s in _steps(quiet))


def test_times_spread_within_the_minute(quiet):
    seconds = Counter((_times(quiet, "online_payment") // 1000 % 60).tolist())
    assert set(seconds) == set(range(60))
    assert max(seconds.values()) < 1.2 * min(seconds.values())
    assert len(np.unique(_times(quiet) % 1000)) == 1000  # every millisecond occurs


def _same_steps(a: list[Step], b: list[Step]) -> bool:
    return len(a) == len(b) and all(
        x.event_type == y.event_type and np.array_equal(x.times_ms, y.times_ms)
        for x, y in zip(a, b, strict=True)
    )


def test_a_fixed_end_and_seed_give_the_same_plan():
    a = plan_backfill(2 * DAY, 20_000, end=QUIET_END, seed=5)
    b = plan_backfill(2 * DAY, 20_000, end=QUIET_END, seed=5)
    assert np.array_equal(a.counts, b.counts)
    assert _same_steps(_steps(a), _steps(b))
    assert _same_steps(_steps(a), _steps(a))  # the same steps every time it is iterated


def test_another_seed_gives_another_plan():
    a = plan_backfill(2 * DAY, 20_000, end=QUIET_END, seed=5)
    b = plan_backfill(2 * DAY, 20_000, end=QUIET_END, seed=6)
    assert not np.array_equal(a.counts, b.counts)
    assert int(b.counts.sum()) == 20_000


def test_negative_seeds_work():
    plan = plan_backfill(DAY, 100, end=QUIET_END, seed=-1)
    assert int(plan.counts.sum()) == 100


def test_hour_of_day_shares_follow_the_intensity(quiet):
    local_hours = ((_times(quiet) // 1000 + 7 * 3600) // 3600 % 24).tolist()
    got = Counter(local_hours)
    monday = datetime(2024, 3, 4, tzinfo=VN_TZ)
    expected = [
        sum(total_intensity(monday + timedelta(days=d, hours=h)) for d in range(7))
        for h in range(24)
    ]
    total = sum(expected)
    for hour in range(24):
        assert got[hour] / 400_000 == pytest.approx(expected[hour] / total, abs=0.002), hour
    assert max(got, key=got.__getitem__) in (11, 12, 18)
    assert got[3] < 0.1 * got[12]


def test_each_type_follows_its_own_rhythm(quiet):
    def share_at(event_type: str, hour: int) -> float:
        hours = (_times(quiet, event_type) // 1000 + 7 * 3600) // 3600 % 24
        return float(np.mean(hours == hour))

    assert share_at("ecommerce_order", 21) > 1.5 * share_at("ecommerce_order", 9)
    assert share_at("mobile_money", 9) > 1.5 * share_at("mobile_money", 21)


def test_weekday_rhythm_shows(quiet):
    # Three whole weeks: online payments peak on Saturday, Mobile Money dips on Sunday and
    # e-commerce is busier at the weekend.
    days = quiet.days()
    assert len(days) == 21 and not any(d.partial for d in days)
    per_weekday: dict[int, Counter[str]] = defaultdict(Counter)
    for d in days:
        per_weekday[d.day.weekday()].update(d.by_type)
    assert per_weekday[5]["online_payment"] > 1.05 * per_weekday[6]["online_payment"]
    assert per_weekday[0]["mobile_money"] > 1.1 * per_weekday[6]["mobile_money"]
    assert per_weekday[6]["ecommerce_order"] > 1.1 * per_weekday[1]["ecommerce_order"]


def test_a_quiet_span_has_no_peak_days(quiet):
    assert all(d.peaks == [] for d in quiet.days())


def test_11_11_has_many_times_the_ecommerce_of_an_ordinary_day(november):
    sale = _day(november, date(2026, 11, 11))
    wednesday = _ordinary_mean(november, "ecommerce_order", {2})
    assert sale["ecommerce_order"] > 4 * wednesday
    # Payments rise a little, Mobile Money not at all.
    assert sale["online_payment"] > 1.05 * _ordinary_mean(november, "online_payment", {2})
    assert sale["mobile_money"] < 1.1 * _ordinary_mean(november, "mobile_money", {2})
    assert next(d.peaks for d in november.days() if d.day == date(2026, 11, 11)) == [
        "11.11 mega sale"
    ]


def test_payday_raises_mobile_money(november):
    paydays = [d for d in november.days() if d.peaks == ["payday"]]
    assert [d.day.day for d in paydays] == [1, 2, 3]
    for d in paydays:  # against ordinary days of the same weekday
        ordinary = _ordinary_mean(november, "mobile_money", {d.day.weekday()})
        assert d.by_type["mobile_money"] > 1.15 * ordinary, d.day


def test_tet_holiday_cuts_ecommerce_and_the_ramp_before_raises_it():
    tet = date(2026, 2, 17)
    end = datetime(2026, 2, 28, tzinfo=VN_TZ)
    plan = plan_backfill(40 * DAY, 40 * 50_000, end=end, seed=1)
    days = {d.day: d for d in plan.days()}
    ordinary = _ordinary_mean(plan, "ecommerce_order", set(range(7)))
    holiday = [days[tet + timedelta(days=i)] for i in range(5)]
    assert all(d.peaks[0] == "Tết holiday" for d in holiday)
    assert all(d.by_type["ecommerce_order"] < 0.5 * ordinary for d in holiday)
    mm_ordinary = _ordinary_mean(plan, "mobile_money", set(range(7)))
    assert all(d.by_type["mobile_money"] > 1.2 * mm_ordinary for d in holiday)
    last_shopping_day = days[tet - timedelta(days=2)]
    assert last_shopping_day.peaks == ["Tết shopping"]
    assert last_shopping_day.by_type["ecommerce_order"] > 1.5 * ordinary


def test_days_mark_the_partial_first_and_last_day():
    end = datetime(2026, 11, 22, 15, 30, tzinfo=VN_TZ)
    days = plan_backfill(2 * DAY, 10_000, end=end, seed=1).days()
    assert [d.day for d in days] == [date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22)]
    assert [d.partial for d in days] == [True, False, True]


def test_only_the_given_types_are_planned():
    plan = plan_backfill(DAY, 5_000, end=QUIET_END, event_types=("mobile_money",))
    assert plan.by_type() == {"mobile_money": 5_000}
    assert {s.event_type for s in plan.steps()} == {"mobile_money"}


def test_the_plan_follows_the_peak_adjusted_weights_per_type(november):
    # Per type over the whole span, the share matches the weights' integral.
    hours = [november.start + timedelta(hours=h) for h in range(21 * 24)]
    weights = Counter[str]()
    for at in hours:
        weights.update(type_weights(at, peaks=True))
    total = sum(weights.values())
    shares = {t: n / november.count for t, n in november.by_type().items()}
    for t in EVENT_TYPES:
        assert shares[t] == pytest.approx(weights[t] / total, abs=0.002)


def test_default_count_is_50000_a_day():
    assert default_count(30 * DAY) == 1_500_000
    assert default_count(12 * 3600) == 25_000
    assert default_count(1) == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"span_s": 0}, "span"),
        ({"span_s": MAX_SPAN_S + 1}, "at most 400 days"),
        ({"count": 0}, "count"),
        ({"end": datetime(2026, 1, 1)}, "timezone-aware"),
        ({"bin_s": 7}, "bin_s"),
        ({"event_types": ("refunds",)}, "refunds"),
    ],
)
def test_bad_plans_are_refused(kwargs, message):
    args = {"span_s": DAY, "count": 10, "end": QUIET_END, **kwargs}
    with pytest.raises(ValueError, match=message):
        plan_backfill(**args)


def test_a_400_day_plan_is_cheap_to_make():
    plan = plan_backfill(MAX_SPAN_S, 1_000, end=NOVEMBER_END, seed=2)
    assert int(plan.counts.sum()) == 1_000
    days = plan.days()
    assert len(days) == 400 and not any(d.partial for d in days)  # it ends at midnight


# --- the generator's many-times batch -----------------------------------------------------


def test_batch_times_gives_each_event_its_own_time():
    times = np.array([1_700_000_000_000, 1_700_000_000_001, 1_700_000_059_999], dtype=np.int64)
    events = EventGenerator(seed=1).batch_times("ecommerce_order", times)
    decoded = [orjson.loads(v) for v in events.values]
    expected = [format_event_time(datetime.fromtimestamp(t / 1000, UTC)) for t in times.tolist()]
    assert [e["event_time"] for e in decoded] == expected
    assert all(e["event_type"] == "ecommerce_order" for e in decoded)
    assert events.keys == [e["province_code"].encode() for e in decoded]
    assert events.values == [EventGenerator.encode(e) for e in decoded]  # compact, same order


def test_batch_times_events_validate_strictly():
    plan = plan_backfill(DAY, 3_000, end=QUIET_END, seed=4)
    gen = EventGenerator(seed=4)
    validator = EventValidator()
    ctx = validator.context(now=QUIET_END)
    for step in plan.steps():
        for value in gen.batch_times(step.event_type, step.times_ms).values:
            result = validator.validate(value, context=ctx)
            assert not isinstance(result, Rejection), result


def test_batch_times_of_nothing_and_of_an_unknown_type():
    gen = EventGenerator(seed=1)
    assert gen.batch_times("mobile_money", np.array([], dtype=np.int64)).values == []
    with pytest.raises(ValueError, match="unknown event type"):
        gen.batch_times("refunds", np.array([1], dtype=np.int64))


def test_a_backfill_does_not_shift_the_live_batches():
    at = datetime(2026, 11, 22, tzinfo=UTC)
    # The ticket trend runs from the first event generated, so that is fixed for both.
    plain = EventGenerator(seed=9, trend_origin=at).batch(at, 500)
    gen = EventGenerator(seed=9, trend_origin=at)
    gen.batch_times("online_payment", np.arange(1_000, dtype=np.int64) + 1_700_000_000_000)
    assert gen.batch(at, 500) == plain


def test_backfill_and_live_of_one_seed_share_no_event_id():
    # Separate `produce --backfill` and `produce` runs with the default seed.
    times = np.arange(5_000, dtype=np.int64) + 1_700_000_000_000
    history = EventGenerator(seed=0).batch_times("online_payment", times)
    live = EventGenerator(seed=0).batch(datetime(2026, 11, 22, tzinfo=UTC), 5_000)
    ids = {orjson.loads(v)["event_id"] for v in history.values}
    live_ids = {orjson.loads(v)["event_id"] for e in live for v in e.values}
    assert len(ids) == 5_000 and not ids & live_ids


def _backfill(plan: BackfillPlan, run_start: datetime | None) -> dict[tuple[int, int], str]:
    """Each event's id by its position in the backfill and its event time."""
    gen = EventGenerator(seed=plan.seed, run_start=run_start)
    ids, position = {}, 0
    for step in plan.steps():
        for t, value in zip(
            step.times_ms.tolist(),
            gen.batch_times(step.event_type, step.times_ms).values,
            strict=True,
        ):
            ids[position, t] = orjson.loads(value)["event_id"]
            position += 1
    return ids


@pytest.mark.parametrize("apart", [timedelta(seconds=1), timedelta(seconds=10)])
@pytest.mark.parametrize("explicit_start", [False, True])
def test_backfills_of_one_seed_ending_seconds_apart_share_no_event_id(apart, explicit_start):
    # Two `produce --backfill 1d --seed 11` runs: their plans put many events on the same
    # position and millisecond, so an id of (seed, position, time) alone would repeat.
    end = datetime(2024, 3, 25, 9, 30, 7, 123_000, tzinfo=VN_TZ)
    first, rerun = (plan_backfill(DAY, 20_000, end=e, seed=11) for e in (end, end + apart))
    a = _backfill(first, first.end if explicit_start else None)
    b = _backfill(rerun, rerun.end if explicit_start else None)
    assert len(a.keys() & b.keys()) > 50  # the same positions at the same times
    assert set(a.values()).isdisjoint(b.values())
    assert len(set(a.values())) == len(a) == 20_000


def test_batch_times_is_deterministic_per_seed():
    times = np.arange(100, dtype=np.int64) * 997 + 1_700_000_000_000
    a = EventGenerator(seed=2).batch_times("mobile_money", times)
    b = EventGenerator(seed=2).batch_times("mobile_money", times)
    c = EventGenerator(seed=3).batch_times("mobile_money", times)
    assert a == b and a != c


# --- the summary table ----------------------------------------------------------------------


def _render(plan: BackfillPlan) -> str:
    report = ProduceReport(sent=plan.count, delivered=plan.count, seconds=1.0)
    report.by_type.update(plan.by_type())
    console = Console(record=True, width=200)
    console.print(backfill_table(plan, report))
    return console.export_text()


def test_the_table_lists_every_day_and_names_the_peaks(november):
    text = _render(november)
    assert "2026-11-11 Wed" in text and "11.11 mega sale" in text and "payday" in text
    assert text.count("\n2026-11-") + text.count("│ 2026-11-") >= 21
    assert f"{november.count:,}" in text
    header = text.split("\n2026-11-")[0]
    assert "Online payments" in header and "Mobile Money" in header  # names, not codes
    assert "online_payment" not in text and "mobile_money" not in text


def test_a_long_span_shows_its_peak_days_and_an_ordinary_mean():
    plan = plan_backfill(120 * DAY, 120_000, end=NOVEMBER_END, seed=1)
    text = _render(plan)
    assert "11.11 mega sale" in text and "10.10 sale" in text
    assert "ordinary day, mean of" in text
    assert "2026-11-05" not in text  # an ordinary day is only in the mean


# --- the CLI's argument errors ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "mentions"),
    [
        (["produce", "--backfill", "7d", "--duration", "5m"], "--duration"),
        (["produce", "--backfill", "7d", "--rate", "10"], "--rate"),
        (["produce", "--backfill", "7d", "--diurnal"], "--diurnal"),
        (["produce", "--backfill", "0"], "--backfill"),
        (["produce", "--backfill", "401d"], "at most 400 days"),
        (["produce", "--backfill", "soon"], "--backfill"),
        (["run", "--backfill-count", "5000"], "--backfill-count needs --backfill"),
        (["run", "--backfill", "500d"], "at most 400 days"),
        (["run", "--backfill", "2d", "--backfill-count", "0"], "--backfill-count"),
    ],
)
def test_bad_backfill_arguments_are_one_line(tmp_path, args, mentions):
    done = dxpulse(tmp_path, *args)
    line = _assert_one_line_error(done)
    assert mentions in line
    assert done.returncode == 2
    assert list(tmp_path.iterdir()) == []  # refused before touching anything


def test_a_good_backfill_still_needs_a_broker(tmp_path):
    done = dxpulse(tmp_path, "produce", "--backfill", "7d")
    assert "no Kafka configured" in _assert_one_line_error(done)


# --- Growth over a long backfill (COUNT_GROWTH_PER_YEAR, anchored at the span's end) --------


def _planned_growth(plan: BackfillPlan, event_type: str) -> float:
    """Yearly growth of the plan's full, peak-free days, as dxpulse calibrate fits it."""
    days = [d for d in plan.days() if not d.partial and not d.peaks]
    return yearly_growth([d.day.toordinal() for d in days], [d.by_type[event_type] for d in days])


@pytest.mark.parametrize(
    "end", [datetime(2024, 6, 1, tzinfo=UTC), datetime(2026, 11, 22, tzinfo=UTC)]
)
def test_a_400_day_backfill_grows_by_the_yearly_growth_whatever_its_end(end):
    # Relative to the span's end, not to a date: a plan ending in 2024 grows as one in 2026.
    plan = plan_backfill(400 * DAY, 3_000_000, end=end, seed=2)
    for event_type, growth in cal.COUNT_GROWTH_PER_YEAR.items():
        assert _planned_growth(plan, event_type) == pytest.approx(100 * (growth - 1), abs=3)


def test_the_mix_at_the_end_of_a_long_backfill_is_todays():
    end = datetime(2026, 3, 25, tzinfo=VN_TZ)
    long, short = (plan_backfill(span, 2_000_000, end=end, seed=3) for span in (400 * DAY, 7 * DAY))
    last_week = [d for d in long.days() if d.day >= (end - timedelta(days=7)).date()]
    for event_type in EVENT_TYPES:
        mine = sum(d.by_type[event_type] for d in last_week) / sum(d.total for d in last_week)
        assert mine == pytest.approx(short.by_type()[event_type] / 2_000_000, abs=0.01)


def test_online_tickets_shrink_over_a_long_backfill_anchored_at_its_end():
    end = datetime(2026, 11, 22, tzinfo=UTC)
    plan = plan_backfill(400 * DAY, 400_000, end=end, seed=4, event_types=["online_payment"])
    gen = EventGenerator(seed=4, trend_origin=end)
    first_ms, last_ms = int(plan.bin_edges_ms[0]), int(plan.bin_edges_ms[-1])
    month = 30 * DAY * 1000
    early, late = [], []
    for step in plan.steps():
        amounts = [
            orjson.loads(v)["amount_vnd"]
            for v in gen.batch_times("online_payment", step.times_ms).values
        ]
        if step.times_ms[-1] < first_ms + month:
            early.extend(amounts)
        elif step.times_ms[0] >= last_ms - month:
            late.extend(amounts)
    years = (400 - 30) / 365.25  # between the two months' middles
    ratio = np.median(late) / np.median(early)
    assert ratio == pytest.approx(cal.TICKET_TREND_PER_YEAR**years, rel=0.05)
