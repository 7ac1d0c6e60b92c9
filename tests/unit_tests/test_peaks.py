"""Named peaks: their dates (Vietnam local), their multipliers, and how they combine."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from dxpulse.core.config import EVENT_TYPES
from dxpulse.producers.intensity import VN_TZ, type_weights
from dxpulse.producers.peaks import PEAKS, TET_DATES, peak_factor, peaks_on

ORDINARY = date(2026, 3, 18)  # a Wednesday with no peak


def test_known_tet_dates_are_in_the_table():
    for tet in ("2024-02-10", "2025-01-29", "2026-02-17", "2027-02-06", "2028-01-26"):
        assert date.fromisoformat(tet) in TET_DATES


@pytest.mark.parametrize("tet", TET_DATES)
def test_tet_phases_fall_around_each_new_year(tet):
    assert "Tết holiday" in peaks_on(tet)
    assert "Tết holiday" in peaks_on(tet + timedelta(days=4))
    assert "Tết holiday" not in peaks_on(tet + timedelta(days=5))
    assert peaks_on(tet - timedelta(days=1))[0] == "Tết eve"
    for before in range(2, 12):
        assert "Tết shopping" in peaks_on(tet - timedelta(days=before))
    assert "Tết shopping" not in peaks_on(tet - timedelta(days=12))


def test_tet_shopping_ramps_up_towards_the_eve():
    tet = date(2026, 2, 17)
    ramp = [peak_factor("ecommerce_order", tet - timedelta(days=d)) for d in range(11, 1, -1)]
    assert ramp == sorted(ramp) and len(set(ramp)) == len(ramp)
    assert 1.0 < ramp[0] < 1.2 and ramp[-1] == pytest.approx(1.8)


def test_tet_holiday_cuts_ecommerce_and_raises_mobile_money():
    first_day = date(2027, 2, 6)
    assert peak_factor("ecommerce_order", first_day) < 0.5
    assert peak_factor("online_payment", first_day) < 1.0
    assert peak_factor("mobile_money", first_day) > 1.3


def test_no_tet_outside_the_table():
    assert not any(p.startswith("Tết") for p in peaks_on(date(2031, 1, 23)))


def test_11_11_is_several_times_a_normal_ecommerce_day():
    for year in (2024, 2025, 2026):
        day = date(year, 11, 11)
        assert peaks_on(day) == ["11.11 mega sale"]
        assert peak_factor("ecommerce_order", day) >= 4.0
        assert peak_factor("mobile_money", day) == 1.0


def test_other_double_days_are_smaller_than_11_11():
    big = peak_factor("ecommerce_order", date(2026, 11, 11))
    twelve = peak_factor("ecommerce_order", date(2026, 12, 12))
    assert peaks_on(date(2026, 12, 12)) == ["12.12 sale"]
    assert 2.0 < twelve < big
    for month in (9, 10):
        day = date(2026, month, month)
        assert peaks_on(day) == [f"{month}.{month} sale"]
        assert 1.5 < peak_factor("ecommerce_order", day) < twelve


@pytest.mark.parametrize(
    "day",
    [date(2026, 3, 31), date(2026, 4, 1), date(2026, 4, 3), date(2024, 2, 29), date(2025, 2, 28),
     date(2026, 12, 31), date(2027, 1, 2)],
)  # fmt: skip
def test_paydays_are_month_end_and_the_first_three_days(day):
    assert "payday" in peaks_on(day)
    assert peak_factor("mobile_money", day) > 1.2
    assert peak_factor("online_payment", day) > 1.0


@pytest.mark.parametrize("day", [date(2026, 4, 4), date(2026, 3, 30), date(2025, 2, 27)])
def test_no_payday_in_between(day):
    assert "payday" not in peaks_on(day)


def test_an_ordinary_day_has_no_peak():
    assert peaks_on(ORDINARY) == []
    assert all(peak_factor(t, ORDINARY) == 1.0 for t in EVENT_TYPES)


def test_peaks_on_the_same_day_multiply():
    day = date(2025, 1, 31)  # mùng 3 Tết 2025 and the last day of January
    assert peaks_on(day) == ["Tết holiday", "payday"]
    holiday = next(p for p in PEAKS if p.name == "Tết holiday")
    payday = next(p for p in PEAKS if p.name == "payday")
    for t in EVENT_TYPES:
        expected = holiday.multipliers.get(t, 1.0) * payday.multipliers.get(t, 1.0)
        assert peak_factor(t, day) == pytest.approx(expected)


def test_every_peak_is_documented_and_names_known_types():
    assert len({p.name for p in PEAKS}) == len(PEAKS)
    for peak in PEAKS:
        assert peak.rule and peak.basis.startswith("assumption")
        assert set(peak.multipliers) <= set(EVENT_TYPES)
        assert all(m > 0 for m in peak.multipliers.values())


def test_peak_days_are_vietnam_local_dates():
    # 17:30 UTC on 10 November is already 00:30 on 11.11 in Hà Nội.
    utc = datetime(2026, 11, 10, 17, 30, tzinfo=UTC)
    plain, peaked = type_weights(utc), type_weights(utc, peaks=True)
    assert peaked["ecommerce_order"] == pytest.approx(plain["ecommerce_order"] * 5.0)
    before = datetime(2026, 11, 10, 16, 30, tzinfo=UTC)  # 23:30 on the 10th
    assert type_weights(before, peaks=True) == type_weights(before)


def test_live_weights_leave_the_peaks_out():
    at = datetime(2026, 11, 11, 21, 0, tzinfo=VN_TZ)
    plain, peaked = type_weights(at), type_weights(at, peaks=True)
    for t in EVENT_TYPES:
        assert peaked[t] == pytest.approx(plain[t] * peak_factor(t, at.date()))
    assert peaked["ecommerce_order"] > 4 * plain["ecommerce_order"]
