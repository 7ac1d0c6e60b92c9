"""streams/memory.py: the allocator's free pages go back to the system.

Run in a fresh interpreter, so the heap holds only what the test puts there: 200,000
buffers of ~1 KB, of which every tenth stays alive, so glibc cannot simply shrink the top
of its heap and keeps the pages of the freed nine tenths until asked.
"""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

_SCRIPT = """
import orjson, sys
from dxpulse.streams.memory import release_free_memory

def anon_mb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    raise SystemExit("no RssAnon")

before = anon_mb()
buffers = [bytes(1000) + bytes([i % 256]) for i in range(200_000)]
kept = buffers[::10]
held = anon_mb()
del buffers
freed = anon_mb()
released = release_free_memory()
print(orjson.dumps({"before": before, "held": held, "freed": freed,
                    "after": anon_mb(), "released": released}).decode())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc and /proc are Linux's")
def test_the_pages_of_freed_objects_go_back_to_the_system() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, check=True, text=True
    )
    mb = orjson.loads(done.stdout)
    assert mb["released"] is True
    held = mb["held"] - mb["before"]
    assert held > 150  # 200,000 buffers of ~1 KB
    # Without the call the freed nine tenths stay in the process ...
    assert mb["freed"] - mb["before"] > 0.8 * held
    # ... with it, at least a third of what they held is given back.
    assert mb["freed"] - mb["after"] > held / 3


_COLLECTOR_SCRIPT = """
import gc, orjson, sys
from dxpulse.streams.memory import COLLECTOR_THRESHOLDS, tune_collector

young = []
gc.callbacks.append(lambda phase, info: phase == "start" and young.append(info["generation"]))

def churn():
    # A worker's pattern: a tuple per event, held until its flush of 20,000 is written.
    young.clear()
    held = []
    for i in range(300_000):
        held.append((i, str(i)))
        if len(held) == 20_000:
            held = []
    return len(young)

default = churn()
tune_collector()
tuned = churn()
for i in range(200_000):  # cyclic garbage only the collector can free
    cycle = [i]
    cycle.append(cycle)
print(orjson.dumps({
    "default": default, "tuned": tuned, "thresholds": gc.get_threshold(),
    "want": COLLECTOR_THRESHOLDS, "frozen": gc.get_freeze_count(),
    "live_lists": sum(1 for o in gc.get_objects() if type(o) is list),
}).decode())
"""


def test_the_tuned_collector_runs_far_less_often_and_still_frees_cycles() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _COLLECTOR_SCRIPT], capture_output=True, check=True, text=True
    )
    got = orjson.loads(done.stdout)
    assert list(got["thresholds"]) == list(got["want"])
    assert got["frozen"] > 10_000  # the interpreter's and the imports' objects
    assert got["default"] > 300  # CPython's 700: a collection per 700 events held
    assert got["tuned"] < got["default"] / 50
    # 200,000 self-referencing lists were dropped: the collector freed nearly all of them.
    assert got["live_lists"] < 60_000
