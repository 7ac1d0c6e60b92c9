"""Create the event and dead-letter topics if they are missing."""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from dxpulse.core.config import KafkaSettings
from dxpulse.core.errors import DxpulseError


def ensure_topics(kafka: KafkaSettings, timeout_s: float = 10.0) -> list[str]:
    """Create missing topics with explicit configs; returns the names created."""
    admin = AdminClient(kafka.client_config())
    try:
        existing = set(admin.list_topics(timeout=timeout_s).topics)
    except KafkaException as exc:
        raise DxpulseError(
            f"cannot reach Kafka at {kafka.bootstrap_servers}: {exc.args[0]}"
        ) from exc
    # Brokers only report configs set at creation (Tansu), so set retention explicitly.
    config = {"retention.ms": str(kafka.retention_ms), "cleanup.policy": "delete"}
    wanted = [*kafka.event_topics, kafka.dead_letter_topic]
    new = [
        NewTopic(name, kafka.partitions, kafka.replication_factor, config=config)
        for name in wanted
        if name not in existing
    ]
    if not new:
        return []
    created = []
    for name, future in admin.create_topics(new, request_timeout=timeout_s).items():
        try:
            future.result()
            created.append(name)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise DxpulseError(f"cannot create topic {name}: {exc.args[0]}") from exc
    return created
