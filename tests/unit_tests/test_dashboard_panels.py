"""What the committed dashboards show people: names, units, axes, legends and layout.

Each test reads the committed JSON (what Grafana provisions and `dxpulse report` reads),
so a defect in it fails here even if the code that built it looks right.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from dxpulse.dashboards import build, labels, query
from dxpulse.schemas.labels import LABELS
from tests.unit_tests.test_dashboards_build import ROOT, committed_dashboards

JSON = dict[str, Any]
DASHBOARDS = committed_dashboards()
PANELS = [(uid, p) for uid, d in DASHBOARDS.items() for p in d["panels"]]
IDS = [f"{uid}:{p['title']}" for uid, p in PANELS]


def panel(uid: str, title: str) -> JSON:
    (found,) = (p for p in DASHBOARDS[uid]["panels"] if p["title"] == title)
    return found


def overrides(p: JSON) -> dict[str, dict[str, Any]]:
    """byName column -> {property id: value}."""
    return {
        o["matcher"]["options"]: {prop["id"]: prop["value"] for prop in o["properties"]}
        for o in p.get("fieldConfig", {}).get("overrides", [])
        if o["matcher"]["id"] == "byName"
    }


def unit_of(p: JSON, column: str) -> str | None:
    unit = overrides(p).get(column, {}).get("unit")
    return unit or p.get("fieldConfig", {}).get("defaults", {}).get("unit")


def aliases(sql: str) -> list[str]:
    """The column names a query returns: its top-level SELECT list (lines before the first
    line that starts with FROM), each item's alias or bare name."""
    lines = sql.splitlines()
    end = next(i for i, line in enumerate(lines) if line.startswith("FROM"))
    select = " ".join(lines[:end]).removeprefix("SELECT ")
    items, depth, current = [], 0, ""
    for char in select:
        depth += {"(": 1, ")": -1, "[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += char
    items.append(current)
    return [re.split(r"\bAS\s+", item.strip())[-1].strip() for item in items]


# -- the ClickHouse plugin's query model ------------------------------------------------------
def test_targets_use_the_plugins_query_types_and_the_compose_stacks_version() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text("utf-8"))
    plugins = compose["services"]["grafana"]["environment"]["GF_INSTALL_PLUGINS"]
    installed = dict(p.strip().split(" ") for p in plugins.split(","))
    assert installed[query.PLUGIN_ID] == query.PLUGIN_VERSION
    for uid, p in PANELS:
        for target in p["targets"]:
            assert target["pluginVersion"] == installed[query.PLUGIN_ID], (uid, p["title"])
            # src/types/sql.ts: QueryType.TimeSeries = 'timeSeries'
            expected = "timeSeries" if p["type"] == "timeseries" else "table"
            assert target["queryType"] == expected, (uid, p["title"])


# -- legends and slice labels -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("uid", "title"),
    [
        ("dxpulse-ecommerce", "Order status"),
        ("dxpulse-ecommerce", "Cash on delivery vs online payment"),
        ("dxpulse-mobile-money", "Transaction mix"),
    ],
)
def test_donuts_name_their_slices_and_show_a_legend(uid: str, title: str) -> None:
    options = panel(uid, title)["options"]
    assert options["pieType"] == "donut"
    assert options["legend"]["showLegend"] is True
    assert {"name", "percent"} <= set(options["displayLabels"])


def test_every_donut_is_one_of_those() -> None:
    donuts = {(uid, p["title"]) for uid, p in PANELS if p["type"] == "piechart"}
    assert len(donuts) == 3
    for uid, title in donuts:
        assert panel(uid, title)["options"]["legend"]["showLegend"] is True


def test_bars_of_several_series_show_their_legend() -> None:
    several = [
        (uid, p) for uid, p in PANELS
        if p["type"] == "barchart" and len(aliases(p["targets"][0]["rawSql"])) > 2
    ]  # fmt: skip
    titles = {p["title"] for _, p in several}
    assert {"Rural vs urban by channel", "Platform shares", "Channel mix: rural vs urban"} <= titles
    for _, p in several:
        assert p["options"]["legend"]["showLegend"] is True, p["title"]


# -- units ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("uid", "p"), PANELS, ids=IDS)
def test_money_columns_are_shown_in_vnd(uid: str, p: JSON) -> None:
    """A column named *_vnd holds VND: Grafana must show it as currency, not `short`."""
    if p["type"] == "geomap":
        return  # the markers' size, not a printed number
    for column in aliases(p["targets"][0]["rawSql"]):
        if column.endswith("_vnd"):
            assert unit_of(p, column) == "currencyVND", (p["title"], column)


def test_today_vs_yesterday_shows_the_change_as_a_percentage() -> None:
    p = panel("dxpulse-overview", "Today vs yesterday")
    sql = p["targets"][0]["rawSql"]
    assert "vnd_today / vnd_yesterday - 1, NULL) AS vnd_change" in sql  # a ratio, 0.15 = 15%
    assert unit_of(p, "vnd_change") == "percentunit"


# -- axes start at zero -----------------------------------------------------------------------
def _share_columns(p: JSON) -> list[str]:
    return [c for c in aliases(p["targets"][0]["rawSql"]) if c.endswith(("_share", "_rate"))]


@pytest.mark.parametrize(("uid", "p"), PANELS, ids=IDS)
def test_shares_run_from_0_to_1_and_tickets_from_0(uid: str, p: JSON) -> None:
    defaults = p.get("fieldConfig", {}).get("defaults", {})
    shares = _share_columns(p)
    if shares and all(unit_of(p, c) == "percentunit" for c in shares) and p["type"] != "stat":
        assert (defaults.get("min"), defaults.get("max")) == (0, 1), p["title"]
    if "ticket" in p["title"].lower():
        assert defaults.get("min") == 0, p["title"]


def test_the_share_and_ticket_panels_are_found() -> None:
    """The rule above is not vacuous: these panels are among those it checks."""
    shares = {p["title"] for _, p in PANELS if _share_columns(p) and p["type"] != "stat"}
    assert {
        "Platform shares",
        "Cash on delivery: rural vs urban",
        "Mobile Money rural share by region",
        "Mobile Money rural share vs 72% reference",
        "E-commerce: cashless share vs cash on delivery",
        "Rural penetration by region",
    } <= shares
    tickets = {p["title"] for _, p in PANELS if "ticket" in p["title"].lower()}
    assert len(tickets) >= 4


# -- filters ----------------------------------------------------------------------------------
FILTERED = {"region": "region", "province": "province_code", "area": "area"}


@pytest.mark.parametrize("p", DASHBOARDS["dxpulse-trends"]["panels"], ids=lambda p: p["title"])
def test_trends_panels_take_each_place_variable_or_say_why_not(p: JSON) -> None:
    sql, description = p["targets"][0]["rawSql"], p["description"]
    for variable in FILTERED:
        if f"${variable})" not in sql:
            assert f"{variable} variable" in description or "variables do not apply" in (
                description
            ), (p["title"], variable)


def test_trends_filters_by_place_where_its_tables_can() -> None:
    # Panels on the rollups (which have the place columns) take region and province.
    on_rollups = [
        p for p in DASHBOARDS["dxpulse-trends"]["panels"]
        if re.search(r"\bFROM (event_aggregates_\w+|province_daily)", p["targets"][0]["rawSql"])
    ]  # fmt: skip
    assert len(on_rollups) >= 8
    for p in on_rollups:
        sql = p["targets"][0]["rawSql"]
        assert "$region)" in sql and "$province)" in sql, p["title"]


# -- freshness --------------------------------------------------------------------------------
def test_freshness_returns_no_row_without_events() -> None:
    # max() over no rows is 1970: the stat would read ~56 years. No row reads "No data".
    p = panel("dxpulse-pipeline-health", "Freshness, rate, dead letters, lag")
    assert p["targets"][0]["rawSql"].rstrip().endswith("HAVING count() > 0")


# -- layout -----------------------------------------------------------------------------------
@pytest.mark.parametrize("uid", sorted(committed_dashboards(prometheus=True)))
def test_panels_tile_the_24_column_grid_without_holes_or_overlaps(uid: str) -> None:
    data = committed_dashboards(prometheus=True)[uid]
    cells: dict[tuple[int, int], str] = {}
    for p in data["panels"]:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24, p["title"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{p['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = p["title"]
    bottom = max(y for _, y in cells) + 1
    holes = sorted((x, y) for x in range(24) for y in range(bottom) if (x, y) not in cells)
    assert holes == [], f"{uid}: empty grid cells, first at {holes[:1]}"


# -- names, not codes -------------------------------------------------------------------------
CODE_COLUMNS = set(LABELS) - {"unit_2025_code"}  # unit names come from the provinces table


@pytest.mark.parametrize(("uid", "p"), PANELS, ids=IDS)
def test_no_panel_returns_a_code_column_as_is(uid: str, p: JSON) -> None:
    """A dimension column is returned through its label (``..._name``), never raw."""
    sql = p["targets"][0]["rawSql"]
    select = sql.split("FROM", 1)[0]
    for column in CODE_COLUMNS:
        bare = re.search(rf"(SELECT|,)\s*{column}\s*(,|$)", select, re.MULTILINE)
        assert not bare, f"{p['title']}: {column} returned as a code"
        assert not re.search(rf"\S+ AS {column}\b", select), f"{p['title']}: {column} as a code"


def test_variables_show_names_and_send_codes() -> None:
    for data in DASHBOARDS.values():
        for variable in build.variables(data):
            if variable["name"] in ("event_type", "area"):
                options = [o.split(" : ") for o in variable["query"].split(",")]
                assert options == [[n, c] for c, n in LABELS[variable["name"]].items()]
            if variable["name"] == "region":
                # The plugin takes the first column as the value, the second as the text.
                assert variable["query"].startswith(
                    f"SELECT DISTINCT region, {labels.label_expr('region')} AS region_name"
                )


def test_label_sql_is_generated_from_the_label_table() -> None:
    expr = labels.label_sql("area")
    assert expr == "transform(area, ['urban', 'rural'], ['Urban', 'Rural'], area) AS area_name"
    assert labels.quote("O'Reilly \\ x") == "'O\\'Reilly \\\\ x'"
    with pytest.raises(ValueError, match="shadow"):
        labels.label_sql("region", "region")


@pytest.mark.parametrize(
    ("uid", "p"),
    [(uid, p) for uid, p in PANELS if p["type"] in ("stat", "table")],
    ids=[f"{uid}:{p['title']}" for uid, p in PANELS if p["type"] in ("stat", "table")],
)
def test_stats_and_tables_name_every_column(uid: str, p: JSON) -> None:
    """A stat titles each number, a table heads each column, with the column's name:
    without a displayName people read `online_payment` or `gmv_total_vnd`."""
    names = {c: props.get("displayName") for c, props in overrides(p).items()}
    for column in aliases(p["targets"][0]["rawSql"]):
        assert names.get(column), (p["title"], column)
        assert names[column] not in LABELS["event_type"], (p["title"], column)
