"""Dead letters: Kafka headers in Kafka Connect's DLQ style, and their parsing."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dxpulse.streams.deadletter import HEADER_PREFIX, DeadLetter, parse_headers


def _letter(**changes) -> DeadLetter:
    fields = {
        "topic": "dxpulse.mobile_money",
        "partition": 7,
        "offset": 123_456_789_012,
        "key": b"14",
        "value": b'{"amount_vnd": "100"}',
        "code": "invalid_event",
        "reason": "amount_vnd: Input should be a valid integer",
    }
    fields.update(changes)
    return DeadLetter(**fields)


def test_headers_carry_code_reason_and_origin():
    headers = _letter().headers()
    assert headers == [
        ("dxpulse.dlq.code", b"invalid_event"),
        ("dxpulse.dlq.reason", b"amount_vnd: Input should be a valid integer"),
        ("dxpulse.dlq.topic", b"dxpulse.mobile_money"),
        ("dxpulse.dlq.partition", b"7"),
        ("dxpulse.dlq.offset", b"123456789012"),
    ]


def test_headers_round_trip_through_parse_headers():
    letter = _letter(reason="province_code: unknown province code '00' — Hà Nội…")
    assert parse_headers(letter.headers()) == {
        "code": "invalid_event",
        "reason": "province_code: unknown province code '00' — Hà Nội…",
        "topic": "dxpulse.mobile_money",
        "partition": "7",
        "offset": "123456789012",
    }


def test_parse_headers_ignores_other_headers():
    headers = [("traceparent", b"00-abc"), *_letter().headers(), ("dxpulse.other", b"x")]
    parsed = parse_headers(headers)
    assert set(parsed) == {"code", "reason", "topic", "partition", "offset"}


def test_parse_headers_of_no_headers():
    assert parse_headers(None) == {}
    assert parse_headers([]) == {}


def test_parse_headers_replaces_invalid_utf8():
    assert parse_headers([(HEADER_PREFIX + "reason", b"bad \xff byte")]) == {
        "reason": "bad \ufffd byte"
    }


def test_dead_letter_keeps_the_message_byte_for_byte():
    raw = b"\x00\xff not json \n"
    letter = _letter(key=None, value=raw)
    assert letter.value == raw
    assert letter.key is None


@given(
    code=st.sampled_from(["empty", "too_large", "invalid_json", "invalid_event", "wrong_topic"]),
    reason=st.text(max_size=500),
    topic=st.from_regex(r"[A-Za-z0-9._-]{1,40}", fullmatch=True),
    partition=st.integers(0, 1023),
    offset=st.integers(0, 2**63 - 1),
)
def test_any_dead_letter_round_trips(code, reason, topic, partition, offset):
    letter = DeadLetter(topic, partition, offset, None, b"x", code, reason)
    parsed = parse_headers(letter.headers())
    assert parsed["code"] == code
    assert parsed["reason"] == reason
    assert parsed["topic"] == topic
    assert int(parsed["partition"]) == partition
    assert int(parsed["offset"]) == offset
