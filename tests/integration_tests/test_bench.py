"""`dxpulse bench` end to end at a tiny size: every phase runs and the report adds up.

No timing is asserted (machines are shared and noisy); the benchmark's own report is the
judge of speed. What is asserted is that each contender consumed the data set exactly: the
Quix Streams contenders' groups (counts and sums per window, type, province, area, channel)
equal the confluent ceiling's, and that freshness ran at both rates.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest


# A guard against a hang, not a speed limit: alone it takes ~2 min; beside the parallel suite on
# a loaded 2-core machine one run took over 400 s (producing its data alone took 33 s).
@pytest.mark.timeout(1500)
def test_bench_runs_every_phase_and_writes_the_report(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DXPULSE_")}
    command = [
        sys.executable, "-m", "dxpulse", "bench",
        "--events", "3000", "--faust-events", "1000",
        "--freshness-rate", "500", "--freshness-seconds", "2",
        "--output", str(tmp_path),
    ]  # fmt: skip
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=1200,
        env=env,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (run_dir,) = tmp_path.iterdir()
    report = orjson.loads((run_dir / "report.json").read_bytes())
    assert report["producer"]["events"] == 3_000
    consumers = {c["name"]: c for c in report["consumers"]}
    assert set(consumers) == {
        "plain confluent-kafka",
        "dxpulse worker",
        "vanilla Faust",
        "Quix Streams, sdf.update into a dict",
        "Quix Streams, tumbling window + reduce",
    }
    assert all(c["exact"] for c in consumers.values()), consumers
    for name in ("Quix Streams, sdf.update into a dict", "Quix Streams, tumbling window + reduce"):
        assert consumers[name]["events"] == 3_000
        assert consumers[name]["peak_rss_mb"] > 0 and consumers[name]["cpu_s"] > 0
    assert consumers["vanilla Faust"]["events"] >= 1_000
    assert consumers["dxpulse worker"]["events"] == 3_000
    assert consumers["dxpulse worker"]["seconds"] > 0
    assert consumers["dxpulse worker"]["peak_rss_mb"] > 0
    assert report["scaling"]["exact"] is True
    fixed, half = report["freshness"]
    assert (fixed["basis"], fixed["rate"]) == ("fixed rate", 500)
    # Half of the single worker's own rate, measured earlier in the same run.
    assert half["basis"] == "50% of the worker's max"
    assert half["rate"] == pytest.approx(consumers["dxpulse worker"]["rate"] / 2)
    for fresh in (fixed, half):
        assert fresh["events"] > 0 and fresh["warmup_events"] > 0 and fresh["p50_ms"] is not None
        assert fresh["p50_ms"] <= fresh["p99_ms"] <= fresh["max_ms"]
    assert fixed["events"] >= 900  # 500/s for 2 s, the warm-up's events not among them
    markdown = (run_dir / "report.md").read_text()
    assert "| dxpulse worker |" in markdown and "| target | goal | measured | met |" in markdown
    assert "| Quix Streams, tumbling window + reduce |" in markdown
    assert "| fixed rate | 500 |" in markdown and "| 50% of the worker's max |" in markdown
    assert "Report:" in done.stdout
