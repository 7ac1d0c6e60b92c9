"""`dxpulse dashboards push` against a stand-in Grafana (tests/grafana_fake.py): a real HTTP
server on loopback speaking Grafana's API, since Grafana itself cannot run here.

The bundle is built here: a folder, the ClickHouse datasource, two dashboards and two alert
rules, shaped as dashboards/ will produce them.
"""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from dxpulse.core.config import GrafanaSettings, Settings
from dxpulse.core.errors import DxpulseError
from dxpulse.dashboards.build import bundle_for
from dxpulse.dashboards.bundle import GrafanaBundle, datasource
from dxpulse.dashboards.push import PUSH_MESSAGE, PushOutcome, push_bundle
from tests.grafana_fake import TOKEN, FakeGrafana

FOLDER = "dxpulse"
DS = "dxpulse-clickhouse"
DASHBOARDS = ("dxpulse-overview", "dxpulse-pipeline")
RULES = ("dxpulse-no-events", "dxpulse-deadletter-rate")


def _panel(panel_id: int, title: str, sql: str, kind: str = "timeseries") -> dict[str, Any]:
    return {
        "id": panel_id,
        "type": kind,
        "title": title,
        "gridPos": {
            "h": 8,
            "w": 12,
            "x": 12 * ((panel_id - 1) % 2),
            "y": 8 * ((panel_id - 1) // 2),
        },
        "datasource": {"type": "grafana-clickhouse-datasource", "uid": DS},
        "targets": [
            {
                "refId": "A",
                "datasource": {"type": "grafana-clickhouse-datasource", "uid": DS},
                "editorType": "sql",
                "format": 0 if kind == "timeseries" else 1,
                "queryType": "timeseries" if kind == "timeseries" else "table",
                "rawSql": sql,
            }
        ],
    }


def _dashboard(uid: str, title: str, panels: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "tags": ["dxpulse"],
        "timezone": "Asia/Ho_Chi_Minh",
        "schemaVersion": 41,
        "refresh": "10s",
        "time": {"from": "now-1h", "to": "now"},
        "editable": False,
        "panels": panels,
    }


def _rule(
    uid: str, title: str, sql: str, evaluator: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "folderUID": FOLDER,
        "ruleGroup": "dxpulse",
        "condition": "C",
        "data": [
            {
                "refId": "A",
                "relativeTimeRange": {"from": 600, "to": 0},
                "datasourceUid": DS,
                "model": {"refId": "A", "editorType": "sql", "format": 1, "rawSql": sql},
            },
            {
                "refId": "B",
                "datasourceUid": "__expr__",
                "model": {"refId": "B", "type": "reduce", "expression": "A", "reducer": "last"},
            },
            {
                "refId": "C",
                "datasourceUid": "__expr__",
                "model": {"refId": "C", "type": "threshold", "expression": "B",
                          "conditions": [{"evaluator": evaluator}]},
            },
        ],
        "noDataState": "Alerting",
        "execErrState": "Error",
        "annotations": {"summary": title},
        **extra,
    }  # fmt: skip


def make_bundle() -> GrafanaBundle:
    settings = GrafanaSettings()
    agg = "dxpulse.event_aggregates"
    return GrafanaBundle(
        folder_uid=FOLDER,
        folder_title="dxpulse",
        datasource=datasource(settings, "dxpulse"),
        dashboards=[
            _dashboard(DASHBOARDS[0], "dxpulse — overview", [
                _panel(1, "Events per minute", f"SELECT $__timeInterval(window_start) AS time, "
                       f"sum(events) AS events FROM {agg} WHERE $__timeFilter(window_start) "
                       "GROUP BY time ORDER BY time"),
                _panel(2, "VND by region", f"SELECT region, sum(amount_vnd) AS vnd FROM {agg} "
                       "WHERE $__timeFilter(window_start) GROUP BY region", kind="barchart"),
            ]),
            _dashboard(DASHBOARDS[1], "dxpulse — pipeline health", [
                _panel(1, "Consumer lag", "SELECT $__timeInterval(flushed_at) AS time, "
                       "max(consumer_lag) AS lag FROM dxpulse.pipeline_flushes WHERE "
                       "$__timeFilter(flushed_at) GROUP BY time ORDER BY time"),
            ]),
        ],
        alert_rules=[
            _rule(RULES[0], "No events for 5 minutes",
                  f"SELECT sum(events) AS n FROM {agg} WHERE window_start > now() - 300",
                  {"type": "lt", "params": [1]}, labels={"team": "data"}, **{"for": "300s"}),
            _rule(RULES[1], "Dead letters above 1%",
                  "SELECT sum(dead_lettered) / greatest(sum(messages), 1) AS share "
                  "FROM dxpulse.pipeline_flushes WHERE flushed_at > now() - 600",
                  {"type": "gt", "params": [0.01]}, labels={}, **{"for": "10m"}),
        ],
    )  # fmt: skip


FIRST_PUSH = [
    ("GET", f"/api/folders/{FOLDER}"),
    ("POST", "/api/folders"),
    ("GET", f"/api/datasources/uid/{DS}"),
    ("POST", "/api/datasources"),
    ("GET", f"/api/dashboards/uid/{DASHBOARDS[0]}"),
    ("POST", "/api/dashboards/db"),
    ("GET", f"/api/dashboards/uid/{DASHBOARDS[1]}"),
    ("POST", "/api/dashboards/db"),
    ("GET", f"/api/v1/provisioning/alert-rules/{RULES[0]}"),
    ("POST", "/api/v1/provisioning/alert-rules"),
    ("GET", f"/api/v1/provisioning/alert-rules/{RULES[1]}"),
    ("POST", "/api/v1/provisioning/alert-rules"),
]


@pytest.fixture
def grafana() -> Iterator[FakeGrafana]:
    with FakeGrafana() as fake:
        yield fake


def settings_for(url: str, token: str | None = TOKEN, **extra: Any) -> GrafanaSettings:
    return GrafanaSettings(url=url, token=None if token is None else SecretStr(token), **extra)


def actions(outcomes: list[PushOutcome]) -> list[tuple[str, str, str]]:
    return [(o.kind, o.uid, o.action) for o in outcomes]


def expected(action: str) -> list[tuple[str, str, str]]:
    return [
        ("folder", FOLDER, action),
        ("datasource", DS, action),
        *(("dashboard", uid, action) for uid in DASHBOARDS),
        *(("alert rule", uid, action) for uid in RULES),
    ]


def pushed(grafana: FakeGrafana, bundle: GrafanaBundle | None = None) -> FakeGrafana:
    """A first push done, its requests forgotten."""
    push_bundle(bundle or make_bundle(), settings_for(grafana.url))
    grafana.requests.clear()
    return grafana


def test_first_push_creates_everything_in_order(grafana):
    bundle = make_bundle()
    outcomes = push_bundle(bundle, settings_for(grafana.url))

    assert grafana.calls() == FIRST_PUSH
    assert actions(outcomes) == expected("created")
    assert [o.title for o in outcomes] == [
        "dxpulse", "dxpulse ClickHouse", "dxpulse — overview", "dxpulse — pipeline health",
        "No events for 5 minutes", "Dead letters above 1%",
    ]  # fmt: skip
    bodies = [r.body for r in grafana.writes]
    assert bodies[0] == {"uid": FOLDER, "title": "dxpulse"}
    assert bodies[1] == bundle.datasource  # no password configured: no secureJsonData
    for body, model in zip(bodies[2:4], bundle.dashboards, strict=True):
        assert body == {"dashboard": {**model, "id": None}, "folderUid": FOLDER,
                        "overwrite": True, "message": PUSH_MESSAGE}  # fmt: skip
    assert bodies[4:] == bundle.alert_rules
    # What Grafana now holds.
    assert grafana.folders[FOLDER]["title"] == "dxpulse"
    assert grafana.datasources[DS]["jsonData"]["defaultDatabase"] == "dxpulse"
    assert grafana.datasources[DS]["secureJsonFields"] == {}
    for uid in DASHBOARDS:
        assert grafana.dashboards[uid]["dashboard"]["version"] == 1
        assert grafana.dashboards[uid]["meta"]["folderUid"] == FOLDER
    assert grafana.alert_rules[RULES[0]]["for"] == "5m"  # Grafana's spelling of 300s
    assert "labels" not in grafana.alert_rules[RULES[1]]  # empty: left out by Grafana


def test_second_push_only_reads_and_changes_nothing(grafana):
    pushed(grafana)
    before = grafana.state()

    outcomes = push_bundle(make_bundle(), settings_for(grafana.url))

    assert actions(outcomes) == expected("unchanged")
    assert grafana.calls() == [call for call in FIRST_PUSH if call[0] == "GET"]
    assert grafana.state() == before


def test_a_changed_dashboard_title_updates_that_dashboard_only(grafana):
    pushed(grafana)
    bundle = make_bundle()
    bundle.dashboards[1]["title"] = "dxpulse — pipeline"

    outcomes = push_bundle(bundle, settings_for(grafana.url))

    changed = [(o.kind, o.uid, o.title) for o in outcomes if o.action != "unchanged"]
    assert changed == [("dashboard", DASHBOARDS[1], "dxpulse — pipeline")]
    assert [(r.method, r.path) for r in grafana.writes] == [("POST", "/api/dashboards/db")]
    assert grafana.writes[0].body["dashboard"]["title"] == "dxpulse — pipeline"
    stored = grafana.dashboards[DASHBOARDS[1]]["dashboard"]
    assert (stored["title"], stored["version"]) == ("dxpulse — pipeline", 2)
    assert grafana.dashboards[DASHBOARDS[0]]["dashboard"]["version"] == 1
    # And it settles: the next push changes nothing.
    again = push_bundle(bundle, settings_for(grafana.url))
    assert {o.action for o in again} == {"unchanged"}


def test_a_changed_folder_datasource_and_rule_are_updated_in_place(grafana):
    pushed(grafana)
    bundle = make_bundle()
    bundle = GrafanaBundle(
        folder_uid=FOLDER,
        folder_title="dxpulse (prod)",
        datasource={**bundle.datasource,
                    "jsonData": {**bundle.datasource["jsonData"], "port": 9440, "secure": True}},
        dashboards=bundle.dashboards,
        alert_rules=[bundle.alert_rules[0], {**bundle.alert_rules[1], "for": "15m"}],
    )  # fmt: skip

    outcomes = push_bundle(bundle, settings_for(grafana.url))

    assert [(o.kind, o.action) for o in outcomes if o.action != "unchanged"] == [
        ("folder", "updated"), ("datasource", "updated"), ("alert rule", "updated"),
    ]  # fmt: skip
    assert [(r.method, r.path, r.body) for r in grafana.writes] == [
        ("PUT", f"/api/folders/{FOLDER}", {"title": "dxpulse (prod)", "overwrite": True}),
        ("PUT", f"/api/datasources/uid/{DS}", bundle.datasource),
        ("PUT", f"/api/v1/provisioning/alert-rules/{RULES[1]}", bundle.alert_rules[1]),
    ]
    assert grafana.folders[FOLDER]["title"] == "dxpulse (prod)"
    assert grafana.datasources[DS]["jsonData"]["port"] == 9440
    assert grafana.datasources[DS]["version"] == 2
    assert grafana.alert_rules[RULES[1]]["for"] == "15m"
    assert {o.action for o in push_bundle(bundle, settings_for(grafana.url))} == {"unchanged"}


def test_a_rule_edited_in_a_query_is_updated(grafana):
    pushed(grafana)
    bundle = make_bundle()
    rule = copy.deepcopy(bundle.alert_rules[0])
    rule["data"][2]["model"]["conditions"][0]["evaluator"]["params"] = [10]
    bundle.alert_rules[0] = rule

    outcomes = push_bundle(bundle, settings_for(grafana.url))

    assert [o.uid for o in outcomes if o.action == "updated"] == [RULES[0]]
    evaluator = grafana.alert_rules[RULES[0]]["data"][2]["model"]["conditions"][0]["evaluator"]
    assert evaluator["params"] == [10]


def test_the_clickhouse_password_is_sent_and_never_returned(grafana):
    settings = settings_for(grafana.url, clickhouse_password=SecretStr("ch-secret"))

    push_bundle(make_bundle(), settings)

    create = grafana.writes[1]
    assert create.path == "/api/datasources"
    assert create.body["secureJsonData"] == {"password": "ch-secret"}
    assert grafana.datasources[DS]["secureJsonFields"] == {"password": True}
    assert "ch-secret" not in json.dumps(grafana.datasources)
    # Grafana holds a password: nothing to do, although it cannot be compared.
    grafana.requests.clear()
    assert {o.action for o in push_bundle(make_bundle(), settings)} == {"unchanged"}
    assert grafana.writes == []


def test_a_password_missing_in_grafana_is_added(grafana):
    pushed(grafana)  # without a password

    settings = settings_for(grafana.url, clickhouse_password=SecretStr("ch-secret"))
    outcomes = push_bundle(make_bundle(), settings)

    assert [o.kind for o in outcomes if o.action == "updated"] == ["datasource"]
    assert grafana.writes[0].body["secureJsonData"] == {"password": "ch-secret"}
    assert grafana.secrets[DS] == {"password": "ch-secret"}


def test_a_read_only_datasource_that_differs_is_a_clear_error(grafana):
    bundle = make_bundle()
    grafana.provision_datasource({**bundle.datasource, "jsonData": {"host": "elsewhere"}})

    with pytest.raises(DxpulseError, match="managed by provisioning files") as raised:
        push_bundle(bundle, settings_for(grafana.url))

    assert f"datasource {DS!r}" in str(raised.value)
    assert [(r.method, r.path) for r in grafana.writes] == [("POST", "/api/folders")]


def test_a_read_only_datasource_that_matches_is_left_alone(grafana):
    bundle = make_bundle()
    grafana.provision_datasource(bundle.datasource)

    outcomes = push_bundle(bundle, settings_for(grafana.url))

    assert outcomes[1].action == "unchanged"
    assert all(r.path != f"/api/datasources/uid/{DS}" for r in grafana.writes)


def test_a_provisioned_dashboard_that_differs_is_a_clear_error(grafana):
    pushed(grafana)
    grafana.dashboards.clear()
    model = make_bundle().dashboards[0]
    grafana.provision_dashboard({**model, "title": "edited on disk"}, FOLDER)

    with pytest.raises(DxpulseError, match="managed by provisioning files"):
        push_bundle(make_bundle(), settings_for(grafana.url))


def test_a_wrong_token_is_one_clear_error_and_writes_nothing(grafana):
    with pytest.raises(DxpulseError) as raised:
        push_bundle(make_bundle(), settings_for(grafana.url, token="glsa_wrong"))

    assert str(raised.value) == (
        "Grafana rejected the token (HTTP 401): set DXPULSE_GRAFANA__TOKEN to a "
        "service-account token"
    )
    assert grafana.calls() == [("GET", f"/api/folders/{FOLDER}")]
    assert grafana.state() == FakeGrafana().state()


def test_a_token_without_write_permission(grafana):
    grafana.tokens["glsa_viewer"] = "Viewer"

    with pytest.raises(DxpulseError) as raised:
        push_bundle(make_bundle(), settings_for(grafana.url, token="glsa_viewer"))

    message = str(raised.value)
    assert message.startswith("the Grafana token lacks permission for creating folder 'dxpulse'")
    assert "HTTP 403" in message and "folders:create" in message
    assert "glsa_viewer" not in message
    assert grafana.folders == {}


def test_no_token_fails_before_any_request(grafana):
    for token in (None, "", "   "):
        with pytest.raises(DxpulseError, match="no Grafana token: set DXPULSE_GRAFANA__TOKEN"):
            push_bundle(make_bundle(), settings_for(grafana.url, token=token))
    assert grafana.requests == []


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_grafana():
    url = f"http://127.0.0.1:{closed_port()}"

    with pytest.raises(DxpulseError) as raised:
        push_bundle(make_bundle(), settings_for(url))

    assert str(raised.value) == f"Grafana at {url} is unreachable: connection refused"


def test_an_unknown_host():
    url = "http://grafana.invalid:3000"  # .invalid never resolves (RFC 2606)

    with pytest.raises(DxpulseError) as raised:
        push_bundle(make_bundle(), settings_for(url))

    assert str(raised.value) == (
        f"Grafana at {url} is unreachable: cannot resolve host 'grafana.invalid'"
    )


def test_a_grafana_that_does_not_answer_in_time(grafana):
    grafana.delay_s = 5

    with pytest.raises(DxpulseError) as raised:
        push_bundle(make_bundle(), settings_for(grafana.url, timeout_s=0.3))

    assert str(raised.value) == f"Grafana at {grafana.url} is unreachable: no answer within 0.3 s"


def test_grafanas_own_message_on_a_rejected_request(grafana):
    bundle = make_bundle()
    bundle.dashboards[0]["title"] = ""

    with pytest.raises(DxpulseError) as raised:
        push_bundle(bundle, settings_for(grafana.url))

    assert str(raised.value) == (
        f"Grafana rejected saving dashboard {DASHBOARDS[0]!r} (HTTP 400): "
        "Dashboard title cannot be empty"
    )


def test_user_and_password_in_the_url_stay_out_of_messages():
    url = f"http://admin:hunter2@127.0.0.1:{closed_port()}"

    with pytest.raises(DxpulseError) as raised:
        push_bundle(make_bundle(), settings_for(url))

    assert "hunter2" not in str(raised.value)
    assert str(raised.value).startswith("Grafana at http://127.0.0.1:")


def test_dry_run_on_an_empty_grafana_reads_only(grafana):
    outcomes = push_bundle(make_bundle(), settings_for(grafana.url), dry_run=True)

    assert actions(outcomes) == expected("created")
    assert grafana.calls() == [call for call in FIRST_PUSH if call[0] == "GET"]
    assert grafana.state() == FakeGrafana().state()


def test_dry_run_reports_an_update_without_writing_it(grafana):
    pushed(grafana)
    before = grafana.state()
    bundle = make_bundle()
    bundle.dashboards[0]["refresh"] = "30s"

    outcomes = push_bundle(bundle, settings_for(grafana.url), dry_run=True)

    assert [o.uid for o in outcomes if o.action == "updated"] == [DASHBOARDS[0]]
    assert grafana.writes == []
    assert grafana.state() == before


# -- through the real command line --------------------------------------------------------


def dxpulse(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("DXPULSE_")}
    return subprocess.run(
        [sys.executable, "-m", "dxpulse", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, "COLUMNS": "120", "NO_COLOR": "1", **env},
        stdin=subprocess.DEVNULL,
    )


def test_cli_push_prints_a_table_and_a_summary(grafana):
    env = {"DXPULSE_GRAFANA__URL": grafana.url, "DXPULSE_GRAFANA__TOKEN": TOKEN}

    done = dxpulse("dashboards", "push", **env)

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert f"Grafana at {grafana.url}" in lines[0]
    header = next(line for line in lines if "object" in line)
    assert header.split() == ["┃", "object", "┃", "uid", "┃", "title", "┃", "action", "┃"]
    assert any("folder" in line and FOLDER in line and "created" in line for line in lines)
    assert any(DS in line and "dxpulse ClickHouse" in line and "created" in line for line in lines)
    # The real bundle: folder, datasource, the dashboards, the alert rules, in order.
    real = bundle_for(Settings())
    objects = 2 + len(real.dashboards) + len(real.alert_rules)
    assert objects == 2 + 6 + 4
    assert lines[-1] == f"Pushed to {grafana.url}: {objects} created, 0 updated, 0 unchanged."
    assert TOKEN not in done.stdout
    expected = [
        ("GET", f"/api/folders/{FOLDER}"), ("POST", "/api/folders"),
        ("GET", f"/api/datasources/uid/{DS}"), ("POST", "/api/datasources"),
    ]  # fmt: skip
    for model in real.dashboards:
        expected += [
            ("GET", f"/api/dashboards/uid/{model['uid']}"),
            ("POST", "/api/dashboards/db"),
        ]
    for rule in real.alert_rules:
        expected += [
            ("GET", f"/api/v1/provisioning/alert-rules/{rule['uid']}"),
            ("POST", "/api/v1/provisioning/alert-rules"),
        ]
    assert grafana.calls() == expected
    stored = grafana.state()

    again = dxpulse("dashboards", "push", **env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1].endswith(f": 0 created, 0 updated, {objects} unchanged.")
    assert grafana.calls()[len(expected) :] == [c for c in expected if c[0] == "GET"]
    assert grafana.state() == stored


def test_cli_dry_run_and_url_option(grafana):
    done = dxpulse(
        "dashboards", "push", "--dry-run", "--url", grafana.url,
        DXPULSE_GRAFANA__URL="http://localhost:1", DXPULSE_GRAFANA__TOKEN=TOKEN,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert "would be created" in done.stdout
    real = bundle_for(Settings())
    objects = 2 + len(real.dashboards) + len(real.alert_rules)
    assert done.stdout.splitlines()[-1] == (
        f"Dry run, nothing written: {objects} to create, 0 to update, 0 unchanged."
    )
    assert grafana.writes == []
    assert grafana.requests  # the --url option won over the environment


def test_cli_bad_token_is_one_line_and_exit_1(grafana):
    done = dxpulse(
        "dashboards", "push",
        DXPULSE_GRAFANA__URL=grafana.url, DXPULSE_GRAFANA__TOKEN="glsa_wrong_token",
    )  # fmt: skip

    assert done.returncode == 1
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        "dxpulse: error: Grafana rejected the token (HTTP 401): set DXPULSE_GRAFANA__TOKEN "
        "to a service-account token"
    ]
    assert "glsa_wrong_token" not in done.stderr
    assert grafana.writes == []


def test_cli_unreachable_grafana_is_one_line(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}"

    done = dxpulse("dashboards", "push", "--url", url, DXPULSE_GRAFANA__TOKEN=TOKEN)

    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"dxpulse: error: Grafana at {url} is unreachable: connection refused"
    ]


@pytest.mark.parametrize("args", [["dashboards", "--help"], ["dashboards", "push", "--help"]])
def test_cli_help(args):
    done = dxpulse(*args)

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Usage: dxpulse {' '.join(args[:-1])} ")
    assert "Grafana" in done.stdout
    if "push" in args:
        assert "--dry-run" in done.stdout and "--url" in done.stdout
        assert "--token" not in done.stdout
        assert "DXPULSE_GRAFANA__TOKEN" in done.stdout
