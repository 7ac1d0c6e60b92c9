"""Every Kafka client the worker and the producers open gets the same security settings.

Tansu (the embedded broker) answers SCRAM with "unknown-user" when started with
--authentication, but its memory store gets users only through `tansu user create`, which
cannot itself authenticate to such a broker; so no real SASL session can be opened here.
What is checked instead is the configuration each client is built from: librdkafka's
consumer, dead-letter producer, admin client and event producer, and the Faust app's
aiokafka clients (their broker list and credentials).
"""

from __future__ import annotations

from pathlib import Path

import faust
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from pydantic import SecretStr

from dxpulse.core.config import KafkaSettings, Settings
from dxpulse.producers.producer import producer_config
from dxpulse.streams.app import create_app
from dxpulse.streams.ingest import consumer_config, dead_letter_producer_config
from dxpulse.streams.status import WorkerStatus

SASL = {
    "security.protocol": "SASL_PLAINTEXT",
    "sasl.mechanism": "SCRAM-SHA-512",
    "sasl.username": "svc",
    "sasl.password": "s3cret",
    "bootstrap.servers": "k1:9092,k2:9092",
    "socket.keepalive.enable": "true",  # the passthrough, too
}


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        kafka=KafkaSettings(
            bootstrap_servers="k1:9092,k2:9092",
            security_protocol="SASL_PLAINTEXT",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_username="svc",
            sasl_password=SecretStr("s3cret"),
            librdkafka={"socket.keepalive.enable": True},
        ),
    )


def test_every_librdkafka_client_gets_the_security_settings(tmp_path):
    settings = _settings(tmp_path)
    for name, conf in {
        "worker consumer": consumer_config(settings),
        "dead-letter producer": dead_letter_producer_config(settings),
        "event producer": producer_config(settings),
        "admin": settings.kafka.client_config(),
    }.items():
        got = {key: conf.get(key) for key in SASL}
        assert got == SASL, name


def test_the_faust_app_gets_the_brokers_and_credentials(tmp_path):
    """Issue: the Faust half got only kafka://host:port and could not authenticate."""
    settings = _settings(tmp_path)
    app = create_app(settings, None, WorkerStatus())  # type: ignore[arg-type]
    assert [str(url) for url in app.conf.broker] == ["kafka://k1:9092", "kafka://k2:9092"]
    creds = app.conf.broker_credentials
    assert isinstance(creds, faust.SASLCredentials)
    # What Faust's aiokafka driver passes to its consumer and producer:
    auth = credentials_to_aiokafka_auth(creds)
    assert auth["security_protocol"] == "SASL_PLAINTEXT"
    assert auth["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (auth["sasl_plain_username"], auth["sasl_plain_password"]) == ("svc", "s3cret")


def test_the_worker_consumer_s_fetch_wait_is_the_setting(tmp_path, clean_env):
    """librdkafka's default 500 ms fetch wait cost freshness (issue 16): the worker asks
    for 50 ms unless DXPULSE_KAFKA__FETCH_WAIT_MAX_MS says otherwise."""
    clean_env.setenv("DXPULSE_KAFKA__BOOTSTRAP_SERVERS", "k1:9092")
    assert consumer_config(Settings(data_dir=tmp_path))["fetch.wait.max.ms"] == 50
    clean_env.setenv("DXPULSE_KAFKA__FETCH_WAIT_MAX_MS", "250")
    assert consumer_config(Settings(data_dir=tmp_path))["fetch.wait.max.ms"] == 250
