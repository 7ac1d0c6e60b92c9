"""What counts as a change when comparing Grafana's stored objects with the bundle's
(dxpulse.dashboards.diff), and how the push addresses Grafana (URL, messages)."""

from __future__ import annotations

import copy

import pytest
from pydantic import SecretStr

from dxpulse.core.config import GrafanaSettings, Settings
from dxpulse.core.errors import DxpulseError
from dxpulse.dashboards import build
from dxpulse.dashboards.build import bundle_for
from dxpulse.dashboards.bundle import datasource
from dxpulse.dashboards.diff import (
    alert_rule_changed,
    dashboard_changed,
    datasource_changed,
    duration_seconds,
    folder_changed,
)
from dxpulse.dashboards.push import _api, display_url, push_bundle

DS = datasource(GrafanaSettings(), "dxpulse")
RULE = {
    "uid": "r1",
    "title": "No events",
    "folderUID": "dxpulse",
    "ruleGroup": "dxpulse",
    "condition": "B",
    "data": [
        {"refId": "A", "datasourceUid": "ds", "relativeTimeRange": {"from": 600, "to": 0},
         "model": {"refId": "A", "rawSql": "SELECT 1"}},
        {"refId": "B", "datasourceUid": "__expr__",
         "model": {"refId": "B", "type": "threshold", "expression": "A",
                   "conditions": [{"evaluator": {"type": "lt", "params": [1]}}]}},
    ],
    "noDataState": "Alerting",
    "execErrState": "Error",
    "for": "300s",
    "labels": {},
    "annotations": {"summary": "No events"},
}  # fmt: skip


def as_grafana_stores(rule: dict) -> dict:
    """The rule as GET returns it: server fields, defaults in queries, canonical `for`,
    empty labels left out."""
    stored = copy.deepcopy(rule)
    stored.update(id=7, orgID=1, updated="2025-01-01T00:00:00Z", provenance="api",
                  isPaused=False, **{"for": "5m"})  # fmt: skip
    if not stored["labels"]:
        del stored["labels"]
    for query in stored["data"]:
        query.setdefault("queryType", "")
        query.setdefault("relativeTimeRange", {"from": 0, "to": 0})
        query["model"] = {"intervalMs": 1000, "maxDataPoints": 43200, **query["model"]}
    return stored


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5m", 300), ("300s", 300), ("1h30m", 5400), ("0s", 0), ("0", 0), ("1m30s", 90),
     ("500ms", 0.5), ("1d", 86400), (60, 60), ("5 m", None), ("", None), ("m", None),
     ("5x", None), (None, None), (True, None)],
)  # fmt: skip
def test_durations(text, seconds):
    assert duration_seconds(text) == seconds


def test_a_rule_as_grafana_stores_it_is_unchanged():
    assert not alert_rule_changed(as_grafana_stores(RULE), RULE)


@pytest.mark.parametrize(
    "edit",
    [
        lambda r: r.update(title="No events at all"),
        lambda r: r.update(**{"for": "10m"}),
        lambda r: r.update(labels={"team": "data"}),
        lambda r: r.update(annotations={}),
        lambda r: r["data"][0]["model"].update(rawSql="SELECT 2"),
        lambda r: r["data"][1]["model"]["conditions"][0]["evaluator"].update(params=[2]),
        lambda r: r["data"][0].update(relativeTimeRange={"from": 300, "to": 0}),
        lambda r: r["data"].pop(),
        lambda r: r.update(isPaused=True),
    ],
)
def test_any_edit_of_a_field_we_send_is_a_change(edit):
    stored = as_grafana_stores(RULE)
    ours = copy.deepcopy(RULE)
    edit(ours)
    assert alert_rule_changed(stored, ours)


def test_a_label_removed_from_the_bundle_is_a_change():
    stored = as_grafana_stores({**RULE, "labels": {"team": "data"}})
    assert alert_rule_changed(stored, RULE)


def test_datasource_compares_what_we_send_not_what_grafana_adds():
    stored = {**DS, "id": 3, "orgId": 1, "version": 4, "readOnly": False, "url": "",
              "basicAuth": False, "secureJsonFields": {}, "typeLogoUrl": ""}  # fmt: skip
    assert not datasource_changed(stored, DS, password=False)
    assert datasource_changed({**stored, "name": "other"}, DS, password=False)
    assert datasource_changed({**stored, "access": "direct"}, DS, password=False)
    moved = {**stored, "jsonData": {**DS["jsonData"], "host": "ch2"}}
    assert datasource_changed(moved, DS, password=False)
    extra = {**stored, "jsonData": {**DS["jsonData"], "tlsSkipVerify": True}}
    assert datasource_changed(extra, DS, password=False)  # jsonData is replaced as a whole
    # A password: needed if Grafana holds none; not comparable once it does.
    assert datasource_changed(stored, DS, password=True)
    with_password = {**stored, "secureJsonFields": {"password": True}}
    assert not datasource_changed(with_password, DS, password=True)
    assert not datasource_changed(with_password, DS, password=False)


def test_dashboard_ignores_id_and_version_but_not_the_folder():
    ours = {"uid": "d1", "title": "Overview", "panels": [{"id": 1, "type": "stat"}]}
    stored = {"dashboard": {**ours, "id": 12, "version": 5}, "meta": {"folderUid": "f"}}
    assert not dashboard_changed(stored, ours, "f")
    assert not dashboard_changed(stored, {**ours, "id": None}, "f")
    assert dashboard_changed(stored, ours, "g")
    assert dashboard_changed(stored, {**ours, "title": "Overview 2"}, "f")
    assert dashboard_changed(stored, {**ours, "panels": []}, "f")
    assert dashboard_changed({"dashboard": {**ours, "tags": ["x"]}, "meta": {"folderUid": "f"}},
                             ours, "f")  # fmt: skip


def test_folder_title():
    assert not folder_changed({"uid": "dxpulse", "title": "dxpulse", "version": 3}, "dxpulse")
    assert folder_changed({"uid": "dxpulse", "title": "old"}, "dxpulse")


@pytest.mark.parametrize(
    ("url", "api"),
    [
        ("http://localhost:3000", "http://localhost:3000/api"),
        ("http://localhost:3000/", "http://localhost:3000/api"),
        ("https://grafana.example.com", "https://grafana.example.com/api"),
        ("https://example.com/grafana", "https://example.com/grafana/api"),
        ("https://example.com/tools/grafana/", "https://example.com/tools/grafana/api"),
    ],
)
def test_api_url_keeps_a_sub_path(url, api):
    assert _api(GrafanaSettings(url=url), "t").client.url == api


def test_display_url_drops_credentials():
    assert display_url("http://admin:pw@grafana:3000/g") == "http://grafana:3000/g"
    assert display_url("https://grafana.example.com") == "https://grafana.example.com"


def test_no_token_is_an_error_before_any_request():
    bundle = bundle_for(Settings())
    # Port 1: a request would fail as unreachable, not with this message.
    settings = GrafanaSettings(url="http://127.0.0.1:1", token=SecretStr(""))
    with pytest.raises(DxpulseError, match=r"^no Grafana token: set DXPULSE_GRAFANA__TOKEN"):
        push_bundle(bundle, settings)


def test_bundle_follows_the_settings(clean_env):
    clean_env.setenv("DXPULSE_GRAFANA__FOLDER_UID", "dx")
    clean_env.setenv("DXPULSE_CLICKHOUSE__DATABASE", "analytics")
    bundle = bundle_for(Settings())
    assert (bundle.folder_uid, bundle.folder_title) == ("dx", "dxpulse")
    assert bundle.datasource["uid"] == "dxpulse-clickhouse"
    assert bundle.datasource["jsonData"]["defaultDatabase"] == "analytics"
    assert "secureJsonData" not in bundle.datasource
    assert len(bundle.dashboards) == len(build.DASHBOARD_MODULES) == 6
    assert len(bundle.alert_rules) == 4
    assert {r["folderUID"] for r in bundle.alert_rules} == {"dx"}
