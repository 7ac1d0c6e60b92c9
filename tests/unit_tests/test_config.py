"""Settings from DXPULSE_* environment variables, and their flattening for child processes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from dxpulse.config import (
    EVENT_TYPES,
    ClickHouseSettings,
    KafkaSettings,
    ProducerSettings,
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
    username=st.none() | _text,
    password=st.none() | _text,
    host=_text,
    partitions=st.integers(1, 1024),
    flush=st.floats(0.001, 300),
    window=st.sampled_from([w for w in range(1, 3_601) if 3_600 % w == 0]),
)
def test_settings_env_round_trips_any_values(
    clean_env, bootstrap, group_id, username, password, host, partitions, flush, window
):
    original = Settings(
        data_dir=Path("/tmp/dxpulse-roundtrip"),
        kafka=KafkaSettings(
            bootstrap_servers=bootstrap,
            group_id=group_id,
            sasl_username=username,
            sasl_password=None if password is None else SecretStr(password),
            partitions=partitions,
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
