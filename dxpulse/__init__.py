"""dxpulse: Vietnam's digital economy as live numbers (Kafka -> Faust -> ClickHouse)."""

__version__ = "0.1.0"
