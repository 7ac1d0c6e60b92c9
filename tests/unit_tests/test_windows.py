"""Event-time tumbling windows: exact integer milliseconds, [start, start + size)."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dxpulse.streams.windows import EPOCH, epoch_ms, window_start, window_start_ms

T = datetime(2024, 3, 4, 10, 0, tzinfo=UTC)
T_MS = calendar.timegm(T.timetuple()) * 1000


def test_epoch_ms_of_known_instants():
    assert epoch_ms(EPOCH) == 0
    assert T_MS == 1_709_546_400_000
    assert epoch_ms(T) == T_MS
    assert epoch_ms(T + timedelta(milliseconds=789)) == T_MS + 789


def test_epoch_ms_ignores_the_time_zone_of_the_value():
    assert epoch_ms(T.astimezone(timezone(timedelta(hours=7)))) == T_MS
    assert epoch_ms(T.astimezone(timezone(timedelta(hours=-3, minutes=-30)))) == T_MS


def test_epoch_ms_floors_sub_millisecond_parts():
    assert epoch_ms(T + timedelta(microseconds=999)) == T_MS
    assert epoch_ms(T - timedelta(microseconds=1)) == T_MS - 1
    assert epoch_ms(EPOCH - timedelta(microseconds=1)) == -1


def test_epoch_ms_is_exact_where_float_timestamps_are_not():
    at = datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
    assert int(at.timestamp() * 1000) == 253_402_300_800_000  # float rounds up a whole ms
    assert epoch_ms(at) == 253_402_300_799_999


@pytest.mark.parametrize("size_ms", [1_000, 60_000, 300_000, 3_600_000, 86_400_000])
def test_window_boundaries(size_ms):
    boundary = (T_MS // size_ms + 1) * size_ms
    assert window_start_ms(boundary, size_ms) == boundary  # the boundary opens a new window
    assert window_start_ms(boundary - 1, size_ms) == boundary - size_ms  # 1 ms before: old one
    assert window_start_ms(boundary + size_ms - 1, size_ms) == boundary
    assert window_start_ms(boundary + size_ms, size_ms) == boundary + size_ms


def test_window_start_ms_before_the_epoch():
    assert window_start_ms(-1, 60_000) == -60_000
    assert window_start_ms(-60_000, 60_000) == -60_000
    assert window_start_ms(-60_001, 60_000) == -120_000


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (1, datetime(2024, 3, 4, 10, 17, 42, tzinfo=UTC)),
        (10, datetime(2024, 3, 4, 10, 17, 40, tzinfo=UTC)),
        (60, datetime(2024, 3, 4, 10, 17, tzinfo=UTC)),
        (300, datetime(2024, 3, 4, 10, 15, tzinfo=UTC)),
        (900, datetime(2024, 3, 4, 10, 15, tzinfo=UTC)),
        (3600, datetime(2024, 3, 4, 10, 0, tzinfo=UTC)),
        (86_400, datetime(2024, 3, 4, tzinfo=UTC)),
        # aligned to the epoch, not to the minute: 1709547462 % 11 == 7
        (11, datetime(2024, 3, 4, 10, 17, 35, tzinfo=UTC)),
    ],
)
def test_window_start_for_several_sizes(seconds, expected):
    at = datetime(2024, 3, 4, 10, 17, 42, 999_000, tzinfo=UTC)
    assert window_start(at, seconds) == expected
    assert window_start(at, seconds).tzinfo is not None


def test_window_start_of_a_local_time_is_the_utc_window():
    local = datetime(2024, 3, 4, 17, 0, 0, tzinfo=timezone(timedelta(hours=7)))
    assert window_start(local, 3600) == T
    assert window_start(local - timedelta(milliseconds=1), 3600) == T - timedelta(hours=1)


@given(
    ms=st.integers(min_value=-(10**13), max_value=10**13),
    size=st.integers(min_value=1, max_value=86_400_000),
)
def test_window_contains_its_event(ms, size):
    start = window_start_ms(ms, size)
    assert start <= ms < start + size
    assert start % size == 0
    assert window_start_ms(start, size) == start


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)))
def test_epoch_ms_matches_integer_arithmetic(naive):
    at = naive.replace(tzinfo=UTC)
    expected = calendar.timegm(at.timetuple()) * 1000 + at.microsecond // 1000
    assert epoch_ms(at) == expected
    assert EPOCH + timedelta(milliseconds=epoch_ms(at)) == at.replace(
        microsecond=at.microsecond // 1000 * 1000
    )
