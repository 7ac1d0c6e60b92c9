"""Micro-benchmarks behind issue 16, each a small report printed in one run (same machine,
same moment):

- ``python -m dxpulse.bench.micro dedup --against main``: the dedup index's bytes per id
  and ns per call, the current code against an earlier revision's (its
  ``streams/dedup.py``, read with ``git show`` from the checkout this runs in);
- ``python -m dxpulse.bench.micro uuid``: clickhouse-connect writing a 10k-row UUID column
  from the ids' text (as before) and from their ints (streams/rows.py, conversion
  included), checked to be the same bytes.

Timings are CPU time (not wall time), the best of interleaved rounds: the machine is
shared, the minimum is the figure least disturbed by others.
"""

from __future__ import annotations

import argparse
import gc
import random
import subprocess
import time
import tracemalloc
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from dxpulse.core.source_tree import checkout_root
from dxpulse.streams.dedup import DedupIndex
from dxpulse.streams.rows import uuid_ints

_T0 = 1_700_000_000_000


_BATCH = 1_000  # ids between two front() calls: a batch asks at its start and its seal


class _Index(Protocol):
    def __init__(self, horizon_ms: int, max_ids: int = ...) -> None: ...
    def seen_before(self, event_id: str, key_ms: int, offset: int) -> bool: ...
    def evict(self, watermark_ms: int) -> None: ...
    def front(self) -> Any: ...


def _revision_index(revision: str) -> type[_Index]:
    """DedupIndex as ``revision`` wrote it (its module run on its own)."""
    root = checkout_root("bench micro")
    source = subprocess.run(
        ["git", "-C", str(root), "show", f"{revision}:streams/dedup.py"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    namespace: dict[str, Any] = {"__name__": f"dedup_at_{revision}"}
    exec(compile(source, f"{revision}:streams/dedup.py", "exec"), namespace)
    index: type[_Index] = namespace["DedupIndex"]
    return index


def _ids(count: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    return [str(uuid.UUID(int=rnd.getrandbits(128))) for _ in range(count)]


def bytes_per_id(index: type[_Index], partitions: int, cap: int) -> float:
    """Traced bytes per remembered id, its string included, after the ids turned over twice
    (so the tables carry the dead slots of a long-running worker)."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    indexes = [index(10**12, cap) for _ in range(partitions)]
    offset = 0
    for _ in range(2):
        for part in indexes:
            for event_id in _ids(cap, offset):
                part.seen_before(event_id, _T0 + offset, 10**9 + offset)
                offset += 1
                if offset % _BATCH == 0:
                    part.front()
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    return used / (partitions * cap)


def _timed(calls: Callable[[], object], count: int) -> float:
    start = time.process_time_ns()
    calls()
    return (time.process_time_ns() - start) / count


def ns_per_call(index: type[_Index], cap: int, count: int) -> dict[str, float]:
    """ns per seen_before of a new id (mostly at the cap: each also forgets the oldest; a
    front() per batch included), of a duplicate, and per evict that forgets nothing (the
    usual one)."""
    ids = _ids(count, 1)
    keys = [_T0 + i for i in range(count)]
    part = index(10**12, cap)
    seen, evict, front = part.seen_before, part.evict, part.front
    repeats = ids[-cap:]

    def new() -> None:
        for start in range(0, count, _BATCH):
            for i in range(start, min(start + _BATCH, count)):
                seen(ids[i], keys[i], i)
            front()

    def duplicate() -> None:
        for event_id in repeats:
            seen(event_id, _T0, 0)

    def no_evict() -> None:
        for key in keys:
            evict(key)

    return {
        "new id": _timed(new, count),
        "duplicate": _timed(duplicate, cap),
        "evict, nothing to forget": _timed(no_evict, count),
    }


def dedup_report(against: str, rounds: int, partitions: int, cap: int) -> str:
    contenders: dict[str, type[_Index]] = {against: _revision_index(against), "now": DedupIndex}
    best: dict[str, dict[str, float]] = {}
    for _ in range(rounds):
        for name, index in contenders.items():
            for what, ns in ns_per_call(index, cap, 60_000).items():
                mine = best.setdefault(name, {})
                mine[what] = min(mine.get(what, ns), ns)
    memory = {name: bytes_per_id(index, partitions, cap) for name, index in contenders.items()}
    lines = [f"dedup index, {partitions} x {cap:,} ids (bytes per id), best of {rounds} (ns)"]
    lines.append(f"{'':28}" + "".join(f"{name:>12}" for name in contenders) + "   ratio")
    for mine in best.values():
        mine["new id + evict"] = mine["new id"] + mine["evict, nothing to forget"]
    rows = [("bytes per id", memory), *((w, {n: best[n][w] for n in best}) for w in best["now"])]
    for what, by_name in rows:
        values = [by_name[name] for name in contenders]
        cells = "".join(f"{value:12.0f}" for value in values)
        lines.append(f"{what:28}{cells}   {values[1] / values[0]:.2f}")
    return "\n".join(lines)


def uuid_report(rounds: int, rows: int = 10_000) -> str:
    from clickhouse_connect.datatypes.registry import get_from_name
    from clickhouse_connect.driver.insert import InsertContext

    uuid_type = get_from_name("UUID")
    context = InsertContext("events", ["event_id"], [uuid_type])
    ids = _ids(rows, 2)

    def written(column: list[str] | list[int]) -> bytes:
        dest = bytearray()
        uuid_type.write_column(column, dest, context)
        return bytes(dest)

    if written(ids) != written(uuid_ints(ids)):
        raise AssertionError("the int column is not written as the text one")
    contenders: dict[str, Callable[[], object]] = {
        "text (before)": lambda: written(ids),
        "ints (after)": lambda: written(uuid_ints(ids)),
    }
    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, write in contenders.items():
            ns = _timed(write, rows)
            best[name] = min(best.get(name, ns), ns)
    before, after = best.values()
    return (
        f"UUID column, {rows:,} rows, best of {rounds} (ns per row): text {before:.0f}, "
        f"ints {after:.0f} (conversion included), ratio {after / before:.2f}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dxpulse.bench.micro")
    parser.add_argument("what", choices=["dedup", "uuid"])
    parser.add_argument("--against", default="main", help="git revision to compare with")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--partitions", type=int, default=24)
    parser.add_argument("--cap", type=int, default=20_000)
    args = parser.parse_args(argv)
    if args.what == "uuid":
        print(uuid_report(args.rounds * 2))
    else:
        print(dedup_report(args.against, args.rounds, args.partitions, args.cap))


if __name__ == "__main__":
    main()
