"""Mapping of a validated event to a row of the raw ``events`` table."""

from __future__ import annotations

from datetime import datetime

from schemas.events import EcommerceOrder, Envelope, MobileMoney, OnlinePayment
from schemas.provinces import region_of

ENVELOPE_COLUMNS = (
    "event_id", "event_type", "schema_version", "event_time", "province_code", "region",
    "area", "channel", "amount_vnd", "status", "customer_id",
)  # fmt: skip
# Type-specific columns: an empty string where the event type has no such field.
TYPE_COLUMNS = (
    "method", "provider", "merchant_category", "platform", "product_category",
    "payment_method", "order_status", "kind", "agent_id",
)  # fmt: skip
EVENT_COLUMNS = (
    *ENVELOPE_COLUMNS,
    *TYPE_COLUMNS,
    "kafka_partition",
    "kafka_offset",
    "is_late",
    "ingested_at",
)


def event_row(
    event: Envelope, partition: int, offset: int, ingested_at: datetime, late: bool = False
) -> list[object]:
    method = provider = merchant = platform = product = payment = order_status = kind = agent = ""
    if isinstance(event, OnlinePayment):
        method, provider, merchant = event.method, event.provider, event.merchant_category
    elif isinstance(event, EcommerceOrder):
        platform, product = event.platform, event.product_category
        payment, order_status = event.payment_method, event.order_status
    elif isinstance(event, MobileMoney):
        provider, kind, agent = event.provider, event.kind, event.agent_id or ""
    return [
        event.event_id,
        event.event_type,
        event.schema_version,
        event.event_time,
        event.province_code,
        region_of(event.province_code),
        event.area,
        event.channel,
        event.amount_vnd,
        event.status,
        event.customer_id,
        method,
        provider,
        merchant,
        platform,
        product,
        payment,
        order_status,
        kind,
        agent,
        partition,
        offset,
        int(late),
        ingested_at,
    ]
