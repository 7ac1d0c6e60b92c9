"""procstat reads a live process's memory split: heap apart from mapped files (issue 16)."""

from __future__ import annotations

import subprocess
import sys
import time

from dxpulse.bench.procstat import sample

# Touches 64 MB of heap, then waits for its stdin to close.
_CHILD = "import sys; heap = b'x' * (64 << 20); sys.stdin.read()"


def test_a_process_heap_shows_as_anonymous_and_its_code_as_file_backed() -> None:
    child = subprocess.Popen([sys.executable, "-c", _CHILD], stdin=subprocess.PIPE)
    try:
        while (got := sample(child.pid)) is None or got.anon_mb < 64:
            time.sleep(0.01)  # until the child holds its 64 MB (the test timeout bounds it)
        assert got.private_mb >= 64  # the heap is this process's alone
        assert got.file_mb > 1  # the interpreter and its libraries are mapped files
        assert got.file_mb < got.rss_mb
    finally:
        child.communicate(b"")


def test_a_process_that_ended_has_no_sample() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert sample(child.pid) is None
