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

Memory (issue 16): an id costs its string, a dict slot, 8 bytes in a deque and 16 in an
int64 array (its key and offset): ~160 bytes, against ~330 for the previous layout, a set and
a deque of (key, id, offset) tuples with two boxed ints each (docs/benchmarks.md, "Memory").
Ids stay strings: converting a UUID's text to its 128-bit int would save ~25 bytes more but
cost more than the whole lookup on the hot path. Keys and offsets must fit in 64 bits
(epoch milliseconds, Kafka offsets).
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Iterable
from typing import NamedTuple

# New (key, offset) pairs collect in a list (appending a Python int to an array costs ~4x)
# and move to the int64 array when front() is asked (twice per batch) with this many or
# more; the array's dead head is reclaimed once it is a quarter of the array.
_SETTLE_AT = 2 * 1024
# Lower than any cutoff: evict() looks at the entries themselves.
_UNKNOWN = -(2**63)


class Front(NamedTuple):
    """The oldest remembered id's offset and key; (-1, 0) when nothing is remembered."""

    offset: int
    key_ms: int


EMPTY = Front(-1, 0)


class DedupIndex:
    """The remembered ids, oldest first, as parallel runs.

    ``_ids`` (a deque) holds the ids; ``_old + _young``, read from ``_head()`` on, their
    (key, offset) pairs flattened, in the same order: what a deque of (key, id, offset)
    tuples held, without a tuple and two int objects per id. ``_seen`` answers membership
    (a dict: ~half a set's table for the same ids).

    evict() runs for most events and usually forgets nothing: it compares with ``_floor``,
    a key no live entry is below, or _UNKNOWN. While keys arrive in order (always, from
    seen_before as the batch calls it; not after load_approximate) the oldest key read at
    the last eviction stays one; ``_unsorted_to`` is where the newest out-of-order key
    sits in the flattened pairs (-1 if none), and until it is forgotten, _floor is
    _UNKNOWN.
    """

    __slots__ = (
        "_floor", "_ids", "_last", "_old", "_seen", "_unsorted_to", "_young",
        "horizon_ms", "max_ids",
    )  # fmt: skip

    def __init__(self, horizon_ms: int, max_ids: int = 1 << 62) -> None:
        self.horizon_ms = horizon_ms
        self.max_ids = max_ids
        self._seen: dict[str, None] = {}
        self._ids: deque[str] = deque()
        self._old = array("q")
        self._young: list[int] = []
        self._floor = self._last = _UNKNOWN
        self._unsorted_to = -1

    def __len__(self) -> int:
        return len(self._seen)

    def seen_before(self, event_id: str, key_ms: int, offset: int) -> bool:
        """True if ``event_id`` is a duplicate; otherwise remember it under ``key_ms``.

        ``key_ms`` is the watermark once this event is accepted: max(watermark, event time).
        The hot path (once per event): locals and inline steps, containers' calls only;
        the pairs move to the array in front(), not here.
        """
        seen = self._seen
        if event_id in seen:
            return True
        if self.max_ids <= 0:
            return False
        seen[event_id] = None
        ids = self._ids
        ids.append(event_id)
        young = self._young
        young.append(key_ms)
        young.append(offset)
        if key_ms < self._last:
            self._disorder()
        self._last = key_ms
        if len(ids) > self.max_ids:
            try:  # noqa: SIM105 - contextlib.suppress costs a context manager per event
                del seen[ids.popleft()]
            except KeyError:
                pass  # restored rows may hold an id twice: gone with its first copy
        return False

    def evict(self, watermark_ms: int) -> None:
        """Forget ids whose key is more than the horizon behind ``watermark_ms``."""
        cutoff = watermark_ms - self.horizon_ms
        if self._floor >= cutoff:
            return  # the usual case: nothing to forget
        count, at = 0, self._head()
        while count < len(self._ids) and self._at(at) < cutoff:
            count += 1
            at += 2
        self._drop_oldest(count)

    def front(self) -> Front:
        if len(self._young) >= _SETTLE_AT:
            self._settle()
        if not self._ids:
            return EMPTY
        head = self._head()
        return Front(self._at(head + 1), self._at(head))

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

    def _head(self) -> int:
        """Where the oldest live pair starts: the pairs held, less two items per live id
        (kept implicit, so forgetting by the cap on the hot path moves no counter)."""
        return len(self._old) + len(self._young) - 2 * len(self._ids)

    def _at(self, index: int) -> int:
        """Item ``index`` of the flattened (key, offset) pairs, old then young."""
        old = self._old
        return old[index] if index < len(old) else self._young[index - len(old)]

    def _append(self, key_ms: int, event_id: str, offset: int) -> None:
        self._seen[event_id] = None
        self._ids.append(event_id)
        self._young += (key_ms, offset)
        if key_ms < self._last:
            self._disorder()
        self._last = key_ms
        if len(self._young) >= _SETTLE_AT:
            self._settle()

    def _disorder(self) -> None:
        """The pair just appended has a key below the previous one."""
        self._unsorted_to = len(self._old) + len(self._young) - 2
        self._floor = _UNKNOWN

    def _settle(self) -> None:
        """Move the young pairs into the array; reclaim the array's dead head."""
        old = self._old
        old.fromlist(self._young)
        self._young.clear()
        head = self._head()
        if head * 4 >= len(old):
            del old[:head]
            self._unsorted_to -= head

    def _trim(self) -> None:
        """Keep at most ``max_ids`` entries, the newest."""
        self._drop_oldest(max(len(self._ids) - max(self.max_ids, 0), 0))

    def _drop_oldest(self, count: int) -> None:
        ids, seen = self._ids, self._seen
        for _ in range(count):
            seen.pop(ids.popleft(), None)
        head = self._head()
        self._floor = self._at(head) if ids and head > self._unsorted_to else _UNKNOWN

    def _clear(self) -> None:
        self._seen.clear()
        self._ids.clear()
        del self._old[:]
        self._young.clear()
        self._floor = self._last = _UNKNOWN
        self._unsorted_to = -1
