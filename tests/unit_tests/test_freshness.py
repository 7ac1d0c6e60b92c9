"""Freshness histogram: production-to-visible ages, as quantiles in 10 ms buckets."""

from __future__ import annotations

from dxpulse.streams.freshness import BUCKET_MS, FreshnessHistogram


def test_empty_histogram_has_no_quantiles():
    hist = FreshnessHistogram()
    assert hist.summary() == {"events": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
    hist.record([], 1_000)
    assert hist.count == 0


def test_quantiles_are_bucket_upper_edges():
    hist = FreshnessHistogram()
    visible = 1_000_000
    # 100 events aged 0..990 ms in steps of 10 ms
    hist.record([visible - age for age in range(0, 1_000, 10)], visible)
    assert hist.count == 100
    assert hist.quantile(0.5) == 500.0  # the 50th age is 490 ms, in bucket [490, 500)
    assert hist.quantile(0.99) == 990.0
    assert hist.quantile(1.0) == 1_000.0
    assert hist.newest_ms == visible


def test_records_accumulate_and_clip():
    hist = FreshnessHistogram()
    hist.record([0], 5)  # 5 ms
    hist.record([0], 10 * 60_000 + 123_456)  # beyond the last bucket: counted there
    hist.record([100], 50)  # a clock step backwards: counted as fresh, not lost
    assert hist.count == 3
    assert hist.quantile(0.34) == BUCKET_MS
    assert hist.quantile(1.0) == 600_000.0
