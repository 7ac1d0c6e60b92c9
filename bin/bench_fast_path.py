"""Time the hot path's decode + validate: orjson + the old flat pre-check against msgspec.

    .venv/bin/python bin/bench_fast_path.py [--events 100000] [--old-ref 2415df0] [--only old|new]

The old path is ``schemas/flat.py`` as it was at ``--old-ref`` (orjson.loads, then its
``precheck``), loaded from git next to the current code; the new one is
``schemas.fast.decode_flat``. Both run on the same generated events (EventGenerator's batch
path, the producers' bytes) in one process, and must give identical flat tuples for every
event before anything is timed. Prints the best of seven rounds per path and the ratio;
``--only old|new|setup`` runs one path once (or none: the baseline to subtract), for
``valgrind --tool=callgrind`` instruction counts.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson

from dxpulse.producers.generator import EventGenerator
from dxpulse.schemas.fast import decode_flat
from dxpulse.schemas.validation import EventValidator

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2024, 3, 4, 12, tzinfo=UTC)


def _old_flat(ref: str) -> ModuleType:
    """schemas/flat.py at ``ref``, imported under a name of its own."""
    source = subprocess.run(
        ["git", "show", f"{ref}:schemas/flat.py"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    path = Path(tempfile.mkdtemp()) / "old_flat.py"
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location("dxpulse.schemas._old_flat", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _paths(ref: str, events: int) -> dict[str, Callable[[], list[Any]]]:
    generator = EventGenerator(seed=7)
    chunks = generator.batch(NOW - timedelta(hours=1), events)
    payloads = [value for chunk in chunks for value in chunk.values][:events]
    types = [orjson.loads(p)["event_type"] for p in payloads]
    limit = EventValidator().context(now=NOW)["max_event_us"]
    precheck = _old_flat(ref).precheck
    loads = orjson.loads

    def old() -> list[Any]:
        return [precheck(loads(p), t, limit, len(p)) for p, t in zip(payloads, types, strict=True)]

    def new() -> list[Any]:
        return [decode_flat(p, t, limit) for p, t in zip(payloads, types, strict=True)]

    return {"old": old, "new": new}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--old-ref", default="2415df0")
    parser.add_argument("--only", choices=["old", "new", "setup"])
    args = parser.parse_args()
    paths = _paths(args.old_ref, args.events)
    if args.only:  # setup: no path at all, the baseline to subtract
        if args.only != "setup":
            paths[args.only]()
        return
    old, new = paths["old"](), paths["new"]()
    if old != new or None in new:
        raise SystemExit("the paths disagree, or some event was declined")
    best = dict.fromkeys(paths, float("inf"))
    for _ in range(7):
        for name, run in paths.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    per = {name: seconds / args.events * 1e6 for name, seconds in best.items()}
    print(
        f"{args.events} events, identical flat tuples: old (orjson + pre-check) "
        f"{per['old']:.2f} us/event, new (msgspec) {per['new']:.2f} us/event, "
        f"new/old {per['new'] / per['old']:.3f}"
    )


if __name__ == "__main__":
    main()
