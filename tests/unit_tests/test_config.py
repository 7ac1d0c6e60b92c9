"""Settings from DXPULSE_* environment variables, and their flattening for child processes."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from dxpulse.core.config import (
    EVENT_TYPES,
    ClickHouseSettings,
    KafkaSettings,
    ProducerSettings,
    SaslMechanism,
    SecurityProtocol,
    Settings,
    StreamSettings,
    WebSettings,
)
from dxpulse.runner import settings_env


def test_defaults(clean_env):
    s = Settings()
    assert s.data_dir == Path("dxpulse-data")
    assert s.log_level == "WARNING"
    assert s.kafka.bootstrap_servers is None
    assert s.kafka.partitions == 8
    assert s.kafka.topic_prefix == "dxpulse"
    assert s.clickhouse.dsn is None
    assert s.clickhouse.database == "dxpulse"
    assert s.stream.window_seconds == 60
    assert s.producer.compression == "lz4"
    assert s.web.port == 6066


def test_env_overrides_top_level_and_nested_fields(clean_env):
    clean_env.setenv("DXPULSE_DATA_DIR", "/srv/dxpulse")
    clean_env.setenv("DXPULSE_LOG_LEVEL", "DEBUG")
    clean_env.setenv("DXPULSE_KAFKA__PARTITIONS", "24")
    clean_env.setenv("DXPULSE_KAFKA__BOOTSTRAP_SERVERS", "k1:9092,k2:9092")
    clean_env.setenv("DXPULSE_CLICKHOUSE__DSN", "http://ch:8123")
    clean_env.setenv("DXPULSE_STREAM__FLUSH_INTERVAL_S", "0.5")
    clean_env.setenv("DXPULSE_PRODUCER__COMPRESSION", "zstd")
    clean_env.setenv("DXPULSE_WEB__PORT", "7070")
    s = Settings()
    assert s.data_dir == Path("/srv/dxpulse")
    assert s.log_level == "DEBUG"
    assert s.kafka.partitions == 24
    assert s.kafka.bootstrap_servers == "k1:9092,k2:9092"
    assert s.kafka.topic_prefix == "dxpulse"  # untouched siblings keep their defaults
    assert s.clickhouse.dsn == "http://ch:8123"
    assert s.stream.flush_interval_s == 0.5
    assert s.producer.compression == "zstd"
    assert s.web.port == 7070


def test_env_names_are_case_insensitive(clean_env):
    clean_env.setenv("dxpulse_kafka__partitions", "3")
    assert Settings().kafka.partitions == 3


def test_variables_without_the_prefix_are_ignored(clean_env):
    clean_env.setenv("KAFKA__PARTITIONS", "3")
    clean_env.setenv("DXPULSE_NOT_A_SETTING", "x")
    assert Settings().kafka.partitions == 8


def test_explicit_arguments_beat_the_environment(clean_env):
    clean_env.setenv("DXPULSE_LOG_LEVEL", "DEBUG")
    assert Settings(log_level="ERROR").log_level == "ERROR"


@pytest.mark.parametrize(
    ("name", "value", "field"),
    [
        ("DXPULSE_KAFKA__PARTITIONS", "abc", "partitions"),
        ("DXPULSE_KAFKA__PARTITIONS", "0", "partitions"),
        ("DXPULSE_KAFKA__PARTITIONS", "5000", "partitions"),
        ("DXPULSE_KAFKA__TOPIC_PREFIX", "bad prefix!", "topic_prefix"),
        ("DXPULSE_LOG_LEVEL", "LOUD", "log_level"),
        ("DXPULSE_STREAM__WINDOW_SECONDS", "0", "window_seconds"),
        ("DXPULSE_STREAM__WINDOW_SECONDS", "7200", "window_seconds"),
        ("DXPULSE_STREAM__WINDOW_SECONDS", "7", "window_seconds"),
        ("DXPULSE_STREAM__FLUSH_INTERVAL_S", "-1", "flush_interval_s"),
        ("DXPULSE_PRODUCER__COMPRESSION", "brotli", "compression"),
        ("DXPULSE_WEB__PORT", "70000", "port"),
        ("DXPULSE_CLICKHOUSE__DATABASE", "1db", "database"),
    ],
)
def test_invalid_values_raise(clean_env, name, value, field):
    clean_env.setenv(name, value)
    with pytest.raises(ValidationError) as info:
        Settings()
    assert field in str(info.value)


def test_topics(clean_env):
    kafka = KafkaSettings(topic_prefix="vn")
    assert kafka.topic("mobile_money") == "vn.mobile_money"
    assert kafka.event_topics == [f"vn.{t}" for t in EVENT_TYPES]
    assert kafka.dead_letter_topic == "vn.deadletter"


def test_client_config_needs_a_broker():
    with pytest.raises(ValueError, match="bootstrap_servers"):
        KafkaSettings().client_config()


def test_client_config(clean_env):
    plain = KafkaSettings(bootstrap_servers="b:9092").client_config()
    assert plain["bootstrap.servers"] == "b:9092"
    assert plain["security.protocol"] == "PLAINTEXT"
    assert plain["logger"].name == "librdkafka"
    assert not any(k.startswith("sasl.") for k in plain)
    sasl = KafkaSettings(
        bootstrap_servers="b:9093",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="svc",
        sasl_password=SecretStr("s3cret"),
    ).client_config()
    assert sasl["sasl.mechanism"] == "SCRAM-SHA-512"
    assert sasl["sasl.username"] == "svc"
    assert sasl["sasl.password"] == "s3cret"
    assert sasl["security.protocol"] == "SASL_SSL"


def test_password_is_hidden_in_repr(clean_env):
    clean_env.setenv("DXPULSE_KAFKA__SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    clean_env.setenv("DXPULSE_KAFKA__SASL_MECHANISM", "SCRAM-SHA-256")
    clean_env.setenv("DXPULSE_KAFKA__SASL_USERNAME", "svc")
    clean_env.setenv("DXPULSE_KAFKA__SASL_PASSWORD", "hunter2")
    s = Settings()
    assert s.kafka.sasl_password is not None
    assert s.kafka.sasl_password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(s)


def test_clickhouse_dsn(tmp_path, clean_env):
    expected = f"chdb://{(tmp_path / 'clickhouse').resolve()}"
    assert Settings(data_dir=tmp_path).clickhouse_dsn() == expected
    explicit = Settings(clickhouse=ClickHouseSettings(dsn="http://ch:8123"))
    assert explicit.clickhouse_dsn() == "http://ch:8123"


def _full_settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        log_level="INFO",
        kafka=KafkaSettings(
            bootstrap_servers="a:1,b:2",
            topic_prefix="t.x-1",
            partitions=3,
            replication_factor=2,
            group_id="g",
            security_protocol="SASL_PLAINTEXT",
            sasl_mechanism="PLAIN",
            sasl_username="user",
            sasl_password=SecretStr("p w$'\"="),
        ),
        clickhouse=ClickHouseSettings(
            dsn="http://h:8123", database="db_1", username="u", password=SecretStr("pp")
        ),
        stream=StreamSettings(window_seconds=10, flush_interval_s=0.25, max_future_skew_s=0),
        producer=ProducerSettings(compression="zstd", linger_ms=0),
        web=WebSettings(host="0.0.0.0", port=7070),
    )


def test_settings_env_round_trips(tmp_path, clean_env):
    original = _full_settings(tmp_path)
    env = settings_env(original)
    assert all(name.startswith("DXPULSE_") for name in env)
    assert env["DXPULSE_KAFKA__PARTITIONS"] == "3"
    assert env["DXPULSE_KAFKA__SASL_PASSWORD"] == "p w$'\"="  # the child needs the secret
    for name, value in env.items():
        clean_env.setenv(name, value)
    assert Settings() == original


def test_settings_env_of_defaults_round_trips(tmp_path, clean_env):
    clean_env.chdir(tmp_path)
    original = Settings()
    env = settings_env(original)
    assert "DXPULSE_KAFKA__BOOTSTRAP_SERVERS" not in env  # None is left out, not "None"
    assert "DXPULSE_CLICKHOUSE__DSN" not in env
    # data_dir is made absolute, so a child with another working directory agrees
    assert env["DXPULSE_DATA_DIR"] == str(tmp_path.resolve() / "dxpulse-data")
    for name, value in env.items():
        clean_env.setenv(name, value)
    rebuilt = Settings()
    assert rebuilt.data_dir == original.data_dir.resolve()
    assert rebuilt.model_copy(update={"data_dir": original.data_dir}) == original


_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=16,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    bootstrap=st.none() | _text,
    group_id=_text,
    credentials=st.none() | st.tuples(_text, _text),
    host=_text,
    partitions=st.integers(1, 1024),
    flush=st.floats(0.001, 300),
    window=st.sampled_from([w for w in range(1, 3_601) if 3_600 % w == 0]),
)
def test_settings_env_round_trips_any_values(
    clean_env, bootstrap, group_id, credentials, host, partitions, flush, window
):
    sasl: dict[str, object] = {}
    if credentials is not None:
        sasl = {
            "security_protocol": SecurityProtocol.SASL_PLAINTEXT,
            "sasl_mechanism": SaslMechanism.SCRAM_SHA_512,
            "sasl_username": credentials[0],
            "sasl_password": SecretStr(credentials[1]),
        }
    original = Settings(
        data_dir=Path("/tmp/dxpulse-roundtrip"),
        kafka=KafkaSettings(
            bootstrap_servers=bootstrap, group_id=group_id, partitions=partitions, **sasl
        ),
        web=WebSettings(host=host),
        stream=StreamSettings(flush_interval_s=flush, window_seconds=window),
    )
    env = settings_env(original)
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        assert Settings() == original


@pytest.mark.parametrize("dsn", ["mysql://x", "x:8123", "clickhouse://h:9000", "postgres://u:pw@h"])
def test_a_dsn_of_another_scheme_is_refused_without_echoing_the_rest(clean_env, dsn):
    with pytest.raises(ValidationError) as refused:
        ClickHouseSettings(dsn=dsn)
    message = refused.value.errors()[0]["msg"]  # what the CLI prints after the field name
    assert "must start with http://, https:// or chdb://" in message
    assert "pw" not in message and "8123" not in message


@pytest.mark.parametrize("dsn", ["http://h:8123", "HTTPS://h", "chdb:///tmp/x"])
def test_the_known_schemes_pass(clean_env, dsn):
    assert ClickHouseSettings(dsn=dsn).dsn == dsn


def test_an_https_dsn_is_spoken_as_https():
    from dxpulse.clickhouse import client_options

    assert client_options("https://h") == {"interface": "https"}
    assert client_options("http://h:8123") == {"interface": "http"}
    assert client_options("chdb:///tmp/x") == {}


# -- Kafka security: typed, consistent, one derivation per client library -------------------


def _pem(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_text("-----BEGIN CERTIFICATE-----\n")
    return path


def test_security_protocol_and_mechanism_are_enums(clean_env):
    clean_env.setenv("DXPULSE_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    clean_env.setenv("DXPULSE_KAFKA__SASL_MECHANISM", "SCRAM-SHA-256")
    clean_env.setenv("DXPULSE_KAFKA__SASL_USERNAME", "svc")
    clean_env.setenv("DXPULSE_KAFKA__SASL_PASSWORD", "pw")
    kafka = Settings().kafka
    assert kafka.security_protocol is SecurityProtocol.SASL_SSL
    assert kafka.sasl_mechanism is SaslMechanism.SCRAM_SHA_256


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DXPULSE_KAFKA__SECURITY_PROTOCOL", "FOO"),
        ("DXPULSE_KAFKA__SECURITY_PROTOCOL", "plaintext"),  # librdkafka's names, exactly
        ("DXPULSE_KAFKA__SASL_MECHANISM", "GSSAPI"),
        ("DXPULSE_KAFKA__SSL_CA_LOCATION", "/nonexistent/ca.pem"),
        ("DXPULSE_KAFKA__LIBRDKAFKA", "socket.keepalive.enable=true"),
        ("DXPULSE_KAFKA__LIBRDKAFKA", '["a"]'),
        ("DXPULSE_KAFKA__LIBRDKAFKA", '{"Not A Key": "1"}'),
        ("DXPULSE_KAFKA__LIBRDKAFKA", '{"a.b": {"nested": 1}}'),
    ],
)
def test_invalid_kafka_values_name_their_field(clean_env, name, value):
    clean_env.setenv(name, value)
    with pytest.raises(ValidationError) as info:
        Settings()
    first = info.value.errors()[0]
    assert first["loc"][:2] == ("kafka", name.split("__")[1].lower())


@pytest.mark.parametrize(
    "key",
    ["bootstrap.servers", "security.protocol", "sasl.username", "sasl.password",
     "sasl.mechanism", "sasl.oauthbearer.config", "ssl.ca.location", "ssl.key.location",
     "ssl.certificate.location", "ssl.key.password", "group.id", "enable.auto.commit",
     "enable.auto.offset.store", "enable.idempotence", "isolation.level"],
)  # fmt: skip
def test_the_passthrough_refuses_keys_that_typed_settings_or_the_protocol_own(clean_env, key):
    clean_env.setenv("DXPULSE_KAFKA__LIBRDKAFKA", orjson.dumps({key: "x"}).decode())
    with pytest.raises(ValidationError, match="set by a typed setting or by dxpulse"):
        Settings()


def test_the_passthrough_reaches_every_librdkafka_client(clean_env):
    clean_env.setenv(
        "DXPULSE_KAFKA__LIBRDKAFKA",
        '{"socket.keepalive.enable": true, "fetch.wait.max.ms": 100, "client.rack": "hcm-1"}',
    )
    clean_env.setenv("DXPULSE_KAFKA__BOOTSTRAP_SERVERS", "b:9092")
    conf = Settings().kafka.client_config()
    assert conf["socket.keepalive.enable"] == "true"
    assert conf["fetch.wait.max.ms"] == "100"
    assert conf["client.rack"] == "hcm-1"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"security_protocol": "SASL_PLAINTEXT"}, "needs sasl_mechanism"),
        ({"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "sasl_username": "u"},
         "needs sasl_mechanism"),
        ({"sasl_username": "u", "sasl_password": SecretStr("p"), "sasl_mechanism": "PLAIN"},
         "security_protocol is PLAINTEXT"),
        ({"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN",
          "sasl_username": "u", "sasl_password": SecretStr("p"), "ssl_ca_location": "CA"},
         "ssl_\\* settings are set but security_protocol is SASL_PLAINTEXT"),
        ({"security_protocol": "SSL", "ssl_certificate_location": "CA"}, "go together"),
    ],
)  # fmt: skip
def test_security_settings_that_would_silently_do_nothing_are_refused(tmp_path, fields, message):
    ca = _pem(tmp_path, "ca.pem")
    fields = {k: (ca if v == "CA" else v) for k, v in fields.items()}
    with pytest.raises(ValidationError, match=message):
        KafkaSettings(bootstrap_servers="b:9092", **fields)


def test_tls_paths_reach_librdkafka(tmp_path):
    ca, cert, key = (_pem(tmp_path, n) for n in ("ca.pem", "client.pem", "client.key"))
    conf = KafkaSettings(
        bootstrap_servers="b:9093",
        security_protocol="SSL",
        ssl_ca_location=ca,
        ssl_certificate_location=cert,
        ssl_key_location=key,
        ssl_key_password=SecretStr("kp"),
    ).client_config()
    assert conf["security.protocol"] == "SSL"
    assert conf["ssl.ca.location"] == str(ca)
    assert conf["ssl.certificate.location"] == str(cert)
    assert conf["ssl.key.location"] == str(key)
    assert conf["ssl.key.password"] == "kp"


def test_faust_gets_every_broker_and_the_same_sasl_credentials():
    import faust
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    conf = KafkaSettings(
        bootstrap_servers="k1:9092, k2:9092",
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="svc",
        sasl_password=SecretStr("s3cret"),
    ).faust_config()
    assert conf["broker"] == ["kafka://k1:9092", "kafka://k2:9092"]
    creds = conf["broker_credentials"]
    assert isinstance(creds, faust.SASLCredentials)
    # What Faust hands to aiokafka's consumer and producer:
    assert credentials_to_aiokafka_auth(creds) == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "svc",
        "sasl_plain_password": "s3cret",
        "ssl_context": None,
    }


def test_faust_over_tls_verifies_with_the_configured_ca(tmp_path):
    import ssl

    import certifi  # clickhouse-connect's dependency: a real CA bundle to load
    import faust
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    ca = Path(certifi.where())
    plain_tls = KafkaSettings(bootstrap_servers="b:9093", security_protocol="SSL",
                              ssl_ca_location=ca).faust_config()  # fmt: skip
    creds = plain_tls["broker_credentials"]
    assert isinstance(creds, faust.SSLCredentials)
    auth = credentials_to_aiokafka_auth(creds)
    assert auth["security_protocol"] == "SSL"
    context = auth["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 0  # the CA file was loaded
    sasl_tls = KafkaSettings(
        bootstrap_servers="b:9093", security_protocol="SASL_SSL", ssl_ca_location=ca,
        sasl_mechanism="PLAIN", sasl_username="u", sasl_password=SecretStr("p"),
    ).faust_config()["broker_credentials"]  # fmt: skip
    assert credentials_to_aiokafka_auth(sasl_tls)["security_protocol"] == "SASL_SSL"


def test_plaintext_faust_has_no_credentials():
    conf = KafkaSettings(bootstrap_servers="b:9092").faust_config()
    assert conf == {"broker": ["kafka://b:9092"], "broker_credentials": None}


def test_security_settings_round_trip_through_the_environment(tmp_path, clean_env):
    ca = _pem(tmp_path, "ca.pem")
    original = Settings(
        kafka=KafkaSettings(
            bootstrap_servers="b:9093",
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-256",
            sasl_username="svc",
            sasl_password=SecretStr("pw"),
            ssl_ca_location=ca,
        )
    )
    env = settings_env(original)
    assert env["DXPULSE_KAFKA__SECURITY_PROTOCOL"] == "SASL_SSL"
    assert env["DXPULSE_KAFKA__SASL_MECHANISM"] == "SCRAM-SHA-256"
    for name, value in env.items():
        clean_env.setenv(name, value)
    assert Settings().kafka == original.kafka


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [("http://writer:s3cr:et@ch:8123/db", "http://writer:***@ch:8123/db"),
     ("https://ch:8443", "https://ch:8443"), ("chdb:///data/clickhouse", "chdb:///data/clickhouse")],
)  # fmt: skip
def test_a_dsn_is_shown_without_its_password(dsn: str, shown: str) -> None:
    from dxpulse.core.config import redact_dsn  # the base's one redaction (was clickhouse._redact)

    assert redact_dsn(dsn) == shown
