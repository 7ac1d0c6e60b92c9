"""`dxpulse calibrate` on chDB: generated events pass every figure, skewed ones fail the
right ones, and the command's exit code and one-line verdict say so.

The events come from the real generator, go through the worker's validation
(``EventValidator.validate_flat``) and are written with the worker's own columns
(``streams.rows.event_columns``), as ``streams.sink`` writes them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from clickhouse_connect.driver.client import Client

from dxpulse.calibrate.compare import Result, compare_all
from dxpulse.calibrate.measure import measure
from dxpulse.calibrate.targets import load_targets
from dxpulse.cli import main
from dxpulse.core.config import Settings
from dxpulse.producers import calibration as cal
from dxpulse.producers.generator import EventGenerator
from dxpulse.schemas.flat import AMOUNT, AREA, EVENT_TYPE, FLAT_FIELDS, PROVINCE, FlatEvent
from dxpulse.schemas.validation import EventValidator, Rejection
from dxpulse.streams.rows import EVENT_COLUMNS, event_columns

# Enough of each type for every figure's minimum sample (100,000 payments for the ticket,
# 10,000 orders for cash on delivery, 8,500 Mobile Money customers ≈ 10,000 of their events),
# with some margin; spread over the past week in 10-minute steps, as a backfill spreads them.
SIZES = {"online_payment": 110_000, "ecommerce_order": 12_000, "mobile_money": 14_000}
STEPS = 1_008  # 10-minute steps over 7 days
PLATFORM = FLAT_FIELDS.index("platform")
ALL_REGIONS = {
    "region_share_northern_midlands_mountains",
    "region_share_red_river_delta",
    "region_share_north_central_central_coast",
    "region_share_central_highlands",
    "region_share_south_east",
    "region_share_mekong_delta",
}
BIG_CITIES = {"big_city_order_share", "big_city_value_share", "big_city_payment_share"}
# Figures a week of events cannot judge: growth needs 300 days, the rank correlation of
# value per head 200,000 events (the fixture has 136,000).
NOT_JUDGED = {
    "payment_count_growth",
    "payment_value_growth",
    "ecommerce_count_growth",
    "ecommerce_value_growth",
    "value_per_head_follows_ebi",
}
FIGURES = 31


# The module-scoped fixture below is set up once per xdist worker that runs a test of this
# module: the module runs on one worker (bin/test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("test_calibrate")


@pytest.fixture(scope="module")
def generated() -> list[FlatEvent]:
    gen = EventGenerator(seed=2024)
    validator = EventValidator()
    context = validator.context()
    start = datetime.now(UTC) - timedelta(days=7, hours=1)
    flats: list[FlatEvent] = []
    for event_type, total in SIZES.items():
        for step in range(STEPS):
            n = total * (step + 1) // STEPS - total * step // STEPS
            at = start + timedelta(minutes=10 * step)
            for chunk in gen.batch(at, n, event_type=event_type):
                for value in chunk.values:
                    flat = validator.validate_flat(value, event_type, context)
                    assert not isinstance(flat, Rejection), flat
                    flats.append(flat)
    assert len(flats) == sum(SIZES.values())
    return flats


def insert_events(client: Client, database: str, flats: Sequence[FlatEvent]) -> None:
    """Write events as the worker's sink does: its columns, column-oriented."""
    now_ms = int(time.time() * 1000)
    for start in range(0, len(flats), 50_000):
        chunk = flats[start : start + 50_000]
        columns = event_columns(chunk, 0, range(start, start + len(chunk)), [now_ms] * len(chunk))
        client.insert(
            f"{database}.events", columns, column_names=list(EVENT_COLUMNS), column_oriented=True
        )


def calibrate(client: Client, database: str) -> list[Result]:
    return compare_all(load_targets(), measure(client, database))


def run_cli(monkeypatch: pytest.MonkeyPatch, settings: Settings, *args: str) -> int:
    """`dxpulse calibrate` in this process (chDB allows one data path per process)."""
    monkeypatch.setenv("DXPULSE_CLICKHOUSE__DATABASE", settings.clickhouse.database)
    monkeypatch.setenv("COLUMNS", "250")
    with pytest.raises(SystemExit) as exited:
        main(["calibrate", "--clickhouse-dsn", settings.clickhouse_dsn(), *args])
    code = exited.value.code
    assert isinstance(code, int)
    return code


def test_generated_events_pass_every_figure(
    ch: Client, settings: Settings, generated: list[FlatEvent]
) -> None:
    db = settings.clickhouse.database
    insert_events(ch, db, generated)
    results = calibrate(ch, db)
    failed = {r.target.spec.id: r.reason for r in results if r.failed}
    assert failed == {}
    assert {r.target.spec.id for r in results if not r.judged} == NOT_JUDGED
    by_id = {r.target.spec.id: r for r in results}
    assert by_id["mobile_money_rural_customers"].sample > 8_500
    assert by_id["online_payment_median_ticket"].sample == SIZES["online_payment"]
    assert by_id["provinces_present"].measured == 63
    assert by_id["province_distance_from_model"].measured is not None
    assert 0 < by_id["province_distance_from_model"].measured < 3
    assert by_id["rural_urban_payment_ticket"].judged
    for r in results:  # the values, for whoever reads the test log (-s)
        print(f"{r.target.spec.id:45} {r.measured!s:>22} {r.sample:>8,}")


def test_the_command_passes_and_exits_0(
    ch: Client,
    settings: Settings,
    generated: list[FlatEvent],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    insert_events(ch, settings.clickhouse.database, generated)
    code = run_cli(monkeypatch, settings)
    table = capsys.readouterr()
    assert code == 0, table.err
    assert table.err == ""
    judged = FIGURES - len(NOT_JUDGED)
    words = " ".join(table.out.split())  # the summary may wrap
    assert f"{judged} of {FIGURES} calibration figures pass; {len(NOT_JUDGED)} not judged" in words
    assert table.out.count("PASS") == judged
    # One word: a narrow console wraps the cell "SAMPLE TOO SMALL: <reason>" between words.
    assert table.out.count("SAMPLE") == len(NOT_JUDGED)
    assert "FAIL" not in table.out
    code = run_cli(monkeypatch, settings, "--format", "json")
    out = orjson.loads(capsys.readouterr().out)
    assert code == 0
    assert out["passed"] is True
    assert out["table"] == f"{settings.clickhouse.database}.events"
    assert {f["result"] for f in out["figures"]} == {"PASS", "SAMPLE TOO SMALL"}
    assert len(out["figures"]) == FIGURES


# --- Clearly wrong data fails the figures it breaks, and only those ----------------------------

Skew = Callable[[list[FlatEvent]], list[FlatEvent]]


def _replace(flat: FlatEvent, index: int, value: object) -> FlatEvent:
    edited = list(flat)
    edited[index] = value
    return tuple(edited)  # type: ignore[return-value]


def _mobile_money_all_urban(flats: list[FlatEvent]) -> list[FlatEvent]:
    return [_replace(f, AREA, "urban") if f[EVENT_TYPE] == "mobile_money" else f for f in flats]


def _one_platform(flats: list[FlatEvent]) -> list[FlatEvent]:
    return [
        _replace(f, PLATFORM, "shopee") if f[EVENT_TYPE] == "ecommerce_order" else f for f in flats
    ]


def _all_in_hanoi(flats: list[FlatEvent]) -> list[FlatEvent]:
    return [_replace(f, PROVINCE, "01") for f in flats]


def _tickets_a_year_too_small(flats: list[FlatEvent]) -> list[FlatEvent]:
    # As if the yearly ticket trend (×0.63) were applied twice.
    def shrunk(amount: int) -> int:
        return max(1_000, int(round(amount * cal.TICKET_TREND_PER_YEAR, -3)))

    return [
        _replace(f, AMOUNT, shrunk(f[AMOUNT])) if f[EVENT_TYPE] == "online_payment" else f
        for f in flats
    ]


@pytest.mark.parametrize(
    ("skew", "should_fail"),
    [
        (_mobile_money_all_urban, {"mobile_money_rural_customers"}),
        (
            _one_platform,
            {"platform_share_shopee", "platform_share_tiktok_shop", "platform_share_lazada"},
        ),
        (
            _all_in_hanoi,
            {*ALL_REGIONS, *BIG_CITIES, "province_distance_from_model", "provinces_present"},
        ),
        (
            _tickets_a_year_too_small,
            {"online_payment_median_ticket", "online_payment_mean_ticket"},
        ),
    ],
    ids=["mobile-money-all-urban", "one-platform", "all-in-hanoi", "tickets-too-small"],
)
def test_skewed_data_fails_the_figures_it_breaks(
    ch: Client,
    settings: Settings,
    generated: list[FlatEvent],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    skew: Skew,
    should_fail: set[str],
) -> None:
    db = settings.clickhouse.database
    insert_events(ch, db, skew(generated))
    results = calibrate(ch, db)
    failed = {r.target.spec.id for r in results if r.failed}
    assert failed == should_fail
    assert all(r.reason.startswith("off by") for r in results if r.failed)
    code = run_cli(monkeypatch, settings)
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1
    start = f"dxpulse: error: {len(should_fail)} of {FIGURES} calibration figures fail: "
    assert err.startswith(start)
    assert set(err.split(";")[0].removeprefix(start).split(", ")) == should_fail


def test_a_province_code_outside_the_63_fails(ch: Client, settings: Settings) -> None:
    db = settings.clickhouse.database
    chunks = EventGenerator(seed=5).batch(datetime.now(UTC), 20_000, event_type="ecommerce_order")
    validator = EventValidator()
    rows = [validator.validate_flat(v) for chunk in chunks for v in chunk.values]
    insert_events(ch, db, [r for r in rows if not isinstance(r, Rejection)])
    # The worker never writes such a code; another writer to the table might.
    ch.command(f"INSERT INTO {db}.events SELECT * REPLACE ('99' AS province_code) "
               f"FROM {db}.events LIMIT 7")  # fmt: skip
    by_id = {r.target.spec.id: r for r in calibrate(ch, db)}
    unknown = by_id["unknown_province_events"]
    assert (unknown.passed, unknown.measured, unknown.sample) == (False, 7, 20_007)
    assert unknown.reason == "off by +7, allowed exact"
    assert by_id["provinces_present"].measured == 63


def test_a_small_sample_is_insufficient_not_a_pass(
    ch: Client, settings: Settings, generated: list[FlatEvent]
) -> None:
    db = settings.clickhouse.database
    insert_events(ch, db, generated[::20])  # 5% of each type: on target, far too few
    by_id = {r.target.spec.id: r for r in calibrate(ch, db)}
    median = by_id["online_payment_median_ticket"]
    assert not median.passed and not median.judged
    assert median.reason == "insufficient sample: 5,500 payments, needs 100,000"
    assert by_id["unknown_province_events"].passed  # needs any data at all, and has it


# --- As users run it: a process of its own, with its own chDB ----------------------------------


def dxpulse(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("DXPULSE_")}
    return subprocess.run(
        [sys.executable, "-m", "dxpulse", *args, "--clickhouse-dsn", f"chdb://{data}"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "COLUMNS": "250", "NO_COLOR": "1"},
        stdin=subprocess.DEVNULL,
    )


def test_the_command_on_an_empty_table_judges_no_figure_and_exits_0(
    tmp_path: Path,
) -> None:
    data = tmp_path / "chdb"
    missing = dxpulse("calibrate", data=data)
    assert missing.returncode == 1
    assert missing.stderr == (
        f"dxpulse: error: no dxpulse schema in {data}: run `dxpulse migrate` or `dxpulse run`\n"
    )
    assert not data.exists()  # a read creates nothing
    assert dxpulse("migrate", data=data).returncode == 0
    # Not judged is its own verdict and never a failure: only FAIL sets the exit code.
    empty = dxpulse("calibrate", data=data)
    assert empty.returncode == 0, empty.stderr
    assert empty.stderr == ""
    assert (
        f"no calibration figure could be judged: the sample is too small for all {FIGURES}"
        in empty.stdout
    )
    assert empty.stdout.count("SAMPLE TOO SMALL: no data") == FIGURES
    as_json = dxpulse("calibrate", "--format", "json", data=data)
    assert as_json.returncode == 0
    out = orjson.loads(as_json.stdout)
    assert out["passed"] is True
    assert {f["reason"] for f in out["figures"]} >= {"no data: no customers", "no data: no orders"}
    assert all(f["measured"] is None and f["result"] == "SAMPLE TOO SMALL" for f in out["figures"])


def test_the_verdict_is_printed_once(tmp_path: Path) -> None:
    data = tmp_path / "chdb"
    assert dxpulse("migrate", data=data).returncode == 0
    verdict = "no calibration figure could be judged"
    table = dxpulse("calibrate", data=data)
    assert table.returncode == 0 and table.stderr == ""
    assert table.stdout.count(verdict) == 1
    as_json = dxpulse("calibrate", "--format", "json", data=data)
    assert as_json.returncode == 0 and as_json.stderr == ""
    assert as_json.stdout.count(verdict) == 1  # in the JSON's summary only
