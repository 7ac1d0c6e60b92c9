"""dxpulse's topics on Kafka: waiting for the brokers, creating the event and dead-letter
topics if they are missing, and describing them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource
from confluent_kafka.cimpl import NewTopic

from dxpulse.core.config import KafkaSettings
from dxpulse.core.errors import DxpulseError
from dxpulse.core.waits import Pending, WaitTimedOut, poll


class TopicInfo(NamedTuple):
    name: str
    partitions: int  # 0 when the topic does not exist
    retention_ms: int | None  # None when the broker reports no retention.ms


def _nothing() -> None:
    pass


def wait_for_kafka(
    kafka: KafkaSettings,
    deadline: float,
    wait_s: float,
    *,
    hint: str = "",
    on_wait: Callable[[], None] = _nothing,
) -> None:
    """Until the brokers answer a metadata request, or the ``deadline`` (monotonic), which
    ``wait_s`` after the start of the whole wait is; ``hint`` names what set it in the
    error. ``on_wait`` is called once, at the first failed request: a deployment that
    starts next to its broker is expected to wait a little, quietly."""
    admin = AdminClient(kafka.client_config())

    def answered() -> None:
        admin.list_topics(timeout=max(1.0, min(2.0, deadline - time.monotonic())))

    def waiting(pending: Pending[None]) -> None:
        if pending.number == 1:
            on_wait()

    try:
        poll(
            answered,
            timeout_s=max(0.0, deadline - time.monotonic()),
            interval_s=1.0,
            retry_on=(KafkaException,),
            on_retry=waiting,
        )
    except WaitTimedOut as exc:
        error = exc.last.error
        assert isinstance(error, KafkaException)
        raise DxpulseError(
            f"Kafka at {kafka.bootstrap_servers} did not answer within {wait_s:g} s"
            f"{f' ({hint})' if hint else ''}: {error.args[0]}"
        ) from error


def describe_topics(kafka: KafkaSettings, timeout_s: float = 10.0) -> list[TopicInfo]:
    """dxpulse's topics as the broker has them: partitions and retention.ms."""
    names = [*kafka.event_topics, kafka.dead_letter_topic]
    admin = AdminClient(kafka.client_config())
    meta = admin.list_topics(timeout=timeout_s).topics
    retention: dict[str, int | None] = dict.fromkeys(names)
    resources = [ConfigResource(ConfigResource.Type.TOPIC, n) for n in names]
    for resource, future in admin.describe_configs(resources).items():
        try:
            entry = future.result(timeout=timeout_s).get("retention.ms")
        except KafkaException:
            continue
        if entry is not None and entry.value is not None:
            retention[resource.name] = int(entry.value)
    return [TopicInfo(n, len(meta[n].partitions) if n in meta else 0, retention[n]) for n in names]


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
