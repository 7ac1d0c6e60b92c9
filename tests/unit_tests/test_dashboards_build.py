"""The committed dashboards and provisioning files: up to date, valid, and what ops need."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.models.dashboard import Dashboard

from dxpulse.core.config import GrafanaSettings
from dxpulse.dashboards import alerts, build, pipeline_health_prometheus, query
from dxpulse.dashboards.panels import BuildContext
from dxpulse.streams.metrics import METRICS, PROCESS_PREFIX

ROOT = build.ROOT
BUSINESS = ["dxpulse-overview", "dxpulse-regions", "dxpulse-ecommerce", "dxpulse-mobile-money"]
# Read from the hourly and daily rollups: a month by default, refreshed every minute.
HISTORY = ["dxpulse-trends"]
# Raw events are for drill-down; panels must stay fast over 30 days of data.
PRE_AGGREGATED = {
    "event_aggregates",
    "ecommerce_minute",
    "mobile_money_minute",
    "pipeline_flushes",
    "dead_letters",
    "provinces",
    "event_aggregates_hourly",
    "event_aggregates_daily",
    "mobile_money_rural_daily",
    "ecommerce_payments_daily",
    "online_payment_ticket_daily",
    "province_daily",
}


# The variant on the compose profile's Prometheus (PromQL, not ClickHouse): tested apart, below.
PROMETHEUS = {m.UID for m in build.PROMETHEUS_MODULES}


def committed_dashboards(prometheus: bool = False) -> dict[str, dict[str, Any]]:
    """The committed ClickHouse dashboards; with ``prometheus``, the Prometheus ones too."""
    return {
        p.stem: json.loads(p.read_text("utf-8"))
        for p in sorted(build.DASHBOARDS_DIR.glob("*.json"))
        if prometheus or p.stem not in PROMETHEUS
    }


def provisioning(name: str) -> dict[str, Any]:
    data = yaml.safe_load((build.PROVISIONING_DIR / name / "dxpulse.yaml").read_text("utf-8"))
    assert isinstance(data, dict)
    return data


def test_generated_files_are_up_to_date() -> None:
    stale = [str(p.relative_to(ROOT)) for p in build.stale_files()]
    assert stale == [], f"run `dxpulse dashboards build` and commit: {stale}"


def test_only_generated_dashboards_are_committed() -> None:
    generated = {p.stem for p in build.generated_files() if p.parent == build.DASHBOARDS_DIR}
    assert set(committed_dashboards(prometheus=True)) == generated
    assert len(generated) == 7
    assert {"dxpulse-pipeline-health-prometheus"} == PROMETHEUS


def _decode_clickhouse_targets() -> None:
    """Let the SDK decode our plugin's targets when it reads dashboard JSON. Only this test
    reads dashboards back (the product writes them), so the hook lives here, not in
    dashboards/query.py."""
    cogruntime.register_dataquery_variant(
        cogruntime.DataqueryConfig(
            identifier=query.PLUGIN_ID, from_json_hook=query.ClickHouseQuery.from_json
        )
    )


@pytest.mark.parametrize("uid", sorted(committed_dashboards()))
def test_dashboard_json_round_trips_through_the_sdk_models(uid: str) -> None:
    # Every key must be one the SDK's models know (an unknown one would be dropped), and
    # every target must decode as our typed ClickHouse query.
    _decode_clickhouse_targets()
    data = committed_dashboards()[uid]
    model = Dashboard.from_json(data)
    assert json.loads(json.dumps(model.to_json(), default=lambda o: o.to_json())) == data
    for panel in model.panels or []:
        for target in getattr(panel, "targets", None) or []:
            assert isinstance(target, query.ClickHouseQuery)


@pytest.mark.parametrize("uid", sorted(committed_dashboards()))
def test_dashboard_is_live_and_filterable(uid: str) -> None:
    data = committed_dashboards()[uid]
    if uid in HISTORY:
        assert (data["time"], data["refresh"]) == ({"from": "now-30d", "to": "now"}, "1m")
    else:
        assert data["time"] == {"from": "now-1h", "to": "now"}
        refresh = re.fullmatch(r"(\d+)s", data["refresh"])
        assert refresh and int(refresh.group(1)) <= 10
    names = {v["name"] for v in build.variables(data)}
    business = uid in BUSINESS or uid in HISTORY
    wanted = {"region", "province", "area"} if business else {"event_type"}
    assert wanted <= names
    if uid in ("dxpulse-overview", "dxpulse-regions"):
        assert "event_type" in names
    for variable in build.variables(data):
        if variable["type"] in ("query", "custom"):
            assert variable["multi"] and variable["includeAll"]
            assert variable["current"]["value"] == "$__all"


@pytest.mark.parametrize("uid", sorted(committed_dashboards()))
def test_every_query_uses_the_plugin_macros_on_pre_aggregated_tables(uid: str) -> None:
    data = committed_dashboards()[uid]
    targets = build.targets(data)
    assert targets
    ids = [p["id"] for p in data["panels"]]
    assert len(set(ids)) == len(ids)
    variables = {v["name"] for v in build.variables(data)}
    for panel, target in targets:
        sql = target["rawSql"]
        assert target["editorType"] == "sql"
        assert target["datasource"]["uid"] == "dxpulse-clickhouse"
        assert panel["description"].endswith("?") or "?" in panel["description"]
        # The range comes from the time picker, through the plugin's macros.
        daily = "day <= toDate($__toTime, 'Asia/Ho_Chi_Minh')" in sql  # Vietnam days
        assert "$__timeFilter(" in sql or "$__toTime" in sql, panel["title"]
        assert set(build.tables_read(sql)) <= PRE_AGGREGATED, panel["title"]
        if panel["type"] == "timeseries":
            assert "$__timeInterval(" in sql or daily, panel["title"]
            assert target["format"] == query.Format.TIME_SERIES
        # A filter variable the dashboard offers must filter every panel it applies to, and
        # through $__conditionalAll so "All" costs nothing.
        for used in re.findall(r"\$\{?(\w+)", sql):
            if not used.startswith("__"):
                assert used in variables, f"{panel['title']}: ${used} is not a variable"
        for name in re.findall(r"\$\{(\w+):singlequote\}", sql):
            assert f"${name})" in sql, f"{panel['title']}: ${name} outside $__conditionalAll"


def test_mobile_money_rural_share_has_its_72_percent_reference_line() -> None:
    regions = committed_dashboards()["dxpulse-regions"]
    panel = next(p for p in regions["panels"] if "72% reference" in p["title"])
    assert "0.72 AS reference_72pct" in panel["targets"][0]["rawSql"]
    matchers = [o["matcher"] for o in panel["fieldConfig"]["overrides"]]
    assert {"id": "byName", "options": "reference_72pct"} in matchers


def test_geomap_places_markers_at_province_centroids_sized_by_value() -> None:
    regions = committed_dashboards()["dxpulse-regions"]
    geomap = next(p for p in regions["panels"] if p["type"] == "geomap")
    layer = geomap["options"]["layers"][0]
    assert layer["location"] == {"mode": "coords", "latitude": "latitude", "longitude": "longitude"}
    assert layer["config"]["style"]["size"]["field"] == "value_vnd"
    assert "FROM provinces AS p" in geomap["targets"][0]["rawSql"]  # all 63, quiet ones too


def test_datasource_provisioning_uses_the_read_only_user_and_no_password_on_disk() -> None:
    data = provisioning("datasources")
    assert data["apiVersion"] == 1
    (ds,) = data["datasources"]
    assert ds["uid"] == "dxpulse-clickhouse" and ds["type"] == query.PLUGIN_ID
    assert ds["jsonData"]["username"] == "dxpulse_grafana" != "default"
    assert ds["jsonData"]["defaultDatabase"] == "dxpulse"
    assert ds["secureJsonData"] == {"password": "${DXPULSE_GRAFANA__CLICKHOUSE_PASSWORD}"}
    assert ds["editable"] is False


def test_dashboard_provider_puts_the_dashboards_in_their_folder() -> None:
    (provider,) = provisioning("dashboards")["providers"]
    assert provider["type"] == "file" and provider["folderUid"] == "dxpulse"
    assert provider["options"]["path"] == build.CONTAINER_DASHBOARDS_PATH
    assert provider["allowUiUpdates"] is False  # the code is the source of truth


def test_alert_rules_cover_the_four_conditions() -> None:
    (group,) = provisioning("alerting")["groups"]
    assert group["folder"] == "dxpulse" and group["interval"] == "1m"
    rules = {r["uid"]: r for r in group["rules"]}
    expected = {
        "dxpulse-no-events": ("lt", 1, 120),
        "dxpulse-dead-letter-rate": ("gt", 0.01, 300),
        "dxpulse-freshness": ("gt", 60, 600),
        "dxpulse-failure-spike": ("gt", 2, 3900),
    }
    assert set(rules) == set(expected)
    for uid, (comparison, threshold, lookback) in expected.items():
        rule = rules[uid]
        source, condition = rule["data"]
        assert rule["condition"] == condition["refId"] == "B"
        assert source["datasourceUid"] == "dxpulse-clickhouse"
        assert source["relativeTimeRange"] == {"from": lookback, "to": 0}
        assert source["model"]["format"] == query.Format.TABLE
        evaluator = condition["model"]["conditions"][0]["evaluator"]
        assert (evaluator["type"], evaluator["params"]) == (comparison, [threshold])
        assert rule["labels"]["severity"] in ("warning", "critical")


def test_only_the_password_reference_is_exposed_to_grafanas_env_expansion() -> None:
    # Grafana expands $NAME in provisioning files, except in alert rules' query models.
    for name in ("datasources", "dashboards"):
        text = (build.PROVISIONING_DIR / name / "dxpulse.yaml").read_text("utf-8")
        assert re.findall(r"\$\{?\w+", text) == (
            ["${DXPULSE_GRAFANA__CLICKHOUSE_PASSWORD"] if name == "datasources" else []
        )
    for rule in provisioning("alerting")["groups"][0]["rules"]:
        outside_models = {k: v for k, v in rule.items() if k != "data"}
        assert "$" not in json.dumps(outside_models)


def test_bundle_and_provisioning_agree() -> None:
    grafana = GrafanaSettings()
    bundle = build.build_bundle(grafana, "dxpulse", BuildContext())
    assert [d["uid"] for d in bundle.dashboards] == sorted(
        committed_dashboards(), key=[d["uid"] for d in bundle.dashboards].index
    )
    api_rules = {r["uid"]: r for r in bundle.alert_rules}
    for rule in provisioning("alerting")["groups"][0]["rules"]:
        api = api_rules[rule["uid"]]
        assert api["folderUID"] == "dxpulse" and api["ruleGroup"] == alerts.RULE_GROUP
        assert {k: v for k, v in api.items() if k not in ("folderUID", "ruleGroup")} == rule


def test_custom_settings_reach_the_pushed_bundle() -> None:
    grafana = GrafanaSettings(datasource_uid="ch-prod", clickhouse_host="ch.internal")
    bundle = build.build_bundle(grafana, "analytics", BuildContext("ch-prod", 30))
    assert bundle.datasource["jsonData"]["host"] == "ch.internal"
    assert bundle.datasource["jsonData"]["defaultDatabase"] == "analytics"
    text = json.dumps(bundle.dashboards)
    assert '"uid": "ch-prod"' in text and "dxpulse-clickhouse" not in text
    overview = bundle.dashboards[0]
    window = next(v for v in build.variables(overview) if v["name"] == "window_seconds")
    assert window["query"] == "30"


def test_readme_lists_every_panel() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    for data in committed_dashboards(prometheus=True).values():
        for panel in data["panels"]:
            assert f"| {panel['title']} | {panel['description']} |" in readme


def test_paths_are_inside_the_repository() -> None:
    for path in build.generated_files():
        assert Path(path).resolve().is_relative_to(ROOT)


def test_cli_build_check_passes_on_the_committed_files() -> None:
    from click.testing import CliRunner

    from dxpulse.cli import cli

    result = CliRunner().invoke(cli, ["dashboards", "build", "--check"])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output


def test_cli_build_check_names_stale_files_and_build_writes_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from dxpulse.cli import main

    monkeypatch.setattr(build, "DASHBOARDS_DIR", tmp_path / "dashboards")
    monkeypatch.setattr("sys.argv", ["dxpulse", "dashboards", "build", "--check"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("dxpulse: error: 7 generated file(s) out of date")
    assert err.count("\n") == 1
    assert not (tmp_path / "dashboards").exists()  # --check writes nothing
    monkeypatch.setattr("sys.argv", ["dxpulse", "dashboards", "build"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 0
    assert sorted(p.name for p in (tmp_path / "dashboards").iterdir()) == sorted(
        f"{uid}.json" for uid in committed_dashboards(prometheus=True)
    )


# --- the Prometheus variant of pipeline health -----------------------------------------------
def test_prometheus_dashboard_reads_only_what_the_workers_export() -> None:
    (data,) = (committed_dashboards(prometheus=True)[uid] for uid in PROMETHEUS)
    assert data["time"] == {"from": "now-1h", "to": "now"} and data["refresh"] == "10s"
    model = Dashboard.from_json(data)
    assert json.loads(json.dumps(model.to_json(), default=lambda o: o.to_json())) == data
    exported = {m.name for m in METRICS}
    scrape_config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    (job,) = scrape_config["scrape_configs"]
    for panel, target in build.targets(data):
        assert panel["datasource"] == target["datasource"] == {
            "type": "prometheus", "uid": pipeline_health_prometheus.DATASOURCE_UID,
        }  # fmt: skip
        assert "?" in panel["description"]
        expr = target["expr"]
        assert f'job="{job["job_name"]}"' in expr, panel["title"]
        if "rate(" in expr or "increase(" in expr:
            assert "[$__rate_interval]" in expr, panel["title"]
        for name in re.findall(r"\b((?:dxpulse|process)_[a-z_]+)", expr):
            if name.startswith(PROCESS_PREFIX):
                continue  # prometheus-client's ProcessCollector
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            assert name in exported or base in exported, f"{panel['title']}: {name}"


def test_prometheus_datasource_points_at_the_compose_service() -> None:
    (ds,) = provisioning_file("datasources", "prometheus.yaml")["datasources"]
    assert ds["uid"] == pipeline_health_prometheus.DATASOURCE_UID and ds["type"] == "prometheus"
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text("utf-8"))
    (published,) = compose["services"]["prometheus"]["ports"]
    assert ds["url"] == f"http://prometheus:{published.rsplit(':', 1)[1]}"
    assert ds["editable"] is False and "secureJsonData" not in ds


def provisioning_file(kind: str, name: str) -> dict[str, Any]:
    data = yaml.safe_load((build.PROVISIONING_DIR / kind / name).read_text("utf-8"))
    assert isinstance(data, dict)
    return data
