"""What `dxpulse worker` says before it runs: one startup line, or one error line."""

from __future__ import annotations

import socket
from pathlib import Path

from pydantic import SecretStr

from dxpulse.core.config import ClickHouseSettings, KafkaSettings, Settings, WebSettings
from dxpulse.streams.startup import startup_line
from tests.unit_tests.test_cli_errors import _assert_one_line_error, dxpulse


def test_web_port_in_use_is_one_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    """Issue: a taken --web-port was a 47-line traceback, after joining the group."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = dxpulse(
            tmp_path, "worker", "--web-port", str(port),
            DXPULSE_KAFKA__BOOTSTRAP_SERVERS="127.0.0.1:1",  # never reached: checked first
        )  # fmt: skip
    line = _assert_one_line_error(done)
    assert f"web port 127.0.0.1:{port} is already in use" in line
    assert "--web-port" in line


def test_the_startup_line_names_everything_and_hides_the_password(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        kafka=KafkaSettings(bootstrap_servers="k1:9092,k2:9092", partitions=6, group_id="g"),
        clickhouse=ClickHouseSettings(
            dsn="http://writer:hunter2@ch:8123", password=SecretStr("hunter2")
        ),
        web=WebSettings(port=7070),
    )
    line = startup_line(settings)
    assert "\n" not in line and "\x1b" not in line
    assert "hunter2" not in line
    for part in (
        "Kafka k1:9092,k2:9092 (PLAINTEXT)",
        "group g",
        "ClickHouse http://writer:***@ch:8123",
        "dxpulse.online_payment, dxpulse.ecommerce_order, dxpulse.mobile_money",
        "(6 partitions each)",
        "status http://127.0.0.1:7070/status",
    ):
        assert part in line, part
