"""CPU time and memory of another process, read from /proc (Linux)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcSample:
    cpu_s: float  # user + system, all threads
    rss_mb: float
    peak_rss_mb: float  # VmHWM: the high-water mark since the process started
    # Private memory (heap). RSS also counts file-backed pages such as the ~270 MB of
    # chDB's engine library mapped into a worker that writes to an embedded chDB.
    anon_mb: float = 0.0
    # From /proc/PID/smaps_rollup (issue 16): resident file-backed pages (the engine's
    # library, Python's own code), and pages no other process maps (Private_Clean +
    # Private_Dirty). The latter holds the heap *and* library pages only this process
    # touched, so anon_mb, not private_mb, is the figure to hold to a heap budget.
    file_mb: float = 0.0
    private_mb: float = 0.0


def sample(pid: int) -> ProcSample | None:
    """None once the process is gone."""
    base = Path(f"/proc/{pid}")
    try:
        stat = (base / "stat").read_text()
        status = (base / "status").read_text()
    except OSError:
        return None
    # Fields after the command name, which may itself hold spaces and parentheses.
    fields = stat.rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / _TICKS
    memory = {
        line.split(":")[0]: int(line.split()[1]) / 1024
        for line in status.splitlines()
        if line.startswith(("VmRSS:", "VmHWM:", "RssAnon:"))
    }
    rollup = _rollup(base)
    return ProcSample(
        cpu,
        memory.get("VmRSS", 0.0),
        memory.get("VmHWM", 0.0),
        memory.get("RssAnon", 0.0),
        file_mb=max(rollup.get("Rss", 0.0) - rollup.get("Anonymous", 0.0), 0.0),
        private_mb=rollup.get("Private_Clean", 0.0) + rollup.get("Private_Dirty", 0.0),
    )


def _rollup(base: Path) -> dict[str, float]:
    """smaps_rollup's sums in MB; empty when the kernel has none (before 4.14) or the process
    just ended, so the split reads as 0 rather than failing a sample."""
    try:
        text = (base / "smaps_rollup").read_text()
    except OSError:
        return {}
    fields = (line.split() for line in text.splitlines()[1:])
    return {f[0].rstrip(":"): int(f[1]) / 1024 for f in fields if len(f) == 3 and f[2] == "kB"}
