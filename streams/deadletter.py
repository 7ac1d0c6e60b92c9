"""Dead letters: a rejected message, kept byte for byte, with why and where it came from."""

from __future__ import annotations

from dataclasses import dataclass

HEADER_PREFIX = "dxpulse.dlq."


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    code: str
    reason: str

    def headers(self) -> list[tuple[str, str | bytes | None]]:
        """Kafka headers in the style of Kafka Connect's DLQ context headers."""
        return [
            (HEADER_PREFIX + "code", self.code.encode()),
            (HEADER_PREFIX + "reason", self.reason.encode()),
            (HEADER_PREFIX + "topic", self.topic.encode()),
            (HEADER_PREFIX + "partition", str(self.partition).encode()),
            (HEADER_PREFIX + "offset", str(self.offset).encode()),
        ]


def parse_headers(headers: list[tuple[str, bytes]] | None) -> dict[str, str]:
    """The dxpulse DLQ headers of a message, without the prefix."""
    out = {}
    for name, value in headers or []:
        if name.startswith(HEADER_PREFIX):
            out[name.removeprefix(HEADER_PREFIX)] = value.decode("utf-8", "replace")
    return out
