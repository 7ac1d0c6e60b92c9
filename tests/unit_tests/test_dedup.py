"""DedupIndex: an event_id seen again within the horizon is a duplicate; memory is capped."""

from __future__ import annotations

from streams.dedup import DedupIndex


def test_second_sighting_is_a_duplicate():
    index = DedupIndex(horizon_ms=1_000)
    assert index.seen_before("a", 0) is False
    assert index.seen_before("a", 10) is True
    assert index.seen_before("b", 10) is False
    assert len(index) == 2


def test_ids_older_than_the_horizon_are_forgotten():
    index = DedupIndex(horizon_ms=1_000)
    index.seen_before("old", 0)
    index.seen_before("new", 1_500)
    index.evict(watermark_ms=1_500)  # cutoff 500: "old" goes
    assert len(index) == 1
    assert index.seen_before("old", 1_600) is False
    assert index.seen_before("new", 1_600) is True


def test_cap_keeps_the_most_recent_ids():
    index = DedupIndex(horizon_ms=10**9, max_ids=3)
    for i in range(5):
        assert index.seen_before(f"id{i}", i) is False
    assert len(index) == 3
    assert index.seen_before("id4", 9) is True
    assert index.seen_before("id2", 9) is True
    assert index.seen_before("id0", 9) is False  # evicted by the cap, so new again


def test_load_seeds_in_offset_order_within_the_cap():
    index = DedupIndex(horizon_ms=10**9, max_ids=2)
    index.load([(30, "a"), (10, "b"), (20, "c")])  # offset order; event times unordered
    assert len(index) == 2
    assert index.seen_before("a", 40) is False  # the oldest by offset was dropped
    assert index.seen_before("c", 40) is True


def test_zero_cap_disables_deduplication():
    index = DedupIndex(horizon_ms=1_000, max_ids=0)
    assert index.seen_before("a", 0) is False
    assert index.seen_before("a", 0) is False
