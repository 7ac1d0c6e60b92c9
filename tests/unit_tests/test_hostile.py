"""Property-based: whatever bytes arrive, the validation path never raises, every message
is accepted, dead-lettered with a reason, or dropped as a duplicate, and the batch's own
accounting adds up."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from dxpulse.schemas.validation import REJECTION_CODES, EventValidator, Rejection
from dxpulse.streams.batch import PartitionBatch
from dxpulse.streams.dedup import DedupIndex
from tests.unit_tests.conftest import VALID_SAMPLES

NOW = datetime(2024, 3, 10, tzinfo=UTC)
VALIDATOR = EventValidator(max_bytes=4_096)
CTX = VALIDATOR.context(NOW)

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=30,
)
_near_valid = st.builds(
    lambda base, field, value: json.dumps({**base, field: value}).encode(),
    st.sampled_from(list(VALID_SAMPLES.values())),
    st.sampled_from(sorted({k for v in VALID_SAMPLES.values() for k in v})),
    _json,
)
_messages = st.lists(
    st.one_of(
        st.binary(max_size=300),
        _near_valid,
        st.sampled_from([orjson.dumps(v) for v in VALID_SAMPLES.values()]),  # duplicates
        st.integers(1, 3_000).map(lambda n: b"[" * n + b"]" * n),
        st.text(max_size=200).map(lambda s: s.encode("utf-16")),
        st.just(b"x" * 5_000),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(_messages)
def test_every_message_is_accounted_for(messages: list[bytes]) -> None:
    batch = PartitionBatch("t.x", 0, 60, dedup=DedupIndex(600_000))
    accepted = duplicates = 0
    for offset, payload in enumerate(messages):
        result = VALIDATOR.validate_flat(payload, None, CTX)
        if isinstance(result, Rejection):
            assert result.code in REJECTION_CODES and result.reason
            batch.add_rejection(offset, None, payload, result, NOW)
        elif batch.add_event(offset, result, NOW, payload):
            accepted += 1
        else:
            duplicates += 1
    assert batch.messages == len(messages)
    assert batch.messages == accepted + len(batch.dead_letters) + duplicates
    assert duplicates == batch.duplicates
    assert len(batch.events) == accepted
    assert sum(int(r[7]) for r in batch.aggregator.rows()) + batch.late_count == accepted
