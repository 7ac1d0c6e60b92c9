"""DedupIndex: an event_id seen again within the horizon is a duplicate; memory is capped;
and the index at any offset is rebuilt exactly from its front and the rows after it."""

from __future__ import annotations

import uuid
from collections import deque
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dxpulse.streams import dedup as dedup_module
from dxpulse.streams.dedup import EMPTY, DedupIndex, Front


class Partition:
    """The index as the worker drives it: keyed by the watermark after each acceptance."""

    def __init__(self, index: DedupIndex, watermark: int = -(2**62)) -> None:
        self.index = index
        self.watermark = watermark
        self.accepted: list[tuple[int, int, str]] = []  # (offset, event_ms, id): the rows

    def offer(self, offset: int, event_id: str, event_ms: int) -> bool:
        """True if accepted (not a duplicate)."""
        if self.index.seen_before(event_id, max(event_ms, self.watermark), offset):
            return False
        if event_ms > self.watermark:
            self.watermark = event_ms
            self.index.evict(event_ms)
        self.accepted.append((offset, event_ms, event_id))
        return True


def test_second_sighting_is_a_duplicate() -> None:
    index = DedupIndex(horizon_ms=1_000)
    assert index.seen_before("a", 0, 0) is False
    assert index.seen_before("a", 10, 1) is True
    assert index.seen_before("b", 10, 2) is False
    assert len(index) == 2


def test_ids_keyed_more_than_the_horizon_behind_are_forgotten() -> None:
    index = DedupIndex(horizon_ms=1_000)
    index.seen_before("old", 0, 0)
    index.seen_before("new", 1_500, 1)
    index.evict(watermark_ms=1_500)  # cutoff 500: "old" goes
    assert len(index) == 1
    assert index.seen_before("old", 1_600, 2) is False
    assert index.seen_before("new", 1_600, 3) is True


def test_a_late_event_is_remembered_from_the_watermark_it_arrived_at() -> None:
    # Issue 13: a copy of an event 15 minutes late must still be caught.
    part = Partition(DedupIndex(horizon_ms=600_000))
    assert part.offer(0, "w", 3_600_000)
    assert part.offer(1, "late", 3_600_000 - 900_000)
    assert part.offer(2, "w+1", 3_601_000)
    assert not part.offer(3, "late", 3_600_000 - 900_000)
    assert not part.offer(4, "w", 3_600_000)


def test_cap_keeps_the_most_recent_ids() -> None:
    index = DedupIndex(horizon_ms=10**9, max_ids=3)
    for i in range(5):
        assert index.seen_before(f"id{i}", i, i) is False
    assert len(index) == 3
    assert index.seen_before("id4", 9, 5) is True
    assert index.seen_before("id2", 9, 6) is True
    assert index.seen_before("id0", 9, 7) is False  # evicted by the cap, so new again


def test_zero_cap_disables_deduplication() -> None:
    index = DedupIndex(horizon_ms=1_000, max_ids=0)
    assert index.seen_before("a", 0, 0) is False
    assert index.seen_before("a", 0, 1) is False
    assert index.front() == EMPTY


def test_front_is_the_oldest_remembered_offset_and_key() -> None:
    part = Partition(DedupIndex(horizon_ms=100))
    assert part.index.front() == EMPTY
    part.offer(7, "a", 1_000)
    part.offer(8, "b", 900)  # late-ish: keyed by the watermark, 1000
    assert part.index.front() == Front(7, 1_000)
    part.offer(9, "c", 1_150)  # cutoff 1050: a and b go
    assert part.index.front() == Front(9, 1_150)


messages = st.lists(
    st.tuples(
        st.sampled_from([f"id{i}" for i in range(12)]),  # a small pool: many duplicates
        st.integers(0, 5_000),  # event times jump around: late events, eviction
    ),
    max_size=60,
)


@settings(max_examples=400, deadline=None)
@given(
    before=messages,
    after=messages,
    horizon=st.integers(0, 3_000),
    max_ids=st.integers(0, 8),
)
def test_restored_index_decides_every_later_message_as_the_live_one(
    before: list[tuple[str, int]], after: list[tuple[str, int]], horizon: int, max_ids: int
) -> None:
    """The recovery invariant: at any offset, the front and the accepted rows from it on
    rebuild the index exactly, so a restarted worker decides as the live one would."""
    live = Partition(DedupIndex(horizon, max_ids))
    for offset, (event_id, ms) in enumerate(before):
        live.offer(offset, event_id, ms)
    front = live.index.front()
    rows = [r for r in live.accepted if front != EMPTY and r[0] >= front.offset]
    restored = Partition(DedupIndex(horizon, max_ids), live.watermark)
    restored.index.restore(front, rows)
    assert len(restored.index) == len(live.index)
    for offset, (event_id, ms) in enumerate(after, start=len(before)):
        assert restored.offer(offset, event_id, ms) == live.offer(offset, event_id, ms)
        assert restored.index.front() == live.index.front()


def test_an_index_not_recorded_by_an_older_version_is_seeded_from_rows_by_event_time() -> None:
    """Intents copied from sink_batches (migration 010) carry no front: the worker seeds
    the index from the rows as the old version did, oldest dropped beyond the cap."""
    index = DedupIndex(horizon_ms=10**9, max_ids=2)
    index.load_approximate([(0, 30, "a"), (1, 10, "b"), (2, 20, "c")])
    assert len(index) == 2
    assert index.seen_before("a", 40, 3) is False
    assert index.seen_before("c", 40, 4) is True


class ReferenceIndex:
    """The index as it was before issue 16: a set and a deque of (key, id, offset) tuples.
    The compact layout must decide exactly as this one, whatever the calls."""

    def __init__(self, horizon_ms: int, max_ids: int) -> None:
        self.horizon_ms, self.max_ids = horizon_ms, max_ids
        self.seen: set[str] = set()
        self.order: deque[tuple[int, str, int]] = deque()

    def seen_before(self, event_id: str, key_ms: int, offset: int) -> bool:
        if event_id in self.seen:
            return True
        if self.max_ids <= 0:
            return False
        self.seen.add(event_id)
        self.order.append((key_ms, event_id, offset))
        if len(self.order) > self.max_ids:
            self.seen.discard(self.order.popleft()[1])
        return False

    def evict(self, watermark_ms: int) -> None:
        while self.order and self.order[0][0] < watermark_ms - self.horizon_ms:
            self.seen.discard(self.order.popleft()[1])

    def front(self) -> Front:
        return Front(self.order[0][2], self.order[0][0]) if self.order else EMPTY

    def _trim(self) -> None:
        while len(self.order) > self.max_ids:
            self.seen.discard(self.order.popleft()[1])

    def restore(self, front: Front, rows: list[tuple[int, int, str]]) -> None:
        self.seen.clear()
        self.order.clear()
        key = front.key_ms
        for offset, event_ms, event_id in rows:
            key = max(key, event_ms)
            self.seen.add(event_id)
            self.order.append((key, event_id, offset))
        self._trim()

    def load_approximate(self, entries: list[tuple[int, int, str]]) -> None:
        for offset, event_ms, event_id in entries:
            if event_id not in self.seen:
                self.seen.add(event_id)
                self.order.append((event_ms, event_id, offset))
        self._trim()


_POOL = [str(uuid.UUID(int=i * 0x9E3779B97F4A7C15 + 1)) for i in range(10)] + ["a", "id0", ""]
_IDS = st.sampled_from(_POOL)
# Times on a coarse grid, so keys often equal a cutoff exactly (kept, not forgotten).
_TIMES = st.integers(0, 50).map(lambda t: t * 100)
_ROWS = st.lists(st.tuples(st.integers(0, 10**6), _TIMES, _IDS), max_size=12)
_CALLS = st.lists(
    st.one_of(
        st.tuples(st.just("seen"), _IDS, _TIMES),
        # One off the grid too: a cutoff just above or below a key.
        st.tuples(
            st.just("evict"),
            st.tuples(st.integers(-10, 60), st.sampled_from([-1, 0, 1])).map(
                lambda t: t[0] * 100 + t[1]
            ),
        ),
        st.tuples(st.just("restore"), _TIMES, _ROWS),
        st.tuples(st.just("load"), _ROWS),
    ),
    max_size=120,
)


@settings(max_examples=500, deadline=None)
@given(
    calls=_CALLS,
    horizon=st.integers(0, 30).map(lambda t: t * 100),
    max_ids=st.integers(0, 9),
    settle_at=st.sampled_from([2, 4, 6, 2048]),
)
def test_the_compact_index_decides_exactly_as_the_reference_one(
    calls: list[tuple[Any, ...]], horizon: int, max_ids: int, settle_at: int
) -> None:
    """Random calls in any order (duplicates, late keys, evictions, restores, seeding), with
    pairs settled into the array early or never: every answer, length and front agree."""
    saved = dedup_module._SETTLE_AT
    dedup_module._SETTLE_AT = settle_at
    try:
        compact, reference = DedupIndex(horizon, max_ids), ReferenceIndex(horizon, max_ids)
        for offset, (kind, *args) in enumerate(calls):
            if kind == "seen":
                event_id, key = args
                assert compact.seen_before(event_id, key, offset) == reference.seen_before(
                    event_id, key, offset
                )
            elif kind == "evict":
                compact.evict(args[0])
                reference.evict(args[0])
            elif kind == "restore":
                front = Front(offset, args[0])
                compact.restore(front, iter(args[1]))
                reference.restore(front, args[1])
            else:
                compact.load_approximate(iter(args[0]))
                reference.load_approximate(args[0])
            assert len(compact) == len(reference.seen)
            assert compact.front() == reference.front()
    finally:
        dedup_module._SETTLE_AT = saved


def test_an_out_of_order_key_behind_the_oldest_is_forgotten_once_it_is_the_oldest() -> None:
    """Seeded keys follow event time, not order: evict() must not trust the oldest key
    it read while a smaller one waits behind it (issue 16's shortcut past evict)."""
    compact, reference = DedupIndex(0, 2), ReferenceIndex(0, 2)
    for index in (compact, reference):
        index.load_approximate([(0, 300, "a"), (1, 100, "b")])
        index.evict(200)  # "a" (300) is the oldest: nothing goes
        assert index.seen_before("c", 400, 2) is False  # the cap forgets "a"
        index.evict(200)  # now "b" (100) is the oldest: it goes
    assert compact.front() == reference.front() == Front(2, 400)
    assert len(compact) == len(reference.seen) == 1


def test_an_id_one_millisecond_past_the_horizon_is_forgotten() -> None:
    index = DedupIndex(horizon_ms=100)
    index.seen_before("a", 1_000, 0)
    index.evict(1_100)  # cutoff 1000: "a" (1000) stays
    assert len(index) == 1
    index.evict(1_101)  # cutoff 1001: it goes
    assert len(index) == 0
    assert index.seen_before("a", 1_101, 1) is False
