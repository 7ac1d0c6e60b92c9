"""All configuration in one place: environment variables prefixed ``DXPULSE_``.

Nested sections use a double underscore, e.g. ``DXPULSE_KAFKA__BOOTSTRAP_SERVERS``.
CLI options override individual fields; every field has a default that runs the
embedded stack (Tansu broker + chDB) on one machine.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

EVENT_TYPES: tuple[str, ...] = ("online_payment", "ecommerce_order", "mobile_money")
DSN_SCHEMES = ("http", "https", "chdb")


class KafkaSettings(BaseModel):
    bootstrap_servers: str | None = Field(
        default=None,
        description="Kafka bootstrap servers; unset means `run` starts an embedded Tansu broker.",
    )
    topic_prefix: str = Field(default="dxpulse", pattern=r"^[A-Za-z0-9._-]{1,100}$")
    partitions: int = Field(default=8, ge=1, le=1024, description="Partitions per event topic.")
    replication_factor: int = Field(default=1, ge=1, le=16)
    retention_ms: int = Field(default=7 * 24 * 3600 * 1000, ge=60_000)
    group_id: str = Field(default="dxpulse-worker", min_length=1)
    session_timeout_ms: int = Field(
        default=10_000, ge=1_000, description="Consumer group session timeout."
    )
    security_protocol: str = Field(default="PLAINTEXT")
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None

    def topic(self, event_type: str) -> str:
        return f"{self.topic_prefix}.{event_type}"

    @property
    def event_topics(self) -> list[str]:
        return [self.topic(t) for t in EVENT_TYPES]

    @property
    def dead_letter_topic(self) -> str:
        return f"{self.topic_prefix}.deadletter"

    def client_config(self) -> dict[str, Any]:
        """librdkafka settings shared by producers, consumers and the admin client."""
        if self.bootstrap_servers is None:
            raise ValueError("kafka.bootstrap_servers is not set")
        conf: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.security_protocol,
            # Through Python logging, so a down broker is one clear error, not a log flood.
            "logger": logging.getLogger("librdkafka"),
        }
        if self.sasl_mechanism:
            conf["sasl.mechanism"] = self.sasl_mechanism
        if self.sasl_username:
            conf["sasl.username"] = self.sasl_username
        if self.sasl_password:
            conf["sasl.password"] = self.sasl_password.get_secret_value()
        return conf


class ClickHouseSettings(BaseModel):
    dsn: str | None = Field(
        default=None,
        description=(
            "clickhouse-connect DSN, e.g. http://host:8123 or chdb:///path; "
            "unset means chDB under the data directory."
        ),
    )
    database: str = Field(default="dxpulse", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
    username: str | None = None
    password: SecretStr | None = None
    # Passwords `dxpulse init --users` gives dxpulse's users (Grafana's is
    # grafana.clickhouse_password); environment only, hashed before they leave the process.
    writer_password: SecretStr | None = Field(
        default=None, description="Password of dxpulse_writer, the workers' user."
    )
    analyst_password: SecretStr | None = Field(
        default=None, description="Password of dxpulse_analyst, the read-only SQL user."
    )

    @field_validator("dsn")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        # clickhouse-connect reads any scheme but chdb as plain HTTP (mysql://x becomes
        # http://x:8123), so a typo would only surface as a connection attempt elsewhere.
        if value is None:
            return value
        scheme = value.split("://", 1)[0] if "://" in value else ""
        if scheme.lower() not in DSN_SCHEMES:
            # Only the scheme is echoed: the rest may hold a password.
            got = f"{scheme}://…" if scheme else "no scheme"
            raise ValueError(f"must start with http://, https:// or chdb:// (got {got})")
        return value


class StreamSettings(BaseModel):
    window_seconds: int = Field(
        default=60,
        ge=1,
        le=3_600,
        description="Tumbling window size; divides an hour, so each window lies in one hour.",
    )
    flush_interval_s: float = Field(default=1.0, gt=0, le=300)
    flush_max_events: int = Field(default=50_000, ge=1)
    poll_batch: int = Field(default=10_000, ge=1, le=1_000_000)
    max_event_bytes: int = Field(default=64 * 1024, ge=256)
    max_future_skew_s: int = Field(
        default=900, ge=0, description="Events further in the future than this are rejected."
    )
    allowed_lateness_s: int = Field(
        default=600, ge=0, description="Events this far behind the watermark still count."
    )
    dedup_horizon_s: int = Field(
        default=600,
        ge=0,
        description="An event_id seen again within this much event time is dropped.",
    )
    dedup_max_ids: int = Field(
        default=20_000,
        ge=0,
        description="Per partition; bounds the dedup index's memory (~150 bytes an id).",
    )
    retry_max_backoff_s: float = Field(default=30.0, gt=0, le=600)

    @field_validator("window_seconds")
    @classmethod
    def _window_divides_an_hour(cls, value: int) -> int:
        # The hourly and daily rollups attribute a window to the hour it starts in.
        if 3_600 % value:
            raise ValueError("must divide 3600 (e.g. 10, 60, 300, 3600)")
        return value


class ProducerSettings(BaseModel):
    compression: str = Field(default="lz4", pattern=r"^(none|gzip|snappy|lz4|zstd)$")
    linger_ms: int = Field(default=20, ge=0, le=10_000)


class WebSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=6066, ge=1, le=65_535)


class GrafanaSettings(BaseModel):
    """Where `dxpulse dashboards push` sends the dashboards, and how Grafana reaches ClickHouse."""

    url: str = Field(
        default="http://localhost:3000",
        pattern=r"^https?://[^\s]+$",
        description="Grafana base URL.",
    )
    token: SecretStr | None = Field(
        default=None,
        description="Service-account token, role Admin (only admins may manage datasources).",
    )
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    folder_uid: str = Field(default="dxpulse", pattern=r"^[A-Za-z0-9_-]{1,40}$")
    folder_title: str = Field(default="dxpulse", min_length=1, max_length=100)
    datasource_uid: str = Field(default="dxpulse-clickhouse", pattern=r"^[A-Za-z0-9_-]{1,40}$")
    datasource_name: str = Field(default="dxpulse ClickHouse", min_length=1, max_length=100)
    # How Grafana (not dxpulse) reaches ClickHouse: inside compose, the service name.
    clickhouse_host: str = Field(default="clickhouse", pattern=r"^[A-Za-z0-9._-]{1,253}$")
    clickhouse_port: int = Field(default=9000, ge=1, le=65_535)
    clickhouse_protocol: str = Field(default="native", pattern=r"^(native|http)$")
    clickhouse_secure: bool = False
    clickhouse_username: str = Field(
        default="dxpulse_grafana", description="A read-only ClickHouse user."
    )
    clickhouse_password: SecretStr | None = None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DXPULSE_", env_nested_delimiter="__", extra="ignore"
    )

    data_dir: Path = Field(default=Path("dxpulse-data"))
    log_level: str = Field(default="WARNING", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    kafka: KafkaSettings = KafkaSettings()
    clickhouse: ClickHouseSettings = ClickHouseSettings()
    stream: StreamSettings = StreamSettings()
    producer: ProducerSettings = ProducerSettings()
    web: WebSettings = WebSettings()
    grafana: GrafanaSettings = GrafanaSettings()

    def clickhouse_dsn(self) -> str:
        if self.clickhouse.dsn:
            return self.clickhouse.dsn
        return f"chdb://{(self.data_dir / 'clickhouse').resolve()}"
