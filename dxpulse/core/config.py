"""All configuration in one place: environment variables prefixed ``DXPULSE_``.

Nested sections use a double underscore, e.g. ``DXPULSE_KAFKA__BOOTSTRAP_SERVERS``.
CLI options override individual fields; every field has a default that runs the
embedded stack (Tansu broker + chDB) on one machine.
"""

from __future__ import annotations

import json
import logging
import re
import ssl
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field, FilePath, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# The contract's list (schemas import nothing of the settings, so this stays one-way).
from dxpulse.schemas.events import EVENT_TYPES as EVENT_TYPES

DSN_SCHEMES = ("http", "https", "chdb")
# A ClickHouse name dxpulse puts into SQL unquoted (a database, a cluster, a user).
IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"


class SecurityProtocol(StrEnum):
    """How clients talk to the brokers: librdkafka's and aiokafka's names alike."""

    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"

    @property
    def uses_sasl(self) -> bool:
        return self in (SecurityProtocol.SASL_PLAINTEXT, SecurityProtocol.SASL_SSL)

    @property
    def uses_tls(self) -> bool:
        return self in (SecurityProtocol.SSL, SecurityProtocol.SASL_SSL)


class SaslMechanism(StrEnum):
    """The SASL mechanisms both client libraries (librdkafka and aiokafka) speak with a
    username and password; GSSAPI and OAUTHBEARER need more than settings can give."""

    PLAIN = "PLAIN"
    SCRAM_SHA_256 = "SCRAM-SHA-256"
    SCRAM_SHA_512 = "SCRAM-SHA-512"


# librdkafka keys that the typed settings or the worker's exactly-once protocol own: a
# passthrough may not change them behind the back of the settings that say otherwise.
RESERVED_LIBRDKAFKA_KEYS = frozenset(
    {
        "bootstrap.servers",
        "metadata.broker.list",
        "security.protocol",
        "ssl.ca.location",
        "ssl.certificate.location",
        "ssl.key.location",
        "ssl.key.password",
        "group.id",
        "enable.auto.commit",
        "enable.auto.offset.store",
        "enable.idempotence",
        "isolation.level",
        "logger",
        "error_cb",
    }
)
_LIBRDKAFKA_KEY = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")


def _json_object(value: object) -> object:
    """The passthrough arrives from the environment as JSON text (pydantic-settings leaves
    it undecoded, see ``NoDecode``), or as a mapping from code."""
    if isinstance(value, str):
        try:
            return json.loads(value) if value.strip() else {}
        except json.JSONDecodeError as exc:
            raise ValueError(f"not a JSON object: {exc.msg}") from None
    return value


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
    fetch_wait_max_ms: int = Field(
        default=50,
        ge=1,
        le=10_000,
        description=(
            "Longest a broker may hold the worker's fetch when no data waits (librdkafka's "
            "default 500 ms cost 130 ms of p50 and 150 ms of p99 freshness at 10,000/s)."
        ),
    )
    security_protocol: SecurityProtocol = SecurityProtocol.PLAINTEXT
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_location: FilePath | None = Field(
        default=None, description="PEM file of the CA that signed the brokers' certificates."
    )
    ssl_certificate_location: FilePath | None = Field(
        default=None, description="PEM client certificate, for brokers that require mutual TLS."
    )
    ssl_key_location: FilePath | None = Field(
        default=None, description="PEM private key of the client certificate."
    )
    ssl_key_password: SecretStr | None = None
    librdkafka: Annotated[dict[str, str | int | float | bool], NoDecode] = Field(
        default_factory=dict,
        description="Other librdkafka settings for every librdkafka client, as a JSON object.",
    )

    _parse_librdkafka = field_validator("librdkafka", mode="before")(_json_object)

    @field_validator("librdkafka")
    @classmethod
    def _passthrough_keys(
        cls, value: dict[str, str | int | float | bool]
    ) -> dict[str, str | int | float | bool]:
        for key in value:
            if not _LIBRDKAFKA_KEY.match(key):
                raise ValueError(f"{key!r} is not a librdkafka property name")
            if key in RESERVED_LIBRDKAFKA_KEYS or key.startswith("sasl."):
                raise ValueError(f"{key!r} is set by a typed setting or by dxpulse itself")
        return value

    @model_validator(mode="after")
    def _consistent_security(self) -> KafkaSettings:
        """Refuse settings that would silently not do what they say: credentials that are
        never sent, a SASL protocol without them, certificates over plaintext."""
        protocol = self.security_protocol
        sasl = (self.sasl_mechanism, self.sasl_username, self.sasl_password)
        if protocol.uses_sasl and None in sasl:
            raise ValueError(
                f"security_protocol {protocol} needs sasl_mechanism, sasl_username and "
                "sasl_password"
            )
        if not protocol.uses_sasl and any(v is not None for v in sasl):
            raise ValueError(f"sasl_* settings are set but security_protocol is {protocol}")
        tls = (self.ssl_ca_location, self.ssl_certificate_location, self.ssl_key_location)
        if not protocol.uses_tls and any(v is not None for v in tls):
            raise ValueError(f"ssl_* settings are set but security_protocol is {protocol}")
        if (self.ssl_certificate_location is None) != (self.ssl_key_location is None):
            raise ValueError("ssl_certificate_location and ssl_key_location go together")
        return self

    def topic(self, event_type: str) -> str:
        return f"{self.topic_prefix}.{event_type}"

    @property
    def event_topics(self) -> list[str]:
        return [self.topic(t) for t in EVENT_TYPES]

    @property
    def dead_letter_topic(self) -> str:
        return f"{self.topic_prefix}.deadletter"

    def servers(self) -> list[str]:
        if self.bootstrap_servers is None:
            raise ValueError("kafka.bootstrap_servers is not set")
        return [s.strip() for s in self.bootstrap_servers.split(",") if s.strip()]

    def client_config(self) -> dict[str, Any]:
        """librdkafka settings shared by every librdkafka client: the worker's consumer and
        dead-letter producer, the admin clients of `init`, `worker` and the topics, and the
        producers of `produce` and `run`. The one place they are derived."""
        conf: dict[str, Any] = {
            key: _librdkafka_value(value) for key, value in self.librdkafka.items()
        }
        conf.update(
            {
                "bootstrap.servers": ",".join(self.servers()),
                "security.protocol": str(self.security_protocol),
                # Through Python logging, so a down broker is one clear error, not a flood.
                "logger": logging.getLogger("librdkafka"),
            }
        )
        if self.sasl_mechanism is not None:
            conf["sasl.mechanism"] = str(self.sasl_mechanism)
        if self.sasl_username is not None:
            conf["sasl.username"] = self.sasl_username
        if self.sasl_password is not None:
            conf["sasl.password"] = self.sasl_password.get_secret_value()
        for key, path in (
            ("ssl.ca.location", self.ssl_ca_location),
            ("ssl.certificate.location", self.ssl_certificate_location),
            ("ssl.key.location", self.ssl_key_location),
        ):
            if path is not None:
                conf[key] = str(path)
        if self.ssl_key_password is not None:
            conf["ssl.key.password"] = self.ssl_key_password.get_secret_value()
        return conf

    def faust_config(self) -> dict[str, Any]:
        """``broker`` and ``broker_credentials`` for ``faust.App``: the same servers, protocol,
        mechanism, credentials and certificates as :meth:`client_config`, in the form Faust
        hands to aiokafka. (The librdkafka passthrough has no aiokafka equivalent.)"""
        import faust

        brokers = [f"kafka://{server}" for server in self.servers()]
        context = self._ssl_context() if self.security_protocol.uses_tls else None
        credentials: Any = None
        if self.security_protocol.uses_sasl:
            assert self.sasl_password is not None and self.sasl_mechanism is not None
            credentials = faust.SASLCredentials(
                username=self.sasl_username,
                password=self.sasl_password.get_secret_value(),
                mechanism=str(self.sasl_mechanism),
                ssl_context=context,
            )
        elif context is not None:
            credentials = faust.SSLCredentials(context)
        return {"broker": brokers, "broker_credentials": credentials}

    def _ssl_context(self) -> ssl.SSLContext:
        """Verify the brokers against the configured CA (else the system's), and present
        the client certificate when one is configured, as librdkafka does."""
        cafile = str(self.ssl_ca_location) if self.ssl_ca_location else None
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
        if self.ssl_certificate_location is not None and self.ssl_key_location is not None:
            password = self.ssl_key_password.get_secret_value() if self.ssl_key_password else None
            context.load_cert_chain(
                str(self.ssl_certificate_location), str(self.ssl_key_location), password
            )
        return context


def _librdkafka_value(value: str | int | float | bool) -> str:
    """librdkafka takes every property as a string; JSON booleans are its true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class ClickHouseSettings(BaseModel):
    dsn: str | None = Field(
        default=None,
        description=(
            "clickhouse-connect DSN, e.g. http://host:8123 or chdb:///path; "
            "unset means chDB under the data directory."
        ),
    )
    database: str = Field(default="dxpulse", pattern=IDENTIFIER)
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

    cluster: str | None = Field(
        default=None,
        pattern=IDENTIFIER,
        description=(
            "Cluster mode: the `remote_servers` cluster to create the tables on (Replicated "
            "engines, `ON CLUSTER` DDL, Distributed tables for reads); unset: one server."
        ),
    )
    # NoDecode: the environment gives JSON text, decoded (and checked) by _shard_list.
    shards: Annotated[list[list[str]], NoDecode] = Field(
        default_factory=list,
        description=(
            "Cluster mode: each shard's replica DSNs, in `remote_servers` order, as JSON, "
            'e.g. [["http://ch-s1-r1:8123","http://ch-s1-r2:8123"],["http://ch-s2-r1:8123"]]; '
            "workers insert into the shard a partition routes to."
        ),
    )

    @field_validator("shards", mode="before")
    @classmethod
    def _shard_list(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else []
            except json.JSONDecodeError as exc:
                raise ValueError(f"must be a JSON list of lists of DSNs ({exc.msg})") from None
        return value

    @field_validator("shards")
    @classmethod
    def _shard_dsns(cls, value: list[list[str]]) -> list[list[str]]:
        for number, replicas in enumerate(value, start=1):
            if not replicas:
                raise ValueError(f"shard {number} lists no replica")
            for dsn in replicas:
                scheme = dsn.split("://", 1)[0].lower() if "://" in dsn else ""
                if scheme not in ("http", "https"):
                    raise ValueError(f"shard {number}: a replica must be http:// or https://")
        return value

    @model_validator(mode="after")
    def _shards_need_a_cluster(self) -> ClickHouseSettings:
        if self.shards and not self.cluster:
            raise ValueError("shards are given but no cluster: set DXPULSE_CLICKHOUSE__CLUSTER")
        if self.cluster and not (self.dsn or "").lower().startswith(("http://", "https://")):
            raise ValueError(
                "cluster mode needs DXPULSE_CLICKHOUSE__DSN to name a server (http:// or "
                "https://): chDB has no cluster"
            )
        return self

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
    flush_interval_s: float = Field(
        default=0.25,
        gt=0,
        le=300,
        description=(
            "The longest an event waits in its batch before the flush that writes it starts "
            "(the sink thread writes one flush at a time, so at a high rate flushes are larger "
            "and further apart)."
        ),
    )
    flush_max_events: int = Field(
        default=20_000,
        ge=1,
        description=(
            "A flush starts once this many messages wait; consumption waits for the sink while "
            "twice as many do. Held events cost ~1 KB each: this bounds the worker's memory."
        ),
    )
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
    health_timeout_s: float = Field(
        default=30.0,
        ge=3,
        le=600,
        description="/health turns 503 at most this long after Kafka or ClickHouse is lost.",
    )
    log_reminder_s: float = Field(
        default=60.0,
        ge=1,
        le=3_600,
        description="While a failure lasts, how often its log line is repeated.",
    )
    stop_timeout_s: float = Field(
        default=8.0,
        ge=2,
        le=120,
        description="SIGTERM to exit at most this long, even with Kafka gone.",
    )

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


def redact_dsn(dsn: str) -> str:
    """A DSN fit for messages and logs: its password replaced by ``***``.

    Public, in the base layer: the worker's startup line, the readers and the CLI all name
    the ClickHouse they use, and none of them may print the secret."""
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", dsn)
