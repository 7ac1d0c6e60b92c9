"""Freshness: how long from an event's production to its rows being visible in ClickHouse.

Production time is the Kafka message's CreateTime, stamped by the producer; visible is when
the insert that carries the event returned. A fixed-bucket histogram (10 ms buckets up to
10 minutes) keeps memory constant however many events pass, and records a whole batch with one
vectorised call: a per-event observation (prometheus-client's Histogram takes a lock per call)
would cost the hot path a microsecond an event. streams/metrics.py exports it to Prometheus by
summing its buckets up to coarser edges at scrape time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BUCKET_MS = 10
_BUCKETS = 60_000  # 10 minutes; later arrivals share the last bucket


class FreshnessHistogram:
    __slots__ = ("_counts", "newest_ms", "sum_ms")

    def __init__(self) -> None:
        self._counts = np.zeros(_BUCKETS, dtype=np.int64)
        self.newest_ms = 0  # production time of the newest event made visible so far
        self.sum_ms = 0  # of every recorded age (not clipped at 10 minutes; negative as 0)

    @property
    def count(self) -> int:
        return int(self._counts.sum())

    def record(self, produced_ms: Sequence[int], visible_ms: int) -> None:
        if not produced_ms:
            return
        produced = np.asarray(produced_ms, dtype=np.int64)
        ages_ms = np.maximum(visible_ms - produced, 0)
        self.sum_ms += int(ages_ms.sum())
        buckets = np.minimum(ages_ms // BUCKET_MS, _BUCKETS - 1)
        self._counts += np.bincount(buckets, minlength=_BUCKETS)
        self.newest_ms = max(self.newest_ms, int(produced.max()))

    def count_below(self, edges_ms: Sequence[int]) -> list[int]:
        """Per edge (a multiple of BUCKET_MS below 10 minutes), how many ages were less.

        Cumulative, as Prometheus histogram buckets are; the bucket resolution makes an age of
        exactly an edge count above it.
        """
        cumulative = np.cumsum(self._counts)
        return [int(cumulative[edge // BUCKET_MS - 1]) if edge > 0 else 0 for edge in edges_ms]

    def quantile(self, q: float) -> float | None:
        """The q-quantile in milliseconds (upper edge of its bucket), None when empty."""
        total = self.count
        if total == 0:
            return None
        rank = max(1, int(np.ceil(q * total)))
        bucket = int(np.searchsorted(np.cumsum(self._counts), rank))
        return float((bucket + 1) * BUCKET_MS)

    def summary(self) -> dict[str, float | int | None]:
        return {
            "events": self.count,
            "p50_ms": self.quantile(0.50),
            "p99_ms": self.quantile(0.99),
            "max_ms": self.quantile(1.0),
        }
