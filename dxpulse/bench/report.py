"""The benchmark's results, the targets they are judged by, and their Markdown/JSON forms."""

from __future__ import annotations

import platform
from dataclasses import asdict, dataclass, field
from typing import Any

WORKER = "dxpulse worker"
CEILING = "plain confluent-kafka"
FAUST = "vanilla Faust"
QUIX = "Quix Streams, sdf.update into a dict"
QUIX_WINDOW = "Quix Streams, tumbling window + reduce"
# What a freshness phase's rate is: the fixed --freshness-rate, or half of the single worker's
# throughput measured earlier in the same run.
FIXED_RATE = "fixed rate"
HALF_MAX = "50% of the worker's max"


@dataclass
class Measurement:
    """One consumer's run over the same data set."""

    name: str
    events: int
    seconds: float
    cpu_s: float
    peak_rss_mb: float
    exact: bool | None = None  # None: the consumer does not write anywhere to check
    note: str = ""
    anon_mb: float | None = None  # private memory at the end, without mapped library code

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_per_million(self) -> float:
        return self.cpu_s / self.events * 1e6 if self.events else 0.0


@dataclass
class Freshness:
    """One fixed-rate phase: a fresh worker fed by a producer warmed up beforehand on other
    topics, so every measured event is one produced after the warm-up."""

    rate: float
    seconds: float
    events: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    worker_rss_mb: float
    basis: str = FIXED_RATE
    warmup_events: int = 0  # produced to the warm-up topics, which the worker does not read


@dataclass
class Scaling:
    one_worker_rate: float
    two_worker_rate: float
    events: int
    seconds: float
    broker_cores: float | None  # mean CPU the broker used while the two workers ran
    workers_cores: float
    exact: bool
    note: str = ""

    @property
    def speedup(self) -> float:
        return self.two_worker_rate / self.one_worker_rate if self.one_worker_rate else 0.0


@dataclass
class Soak:
    rate: float
    seconds: float
    events: int
    rss_samples_mb: list[float]

    @property
    def rss_growth_mb(self) -> float:
        """RSS at the end minus RSS after the first minute (warm-up)."""
        samples = self.rss_samples_mb
        if len(samples) < 2:
            return 0.0
        warm = samples[min(60, len(samples) // 4)]
        return samples[-1] - warm


@dataclass
class Target:
    what: str
    goal: str
    measured: str
    met: bool | None  # None: not measured in this run


@dataclass
class BenchReport:
    events: int
    partitions: int
    producer: Measurement
    consumers: list[Measurement] = field(default_factory=list)
    freshness: list[Freshness] = field(default_factory=list)
    scaling: Scaling | None = None
    soak: Soak | None = None
    machine: dict[str, Any] = field(default_factory=dict)

    def consumer(self, name: str) -> Measurement | None:
        return next((m for m in self.consumers if m.name == name), None)

    def fixed_freshness(self) -> Freshness | None:
        """The phase the freshness targets judge (they are set at a fixed 10,000/s)."""
        return next((f for f in self.freshness if f.basis == FIXED_RATE), None)

    def _all_exact(self) -> float | None:
        """1 when every contender that can be checked was exact, 0 if one was not."""
        checked = [m.exact for m in self.consumers if m.exact is not None]
        return float(all(checked)) if checked else None

    def ratio_to_ceiling(self, m: Measurement) -> float | None:
        ceiling = self.consumer(CEILING)
        return m.rate / ceiling.rate if ceiling and ceiling.rate else None

    def targets(self) -> list[Target]:
        """Issue 16's targets: ratios to contenders of the same run, not absolute rates
        (the same bench ran ~2x slower on one day than on another)."""
        worker = self.consumer(WORKER)
        out = [
            _target("producer events/s", ">= 200,000", self.producer.rate, 200_000, "{:,.0f}"),
        ]
        if worker is not None:
            ratio = self.ratio_to_ceiling(worker)
            out.append(_target("worker / confluent ceiling", ">= 0.30", ratio, 0.30, "{:.2f}"))
            for name in (QUIX, QUIX_WINDOW):
                if (other := self.consumer(name)) is not None and other.rate:
                    what = f"worker / {name}"
                    out.append(_target(what, "> 1.00", worker.rate / other.rate, 1.0, "{:.2f}"))
            out.append(
                _target(
                    "worker private memory MB (file-backed pages apart)",
                    "<= 300",
                    worker.anon_mb,
                    300,
                    "{:.0f}",
                    True,
                )
            )
        out.append(_target("every contender exact", "yes", self._all_exact(), 1, "{:.0f}"))
        if (f := self.fixed_freshness()) is not None:
            out.append(_target("freshness p50 ms", "<= 500", f.p50_ms, 500, "{:,.0f}", True))
            out.append(_target("freshness p99 ms", "<= 1,000", f.p99_ms, 1_000, "{:,.0f}", True))
        if self.scaling is not None:
            out.append(
                _target("2 workers / 1 worker", ">= 1.6", self.scaling.speedup, 1.6, "{:.2f}x")
            )
        if self.soak is not None:
            out.append(
                _target(
                    "RSS growth over soak MB",
                    "flat (<= 30)",
                    self.soak.rss_growth_mb,
                    30,
                    "{:+.0f}",
                    True,
                )
            )
        return out

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["consumers"] = [
            {**asdict(m), "rate": m.rate, "cpu_s_per_million": m.cpu_per_million,
             "vs_ceiling": self.ratio_to_ceiling(m)}
            for m in self.consumers
        ]  # fmt: skip
        data["producer"] = {
            **asdict(self.producer),
            "rate": self.producer.rate,
            "cpu_s_per_million": self.producer.cpu_per_million,
        }
        if self.scaling is not None:
            data["scaling"]["speedup"] = self.scaling.speedup
        if self.soak is not None:
            data["soak"]["rss_growth_mb"] = self.soak.rss_growth_mb
        data["targets"] = [asdict(t) for t in self.targets()]
        return data

    def to_markdown(self) -> str:
        lines = [
            "# dxpulse bench",
            "",
            f"{self.events:,} events of the realistic generator, one event per Kafka message, "
            f"{self.partitions} partitions per topic × 3 topics. "
            f"Machine: {self.machine.get('cpus', '?')} CPUs, Python "
            f"{self.machine.get('python', '?')}, broker {self.machine.get('broker', '?')}.",
            "",
            "| consumer doing the same job | events | events/s | CPU-s per 1M events "
            "| peak RSS MB (private) | × ceiling | exact |",
            "|---|---:|---:|---:|---:|---:|---|",
        ]
        for m in self.consumers:
            ratio = self.ratio_to_ceiling(m)
            exact = {True: "yes", False: "**NO**", None: "n/a"}[m.exact]
            lines.append(
                f"| {m.name}{f' ({m.note})' if m.note else ''} | {m.events:,} | "
                f"{m.rate:,.0f} | {m.cpu_per_million:.1f} | {m.peak_rss_mb:.0f}"
                f"{'' if m.anon_mb is None else f' ({m.anon_mb:.0f})'} | "
                f"{'' if ratio is None else f'{ratio:.2f}'} | {exact} |"
            )
        p = self.producer
        lines += [
            "",
            f"Producer: {p.events:,} events in {p.seconds:.2f} s = **{p.rate:,.0f} events/s**, "
            f"{p.cpu_per_million:.1f} CPU-s per 1M events.",
        ]
        lines += self._freshness_markdown()
        if self.scaling is not None:
            s = self.scaling
            broker = "n/a" if s.broker_cores is None else f"{s.broker_cores:.2f}"
            lines += [
                "",
                "| workers | events/s | speedup | broker CPU (cores) | workers CPU (cores) |",
                "|---:|---:|---:|---:|---:|",
                f"| 1 | {s.one_worker_rate:,.0f} | 1.00 | | |",
                f"| 2 | {s.two_worker_rate:,.0f} | {s.speedup:.2f} | {broker} | "
                f"{s.workers_cores:.2f} |",
            ]
            if s.note:
                lines += ["", s.note]
        if self.soak is not None:
            k = self.soak
            lines += [
                "",
                f"Soak: {k.events:,} events at {k.rate:,.0f}/s for {k.seconds:.0f} s; worker RSS "
                f"min {min(k.rss_samples_mb, default=0):.0f} / max "
                f"{max(k.rss_samples_mb, default=0):.0f} MB, growth after warm-up "
                f"{k.rss_growth_mb:+.0f} MB.",
            ]
        lines += ["", "| target | goal | measured | met |", "|---|---|---|---|"]
        for t in self.targets():
            met = {True: "yes", False: "**no**", None: "not measured"}[t.met]
            lines.append(f"| {t.what} | {t.goal} | {t.measured} | {met} |")
        return "\n".join(lines) + "\n"

    def _freshness_markdown(self) -> list[str]:
        if not self.freshness:
            return []
        lines = [
            "",
            "Freshness, Kafka CreateTime → insert returned, a fresh worker per rate, the "
            "producer warmed up first:",
            "",
            "| rate | events/s | seconds | events | p50 | p99 | max | worker RSS MB |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for f in self.freshness:
            lines.append(
                f"| {f.basis} | {f.rate:,.0f} | {f.seconds:.0f} | {f.events:,} | "
                f"{_ms(f.p50_ms)} | {_ms(f.p99_ms)} | {_ms(f.max_ms)} | {f.worker_rss_mb:.0f} |"
            )
        return lines


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f} ms"


def _target(
    what: str, goal: str, value: float | None, limit: float, fmt: str, at_most: bool = False
) -> Target:
    if value is None:
        return Target(what, goal, "n/a", None)
    met = value <= limit if at_most else value >= limit
    return Target(what, goal, fmt.format(value), met)


def machine_facts(broker: str) -> dict[str, Any]:
    import os

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "broker": broker,
    }
