"""The bench report: rates, ratios to the ceiling, targets met or missed, Markdown and JSON."""

from __future__ import annotations

import json

from dxpulse.bench.report import (
    CEILING,
    FAUST,
    FIXED_RATE,
    HALF_MAX,
    QUIX,
    QUIX_WINDOW,
    WORKER,
    BenchReport,
    Freshness,
    Measurement,
    Scaling,
    Soak,
)


def _report(**overrides) -> BenchReport:
    report = BenchReport(
        events=1_000_000,
        partitions=8,
        producer=Measurement("producer", 1_000_000, 4.0, 4.5, 200.0),
        consumers=[
            Measurement(CEILING, 1_000_000, 2.5, 3.0, 150.0, exact=True),
            Measurement(WORKER, 1_000_000, 10.0, 12.0, 420.0, exact=True, anon_mb=250.0),
            Measurement(FAUST, 200_000, 20.0, 14.0, 140.0, exact=True),
            Measurement(QUIX, 1_000_000, 20.0, 19.0, 90.0, exact=True),
            Measurement(QUIX_WINDOW, 1_000_000, 50.0, 48.0, 120.0, exact=False),
        ],
        freshness=[
            Freshness(10_000, 30, 300_000, 700.0, 1_900.0, 2_300.0, 400.0),
            Freshness(50_000, 30, 1_500_000, 1_300.0, 2_900.0, 3_300.0, 450.0, HALF_MAX, 99_000),
        ],
        scaling=Scaling(100_000, 170_000, 1_000_000, 5.9, 0.4, 1.5, exact=True),
        machine={"cpus": 2, "python": "3.11", "broker": "embedded Tansu"},
    )
    for key, value in overrides.items():
        setattr(report, key, value)
    return report


def test_rates_and_ratio_to_the_ceiling():
    report = _report()
    worker = report.consumer(WORKER)
    assert worker is not None
    assert worker.rate == 100_000
    assert worker.cpu_per_million == 12.0
    assert report.ratio_to_ceiling(worker) == 0.25
    assert report.scaling is not None and report.scaling.speedup == 1.7


def test_targets_say_which_are_met():
    met = {t.what: t.met for t in _report().targets()}
    assert met == {
        "producer events/s": True,  # 250,000
        "worker / confluent ceiling": False,  # 0.25
        f"worker / {QUIX}": True,  # 100,000 against 50,000
        f"worker / {QUIX_WINDOW}": True,  # against 20,000
        "worker private memory MB (file-backed pages apart)": True,  # 250 of 420 RSS
        "every contender exact": False,  # the window's run was not
        "freshness p50 ms": False,  # 700 > 500
        "freshness p99 ms": False,  # 1,900 > 1,000
        "2 workers / 1 worker": True,
    }
    slower = _report(consumers=[Measurement(WORKER, 1_000, 1.0, 1.0, 1.0, exact=True),
                                Measurement(QUIX, 2_000, 1.0, 1.0, 1.0, exact=True)])  # fmt: skip
    ahead = {t.what: (t.measured, t.met) for t in slower.targets()}
    assert ahead[f"worker / {QUIX}"] == ("0.50", False)
    assert ahead["every contender exact"] == ("1", True)


def test_missing_phases_are_not_judged():
    report = _report(freshness=[], scaling=None)
    whats = [t.what for t in report.targets()]
    assert "freshness p99 ms" not in whats and "2 workers / 1 worker" not in whats
    empty = Freshness(10_000, 1, 0, None, None, None, 0.0)
    (p50,) = [t for t in _report(freshness=[empty]).targets() if t.what == "freshness p50 ms"]
    assert (p50.measured, p50.met) == ("n/a", None)


def test_soak_growth_is_measured_after_warm_up():
    soak = Soak(20_000, 600, 12_000_000, [100.0] * 10 + [400.0] + [410.0] * 589 + [415.0])
    assert soak.rss_growth_mb == 5.0  # 415 at the end against 410 after the first minute
    (target,) = [t for t in _report(soak=soak).targets() if t.what.startswith("RSS growth")]
    assert target.met is True


def test_the_freshness_targets_judge_the_fixed_rate_only():
    # Half the worker's max is a load relative to the machine; the goals are set at 10,000/s.
    report = _report()
    met = {t.what: (t.measured, t.met) for t in report.targets()}
    assert met["freshness p50 ms"] == ("700", False)
    assert met["freshness p99 ms"] == ("1,900", False)
    only_half = _report(freshness=[report.freshness[1]])
    assert not [t for t in only_half.targets() if t.what.startswith("freshness")]
    assert report.fixed_freshness() is report.freshness[0]
    assert report.freshness[0].basis == FIXED_RATE


def test_markdown_has_every_consumer_and_target():
    text = _report().to_markdown()
    for name in (CEILING, WORKER, FAUST, QUIX, QUIX_WINDOW):
        assert f"| {name} |" in text
    assert "| 100,000 | 12.0 | 420 (250) | 0.25 | yes |" in text
    # Quix: 50,000/s, 19 CPU-s per 1M, × ceiling 0.12; the window's run was not exact.
    assert f"| {QUIX} | 1,000,000 | 50,000 | 19.0 | 90 | 0.12 | yes |" in text
    assert f"| {QUIX_WINDOW} | 1,000,000 | 20,000 | 48.0 | 120 | 0.05 | **NO** |" in text
    assert "| fixed rate | 10,000 | 30 | 300,000 | 700 ms | 1,900 ms | 2,300 ms | 400 |" in text
    assert f"| {HALF_MAX} | 50,000 | 30 | 1,500,000 | 1,300 ms | 2,900 ms | 3,300 ms |" in text
    assert "| 2 | 170,000 | 1.70 | 0.40 | 1.50 |" in text
    assert "| worker / confluent ceiling | >= 0.30 | 0.25 | **no** |" in text


def test_json_round_trips_with_derived_fields():
    data = json.loads(json.dumps(_report().to_json()))
    worker = next(c for c in data["consumers"] if c["name"] == WORKER)
    assert worker["rate"] == 100_000 and worker["vs_ceiling"] == 0.25
    assert data["producer"]["rate"] == 250_000
    assert data["scaling"]["speedup"] == 1.7
    whats = {t["what"] for t in data["targets"]}
    assert whats >= {"worker / confluent ceiling", "freshness p99 ms"}
    quix = next(c for c in data["consumers"] if c["name"] == QUIX)
    assert quix["rate"] == 50_000 and quix["vs_ceiling"] == 0.125 and quix["exact"] is True
    fixed, half = data["freshness"]
    assert (fixed["basis"], fixed["rate"], fixed["p50_ms"], fixed["p99_ms"]) == (
        FIXED_RATE,
        10_000,
        700.0,
        1_900.0,
    )
    assert (half["basis"], half["rate"], half["p50_ms"], half["p99_ms"]) == (
        HALF_MAX,
        50_000,
        1_300.0,
        2_900.0,
    )
    assert half["warmup_events"] == 99_000
