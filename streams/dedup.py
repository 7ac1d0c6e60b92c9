"""Drop an event_id seen again within a horizon of the partition's watermark (pure logic).

One index per topic-partition: a producer retry or a replayed input carries the same key,
so the same province, so the same partition.

What it remembers is defined so that a restarted worker can rebuild it exactly from the
rows already written (streams/state.py), whatever came before:

- each accepted id is remembered with a *key*: the partition's watermark just after it was
  accepted (the highest event time so far). For an on-time event that is about its own
  time; a late event is keyed by the watermark it arrived at, so a copy of it that follows
  soon is still caught;
- an id is forgotten once the watermark passes its key by more than the horizon, or when
  more than ``max_ids`` newer ids are remembered (memory stays bounded at any rate).

Keys never decrease in offset order, so the remembered ids are always a contiguous run of
the partition's accepted events, oldest first: the *front* (its first offset and key) plus
the accepted rows after it describe the whole index.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import NamedTuple


class Front(NamedTuple):
    """The oldest remembered id's offset and key; (-1, 0) when nothing is remembered."""

    offset: int
    key_ms: int


EMPTY = Front(-1, 0)


class DedupIndex:
    __slots__ = ("_order", "_seen", "horizon_ms", "max_ids")

    def __init__(self, horizon_ms: int, max_ids: int = 1 << 62) -> None:
        self.horizon_ms = horizon_ms
        self.max_ids = max_ids
        self._seen: set[str] = set()
        self._order: deque[tuple[int, str, int]] = deque()  # (key, event_id, offset)

    def __len__(self) -> int:
        return len(self._seen)

    def seen_before(self, event_id: str, key_ms: int, offset: int) -> bool:
        """True if ``event_id`` is a duplicate; otherwise remember it under ``key_ms``.

        ``key_ms`` is the watermark once this event is accepted: max(watermark, event time).
        """
        if event_id in self._seen:
            return True
        if self.max_ids <= 0:
            return False
        self._seen.add(event_id)
        self._order.append((key_ms, event_id, offset))
        if len(self._order) > self.max_ids:
            self._seen.discard(self._order.popleft()[1])
        return False

    def evict(self, watermark_ms: int) -> None:
        """Forget ids whose key is more than the horizon behind ``watermark_ms``."""
        cutoff = watermark_ms - self.horizon_ms
        order, seen = self._order, self._seen
        while order and order[0][0] < cutoff:
            seen.discard(order.popleft()[1])

    def front(self) -> Front:
        if not self._order:
            return EMPTY
        key, _, offset = self._order[0]
        return Front(offset, key)

    def restore(self, front: Front, rows: Iterable[tuple[int, int, str]]) -> None:
        """Rebuild the index from its front and the accepted rows from the front on.

        ``rows`` are (offset, event_ms, event_id) in offset order; each key is the running
        maximum of event times from the front's key, as it was when the rows were accepted.
        """
        self._seen.clear()
        self._order.clear()
        key = front.key_ms
        for offset, event_ms, event_id in rows:
            key = max(key, event_ms)
            self._seen.add(event_id)
            self._order.append((key, event_id, offset))
        while len(self._order) > self.max_ids:
            self._seen.discard(self._order.popleft()[1])

    def load_approximate(self, entries: Iterable[tuple[int, int, str]]) -> None:
        """Seed from rows written before intents recorded the index (upgrades only).

        (offset, event_ms, event_id) in offset order, keyed by event time: close to what
        the old index held, not necessarily equal.
        """
        for offset, event_ms, event_id in entries:
            if event_id not in self._seen:
                self._seen.add(event_id)
                self._order.append((event_ms, event_id, offset))
        while len(self._order) > self.max_ids:
            self._seen.discard(self._order.popleft()[1])
