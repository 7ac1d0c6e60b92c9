"""A flush: the sealed batches written together, at most one per partition, under one token.

Everything a flush inserts is a function of its batches, and the batches of their offset
ranges (streams/batch.py), so the flush's token is too: whoever re-forms the same batches —
the worker retrying after an outage, or any later owner of any of its partitions after a
crash (streams/replay.py) — sends the same blocks under the same tokens, and ClickHouse
keeps one copy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from dxpulse.streams.batch import PartitionBatch

TP = tuple[str, int]


def flush_token(batches: Sequence[PartitionBatch]) -> str:
    """The batches' tokens, hashed in partition order; a flush of one batch keeps that
    batch's own token, which is what every flush used before flushes were written together
    (so a record left by an older worker is replayed under the tokens it used)."""
    if len(batches) == 1:
        return batches[0].token
    tokens = "\n".join(b.token for b in sorted(batches, key=_tp))
    return f"flush:{hashlib.sha256(tokens.encode()).hexdigest()[:32]}"


def _tp(batch: PartitionBatch) -> TP:
    return (batch.topic, batch.partition)


@dataclass(slots=True)
class Flush:
    """Sealed batches on their way to ClickHouse, and what writing them found out."""

    number: int
    batches: list[PartitionBatch]
    # A re-formed record (streams/replay.py): its intents are already recorded, and only
    # the partitions this worker owns are committed afterwards.
    replay: bool = False
    high_watermarks: dict[TP, int | None] = field(default_factory=dict)
    started: float = 0.0  # time.monotonic() when its writing began
    visible_ms: int = 0  # epoch ms when its rows became queryable
    token: str = ""

    def __post_init__(self) -> None:
        self.batches.sort(key=_tp)
        self.token = flush_token(self.batches)

    @property
    def partitions(self) -> set[TP]:
        return {_tp(b) for b in self.batches}

    @property
    def messages(self) -> int:
        return sum(b.messages for b in self.batches)

    def next_offsets(self, owned: set[TP] | None = None) -> dict[TP, tuple[int, int]]:
        """Per partition (only ``owned`` ones, if given): the offset to commit and how many
        messages that covers."""
        return {
            _tp(b): (b.last_offset + 1, b.messages)
            for b in self.batches
            if owned is None or _tp(b) in owned
        }
