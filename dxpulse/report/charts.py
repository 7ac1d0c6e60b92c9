"""A query result drawn the way its Grafana panel draws it, with matplotlib.

Figures are made with ``matplotlib.figure.Figure`` and the Agg canvas directly, never
pyplot: no display, no global figure registry to leak, safe to call repeatedly. Stat and
table panels are not charts: html.py renders them as HTML from the same result.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from dxpulse.core import extras
from dxpulse.core.errors import DxpulseError

with extras.needed("report", extras.REPORT):
    from matplotlib.axes import Axes
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter
from dxpulse.report.names import column_title
from dxpulse.report.queries import Result
from dxpulse.report.selection import JSON
from dxpulse.report.timerange import VN_TZ, duration_text
from dxpulse.report.units import format_value, is_number

Kind = Literal["lines", "bars", "donut", "map", "tile", "table"]
KINDS: dict[str, Kind] = {
    "timeseries": "lines",
    "barchart": "bars",
    "bargauge": "bars",
    "piechart": "donut",
    "geomap": "map",
    "stat": "tile",
    "table": "table",
}
IMAGE_KINDS: frozenset[Kind] = frozenset({"lines", "bars", "donut", "map"})
FIGSIZE = (9.0, 3.8)
# Vietnam is tall and narrow: its map gets a portrait figure and a fixed frame (the
# dashboard's map view), so a few provinces do not zoom the map to a strip.
MAP_FIGSIZE = (6.0, 7.5)
VIETNAM_LON = (102.0, 110.0)
VIETNAM_LAT = (8.0, 23.7)
DPI = 110
# Many points read as a line; a few need markers or they vanish.
MARKERS_BELOW = 12
# Horizontal bars: the figure grows with the bars so each keeps room for its label at the
# default tick font (34 provincial units, 63 provinces stay readable, nothing overlaps).
BAR_INCHES = 0.3
BAR_MARGIN_INCHES = 1.3
# Beyond this many categories, vertical bars are drawn horizontally: upright labels would
# overlap and slanted ones are hard to read; a horizontal chart grows with its bars.
MAX_VERTICAL_BARS = 12
# ... and so are fewer bars whose names would not fit side by side under them: at the
# report's width about this many characters in all ("Northern Midlands and Mountains" and
# five more regions ran into each other).
MAX_VERTICAL_LABEL_CHARS = 70
# The unit a title names (Grafana unit -> words); "short" is a plain count: no unit shown.
UNIT_WORDS = {
    "currencyVND": "VND",
    "percentunit": "%",
    "percent": "%",
    "ops": "per second",
    "s": "seconds",
    "ms": "milliseconds",
}


class ChartError(DxpulseError):
    pass


def kind_for(panel_type: str) -> Kind:
    kind = KINDS.get(panel_type)
    if kind is None:
        raise ChartError(f"the report cannot draw a {panel_type!r} panel (only {sorted(KINDS)})")
    return kind


# -- what the panel JSON says about drawing -----------------------------------------------------
@dataclass(frozen=True)
class FieldStyle:
    """A column's by-name override: its legend name, colour, line style, unit."""

    label: str | None = None
    color: str | None = None
    dashed: bool = False
    unit: str | None = None


@dataclass(frozen=True)
class Style:
    unit: str | None = None
    stacking: str = "none"  # none | normal | percent
    horizontal: bool = False
    x_field: str | None = None
    # geomap: latitude, longitude and size columns
    map_fields: tuple[str, str, str] | None = None
    fields: Mapping[str, FieldStyle] = field(default_factory=dict)
    # fieldConfig.defaults min/max: the panel's own value-axis limits, honoured as given.
    minimum: float | None = None
    maximum: float | None = None

    def unit_of(self, column: str) -> str | None:
        override = self.fields.get(column)
        return override.unit if override and override.unit else self.unit

    def label_of(self, column: str) -> str:
        override = self.fields.get(column)
        return override.label if override and override.label else column_title(column)

    @property
    def is_share(self) -> bool:
        """Values are shares (0..1 or %) or drawn as shares (percent stacking)."""
        return self.unit in ("percentunit", "percent") or self.stacking == "percent"


def style_of(panel: JSON) -> Style:
    defaults = panel.get("fieldConfig", {}).get("defaults", {})
    options = panel.get("options", {})
    stacking = options.get("stacking") or defaults.get("custom", {}).get("stacking", {}).get(
        "mode", "none"
    )
    return Style(
        unit=defaults.get("unit"),
        stacking=str(stacking),
        horizontal=options.get("orientation") == "horizontal",
        x_field=options.get("xField"),
        map_fields=_map_fields(options),
        fields=_overrides(panel),
        minimum=_limit(defaults.get("min")),
        maximum=_limit(defaults.get("max")),
    )


def _limit(value: Any) -> float | None:
    return float(value) if is_number(value) else None


def _map_fields(options: JSON) -> tuple[str, str, str] | None:
    layers = options.get("layers") or []
    if not layers:
        return None
    layer = layers[0]
    location, size = layer["location"], layer["config"]["style"]["size"]["field"]
    return str(location["latitude"]), str(location["longitude"]), str(size)


def _overrides(panel: JSON) -> dict[str, FieldStyle]:
    styles = {}
    for override in panel.get("fieldConfig", {}).get("overrides", []):
        if override["matcher"]["id"] != "byName":
            continue
        props = {p["id"]: p.get("value") for p in override.get("properties", [])}
        color = props.get("color") or {}
        styles[str(override["matcher"]["options"])] = FieldStyle(
            label=props.get("displayName"),
            color=color.get("fixedColor") if color.get("mode") == "fixed" else None,
            dashed=(props.get("custom.lineStyle") or {}).get("fill") == "dash",
            unit=props.get("unit"),
        )
    return styles


# -- result shapes ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Series:
    """Time series aligned on one time axis; NaN where a series has no point."""

    times: tuple[datetime, ...]
    values: dict[str, list[float]]


def _as_float(value: Any) -> float:
    return float(value) if is_number(value) else math.nan


def label_columns(result: Result, skip: str | None = None) -> list[str]:
    """Columns holding text: the series or category names."""
    return [
        c for c in result.columns
        if c != skip and any(isinstance(v, str) for v in result.column(c))
    ]  # fmt: skip


def value_columns(result: Result, skip: str | None = None) -> list[str]:
    """Columns holding numbers (NULLs allowed), in query order."""
    return [
        c for c in result.columns
        if c != skip
        and all(v is None or is_number(v) for v in result.column(c))
        and any(is_number(v) for v in result.column(c))
    ]  # fmt: skip


def to_series(result: Result) -> Series:
    """(time, label, value) rows become one series per label; (time, a, b) one per column."""
    if "time" not in result.columns:
        raise ChartError(f"a time series needs a 'time' column, got {result.columns}")
    labels, values = label_columns(result, "time"), value_columns(result, "time")
    times = tuple(sorted(set(result.column("time"))))
    position = {t: i for i, t in enumerate(times)}
    series: dict[str, list[float]] = {}
    t_index = result.columns.index("time")
    for row in result.rows:
        name = " / ".join(str(row[result.columns.index(c)]) for c in labels)
        for column in values:
            key = (
                (f"{name} · {column_title(column)}" if len(values) > 1 else name)
                if name
                else column
            )
            points = series.setdefault(key, [math.nan] * len(times))
            points[position[row[t_index]]] = _as_float(row[result.columns.index(column)])
    return Series(times, dict(sorted(series.items())) if labels else series)


# -- figures --------------------------------------------------------------------------------------
def figure(
    kind: Kind,
    result: Result,
    style: Style,
    span: tuple[datetime, datetime] | None = None,
    title: str | None = None,
) -> Figure:
    """The panel's chart; ``span`` is the time axis of a time series (the report's range,
    as Grafana always shows the whole range, however few the points). ``title`` goes into
    the image with its unit: a PNG shared on its own still says what it shows."""
    draw: dict[Kind, Callable[[Axes, Result, Style], None]] = {
        "lines": draw_lines,
        "bars": draw_bars,
        "donut": draw_donut,
        "map": draw_map,
    }
    if kind not in draw:
        raise ChartError(f"{kind!r} is rendered as HTML, not as a chart")
    if kind == "bars" and not style.horizontal and _crowded(result, style):
        style = replace(style, horizontal=True)
    fig = Figure(figsize=figsize(kind, result, style), dpi=DPI, layout="constrained")
    if title:
        fig.suptitle(title, x=0.01, ha="left", fontweight="bold")
    ax = fig.add_subplot()
    draw[kind](ax, result, style)
    if kind == "lines" and span is not None:
        _time_limits(ax, result, span)
    return fig


def titled(title: str, style: Style, bucket_s: int | None = None) -> str:
    """The panel title with its unit, unless the title already names it. A count over
    time (unit "short") has no unit word, so it says its bucket: "(per 3 h)"."""
    unit = "%" if style.stacking == "percent" else UNIT_WORDS.get(style.unit or "")
    if unit is None and bucket_s and style.unit in (None, "short"):
        unit = f"per {duration_text(bucket_s)}"
    if unit is None or unit in title:
        return title
    return f"{title} ({unit})"


def figsize(
    kind: Kind, result: Result | None = None, style: Style | None = None
) -> tuple[float, float]:
    """Maps are portrait; horizontal bars grow with their count, the rest is FIGSIZE."""
    if kind == "map":
        return MAP_FIGSIZE
    if kind == "bars" and result is not None and style is not None and style.horizontal:
        return FIGSIZE[0], max(FIGSIZE[1], BAR_MARGIN_INCHES + BAR_INCHES * len(result.rows))
    return FIGSIZE


def _time_limits(ax: Axes, result: Result, span: tuple[datetime, datetime]) -> None:
    # The range, widened to any point outside it: a daily row is labelled with its day's
    # start, which lies before a range that starts later that day.
    times = [t for t in result.column("time") if isinstance(t, datetime)]
    start, end = min([span[0], *times]), max([span[1], *times])
    ax.set_xlim(date2num(start), date2num(end))  # type: ignore[no-untyped-call]


def _value_limits(
    ax: Axes, style: Style, values: Sequence[float], horizontal: bool = False
) -> None:
    """Counts, money and shares start at 0 and shares end at 100%: an axis cut at 70% or
    600K VND makes noise look dramatic. The panel's own min/max win where it sets them."""
    finite = [v for v in values if math.isfinite(v)]
    low, high = style.minimum, style.maximum
    if low is None and (style.is_share or all(v >= 0 for v in finite)):
        low = 0.0
    if high is None and style.is_share and all(v <= 1 for v in finite):
        high = 1.0 if style.unit != "percent" else 100.0
    if horizontal:
        ax.set_xlim(left=low, right=high)
    else:
        ax.set_ylim(bottom=low, top=high)


def png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)  # attaches the Agg canvas: no display or GUI toolkit needed
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _value_axis(unit: str | None) -> FuncFormatter:
    return FuncFormatter(lambda v, _pos: format_value(v, unit))


def _finish(ax: Axes, legend: bool) -> None:
    ax.grid(alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    if legend:
        ax.legend(fontsize="small", frameon=False, loc="upper left", bbox_to_anchor=(1, 1))


def _utc64(times: Sequence[datetime]) -> npt.NDArray[np.datetime64]:
    # datetime64 is UTC to matplotlib; the axis formatter shows it in Vietnam time.
    return np.array([t.astimezone(UTC).replace(tzinfo=None) for t in times], "M8[s]")


def draw_lines(ax: Axes, result: Result, style: Style) -> None:
    series = to_series(result)
    times = _utc64(series.times)
    unit = style.unit
    drawn: list[float] = [v for vs in series.values.values() for v in vs]
    if style.stacking in ("normal", "percent") and len(times) > 1:
        stacked = [[_nan_to_zero(v) for v in vs] for vs in series.values.values()]
        if style.stacking == "percent":
            stacked, unit = shares(stacked), "percentunit"
        labels = [style.label_of(name) for name in series.values]
        ax.stackplot(times, *stacked, labels=labels, alpha=0.75)
        drawn = [sum(column) for column in zip(*stacked, strict=True)]
    else:
        marker = "o" if len(times) < MARKERS_BELOW else None
        for name, values in series.values.items():
            override = style.fields.get(name, FieldStyle())
            ax.plot(
                times, values, label=style.label_of(name), marker=marker, color=override.color,
                linestyle="--" if override.dashed else "-", linewidth=1.5,
            )  # fmt: skip
    # matplotlib.dates has no type hints, hence the ignores.
    locator = AutoDateLocator(tz=VN_TZ)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator, tz=VN_TZ))  # type: ignore[no-untyped-call]
    ax.set_xlabel("Vietnam time (UTC+7)", fontsize="small")
    ax.yaxis.set_major_formatter(_value_axis(unit))
    _value_limits(ax, style, drawn)
    _finish(ax, legend=len(series.values) > 1)


def _categories(result: Result, style: Style) -> tuple[str, list[str], list[str]]:
    x_field = style.x_field or next(iter(label_columns(result)), None)
    if x_field is None or x_field not in result.columns:
        raise ChartError(f"no category column ({style.x_field}) in {result.columns}")
    names = [str(v) for v in result.column(x_field)]
    columns = value_columns(result, x_field)
    if not columns:
        raise ChartError(f"no numbers to draw in {result.columns}")
    return x_field, names, columns


def _crowded(result: Result, style: Style) -> bool:
    """Whether vertical bars' names would overlap: too many bars, or too long names."""
    if len(result.rows) > MAX_VERTICAL_BARS:
        return True
    x_field = style.x_field or next(iter(label_columns(result)), None)
    if x_field is None or x_field not in result.columns:
        return False  # draw_bars says what is missing
    return sum(len(str(v)) for v in result.column(x_field)) > MAX_VERTICAL_LABEL_CHARS


def draw_bars(ax: Axes, result: Result, style: Style) -> None:
    _, names, columns = _categories(result, style)
    matrix = [[_nan_to_zero(v) for v in result.column(c)] for c in columns]
    unit = style.unit
    if style.stacking == "percent":
        matrix, unit = shares(matrix), "percentunit"
    positions = list(range(len(names)))
    stacked = style.stacking in ("normal", "percent")
    width = 0.8 if stacked else 0.8 / len(columns)
    base = [0.0] * len(names)
    bar = ax.barh if style.horizontal else ax.bar
    for k, (column, values) in enumerate(zip(columns, matrix, strict=True)):
        offset = 0.0 if stacked else (k - (len(columns) - 1) / 2) * width
        at = [p + offset for p in positions]
        bars = bar(at, values, width, base, label=style.label_of(column))
        if len(columns) == 1:
            ax.bar_label(bars, [format_value(v, unit) for v in values], fontsize="small")
        if stacked:
            base = [b + v for b, v in zip(base, values, strict=True)]
    category_axis, value_axis = (ax.yaxis, ax.xaxis) if style.horizontal else (ax.xaxis, ax.yaxis)
    category_axis.set_ticks(positions, names)
    value_axis.set_major_formatter(_value_axis(unit))
    if len(columns) == 1 and style.horizontal:  # room for the value labels at the bars' ends
        ax.margins(x=0.12)
    elif len(columns) == 1:
        ax.margins(y=0.12)
    _value_limits(
        ax, style, base if stacked else [v for vs in matrix for v in vs], style.horizontal
    )
    if style.horizontal:
        ax.set_ylim(len(names) - 0.5, -0.5)  # the query's first row on top, as Grafana draws it
    _finish(ax, legend=len(columns) > 1)


def shares(rows: list[list[float]]) -> list[list[float]]:
    """Each position's values as shares of their sum (Grafana's percent stacking)."""
    totals = [sum(column) or 1.0 for column in zip(*rows, strict=True)]
    return [[v / t for v, t in zip(row, totals, strict=True)] for row in rows]


def _nan_to_zero(value: Any) -> float:
    number = _as_float(value)
    return 0.0 if math.isnan(number) else number


def draw_donut(ax: Axes, result: Result, style: Style) -> None:
    _, names, columns = _categories(result, style)
    values = [_nan_to_zero(v) for v in result.column(columns[0])]
    slices = [(n, v) for n, v in zip(names, values, strict=True) if v > 0]
    total = sum(v for _, v in slices) or 1.0
    ax.pie(
        [v for _, v in slices], startangle=90, counterclock=False,
        wedgeprops={"width": 0.4, "edgecolor": "white"},
    )  # fmt: skip
    labels = [f"{n}: {format_value(v, style.unit)} ({v / total:.1%})" for n, v in slices]
    ax.legend(labels, fontsize="small", frameon=False, loc="center left", bbox_to_anchor=(1, 0.5))
    ax.set_aspect("equal")


def draw_map(ax: Axes, result: Result, style: Style) -> None:
    if style.map_fields is None:
        raise ChartError("a map panel needs latitude, longitude and size fields")
    lat_field, lon_field, size_field = style.map_fields
    lats = [_as_float(v) for v in result.column(lat_field)]
    lons = [_as_float(v) for v in result.column(lon_field)]
    sizes = [_nan_to_zero(v) for v in result.column(size_field)]
    largest = max(sizes) or 1.0
    # Area proportional to value, like the panel's marker sizes (3..30 px radius).
    areas = [20 + 600 * v / largest for v in sizes]
    points = ax.scatter(lons, lats, s=areas, c=sizes, cmap="RdYlGn_r", alpha=0.7)
    ax.figure.colorbar(points, ax=ax, format=_value_axis(style.unit), shrink=0.8)
    names = label_columns(result)
    if names:
        ranked = sorted(zip(sizes, lons, lats, result.column(names[0]), strict=True))[-5:]
        for _, lon, lat, name in ranked:
            ax.annotate(str(name), (lon, lat), fontsize="x-small", xytext=(4, 4),
                        textcoords="offset points")  # fmt: skip
    ax.set_xlim(*VIETNAM_LON)
    ax.set_ylim(*VIETNAM_LAT)
    ax.set_aspect("equal")
    ax.set_xlabel("longitude", fontsize="small")
    ax.set_ylabel("latitude", fontsize="small")
    _finish(ax, legend=False)
