"""Panel and variable builders shared by the dashboards: one look, one datasource, one filter."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol, Self, TypeVar

from grafana_foundation_sdk.builders import (
    barchart,
    bargauge,
    dashboard,
    geomap,
    piechart,
    stat,
    table,
    timeseries,
)
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import piechart as piechart_models

from dxpulse.dashboards.labels import label_expr
from dxpulse.dashboards.query import PLUGIN_ID, ClickHouseQueryBuilder
from dxpulse.schemas.labels import LABELS

# Column each template variable filters, per table alias-free query.
FILTER_COLUMNS = {
    "region": "region",
    "province": "province_code",
    "area": "area",
    "event_type": "event_type",
}


@dataclass(frozen=True)
class BuildContext:
    datasource_uid: str = "dxpulse-clickhouse"
    window_seconds: int = 60

    @property
    def datasource(self) -> dm.DataSourceRef:
        return dm.DataSourceRef(type_val=PLUGIN_ID, uid=self.datasource_uid)


def sql(template: str, **parts: str) -> str:
    """Dedent ``template`` and fill its ``{name}`` placeholders with ``parts``.

    A multi-line part is indented like the line its placeholder sits on, so the SQL reads
    well in Grafana's editor. Only the named placeholders are touched: the template may hold
    other braces (``${var:singlequote}``).
    """
    lines = []
    for line in textwrap.dedent(template).strip().splitlines():
        indent = " " * (len(line) - len(line.lstrip()))
        for name, value in parts.items():
            key = "{" + name + "}"
            if key in line:
                filled = textwrap.dedent(value).strip().replace("\n", "\n" + indent)
                line = line.replace(key, filled)
        lines.append(line)
    return "\n".join(lines)


def filters(*variables: str, prefix: str = "", columns: dict[str, str] | None = None) -> str:
    """`AND`-joined conditions, each dropped to 1=1 by the plugin when its variable is All."""
    parts = []
    for var in variables:
        column = prefix + (columns or {}).get(var, FILTER_COLUMNS[var])
        parts.append(f"$__conditionalAll({column} IN (${{{var}:singlequote}}), ${var})")
    return "\nAND ".join(parts)


# The per-minute rollups (ecommerce_minute, mobile_money_minute), filtered by place.
MINUTE_ROLLUP_WHERE = sql(
    """
    $__timeFilter(minute)
    AND {filters}""",
    filters=filters("region", "province", "area"),
)


class _Overridable(Protocol):
    def override_by_name(self, name: str, properties: list[dm.DynamicConfigValue]) -> Self: ...


P = TypeVar("P", bound=_Overridable)


def fields(
    panel: P,
    names: Mapping[str, str],
    units: Mapping[str, str] | None = None,
    extra: Mapping[str, list[dm.DynamicConfigValue]] | None = None,
) -> P:
    """One byName override per column: the name people read (legends, stat titles, table
    headers show column names otherwise), its unit where it differs from the panel's, and
    any ``extra`` properties. One per column, because `dxpulse report` reads the last."""
    units, extra = units or {}, extra or {}
    for column in dict.fromkeys([*names, *units, *extra]):
        properties = list(extra.get(column, []))
        if column in names:
            properties.append(dm.DynamicConfigValue(id_val="displayName", value=names[column]))
        if column in units:
            properties.append(dm.DynamicConfigValue(id_val="unit", value=units[column]))
        panel = panel.override_by_name(column, properties)
    return panel


# -- template variables -----------------------------------------------------------------------
def _all() -> dm.VariableOption:
    return dm.VariableOption(selected=True, text="All", value="$__all")


def region_variable(ctx: BuildContext) -> dashboard.QueryVariable:
    return (
        dashboard.QueryVariable("region")
        .label("Region")
        .description("GSO socio-economic region")
        .datasource(ctx.datasource)
        # Two columns: the plugin takes the first as the value (the code the panels filter
        # on) and the second as the text people pick from.
        .query(
            f"SELECT DISTINCT region, {label_expr('region')} AS region_name "
            "FROM provinces ORDER BY region_name"
        )
        .refresh(dm.VariableRefresh.ON_DASHBOARD_LOAD)
        .multi(True)
        .include_all(True)
        .current(_all())
    )


def province_variable(ctx: BuildContext) -> dashboard.QueryVariable:
    # Two columns: the plugin takes the first as the value and the second as the text.
    return (
        dashboard.QueryVariable("province")
        .label("Province")
        .description("One of the 63 provinces (GSO code); narrowed by the region")
        .datasource(ctx.datasource)
        .query(
            "SELECT code, name_vi FROM provinces "
            "WHERE $__conditionalAll(region IN (${region:singlequote}), $region) "
            "ORDER BY name_vi"
        )
        .refresh(dm.VariableRefresh.ON_DASHBOARD_LOAD)
        .multi(True)
        .include_all(True)
        .current(_all())
    )


def _custom_values(dimension: str) -> str:
    """Grafana's custom-variable options, "Name : code,...": the name shown, the code sent."""
    return ",".join(f"{name} : {code}" for code, name in LABELS[dimension].items())


def event_type_variable() -> dashboard.CustomVariable:
    return (
        dashboard.CustomVariable("event_type")
        .label("Event type")
        .values(_custom_values("event_type"))
        .multi(True)
        .include_all(True)
        .current(_all())
    )


def area_variable() -> dashboard.CustomVariable:
    return (
        dashboard.CustomVariable("area")
        .label("Area")
        .values(_custom_values("area"))
        .multi(True)
        .include_all(True)
        .current(_all())
    )


def window_variable(ctx: BuildContext) -> dashboard.ConstantVariable:
    # Must equal the workers' DXPULSE_STREAM__WINDOW_SECONDS: event_aggregates may hold
    # more than one window size, and summing across sizes would count events twice.
    return (
        dashboard.ConstantVariable("window_seconds")
        .value(str(ctx.window_seconds))
        .description("Window size of event_aggregates (DXPULSE_STREAM__WINDOW_SECONDS)")
    )


# -- panels -----------------------------------------------------------------------------------
def _target(ctx: BuildContext, query: str, series: bool) -> ClickHouseQueryBuilder:
    target = ClickHouseQueryBuilder(sql(query)).ref_id("A").datasource(ctx.datasource)
    return target.time_series() if series else target.table()


def time_series(
    ctx: BuildContext,
    title: str,
    question: str,
    query: str,
    unit: str,
    *,
    stacked: bool = False,
    min_interval: str | None = "1m",
    width: int = 12,
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(question)
        .datasource(ctx.datasource)
        .with_target(_target(ctx, query, series=True))
        .unit(unit)
        .fill_opacity(20 if stacked else 10)
        .line_width(1)
        .span(width)
        .height(8)
    )
    if min_interval:
        # The rollups are per minute: a finer bucket would show empty or spiky rates.
        panel = panel.interval(min_interval)
    if stacked:
        panel = panel.stacking(
            common_builders.StackingConfig().mode(common.StackingMode.NORMAL)
        )
    return panel


def stat_panel(
    ctx: BuildContext,
    title: str,
    question: str,
    query: str,
    unit: str,
    width: int = 6,
    height: int = 4,
) -> stat.Panel:
    return (
        stat.Panel()
        .title(title)
        .description(question)
        .datasource(ctx.datasource)
        .with_target(_target(ctx, query, series=False))
        .unit(unit)
        .graph_mode(common.BigValueGraphMode.NONE)
        .reduce_options(
            common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False)
        )
        .span(width)
        .height(height)
    )


def bar_chart(
    ctx: BuildContext,
    title: str,
    question: str,
    query: str,
    unit: str,
    x_field: str,
    *,
    stacking: common.StackingMode = common.StackingMode.NONE,
    horizontal: bool = False,
    width: int = 12,
    height: int = 8,
    legend: bool = False,
) -> barchart.Panel:
    """``legend`` for bars of more than one series (a single series' legend would only
    repeat the column name)."""
    return (
        barchart.Panel()
        .title(title)
        .description(question)
        .datasource(ctx.datasource)
        .with_target(_target(ctx, query, series=False))
        .unit(unit)
        .x_field(x_field)
        .stacking(stacking)
        .orientation(common.VizOrientation.HORIZONTAL if horizontal else common.VizOrientation.AUTO)
        .show_value(common.VisibilityMode.AUTO)
        .legend(
            common_builders.VizLegendOptions()
            .show_legend(legend)
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
            .calcs([])
        )
        .span(width)
        .height(height)
    )


def pie_chart(
    ctx: BuildContext, title: str, question: str, query: str, unit: str, width: int = 8
) -> piechart.Panel:
    # Table rows become slices: reduce over all values, one slice per row. A donut is read
    # by its slices' names and shares, so both are on the slices and in a legend with them.
    legend = (
        piechart.PieChartLegendOptions()
        .show_legend(True)
        .display_mode(common.LegendDisplayMode.LIST)
        .placement(common.LegendPlacement.RIGHT)
        .values([piechart_models.PieChartLegendValues.PERCENT])
        .calcs([])
    )
    return (
        piechart.Panel()
        .title(title)
        .description(question)
        .datasource(ctx.datasource)
        .with_target(_target(ctx, query, series=False))
        .unit(unit)
        .pie_type(piechart_models.PieChartType.DONUT)
        .display_labels(
            [piechart_models.PieChartLabels.NAME, piechart_models.PieChartLabels.PERCENT]
        )
        .legend(legend)
        .reduce_options(common_builders.ReduceDataOptions().values(True).calcs([]))
        .span(width)
        .height(8)
    )


def bar_gauge(
    ctx: BuildContext, title: str, question: str, query: str, unit: str, width: int = 12
) -> bargauge.Panel:
    return (
        bargauge.Panel()
        .title(title)
        .description(question)
        .datasource(ctx.datasource)
        .with_target(_target(ctx, query, series=False))
        .unit(unit)
        .orientation(common.VizOrientation.HORIZONTAL)
        .display_mode(common.BarGaugeDisplayMode.GRADIENT)
        .reduce_options(common_builders.ReduceDataOptions().values(True).calcs([]))
        .span(width)
        .height(8)
    )


def table_panel(
    ctx: BuildContext, title: str, question: str, query: str, width: int = 12
) -> table.Panel:
    return (
        table.Panel()
        .title(title)
        .description(question)
        .datasource(ctx.datasource)
        .with_target(_target(ctx, query, series=False))
        .span(width)
        .height(8)
    )


def province_map(
    ctx: BuildContext, title: str, question: str, query: str, size_field: str, unit: str
) -> geomap.Panel:
    markers = (
        common_builders.MapLayerOptions()
        .type("markers")
        .name("Provinces")
        .location(
            common_builders.FrameGeometrySource()
            .mode(common.FrameGeometrySourceMode.COORDS)
            .latitude("latitude")
            .longitude("longitude")
        )
        .config(
            {
                "showLegend": True,
                "style": {
                    "size": {"field": size_field, "min": 3, "max": 30, "fixed": 5},
                    "color": {"field": size_field},
                    "opacity": 0.6,
                    "symbol": {"mode": "fixed", "fixed": "img/icons/marker/circle.svg"},
                },
            }
        )
        .tooltip(True)
    )
    return (
        geomap.Panel()
        .title(title)
        .description(question)
        .datasource(ctx.datasource)
        .with_target(_target(ctx, query, series=False))
        .unit(unit)
        .view(geomap.MapViewConfig().id("coords").lat(16).lon(106).zoom(5))
        .basemap(common_builders.MapLayerOptions().type("default").name("Basemap"))
        .layers([markers])
        .color_scheme(dashboard.FieldColor().mode(dm.FieldColorModeId.CONTINUOUS_GR_YL_RD))
        .span(12)
        .height(16)
    )


def new_dashboard(uid: str, title: str, description: str) -> dashboard.Dashboard:
    """The frame every dxpulse dashboard shares: live (10 s refresh), last hour, VN time."""
    return (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["dxpulse"])
        .editable()
        .timezone("Asia/Ho_Chi_Minh")
        .time("now-1h", "now")
        .refresh("10s")
        .timepicker(
            dashboard.TimePicker().refresh_intervals(["5s", "10s", "30s", "1m", "5m", "15m"])
        )
    )


def series_sql(table: str, time_column: str, label: str, value: str, where: str) -> str:
    """``value`` per ``label`` per $__timeInterval bucket: the shape of every trend panel."""
    return sql(
        """
        SELECT $__timeInterval({time}) AS time, {label}, {value}
        FROM {table}
        WHERE {where}
        GROUP BY time, {label_name}
        ORDER BY time""",
        time=time_column,
        label=label,
        value=value,
        table=table,
        where=where,
        label_name=label.split(" AS ")[-1],
    )


def with_variables(
    board: dashboard.Dashboard, ctx: BuildContext, *names: str
) -> dashboard.Dashboard:
    """Add the named filter variables (and the window constant) in a fixed order."""
    makers: dict[str, Callable[[], cogbuilder.Builder[dm.VariableModel]]] = {
        "region": lambda: region_variable(ctx),
        "province": lambda: province_variable(ctx),
        "event_type": event_type_variable,
        "area": area_variable,
        "window_seconds": lambda: window_variable(ctx),
    }
    for name in names:
        board = board.with_variable(makers[name]())
    return board
