"""Hour-of-day and weekday rhythm, in Vietnam time (UTC+7, no DST)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dxpulse.producers.calibration import EVENT_TYPE_WEIGHTS, HOURLY, WEEKDAY
from dxpulse.producers.intensity import VN_TZ, relative_intensity, total_intensity, type_weights

EVENT_TYPES = tuple(EVENT_TYPE_WEIGHTS)
MONDAY = datetime(2024, 3, 4, tzinfo=VN_TZ)  # Monday 00:00 in Vietnam


def _week_hours(start: datetime = MONDAY) -> list[datetime]:
    return [start + timedelta(hours=h) for h in range(7 * 24)]


def test_calibration_tables_have_24_hours_and_7_days():
    for t in EVENT_TYPES:
        assert len(HOURLY[t]) == 24
        assert len(WEEKDAY[t]) == 7
        assert min(HOURLY[t]) > 0 and min(WEEKDAY[t]) > 0


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_relative_intensity_averages_to_one_over_a_week(event_type):
    values = [relative_intensity(event_type, at) for at in _week_hours()]
    assert sum(values) / len(values) == pytest.approx(1.0, rel=1e-12)


def test_total_intensity_averages_to_one_over_a_week():
    values = [total_intensity(at) for at in _week_hours()]
    assert sum(values) / len(values) == pytest.approx(1.0, rel=1e-12)
    assert max(values) > 1.3 and min(values) < 0.2  # a real day-night swing


def test_week_average_does_not_depend_on_where_the_week_starts():
    odd_start = datetime(2024, 3, 6, 13, 0, tzinfo=UTC)
    values = [total_intensity(at) for at in _week_hours(odd_start)]
    assert sum(values) / len(values) == pytest.approx(1.0, rel=1e-12)


def test_local_hour_is_vietnam_time():
    utc = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)  # 21:30 in Hà Nội, a Monday
    local = datetime(2024, 3, 4, 21, 30, tzinfo=VN_TZ)
    assert relative_intensity("ecommerce_order", utc) == relative_intensity(
        "ecommerce_order", local
    )
    ratio = relative_intensity("ecommerce_order", utc) / relative_intensity(
        "ecommerce_order", datetime(2024, 3, 4, 4, 30, tzinfo=VN_TZ)
    )
    assert ratio == pytest.approx(HOURLY["ecommerce_order"][21] / HOURLY["ecommerce_order"][4])
    assert VN_TZ.utcoffset(None) == timedelta(hours=7)


def test_weekday_is_taken_in_vietnam_time():
    # Sunday 20:00 UTC is already Monday 03:00 in Vietnam.
    sunday_utc = datetime(2024, 3, 10, 20, 0, tzinfo=UTC)
    monday_vn = datetime(2024, 3, 11, 3, 0, tzinfo=VN_TZ)
    sunday_vn = datetime(2024, 3, 10, 3, 0, tzinfo=VN_TZ)
    value = relative_intensity("mobile_money", sunday_utc)
    assert value == relative_intensity("mobile_money", monday_vn)
    assert value / relative_intensity("mobile_money", sunday_vn) == pytest.approx(
        WEEKDAY["mobile_money"][0] / WEEKDAY["mobile_money"][6]
    )


def test_ecommerce_peaks_late_evening_and_mobile_money_by_day():
    hours = [MONDAY + timedelta(hours=h) for h in range(24)]
    eco = [relative_intensity("ecommerce_order", at) for at in hours]
    mm = [relative_intensity("mobile_money", at) for at in hours]
    assert eco.index(max(eco)) == 21
    assert 7 <= mm.index(max(mm)) <= 16
    assert mm[3] < 0.1 * mm[9]


def test_type_weights_scale_base_weights_by_rhythm():
    at = datetime(2024, 3, 5, 12, 0, tzinfo=VN_TZ)
    weights = type_weights(at)
    assert set(weights) == set(EVENT_TYPES)
    for t in EVENT_TYPES:
        assert weights[t] == pytest.approx(EVENT_TYPE_WEIGHTS[t] * relative_intensity(t, at))
    assert total_intensity(at) == pytest.approx(
        sum(weights.values()) / sum(EVENT_TYPE_WEIGHTS.values())
    )


def test_ecommerce_share_of_the_mix_peaks_late_in_the_evening():
    def share(hour: int) -> float:
        w = type_weights(MONDAY + timedelta(hours=hour))
        return w["ecommerce_order"] / sum(w.values())

    assert share(21) > share(4) > share(12)
    assert max(range(24), key=share) in (22, 23, 0)
    assert min(range(24), key=share) in range(5, 10)
