"""The worker's health verdict and its log lines, on a clock the test moves by hand."""

from __future__ import annotations

import logging

import pytest

from dxpulse.streams.liveness import CLICKHOUSE, INGEST, KAFKA, HealthMonitor


class FakeClock:
    def __init__(self) -> None:
        self.mono = 1_000.0
        self.wall = 1_800_000_000.0  # 2027-01-15T08:00:00Z

    def monotonic(self) -> float:
        return self.mono

    def time(self) -> float:
        return self.wall

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def monitor(clock: FakeClock) -> HealthMonitor:
    return HealthMonitor(timeout_s=30, reminder_s=60, clock=clock)


def _keep_alive(monitor: HealthMonitor, *deps: str) -> None:
    for dep in deps:
        monitor.ok(dep)
    monitor.beat()


def test_a_new_worker_is_healthy_for_the_timeout_before_anything_answered(monitor, clock):
    assert monitor.report("running")["healthy"]
    clock.advance(30)
    monitor.beat()
    assert monitor.report("running")["healthy"]
    clock.advance(0.1)
    monitor.beat()
    assert [d["dependency"] for d in monitor.report("running")["down"]] == [KAFKA, CLICKHOUSE]


def test_kafka_is_down_exactly_when_it_has_not_answered_for_the_timeout(monitor, clock):
    _keep_alive(monitor, KAFKA, CLICKHOUSE)
    monitor.error(KAFKA, "127.0.0.1:9092/bootstrap: Connect failed: Connection refused")
    clock.advance(29.9)
    _keep_alive(monitor, CLICKHOUSE)
    assert monitor.report("running")["healthy"], "an error alone does not make it down"
    clock.advance(0.2)
    _keep_alive(monitor, CLICKHOUSE)
    report = monitor.report("running")
    assert not report["healthy"]
    (down,) = report["down"]
    assert down == {
        "dependency": KAFKA,
        "since": "2027-01-15T08:00:00+00:00",  # its last answer
        "for_s": 30.1,
        "reason": "no answer within 30 s: 127.0.0.1:9092/bootstrap: Connect failed: "
        "Connection refused",
    }


def test_one_answer_makes_it_healthy_again(monitor, clock):
    clock.advance(45)
    _keep_alive(monitor, CLICKHOUSE)
    assert not monitor.report("running")["healthy"]
    monitor.ok(KAFKA)
    assert monitor.report("running")["healthy"]


def test_a_failed_write_is_down_at_once_until_a_write_succeeds(monitor, clock):
    monitor.failing(CLICKHOUSE, "OperationalError: connection refused")
    clock.advance(5)
    monitor.failing(CLICKHOUSE, "OperationalError: still refused")
    (down,) = monitor.report("degraded")["down"]
    assert down["dependency"] == CLICKHOUSE and down["for_s"] == 5.0
    assert down["reason"] == "writes failing: OperationalError: still refused"
    monitor.ok(CLICKHOUSE)
    assert not monitor.report("degraded")["healthy"], "a probe's answer is not a write"
    monitor.wrote(CLICKHOUSE)
    assert monitor.report("running")["healthy"]


def test_a_loop_that_stops_turning_is_unhealthy(monitor, clock):
    clock.advance(31)
    monitor.ok(KAFKA)
    monitor.ok(CLICKHOUSE)
    (down,) = monitor.report("running")["down"]
    assert down["dependency"] == INGEST and down["reason"] == "no loop iteration for 31 s"


@pytest.mark.parametrize("state", ["starting", "stopped", "failed"])
def test_a_loop_that_is_not_running_is_unhealthy(monitor, state):
    (down,) = monitor.report(state)["down"]
    assert down["dependency"] == INGEST and down["reason"] == f"ingest loop {state}"


def test_probes_are_due_every_third_of_the_timeout_without_an_answer(monitor, clock):
    assert monitor.probe_interval_s == 10
    assert not monitor.probe_due(KAFKA)
    clock.advance(10)
    assert monitor.probe_due(KAFKA)
    assert not monitor.probe_due(KAFKA), "the caller is probing now"
    clock.advance(9)
    monitor.ok(KAFKA)  # an answer (a commit, say) counts as much as a probe
    clock.advance(9.9)
    assert not monitor.probe_due(KAFKA)
    clock.advance(0.1)
    assert monitor.probe_due(KAFKA)
    assert monitor.probe_due(CLICKHOUSE)


def test_one_line_per_change_and_a_reminder(monitor, clock, caplog):
    caplog.set_level(logging.WARNING, logger="dxpulse.streams.liveness")
    _keep_alive(monitor, KAFKA, CLICKHOUSE)
    monitor.error(KAFKA, "Connection refused")
    for _ in range(400):  # the loop calls it every iteration: 0.25 s apart here
        clock.advance(0.25)
        _keep_alive(monitor, CLICKHOUSE)
        monitor.log_changes()
    monitor.ok(KAFKA)
    monitor.log_changes()
    monitor.log_changes()
    assert [r.getMessage() for r in caplog.records] == [
        "Kafka down: no answer within 30 s: Connection refused; /health answers 503",
        "Kafka still down after 90 s: no answer within 30 s: Connection refused",
        "Kafka answers again, after 100 s down",
    ]
    assert [r.levelno for r in caplog.records] == [logging.ERROR, logging.ERROR, logging.WARNING]
