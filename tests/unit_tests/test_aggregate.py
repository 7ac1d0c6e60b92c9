"""WindowAggregator: partial counts, sums, min and max per (window, type, province, area,
channel), in a deterministic row order."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import orjson
import pytest

from dxpulse.streams.aggregate import AGGREGATE_COLUMNS, WindowAggregator

W0 = datetime(2024, 3, 4, 10, 0, tzinfo=UTC)


@pytest.fixture
def events(flat):
    """Seven events: five in one group, one in another province, one in the next window."""
    return [
        flat(amount_vnd=100_000, status="success", event_time="2024-03-04T10:00:00.000Z"),
        flat(
            amount_vnd=300_000,
            status="failed",
            event_time="2024-03-04T10:00:10.000Z",
            customer_id="Pother0002",
        ),
        flat(amount_vnd=50_000, status="success", event_time="2024-03-04T10:00:59.999Z"),
        flat(amount_vnd=70_000, status="pending", event_time="2024-03-04T10:00:30.000Z"),
        flat(amount_vnd=20_000, status="reversed", event_time="2024-03-04T10:00:31.000Z"),
        flat(province_code="01", amount_vnd=5_000, event_time="2024-03-04T10:00:01.000Z"),
        flat(amount_vnd=9_000, status="failed", event_time="2024-03-04T10:01:00.000Z"),
    ]


def _as_dicts(agg: WindowAggregator) -> list[dict[str, object]]:
    rows = [dict(zip(AGGREGATE_COLUMNS, row, strict=True)) for row in agg.rows()]
    return rows


def test_group_counts_sums_min_max(events):
    agg = WindowAggregator(60)
    for e in events:
        agg.add(e)
    assert len(agg) == 3
    rows = _as_dicts(agg)
    (main,) = [r for r in rows if r["province_code"] == "79" and r["window_start"] == W0]
    assert main == {
        "window_start": W0,
        "window_seconds": 60,
        "event_type": "online_payment",
        "region": "south_east",
        "province_code": "79",
        "area": "urban",
        "channel": "mobile_app",
        "events": 5,
        "successes": 2,
        "failures": 1,
        "amount_vnd": 540_000,
        "success_amount_vnd": 150_000,
        "min_amount_vnd": 20_000,
        "max_amount_vnd": 300_000,
        # distinct and sorted: four events of one customer, one of another
        "customer_ids": ["Pother0002", "Ptest0001"],
    }


def test_single_event_group(events):
    agg = WindowAggregator(60)
    agg.add(events[6])
    (row,) = _as_dicts(agg)
    assert row["window_start"] == datetime(2024, 3, 4, 10, 1, tzinfo=UTC)
    assert (row["events"], row["successes"], row["failures"]) == (1, 0, 1)
    assert (row["amount_vnd"], row["success_amount_vnd"]) == (9_000, 0)
    assert row["min_amount_vnd"] == row["max_amount_vnd"] == 9_000


def test_other_province_gets_its_region(events):
    agg = WindowAggregator(60)
    agg.add(events[5])
    (row,) = _as_dicts(agg)
    assert (row["province_code"], row["region"]) == ("01", "red_river_delta")
    assert (row["events"], row["successes"], row["success_amount_vnd"]) == (1, 1, 5_000)


def test_window_size_decides_the_grouping(events):
    hourly = WindowAggregator(3600)
    for e in events:
        hourly.add(e)
    rows = _as_dicts(hourly)
    assert len(rows) == 2  # the 10:01 event joins the 10:00 hour
    assert {r["window_seconds"] for r in rows} == {3600}
    assert sum(r["events"] for r in rows) == len(events)
    assert all(r["window_start"] == W0 for r in rows)


def test_area_channel_and_type_split_groups(flat):
    agg = WindowAggregator(60)
    agg.add(flat())
    agg.add(flat(area="rural"))
    agg.add(flat(channel="pos"))
    agg.add(flat("ecommerce_order", province_code="79", event_time="2024-03-04T10:00:05.000Z"))
    assert len(agg) == 4


def test_rows_are_sorted(flat):
    agg = WindowAggregator(60)
    for code, minute in [("79", 5), ("01", 5), ("79", 1), ("48", 3), ("01", 1)]:
        agg.add(flat(province_code=code, event_time=f"2024-03-04T10:0{minute}:00.000Z"))
    keys = [(r[0], r[2], r[4]) for r in agg.rows()]
    assert keys == sorted(keys)
    assert keys[0] == (datetime(2024, 3, 4, 10, 1, tzinfo=UTC), "online_payment", "01")


def test_order_of_events_does_not_change_rows(mix_events, validator, ctx):
    parsed = [validator.validate_flat(orjson.dumps(e), context=ctx) for e in mix_events[:5_000]]
    assert all(isinstance(e, tuple) for e in parsed)
    shuffled = parsed[:]
    random.Random(4).shuffle(shuffled)
    a, b = WindowAggregator(300), WindowAggregator(300)
    for e in parsed:
        a.add(e)
    for e in shuffled:
        b.add(e)
    rows_a = list(a.rows())
    assert rows_a == list(b.rows())
    assert sum(r[7] for r in rows_a) == 5_000
    assert sum(r[10] for r in rows_a) == sum(e["amount_vnd"] for e in mix_events[:5_000])


def test_empty_aggregator_has_no_rows():
    agg = WindowAggregator(60)
    assert len(agg) == 0
    assert list(agg.rows()) == []


def test_row_columns_match_declared_columns(flat):
    agg = WindowAggregator(60)
    agg.add(flat())
    (row,) = agg.rows()
    assert len(row) == len(AGGREGATE_COLUMNS)


def _week_flat(events: list[dict[str, object]], validator, ctx) -> list[object]:
    flats = [validator.validate_flat(orjson.dumps(e), None, ctx) for e in events]
    assert all(isinstance(f, tuple) for f in flats)
    return flats


@pytest.mark.parametrize("batches", [2, 3, 24])
def test_a_flush_s_merged_aggregators_equal_one_aggregator_over_all_its_events(
    mix_events, validator, ctx, batches: int
) -> None:
    """The sink inserts one merged row per key of a flush (WindowAggregator.merged): the
    same rows as aggregating every event of every batch in one aggregator."""
    flats = _week_flat(mix_events[:6_000], validator, ctx)
    rng = random.Random(batches)
    parts = [WindowAggregator(3600) for _ in range(batches)]
    whole = WindowAggregator(3600)
    for event in flats:
        parts[rng.randrange(batches)].add(event)
        whole.add(event)
    before = [list(p.rows()) for p in parts]
    merged = list(WindowAggregator.merged(parts).rows())
    assert merged == list(whole.rows())
    assert len(merged) < sum(len(p) for p in parts)  # keys shared by batches are one row
    # The batches are left as they were: a failed flush is merged again, to the same rows.
    assert [list(p.rows()) for p in parts] == before
    assert list(WindowAggregator.merged(parts).rows()) == merged


def test_one_batch_is_its_own_merge_and_windows_must_match(flat) -> None:
    one = WindowAggregator(60)
    one.add(flat())
    assert WindowAggregator.merged([one]) is one
    with pytest.raises(ValueError, match="different window sizes"):
        WindowAggregator.merged([one, WindowAggregator(300)])


def test_nothing_to_merge_is_an_error_not_a_guessed_window() -> None:
    """No aggregator, no window size: merged() refuses rather than invent one (a flush
    always holds a batch, streams/ingest.py and streams/replay.py)."""
    with pytest.raises(ValueError, match="no aggregators"):
        WindowAggregator.merged([])
