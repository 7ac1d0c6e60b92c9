"""Topic creation against the real broker."""

from __future__ import annotations

from confluent_kafka.admin import AdminClient

from dxpulse.core.config import Settings
from dxpulse.topics import ensure_topics


def test_topics_created_once_with_partitions(settings: Settings) -> None:
    created = ensure_topics(settings.kafka)
    assert sorted(created) == sorted(
        [*settings.kafka.event_topics, settings.kafka.dead_letter_topic]
    )
    assert ensure_topics(settings.kafka) == []
    meta = AdminClient(settings.kafka.client_config()).list_topics(timeout=10)
    for name in created:
        assert len(meta.topics[name].partitions) == settings.kafka.partitions
