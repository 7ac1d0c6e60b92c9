"""Drop an event_id seen again within a horizon of event time (pure logic).

One index per topic-partition: a producer retry or a replayed input carries the same key,
so the same province, so the same partition. Eviction follows the partition's watermark,
so it depends only on the messages' order, not on wall-clock time; and the index holds at
most ``max_ids`` ids, the most recent in offset order, so its memory is bounded whatever
the rate (at ~150 bytes an id; the horizon shrinks to what ``max_ids`` covers).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable


class DedupIndex:
    __slots__ = ("_order", "_seen", "horizon_ms", "max_ids")

    def __init__(self, horizon_ms: int, max_ids: int = 1 << 62) -> None:
        self.horizon_ms = horizon_ms
        self.max_ids = max_ids
        self._seen: set[str] = set()
        self._order: deque[tuple[int, str]] = deque()

    def __len__(self) -> int:
        return len(self._seen)

    def seen_before(self, event_id: str, event_ms: int) -> bool:
        """True if ``event_id`` is a duplicate; otherwise remember it."""
        if event_id in self._seen:
            return True
        self._seen.add(event_id)
        self._order.append((event_ms, event_id))
        if len(self._order) > self.max_ids:
            self._seen.discard(self._order.popleft()[1])
        return False

    def load(self, entries: Iterable[tuple[int, str]]) -> None:
        """Seed with (event_ms, event_id) of events already written, in offset order."""
        for event_ms, event_id in entries:
            if event_id not in self._seen:
                self._seen.add(event_id)
                self._order.append((event_ms, event_id))
        while len(self._order) > self.max_ids:
            self._seen.discard(self._order.popleft()[1])

    def evict(self, watermark_ms: int) -> None:
        cutoff = watermark_ms - self.horizon_ms
        order, seen = self._order, self._seen
        while order and order[0][0] < cutoff:
            seen.discard(order.popleft()[1])
