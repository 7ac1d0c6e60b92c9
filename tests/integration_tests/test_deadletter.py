"""Malformed messages go to the dead-letter topic with a reason; good events all count."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import orjson
from clickhouse_connect.driver.client import Client

from dxpulse.core.config import Settings
from dxpulse.producers.generator import EventGenerator
from dxpulse.streams.deadletter import parse_headers
from tests.integration_tests.conftest import RunningIngest, consume_all


def _bad_messages(good: dict[str, object]) -> dict[str, bytes]:
    def variant(**changes: object) -> bytes:
        return orjson.dumps({**good, **changes})

    missing = {k: v for k, v in good.items() if k != "customer_id"}
    return {
        "not_json": b"\x00\xffnot json at all",
        "wrong_type": variant(amount_vnd="125000"),
        "unknown_province": variant(province_code="99"),
        "negative_amount": variant(amount_vnd=-5),
        "missing_field": orjson.dumps(missing),
        "future_time": variant(event_time="2999-01-01T00:00:00.000Z"),
    }


def test_bad_messages_are_dead_lettered_and_the_rest_counted(
    settings: Settings,
    ch: Client,
    topics: list[str],
    send: Callable[..., int],
    ingest_factory: Callable[[], RunningIngest],
) -> None:
    gen = EventGenerator(seed=1, event_types=("online_payment",))
    now = datetime.now(UTC)
    goods = [gen.event(now) for _ in range(2_000)]
    bad = _bad_messages(goods[0])
    topic = settings.kafka.topic("online_payment")
    # Interleave the bad ones between good events, all keyed to one partition.
    messages: list[tuple[bytes | None, bytes | None]] = []
    for i, event in enumerate(goods):
        messages.append((b"01", gen.encode(event)))
        if i % 300 == 0 and bad:
            name, payload = bad.popitem()
            messages.append((name.encode(), payload))
    expected_bad = _bad_messages(goods[0])
    # An event of the wrong type on this topic is dead-lettered too.
    other = EventGenerator(seed=2, event_types=("mobile_money",)).event(now)
    messages.append((b"wrong_topic", orjson.dumps(other)))
    total = send(topic, messages)

    ingest = ingest_factory()
    snap = ingest.wait_committed(total)
    ingest.stop()

    assert snap["accepted"] == len(goods)
    assert snap["dead_lettered"] == len(expected_bad) + 1
    letters = consume_all(settings, settings.kafka.dead_letter_topic, len(expected_bad) + 1)
    by_name = {m.key().decode(): (m.value(), parse_headers(m.headers())) for m in letters}
    assert set(by_name) == {*expected_bad, "wrong_topic"}
    for name, payload in expected_bad.items():
        value, headers = by_name[name]
        assert value == payload, "the dead letter keeps the original bytes"
        assert headers["topic"] == topic and int(headers["offset"]) >= 0
        assert headers["reason"]
    expected_codes = {
        "not_json": ("invalid_json", "JSON"),
        "wrong_type": ("invalid_event", "amount_vnd"),
        "unknown_province": ("invalid_event", "province"),
        "negative_amount": ("invalid_event", "amount_vnd"),
        "missing_field": ("invalid_event", "customer_id"),
        "future_time": ("invalid_event", "event_time"),
        "wrong_topic": ("wrong_topic", "mobile_money"),
    }
    for name, (code, mentioned) in expected_codes.items():
        headers = by_name[name][1]
        assert headers["code"] == code, name
        assert mentioned in headers["reason"], (name, headers["reason"])

    db = settings.clickhouse.database
    count, ids = ch.query(f"SELECT count(), uniqExact(event_id) FROM {db}.events").result_rows[0]
    assert count == ids == len(goods)
    (agg,) = ch.query(f"SELECT sum(events) FROM {db}.event_aggregates").result_rows[0]
    assert agg == len(goods)
