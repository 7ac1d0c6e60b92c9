"""A stand-in Grafana for tests: a real HTTP server on 127.0.0.1 that speaks the part of
Grafana's HTTP API that `dxpulse dashboards push` uses, with in-memory state.

It checks what real Grafana checks (the bearer token, each request's method, path and body
shape; references to folders and datasources) and answers as real Grafana does (status
codes, JSON bodies with a "message", an empty body for a missing alert rule). It stores what
real Grafana stores and sends back the fields Grafana adds: ids, versions, orgId, readOnly,
secureJsonFields (never a password), the defaults Grafana fills into alert rule queries, and
durations in Prometheus' canonical form. Every request is recorded (method, path, body).

Roles are simplified: an "Admin" token may do everything, a "Viewer" token only read.

    with FakeGrafana(tokens={"t0ken": "Admin"}) as grafana:
        ...  # grafana.url, grafana.requests, grafana.state()
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

JSON = dict[str, Any]
TOKEN = "glsa_test_token_0123456789"

_UID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNIT_MS = {"y": 31_536_000_000, "w": 604_800_000, "d": 86_400_000, "h": 3_600_000,
            "m": 60_000, "s": 1_000, "ms": 1}  # fmt: skip
NO_DATA_STATES = {"Alerting", "NoData", "OK", "KeepLast"}
EXEC_ERR_STATES = {"OK", "Alerting", "Error", "KeepLast"}
ALERT_RULE_FIELDS = {
    "id", "uid", "orgID", "folderUID", "ruleGroup", "title", "condition", "data", "updated",
    "noDataState", "execErrState", "for", "keep_firing_for", "annotations", "labels",
    "provenance", "isPaused", "notification_settings", "record",
    "missing_series_evals_to_resolve",
}  # fmt: skip
EXPRESSION_UID = "__expr__"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: Any  # the parsed JSON body, None without one


class GrafanaError(Exception):
    def __init__(self, status: int, message: str | None, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        # None: an empty body, as Grafana sends for some 404s.
        self.body: JSON | None = None if message is None else {"message": message, **extra}


def _parse_duration_ms(value: Any) -> int:
    if not isinstance(value, str):
        raise GrafanaError(400, f"invalid duration {value!r}: not a string")
    if value == "0":
        return 0
    parts = _DURATION_PART.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise GrafanaError(400, f'time: invalid duration "{value}"')
    return sum(int(n) * _UNIT_MS[u] for n, u in parts)


def canonical_duration(value: Any) -> str:
    """As Grafana writes a duration back (Prometheus model.Duration): "300s" -> "5m"."""
    ms = _parse_duration_ms(value)
    if ms == 0:
        return "0s"
    out = ""
    for unit, size in _UNIT_MS.items():
        if ms >= size:
            out += f"{ms // size}{unit}"
            ms %= size
    return out


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise GrafanaError(400, message)


def _object(body: Any, what: str = "body") -> JSON:
    _require(isinstance(body, dict), f"bad request data: {what} must be a JSON object")
    return dict(body)


def _text(body: JSON, key: str, message: str) -> str:
    value = body.get(key)
    _require(isinstance(value, str) and value.strip() != "", message)
    return str(value)


def _uid(value: Any) -> str:
    _require(isinstance(value, str) and bool(_UID.match(value)), "uid contains illegal characters")
    return str(value)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


class FakeGrafana:
    """See the module's docstring. Use as a context manager: it serves while inside."""

    def __init__(self, tokens: dict[str, str] | None = None) -> None:
        self.tokens = {TOKEN: "Admin"} if tokens is None else tokens
        self.requests: list[Request] = []
        self.folders: dict[str, JSON] = {}
        self.datasources: dict[str, JSON] = {}
        self.secrets: dict[str, dict[str, str]] = {}  # never sent back
        self.dashboards: dict[str, JSON] = {}  # uid -> {"dashboard", "meta"}
        self.alert_rules: dict[str, JSON] = {}
        self.delay_s = 0.0  # answer this late (for client timeouts)
        self._next_id = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., tuple[int, Any]]]] = [
            ("GET", re.compile(r"/api/folders/(?P<uid>[^/]+)"), self._get_folder),
            ("POST", re.compile(r"/api/folders"), self._create_folder),
            ("PUT", re.compile(r"/api/folders/(?P<uid>[^/]+)"), self._update_folder),
            ("GET", re.compile(r"/api/datasources/uid/(?P<uid>[^/]+)"), self._get_datasource),
            ("POST", re.compile(r"/api/datasources"), self._create_datasource),
            ("PUT", re.compile(r"/api/datasources/uid/(?P<uid>[^/]+)"), self._update_datasource),
            ("GET", re.compile(r"/api/dashboards/uid/(?P<uid>[^/]+)"), self._get_dashboard),
            ("POST", re.compile(r"/api/dashboards/db"), self._save_dashboard),
            ("GET", re.compile(r"/api/v1/provisioning/alert-rules/(?P<uid>[^/]+)"), self._get_rule),
            ("POST", re.compile(r"/api/v1/provisioning/alert-rules"), self._create_rule),
            ("PUT", re.compile(r"/api/v1/provisioning/alert-rules/(?P<uid>[^/]+)"),
             self._update_rule),
        ]  # fmt: skip

    # -- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> FakeGrafana:
        fake = self

        class Handler(_Handler):
            grafana = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- inspection and set-up ----------------------------------------------------------

    @property
    def writes(self) -> list[Request]:
        return [r for r in self.requests if r.method != "GET"]

    def calls(self) -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in self.requests]

    def state(self) -> bytes:
        """Everything stored, serialised: equal bytes mean nothing changed."""
        with self._lock:
            return json.dumps(
                {
                    "folders": self.folders,
                    "datasources": self.datasources,
                    "secrets": self.secrets,
                    "dashboards": self.dashboards,
                    "alert_rules": self.alert_rules,
                },
                sort_keys=True,
            ).encode()

    def provision_datasource(self, body: JSON) -> JSON:
        """A datasource as a provisioning file makes it: read-only."""
        with self._lock:
            self._create_datasource({}, body)
            stored = self.datasources[body["uid"]]
            stored["readOnly"] = True
            return stored

    def provision_dashboard(self, model: JSON, folder_uid: str) -> JSON:
        """A dashboard as a provisioning file makes it: saving over it is refused."""
        with self._lock:
            self._save_dashboard({}, {"dashboard": model, "folderUid": folder_uid,
                                      "overwrite": True})  # fmt: skip
            stored = self.dashboards[model["uid"]]
            stored["meta"]["provisioned"] = True
            return stored

    # -- HTTP plumbing ------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: Any, raw: bytes) -> tuple[int, Any]:
        body: Any = None
        bad_json = False
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                bad_json = True
        with self._lock:
            self.requests.append(Request(method, path, body))
        if self.delay_s:
            self._stopping.wait(self.delay_s)
        try:
            auth = headers.get("Authorization", "")
            token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else None
            if token not in self.tokens:
                raise GrafanaError(401, "invalid API key")
            route = self._route(method, path.split("?", 1)[0])
            if method in ("POST", "PUT"):
                if not headers.get("Content-Type", "").startswith("application/json"):
                    raise GrafanaError(400, "bad request data: expected application/json")
                if bad_json:
                    raise GrafanaError(400, "bad request data: invalid JSON")
            if method != "GET" and self.tokens[token] != "Admin":
                raise GrafanaError(
                    403,
                    "You'll need additional permissions to perform this action. "
                    f"Permissions needed: {route[2]}",
                )
            handler, params = route[0], route[1]
            with self._lock:
                return handler(params, body, headers)
        except GrafanaError as exc:
            return exc.status, exc.body

    def _route(self, method: str, path: str) -> tuple[Callable[..., tuple[int, Any]], JSON, str]:
        allowed = False
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match:
                allowed = True
                if route_method == method:
                    permission = {
                        "_create_folder": "folders:create",
                        "_update_folder": "folders:write",
                        "_create_datasource": "datasources:create",
                        "_update_datasource": "datasources:write",
                        "_save_dashboard": "dashboards:write",
                        "_create_rule": "alert.provisioning:write",
                        "_update_rule": "alert.provisioning:write",
                    }.get(handler.__name__, "")
                    return handler, match.groupdict(), permission
        if allowed:
            raise GrafanaError(405, "Method Not Allowed")
        raise GrafanaError(404, "Not found")

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    # -- folders ------------------------------------------------------------------------

    def _get_folder(self, params: JSON, body: Any, headers: Any = None) -> tuple[int, Any]:
        folder = self.folders.get(params["uid"])
        if folder is None:
            raise GrafanaError(404, "folder not found")
        return 200, folder

    def _create_folder(self, params: JSON, body: Any, headers: Any = None) -> tuple[int, Any]:
        body = _object(body)
        _require(set(body) <= {"uid", "title", "parentUid", "description"}, "bad request data")
        title = _text(body, "title", "folder title cannot be empty")
        uid = _uid(body["uid"]) if "uid" in body else f"f{self._next_id + 1}"
        if uid in self.folders:
            raise GrafanaError(409, "a folder with the same uid already exists")
        now = _now()
        self.folders[uid] = {
            "id": self._id(), "uid": uid, "orgId": 1, "title": title,
            "url": f"/dashboards/f/{uid}/{_slug(title)}", "hasAcl": False, "canSave": True,
            "canEdit": True, "canAdmin": True, "canDelete": True, "createdBy": "service-account",
            "created": now, "updatedBy": "service-account", "updated": now, "version": 1,
        }  # fmt: skip
        return 200, self.folders[uid]

    def _update_folder(self, params: JSON, body: Any, headers: Any = None) -> tuple[int, Any]:
        folder = self.folders.get(params["uid"])
        if folder is None:
            raise GrafanaError(404, "folder not found")
        body = _object(body)
        allowed = {"uid", "title", "version", "overwrite", "description"}
        _require(set(body) <= allowed, "bad request data")
        title = _text(body, "title", "folder title cannot be empty")
        _require(isinstance(body.get("overwrite", False), bool), "bad request data: overwrite")
        if not body.get("overwrite") and body.get("version") != folder["version"]:
            raise GrafanaError(412, "the folder has been changed by someone else")
        folder.update(
            title=title,
            url=f"/dashboards/f/{folder['uid']}/{_slug(title)}",
            version=folder["version"] + 1,
            updated=_now(),
        )
        return 200, folder

    # -- datasources --------------------------------------------------------------------

    def _get_datasource(self, params: JSON, body: Any, headers: Any = None) -> tuple[int, Any]:
        stored = self.datasources.get(params["uid"])
        if stored is None:
            raise GrafanaError(404, "Data source not found")
        return 200, stored

    def _datasource_fields(self, body: Any, uid: str | None) -> tuple[JSON, dict[str, str]]:
        body = _object(body)
        for key in ("name", "type", "access"):
            _require(isinstance(body.get(key), str) and body[key] != "", f"{key} is required")
        _require(body["access"] in ("proxy", "direct"), "access must be proxy or direct")
        json_data = body.get("jsonData", {})
        _require(isinstance(json_data, dict), "bad request data: jsonData must be an object")
        secure = body.get("secureJsonData", {})
        _require(
            isinstance(secure, dict) and all(isinstance(v, str) for v in secure.values()),
            "bad request data: secureJsonData must map names to strings",
        )
        for other in self.datasources.values():
            if other["name"] == body["name"] and other["uid"] != uid:
                raise GrafanaError(409, "data source with the same name already exists")
        fields = {
            "name": body["name"], "type": body["type"], "typeLogoUrl": "",
            "access": body["access"], "url": body.get("url", ""), "user": body.get("user", ""),
            "database": body.get("database", ""), "basicAuth": body.get("basicAuth", False),
            "basicAuthUser": body.get("basicAuthUser", ""),
            "withCredentials": body.get("withCredentials", False),
            "isDefault": body.get("isDefault", False), "jsonData": json_data,
        }  # fmt: skip
        return fields, secure

    def _create_datasource(self, params: JSON, body: Any, headers: Any = None) -> tuple[int, Any]:
        uid = _uid(body["uid"]) if isinstance(body, dict) and "uid" in body else None
        fields, secure = self._datasource_fields(body, uid)
        uid = uid or f"ds{self._next_id + 1}"
        if uid in self.datasources:
            raise GrafanaError(409, "data source with the same uid already exists")
        self.secrets[uid] = dict(secure)
        stored = {"id": self._id(), "uid": uid, "orgId": 1, **fields,
                  "secureJsonFields": dict.fromkeys(secure, True), "version": 1,
                  "readOnly": False, "apiVersion": ""}  # fmt: skip
        self.datasources[uid] = stored
        return 200, {"datasource": stored, "id": stored["id"], "message": "Datasource added",
                     "name": stored["name"]}  # fmt: skip

    def _update_datasource(self, params: JSON, body: Any, headers: Any = None) -> tuple[int, Any]:
        stored = self.datasources.get(params["uid"])
        if stored is None:
            raise GrafanaError(404, "Data source not found")
        if stored["readOnly"]:
            raise GrafanaError(403, "Cannot update read-only data source")
        _require(
            not isinstance(body, dict) or body.get("uid", stored["uid"]) == stored["uid"],
            "bad request data: uid cannot be changed here",
        )
        fields, secure = self._datasource_fields(body, stored["uid"])
        # Secrets not sent are kept, as Grafana does.
        self.secrets[stored["uid"]].update(secure)
        stored.update(fields)
        stored["secureJsonFields"] = dict.fromkeys(self.secrets[stored["uid"]], True)
        stored["version"] += 1
        return 200, {"datasource": stored, "id": stored["id"], "message": "Datasource updated",
                     "name": stored["name"]}  # fmt: skip

    # -- dashboards ---------------------------------------------------------------------

    def _get_dashboard(self, params: JSON, body: Any, headers: Any = None) -> tuple[int, Any]:
        stored = self.dashboards.get(params["uid"])
        if stored is None:
            raise GrafanaError(404, "Dashboard not found")
        return 200, stored

    def _save_dashboard(self, params: JSON, body: Any, headers: Any = None) -> tuple[int, Any]:
        body = _object(body)
        _require(set(body) <= {"dashboard", "folderUid", "folderId", "overwrite", "message"},
                 "bad request data: unknown field")  # fmt: skip
        model = _object(body.get("dashboard"), "dashboard")
        uid = _uid(model.get("uid"))
        title = _text(model, "title", "Dashboard title cannot be empty")
        _require(model.get("id") is None or isinstance(model["id"], int), "bad request data: id")
        folder_uid = body.get("folderUid")
        _require(isinstance(folder_uid, str), "bad request data: folderUid is required")
        _require(isinstance(body.get("overwrite"), bool), "bad request data: overwrite")
        _require(isinstance(body.get("message", ""), str), "bad request data: message")
        if folder_uid and folder_uid not in self.folders:
            raise GrafanaError(400, "folder not found")
        existing = self.dashboards.get(uid)
        if existing is not None:
            if existing["meta"]["provisioned"]:
                raise GrafanaError(400, "Cannot save provisioned dashboard")
            if not body["overwrite"] and model.get("id") != existing["dashboard"]["id"]:
                raise GrafanaError(412, "A dashboard with the same uid already exists",
                                   status="name-exists")  # fmt: skip
        dash_id = existing["dashboard"]["id"] if existing else self._id()
        version = existing["dashboard"]["version"] + 1 if existing else 1
        now = _now()
        stored_model = {**model, "id": dash_id, "uid": uid, "version": version}
        folder = self.folders.get(folder_uid, {})
        self.dashboards[uid] = {
            "dashboard": stored_model,
            "meta": {
                "type": "db", "canSave": True, "canEdit": True, "canAdmin": True,
                "canStar": True, "canDelete": True, "slug": _slug(title),
                "url": f"/d/{uid}/{_slug(title)}", "expires": "0001-01-01T00:00:00Z",
                "created": existing["meta"]["created"] if existing else now, "updated": now,
                "updatedBy": "service-account", "createdBy": "service-account",
                "version": version, "hasAcl": False, "isFolder": False,
                "folderId": folder.get("id", 0), "folderUid": folder_uid,
                "folderTitle": folder.get("title", "General"), "folderUrl": folder.get("url", ""),
                "provisioned": False, "provisionedExternalId": "",
            },
        }  # fmt: skip
        return 200, {"id": dash_id, "uid": uid, "url": f"/d/{uid}/{_slug(title)}",
                     "status": "success", "version": version, "slug": _slug(title),
                     "folderUid": folder_uid}  # fmt: skip

    # -- alert rules --------------------------------------------------------------------

    def _get_rule(self, params: JSON, body: Any, headers: Any = None) -> tuple[int, Any]:
        stored = self.alert_rules.get(params["uid"])
        if stored is None:
            raise GrafanaError(404, None)  # Grafana sends no body here
        return 200, stored

    def _rule(self, body: Any, uid: str, existing: JSON | None, headers: Any) -> JSON:
        body = _object(body)
        unknown = set(body) - ALERT_RULE_FIELDS
        _require(not unknown, f"bad request data: unknown fields {sorted(unknown)}")
        title = _text(body, "title", "invalid alert rule: title is empty")
        folder_uid = _text(body, "folderUID", "invalid alert rule: folderUID is required")
        if folder_uid not in self.folders:
            raise GrafanaError(400, f"invalid alert rule: folder {folder_uid} does not exist")
        group = _text(body, "ruleGroup", "invalid alert rule: ruleGroup is required")
        condition = _text(body, "condition", "invalid alert rule: condition is required")
        data = body.get("data")
        _require(isinstance(data, list) and bool(data), "invalid alert rule: no queries")
        queries = []
        for item in data:
            query = _object(item, "query")
            ref = _text(query, "refId", "invalid alert rule: a query has no refId")
            ds = _text(query, "datasourceUid", f"invalid query {ref}: no datasourceUid")
            _require(isinstance(query.get("model"), dict), f"invalid query {ref}: no model")
            if ds != EXPRESSION_UID and ds not in self.datasources:
                raise GrafanaError(400, f"invalid query {ref}: data source not found")
            time_range = query.get("relativeTimeRange", {"from": 0, "to": 0})
            _require(
                isinstance(time_range, dict)
                and all(isinstance(time_range.get(k, 0), int) for k in ("from", "to")),
                f"invalid query {ref}: relativeTimeRange",
            )
            model = {"intervalMs": 1000, "maxDataPoints": 43200, **query["model"]}
            queries.append({"refId": ref, "queryType": query.get("queryType", ""),
                            "relativeTimeRange": time_range, "datasourceUid": ds,
                            "model": model})  # fmt: skip
        refs = [q["refId"] for q in queries]
        _require(len(set(refs)) == len(refs), "invalid alert rule: duplicate refId")
        _require(condition in refs, f"invalid alert rule: condition {condition} is no refId")
        for key, states in (("noDataState", NO_DATA_STATES), ("execErrState", EXEC_ERR_STATES)):
            _require(body.get(key) in states, f"invalid alert rule: {key} must be one of "
                     f"{sorted(states)}")  # fmt: skip
        _require("for" in body, "invalid alert rule: for is required")
        for key in ("labels", "annotations"):
            value = body.get(key) or {}
            _require(
                isinstance(value, dict) and all(isinstance(v, str) for v in value.values()),
                f"bad request data: {key} must map names to strings",
            )
        _require(isinstance(body.get("isPaused", False), bool), "bad request data: isPaused")
        provenance = "" if headers.get("X-Disable-Provenance") else "api"
        if existing is not None and existing["provenance"] not in ("", provenance):
            raise GrafanaError(
                400, f"cannot change provenance from '{existing['provenance']}' to '{provenance}'"
            )
        rule = {
            "id": existing["id"] if existing else self._id(), "uid": uid, "orgID": 1,
            "folderUID": folder_uid, "ruleGroup": group, "title": title,
            "condition": condition, "data": queries, "updated": _now(),
            "noDataState": body["noDataState"], "execErrState": body["execErrState"],
            "for": canonical_duration(body["for"]), "provenance": provenance,
            "isPaused": body.get("isPaused", False),
        }  # fmt: skip
        if "keep_firing_for" in body:
            rule["keep_firing_for"] = canonical_duration(body["keep_firing_for"])
        for key in ("labels", "annotations", "notification_settings", "record"):
            if body.get(key):  # left out when empty, as Grafana does
                rule[key] = body[key]
        return rule

    def _create_rule(self, params: JSON, body: Any, headers: Any) -> tuple[int, Any]:
        uid = _uid(body.get("uid")) if isinstance(body, dict) else ""
        if uid in self.alert_rules:
            raise GrafanaError(409, "rule with this UID already exists")
        self.alert_rules[uid] = self._rule(body, uid, None, headers)
        return 201, self.alert_rules[uid]

    def _update_rule(self, params: JSON, body: Any, headers: Any) -> tuple[int, Any]:
        uid = params["uid"]
        existing = self.alert_rules.get(uid)
        if existing is None:
            raise GrafanaError(404, None)
        _require(
            not isinstance(body, dict) or body.get("uid", uid) == uid,
            "bad request data: uid in the body differs from the path",
        )
        self.alert_rules[uid] = self._rule(body, uid, existing, headers)
        return 200, self.alert_rules[uid]


class _Handler(BaseHTTPRequestHandler):
    grafana: FakeGrafana
    protocol_version = "HTTP/1.1"  # keep-alive, as niquests expects of Grafana

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        status, body = self.grafana.handle(self.command, self.path, self.headers, raw)
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet in test output
