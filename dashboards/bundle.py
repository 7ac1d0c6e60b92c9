"""Everything dxpulse puts into Grafana, as plain JSON-ready objects.

One source for both roads into Grafana: the provisioning files under deploy/grafana/ (written
by `dxpulse dashboards build`) and the HTTP API (`dxpulse dashboards push`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dxpulse.core.config import GrafanaSettings

CLICKHOUSE_PLUGIN = "grafana-clickhouse-datasource"
JSON = dict[str, Any]


@dataclass(frozen=True)
class GrafanaBundle:
    folder_uid: str
    folder_title: str
    # The body of POST /api/datasources, without secureJsonData (the password is added by
    # the push, from the environment, never written to a file).
    datasource: JSON
    # Dashboard models (each with "uid" and "title"), as in POST /api/dashboards/db.
    dashboards: list[JSON] = field(default_factory=list)
    # Bodies of POST /api/v1/provisioning/alert-rules (each with "uid", "folderUID",
    # "ruleGroup").
    alert_rules: list[JSON] = field(default_factory=list)


def datasource_json_data(settings: GrafanaSettings, database: str) -> JSON:
    return {
        "host": settings.clickhouse_host,
        "port": settings.clickhouse_port,
        "protocol": settings.clickhouse_protocol,
        "secure": settings.clickhouse_secure,
        "username": settings.clickhouse_username,
        "defaultDatabase": database,
    }


def datasource(settings: GrafanaSettings, database: str) -> JSON:
    return {
        "uid": settings.datasource_uid,
        "name": settings.datasource_name,
        "type": CLICKHOUSE_PLUGIN,
        "access": "proxy",
        "isDefault": False,
        "jsonData": datasource_json_data(settings, database),
    }

