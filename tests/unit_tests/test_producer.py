"""RatePacer: how many events may be sent by now for a target rate (no Kafka involved)."""

from __future__ import annotations

import time

from producers.producer import ProduceReport, RatePacer


def _pacer(rate: float) -> tuple[RatePacer, float]:
    pacer = RatePacer(rate)
    t0 = time.monotonic()  # within microseconds of the pacer's own start
    assert pacer.allowance(0, now=t0) == 0
    return pacer, t0


def test_unlimited_rate():
    pacer = RatePacer(0)
    assert pacer.allowance(0) == 1 << 30
    assert pacer.allowance(10**6) == 1 << 30


def test_allowance_grows_with_time():
    pacer, t0 = _pacer(10)
    assert pacer.allowance(0, now=t0 + 1.0) == 10
    assert pacer.allowance(0, now=t0 + 2.55) == 25


def test_allowance_subtracts_what_was_sent():
    pacer, t0 = _pacer(100)
    assert pacer.allowance(0, now=t0 + 0.5) == 50
    assert pacer.allowance(50, now=t0 + 0.5) == 0
    assert pacer.allowance(50, now=t0 + 0.75) == 25


def test_allowance_is_never_negative():
    pacer, t0 = _pacer(10)
    assert pacer.allowance(1_000, now=t0 + 1.0) == 0


def test_credit_accumulates_across_calls_without_loss():
    pacer, t0 = _pacer(3)
    sent = 0
    for step in range(1, 101):
        sent += pacer.allowance(sent, now=t0 + step * 0.1)
    assert sent == 30  # 3/s for 10 s, although each 0.1 s step earns only 0.3


def test_report_rate():
    assert ProduceReport().rate == 0.0
    assert ProduceReport(delivered=500, seconds=2.0).rate == 250.0
