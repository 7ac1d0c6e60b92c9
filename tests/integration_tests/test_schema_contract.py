"""The committed JSON Schemas are the contract, end to end: every case derived from them goes
through a running worker on the real engines, and lands where the schema's verdict says.

Valid cases are in ``events`` exactly once (by event type and lower-case event_id); invalid
ones are in ``dead_letters`` with a code and a reason, found by the offset each was
delivered at. The verdicts come from the independent reference validator, as in
tests/unit_tests/test_schema_contract.py; the worker runs on the real clock, and every
valid case's event time lies between 2000 and 2024, inside its context rules.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable

import orjson
import pytest
from clickhouse_connect.driver.client import Client

from dxpulse.core.config import Settings
from dxpulse.schemas.validation import REJECTION_CODES
from tests.integration_tests.conftest import RunningIngest, TrackingProducer, wait_caught_up
from tests.schema_cases import Case, SchemaCases
from tests.schema_reference import committed_schemas, read_exact, reference

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def _cases() -> list[Case]:
    schemas = committed_schemas()
    return [case for t in sorted(schemas) for case in SchemaCases(t, schemas).build()]


def _event_key(case: Case) -> tuple[str, str]:
    return case.event_type, read_exact(case.payload)["event_id"].lower()


def _spelled_twice(settings: Settings) -> tuple[str, list[tuple[str, bytes, bytes]]]:
    """One new UUID sent in lower and in upper case: one event id, so one row."""
    event_id = str(uuid.uuid4())
    generator = SchemaCases("online_payment", committed_schemas())
    base = orjson.loads(generator.payload(generator.base(), "spelled twice"))
    topic = settings.kafka.topic("online_payment")
    messages = [
        (topic, b"spelled-twice", orjson.dumps({**base, "event_id": spelling}))
        for spelling in (event_id, event_id.upper())
    ]
    return event_id, messages


def test_every_derived_case_lands_where_the_schema_says(
    settings: Settings,
    ch: Client,
    topics: list[str],
    ingest_factory: Callable[[], RunningIngest],
) -> None:
    cases = _cases()
    valid = [c for c in cases if not reference(c.event_type).errors(c.payload)]
    invalid = [c for c in cases if reference(c.event_type).errors(c.payload)]
    assert len(valid) > 500 and len(invalid) > 1_000, (len(valid), len(invalid))
    producer = TrackingProducer(settings)
    keys: dict[str, bytes] = {}
    for i, case in enumerate(cases):
        keys[case.name] = key = f"case-{i}".encode()
        producer.send(settings.kafka.topic(case.event_type), key, case.payload)
    twice_id, twice = _spelled_twice(settings)
    for topic, key, value in twice:
        producer.send(topic, key, value)
    producer.flush()

    ingest = ingest_factory()
    wait_caught_up(settings, producer, timeout_s=300)
    ingest.stop()

    db = settings.clickhouse.database
    rows = ch.query(
        f"SELECT event_type, toString(event_id), count() FROM {db}.events "
        "GROUP BY event_type, event_id"
    ).result_rows
    stored = Counter({(t, i): n for t, i, n in rows})
    expected = Counter(_event_key(c) for c in valid)
    assert max(expected.values()) == 1, "two valid cases share an event id"
    expected[("online_payment", twice_id)] = 1
    assert stored == expected, {
        "missing": sorted(set(expected) - set(stored))[:10],
        "unexpected": sorted(set(stored) - set(expected))[:10],
        "not once": sorted(k for k, n in stored.items() if n != 1)[:10],
    }

    letters = {
        (topic, partition, offset): (code, reason)
        for topic, partition, offset, code, reason in ch.query(
            f"SELECT source_topic, source_partition, source_offset, code, reason "
            f"FROM {db}.dead_letters"
        ).result_rows
    }
    assert len(letters) == len(invalid)
    landed = {m.key: (m.topic, m.partition, m.offset) for m in producer.log}
    for case in invalid:
        where = landed[keys[case.name]]
        assert where in letters, f"not dead-lettered: {case.name}"
        code, reason = letters[where]
        assert code in REJECTION_CODES and reason.strip(), (case.name, code, reason)
    snap = ingest.status.snapshot()
    assert (snap["accepted"], snap["dead_lettered"], snap["duplicates"]) == (
        len(valid) + 1,
        len(invalid),
        1,
    )
