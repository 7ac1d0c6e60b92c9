"""A typed query for the grafana-clickhouse-datasource plugin.

grafana-foundation-sdk ships query types for Prometheus, Loki and the like, not ClickHouse.
This adds one in the SDK's own shape (a ``Dataquery`` variant with to_json/from_json and a
builder), so panels take it like any other target and dashboard JSON read back through the
SDK's models keeps every field.
"""

from __future__ import annotations

import enum
from typing import Any, Literal, Self

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard

PLUGIN_ID = "grafana-clickhouse-datasource"
# The plugin version the compose stack installs (docker-compose.yml, GF_INSTALL_PLUGINS; a
# test keeps the two equal). Targets carry it, as the plugin's editor writes them, so the
# plugin knows which version's query model it reads and need not migrate it.
PLUGIN_VERSION = "4.10.2"

# The plugin's QueryType values (src/types/sql.ts): camel case "timeSeries".
QueryType = Literal["table", "timeSeries", "logs", "traces"]


class Format(enum.IntEnum):
    """The backend's result shape (grafana-plugin-sdk-go sqlutil.FormatQueryOption)."""

    TIME_SERIES = 0
    TABLE = 1
    LOGS = 2
    TRACE = 3


class ClickHouseQuery(cogvariants.Dataquery):
    def __init__(
        self,
        ref_id: str = "A",
        raw_sql: str = "",
        query_type: QueryType = "table",
        format_val: Format = Format.TABLE,
        datasource: dashboard.DataSourceRef | None = None,
        hide: bool | None = None,
        editor_type: Literal["sql", "builder"] = "sql",
        plugin_version: str = PLUGIN_VERSION,
    ) -> None:
        self.ref_id = ref_id
        self.raw_sql = raw_sql
        self.query_type: QueryType = query_type
        self.format_val = format_val
        self.datasource = datasource
        self.hide = hide
        self.editor_type: Literal["sql", "builder"] = editor_type
        self.plugin_version = plugin_version

    def to_json(self) -> dict[str, object]:
        payload: dict[str, object] = {
            "refId": self.ref_id,
            "editorType": self.editor_type,
            "rawSql": self.raw_sql,
            "queryType": self.query_type,
            "format": int(self.format_val),
            "pluginVersion": self.plugin_version,
        }
        if self.datasource is not None:
            payload["datasource"] = self.datasource.to_json()
        if self.hide is not None:
            payload["hide"] = self.hide
        return payload

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        unknown = set(data) - {
            "refId", "editorType", "rawSql", "queryType", "format", "datasource", "hide",
            "pluginVersion",
        }
        if unknown:
            raise ValueError(f"unknown ClickHouse query fields: {sorted(unknown)}")
        datasource = data.get("datasource")
        return cls(
            ref_id=data.get("refId", "A"),
            raw_sql=data.get("rawSql", ""),
            query_type=data.get("queryType", "table"),
            format_val=Format(data.get("format", Format.TABLE)),
            datasource=dashboard.DataSourceRef.from_json(datasource) if datasource else None,
            hide=data.get("hide"),
            editor_type=data.get("editorType", "sql"),
            plugin_version=data.get("pluginVersion", PLUGIN_VERSION),
        )


class ClickHouseQueryBuilder(cogbuilder.Builder[cogvariants.Dataquery]):
    def __init__(self, raw_sql: str = "") -> None:
        self._internal = ClickHouseQuery(raw_sql=raw_sql)

    def build(self) -> ClickHouseQuery:
        return self._internal

    def ref_id(self, ref_id: str) -> Self:
        self._internal.ref_id = ref_id
        return self

    def raw_sql(self, raw_sql: str) -> Self:
        self._internal.raw_sql = raw_sql
        return self

    def table(self) -> Self:
        self._internal.query_type, self._internal.format_val = "table", Format.TABLE
        return self

    def time_series(self) -> Self:
        self._internal.query_type, self._internal.format_val = "timeSeries", Format.TIME_SERIES
        return self

    def datasource(self, datasource: dashboard.DataSourceRef) -> Self:
        self._internal.datasource = datasource
        return self
