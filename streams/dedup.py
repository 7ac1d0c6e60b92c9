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

Memory (issue 16): an id costs its string and a set slot, plus 8 bytes in a deque and 16 in
two int64 arrays (key, offset). The previous layout, a deque of (key, id, offset) tuples,
also paid for the tuple and two boxed ints: ~245 bytes per id against ~135 now
(docs/benchmarks.md, "Memory"). Ids stay strings: converting a UUID's text to its 128-bit
int would save ~40 bytes more but costs ~2x the whole lookup on the hot path.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Iterable
from typing import NamedTuple

# Dead slots at the arrays' head are reclaimed once there are this many and they are a
# quarter of the arrays (a third of the live ones): amortized O(1) per id, ~25% slack.
_COMPACT_AT = 4096


class Front(NamedTuple):
    """The oldest remembered id's offset and key; (-1, 0) when nothing is remembered."""

    offset: int
    key_ms: int


EMPTY = Front(-1, 0)


class DedupIndex:
    """The remembered ids, oldest first, as three parallel runs.

    ``_ids`` (a deque) and ``_keys``/``_offsets`` (int64 arrays from ``_head`` on) hold the
    same entries in the same order: what a deque of (key, id, offset) tuples held, without
    a tuple and two int objects per id. ``_seen`` answers membership.
    """

    __slots__ = ("_head", "_ids", "_keys", "_offsets", "_seen", "horizon_ms", "max_ids")

    def __init__(self, horizon_ms: int, max_ids: int = 1 << 62) -> None:
        self.horizon_ms = horizon_ms
        self.max_ids = max_ids
        self._seen: set[str] = set()
        self._ids: deque[str] = deque()
        self._keys = array("q")
        self._offsets = array("q")
        self._head = 0

    def __len__(self) -> int:
        return len(self._seen)

    def seen_before(self, event_id: str, key_ms: int, offset: int) -> bool:
        """True if ``event_id`` is a duplicate; otherwise remember it under ``key_ms``.

        ``key_ms`` is the watermark once this event is accepted: max(watermark, event time).
        The hot path (once per event): locals and inline steps, no call but the container's.
        """
        seen = self._seen
        if event_id in seen:
            return True
        if self.max_ids <= 0:
            return False
        seen.add(event_id)
        ids = self._ids
        ids.append(event_id)
        self._keys.append(key_ms)
        self._offsets.append(offset)
        if len(ids) > self.max_ids:
            seen.discard(ids.popleft())
            self._head += 1
            if self._head >= _COMPACT_AT and self._head * 3 >= len(ids):
                self._compact()
        return False

    def evict(self, watermark_ms: int) -> None:
        """Forget ids whose key is more than the horizon behind ``watermark_ms``."""
        cutoff = watermark_ms - self.horizon_ms
        keys, head = self._keys, self._head
        if head == len(keys) or keys[head] >= cutoff:
            return  # the usual case: nothing to forget
        end = head + 1
        while end < len(keys) and keys[end] < cutoff:
            end += 1
        self._drop_oldest(end - head)

    def front(self) -> Front:
        if not self._ids:
            return EMPTY
        return Front(self._offsets[self._head], self._keys[self._head])

    def restore(self, front: Front, rows: Iterable[tuple[int, int, str]]) -> None:
        """Rebuild the index from its front and the accepted rows from the front on.

        ``rows`` are (offset, event_ms, event_id) in offset order; each key is the running
        maximum of event times from the front's key, as it was when the rows were accepted.
        """
        self._clear()
        key = front.key_ms
        for offset, event_ms, event_id in rows:
            key = max(key, event_ms)
            self._append(key, event_id, offset)
        self._trim()

    def load_approximate(self, entries: Iterable[tuple[int, int, str]]) -> None:
        """Seed from rows written before intents recorded the index (upgrades only).

        (offset, event_ms, event_id) in offset order, keyed by event time: close to what
        the old index held, not necessarily equal.
        """
        for offset, event_ms, event_id in entries:
            if event_id not in self._seen:
                self._append(event_ms, event_id, offset)
        self._trim()

    def _append(self, key_ms: int, event_id: str, offset: int) -> None:
        self._seen.add(event_id)
        self._ids.append(event_id)
        self._keys.append(key_ms)
        self._offsets.append(offset)

    def _trim(self) -> None:
        """Keep at most ``max_ids`` entries, the newest."""
        excess = len(self._ids) - max(self.max_ids, 0)
        if excess > 0:
            self._drop_oldest(excess)

    def _drop_oldest(self, count: int) -> None:
        ids, seen = self._ids, self._seen
        for _ in range(count):
            seen.discard(ids.popleft())
        self._head += count
        if self._head >= _COMPACT_AT and self._head * 3 >= len(ids):
            self._compact()

    def _compact(self) -> None:
        """Reclaim the arrays' dead head (a quarter of them or more)."""
        del self._keys[: self._head]
        del self._offsets[: self._head]
        self._head = 0

    def _clear(self) -> None:
        self._seen.clear()
        self._ids.clear()
        del self._keys[:]
        del self._offsets[:]
        self._head = 0
