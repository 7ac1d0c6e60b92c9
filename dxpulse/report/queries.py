"""A panel's own SQL, expanded as Grafana would for the report's range, and run.

Variables are all on "All", as a dashboard opens; "All" means every option, so a query
variable's options come from its own query, exactly like Grafana fills them in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from typing import Any

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from dxpulse.core.errors import DxpulseError
from dxpulse.report.macros import QueryContext, Selection, expand
from dxpulse.report.selection import JSON, SelectedPanel
from dxpulse.report.timerange import VN_TZ, TimeRange, as_utc, grafana_interval_s


class ReportQueryError(DxpulseError):
    pass


@dataclass(frozen=True)
class Result:
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    def column(self, name: str) -> list[Any]:
        index = self.columns.index(name)
        return [row[index] for row in self.rows]


@dataclass(frozen=True)
class PanelQuery:
    sql: str
    interval_s: int


def target_sql(panel: JSON) -> str:
    """The raw SQL of the panel's one visible target."""
    targets = [t for t in panel.get("targets", []) if not t.get("hide")]
    if len(targets) != 1 or not targets[0].get("rawSql"):
        raise ReportQueryError(
            f"panel {panel.get('title')!r}: the report draws one SQL target, it has {len(targets)}"
        )
    return str(targets[0]["rawSql"])


def uses_interval(sql: str) -> bool:
    """Whether the SQL buckets by the query's interval ($__timeInterval, $__interval…)
    rather than by a bucket of its own (a daily view's day)."""
    return "$__timeInterval" in sql or "$__interval" in sql


def custom_options(variable: JSON) -> list[str]:
    # "Label : value,Label 2 : value2": Grafana's custom-variable syntax; the value is last.
    return [part.split(" : ")[-1].strip() for part in str(variable["query"]).split(",")]


def all_variables(
    client: Client, variables: Sequence[JSON], time_range: TimeRange
) -> dict[str, Selection]:
    """Every variable of a dashboard on "All", in order (a query may use earlier ones)."""
    chosen: dict[str, Selection] = {}
    for variable in variables:
        name, kind = str(variable["name"]), variable.get("type")
        if kind == "constant":
            chosen[name] = Selection((str(variable["query"]),), multi=False)
            continue
        if kind == "custom":
            options = custom_options(variable)
        elif kind == "query":
            ctx = QueryContext(time_range.start, time_range.end, time_range.interval_s, chosen)
            rows = run(client, expand(str(variable["query"]), ctx)).rows
            options = [str(row[0]) for row in rows]
        else:
            raise ReportQueryError(f"variable ${name}: type {kind!r} is not supported")
        chosen[name] = Selection(tuple(options), is_all=True, multi=bool(variable.get("multi")))
    return chosen


def panel_query(
    panel: SelectedPanel, time_range: TimeRange, variables: Mapping[str, Selection]
) -> PanelQuery:
    """The panel's SQL for the range; its bucket is the range's, or the panel's minimum."""
    interval_s = max(time_range.interval_s, grafana_interval_s(panel.panel.get("interval")))
    ctx = QueryContext(time_range.start, time_range.end, interval_s, variables)
    return PanelQuery(expand(target_sql(panel.panel), ctx), interval_s)


def run(client: Client, sql: str) -> Result:
    try:
        result = client.query(sql)
    except ClickHouseError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ReportQueryError(f"query failed: {first}") from exc
    rows = tuple(tuple(_normalise(v) for v in row) for row in result.result_rows)
    return Result(tuple(result.column_names), rows)


def data_span(client: Client, window_seconds: int) -> tuple[datetime, datetime] | None:
    """First window start and last window end in event_aggregates; None when it is empty."""
    count, first, last = run(
        client,
        "SELECT count(), min(window_start), max(window_start) FROM event_aggregates "
        f"WHERE window_seconds = {int(window_seconds)}",
    ).rows[0]
    if not count:
        return None
    return first, last + timedelta(seconds=window_seconds)


def report_sql(name: str, **params: object) -> str:
    """The report's own query ``sql/<name>.sql`` (shipped as package data), its ``{name}``
    placeholders filled in. Callers pass numbers, dates and quoted constants only."""
    text = resources.files("dxpulse.report").joinpath(f"sql/{name}.sql").read_text("utf-8")
    return text.format(**params)


def range_params(time_range: TimeRange, window_seconds: int) -> dict[str, int]:
    """A range as the report's .sql files take it: Unix seconds, and the worker's window."""
    return {
        "start": int(time_range.start.timestamp()),
        "end": int(time_range.end.timestamp()),
        "window_seconds": int(window_seconds),
    }


def rarest_type(client: Client, time_range: TimeRange, window_seconds: int) -> tuple[str, int]:
    """The event type with the fewest events in the range, and that count ("", 0: none)."""
    rows = run(client, report_sql("rarest_type", **range_params(time_range, window_seconds))).rows
    return (str(rows[0][0]), int(rows[0][1])) if rows else ("", 0)


def _normalise(value: Any) -> Any:
    """Times as aware UTC datetimes, so charts handle one kind of time."""
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, date):  # a Date column: dxpulse's days are Vietnam calendar days
        return datetime.combine(value, time(), VN_TZ).astimezone(UTC)
    return value
