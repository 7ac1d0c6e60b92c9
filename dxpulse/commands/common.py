"""What the commands share: the consoles, the common options, settings from the
environment under the options, and the one-line failures."""

from __future__ import annotations

import logging
import re
import secrets
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from dxpulse.core.config import Settings
from dxpulse.core.durations import DurationError, parse_duration
from dxpulse.core.errors import DxpulseError

console = Console()
err_console = Console(stderr=True)



_BARE_NUMBER = re.compile(r"\d+(?:\.\d+)?")


class Duration(click.ParamType):
    """A duration like 90, 90s, 5m, 1.5h or 2d (seconds when no unit is given).

    With ``unit_required``, a bare number is refused: a backfill span of ``7`` would be
    seven seconds to `--duration`'s reading and seven days to many a reader."""

    name = "duration"

    def __init__(self, unit_required: bool = False) -> None:
        self.unit_required = unit_required

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float | int) and not self.unit_required:
            return float(value)
        text = "".join(str(value).split())  # "10 s" as "10s", as before
        if self.unit_required and _BARE_NUMBER.fullmatch(text):
            self.fail(f"{value!r} needs a unit: 12h, 7d or 30d", param, ctx)
        try:
            seconds = parse_duration(text, default_unit="s")
        except DurationError:
            seconds = 0.0
        if seconds <= 0:
            self.fail(f"{value!r} is not a duration such as 30s, 5m or 1h", param, ctx)
        return seconds


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with the CLI's explicit options on top."""
    settings = Settings()
    top: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {}
    for key, value in overrides.items():
        if value is None:
            continue
        if "__" in key:
            section, field = key.split("__", 1)
            sections.setdefault(section, {})[field] = value
        else:
            top[key] = value
    for section, values in sections.items():
        # Validated below as part of Settings, so errors name the section (grafana.url).
        top[section] = {**getattr(settings, section).model_dump(), **values}
    settings = Settings.model_validate({**settings.model_dump(), **top})
    # librdkafka repeats connection failures many times a second; its errors reach the user
    # as exceptions or consumer errors instead. DEBUG shows them all.
    logging.getLogger("librdkafka").setLevel(
        logging.DEBUG if settings.log_level == "DEBUG" else logging.CRITICAL
    )
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return settings


data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where embedded chDB data and worker logs live "
    "[env DXPULSE_DATA_DIR; default: ./dxpulse-data].",
)
bootstrap_option = click.option(
    "--bootstrap-servers",
    metavar="HOST:PORT[,..]",
    help="Kafka bootstrap servers [env DXPULSE_KAFKA__BOOTSTRAP_SERVERS].",
)
dsn_option = click.option(
    "--clickhouse-dsn",
    metavar="DSN",
    help="ClickHouse DSN, e.g. http://host:8123 "
    "[env DXPULSE_CLICKHOUSE__DSN; default: chDB in --data-dir].",
)
bench_dsn_option = click.option(
    "--clickhouse-dsn",
    metavar="DSN",
    help="ClickHouse DSN, e.g. http://host:8123 "
    "[env DXPULSE_CLICKHOUSE__DSN; default: a chDB store per worker under --output].",
)
seed_option = click.option(
    "--seed",
    type=int,
    help="Seed of the random draws [default: a random one, printed]. The same seed draws the "
    "same customers, amounts and mix again (the mix follows the hour of the week); event ids "
    "also depend on when the run starts and on each event's time, so a repeat never re-sends "
    "an earlier run's ids.",
)
_RANDOM_SEEDS = 100_000_000  # a default seed has at most 8 digits: easy to type back


def announce_seed(seed: int | None) -> int:
    """The seed to use (random when not given), printed so that the run can be repeated."""
    if seed is None:
        seed = secrets.randbelow(_RANDOM_SEEDS)
    console.print(f"seed {seed} — repeat with --seed {seed}")
    return seed


BACKFILL_SPAN = Duration(unit_required=True)


def note(text: str) -> None:
    """One line on stderr that is not an error: where a read went, how a column reads."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def require_kafka(settings: Settings) -> Settings:
    if not settings.kafka.bootstrap_servers:
        raise DxpulseError(
            "no Kafka configured: pass --bootstrap-servers or set "
            "DXPULSE_KAFKA__BOOTSTRAP_SERVERS (or use `dxpulse run`, which embeds a broker)"
        )
    return settings
