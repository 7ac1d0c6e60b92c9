"""`dxpulse dashboards push`: put a GrafanaBundle into a running Grafana over its HTTP API.

Idempotent: every object is read first and written only when missing or different
(dxpulse.dashboards.diff decides), so a second push of the same bundle only reads. Order:
folder, datasource, dashboards, alert rules (the rules name the folder and the datasource).
Every failure is a DxpulseError with one line; the token never appears in one.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from dxpulse.core import extras
from dxpulse.core.config import GrafanaSettings
from dxpulse.core.errors import DxpulseError
from dxpulse.dashboards.bundle import GrafanaBundle
from dxpulse.dashboards.diff import (
    JSON,
    alert_rule_changed,
    dashboard_changed,
    datasource_changed,
    folder_changed,
)

with extras.needed("dashboards", "`dxpulse dashboards push`"):
    import niquests
    from grafana_client.api import GrafanaApi
    from grafana_client.client import (
        GrafanaClientError,
        GrafanaException,
        GrafanaTimeoutError,
        GrafanaUnauthorizedError,
    )

Action = Literal["created", "updated", "unchanged"]
Kind = Literal["folder", "datasource", "dashboard", "alert rule"]
PUSH_MESSAGE = "dxpulse dashboards push"  # the version message of every dashboard saved


@dataclass(frozen=True)
class PushOutcome:
    kind: Kind
    uid: str
    title: str
    action: Action


def push_bundle(
    bundle: GrafanaBundle, settings: GrafanaSettings, *, dry_run: bool = False
) -> list[PushOutcome]:
    """Create or update the bundle's objects in Grafana; with ``dry_run``, only read and
    report what a push would do. Raises DxpulseError (one line) on any failure."""
    with _Grafana(settings, dry_run) as grafana:
        return [
            grafana.folder(bundle.folder_uid, bundle.folder_title),
            grafana.datasource(bundle.datasource),
            *(grafana.dashboard(d, bundle.folder_uid) for d in bundle.dashboards),
            *(grafana.alert_rule(r) for r in bundle.alert_rules),
        ]


def display_url(url: str) -> str:
    """The URL without any user:password part, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=host))


def _api(settings: GrafanaSettings, token: str) -> GrafanaApi:
    parts = urlsplit(settings.url)
    path = parts.path.strip("/")
    return GrafanaApi(
        token,  # grafana_client sends it as "Authorization: Bearer <token>"
        host=parts.hostname,
        port=parts.port,
        url_path_prefix=f"{path}/" if path else "",  # Grafana served under a sub-path
        protocol=parts.scheme,
        timeout=settings.timeout_s,
    )


class _Grafana:
    """One push: the client, the error translation and the read-compare-write steps."""

    def __init__(self, settings: GrafanaSettings, dry_run: bool) -> None:
        token = settings.token.get_secret_value().strip() if settings.token else ""
        if not token:
            raise DxpulseError(
                "no Grafana token: set DXPULSE_GRAFANA__TOKEN to a service-account token"
            )
        self.settings = settings
        self.url = display_url(settings.url)
        self.dry_run = dry_run
        self.api = _api(settings, token)

    def __enter__(self) -> _Grafana:
        return self

    def __exit__(self, *exc: object) -> None:
        self.api.client.s.close()

    # -- the objects --------------------------------------------------------------------

    def folder(self, uid: str, title: str) -> PushOutcome:
        what = f"folder {uid!r}"
        stored = self._get(f"reading {what}", lambda: self.api.folder.get_folder(uid))
        if stored is None:
            self._write(f"creating {what}", lambda: self.api.folder.create_folder(title, uid=uid))
            return PushOutcome("folder", uid, title, "created")
        if not folder_changed(stored, title):
            return PushOutcome("folder", uid, title, "unchanged")
        self._write(
            f"updating {what}",
            lambda: self.api.folder.update_folder(uid, title=title, overwrite=True),
        )
        return PushOutcome("folder", uid, title, "updated")

    def datasource(self, ours: JSON) -> PushOutcome:
        uid, name = str(ours["uid"]), str(ours["name"])
        what = f"datasource {uid!r}"
        password = self.settings.clickhouse_password
        body = dict(ours)
        if password is not None:
            body["secureJsonData"] = {"password": password.get_secret_value()}
        stored = self._get(
            f"reading {what}", lambda: self.api.datasource.get_datasource_by_uid(uid)
        )
        if stored is None:
            self._write(f"creating {what}", lambda: self.api.datasource.create_datasource(body))
            return PushOutcome("datasource", uid, name, "created")
        if not datasource_changed(stored, ours, password=password is not None):
            return PushOutcome("datasource", uid, name, "unchanged")
        if stored.get("readOnly"):
            raise DxpulseError(
                f"datasource {uid!r} in Grafana differs from dxpulse's but is read-only: it is "
                "managed by provisioning files; change it there or remove it from them"
            )
        self._write(
            f"updating {what}",
            lambda: self.api.datasource.update_datasource_by_uid(uid, body),
        )
        return PushOutcome("datasource", uid, name, "updated")

    def dashboard(self, ours: JSON, folder_uid: str) -> PushOutcome:
        uid, title = str(ours["uid"]), str(ours["title"])
        what = f"dashboard {uid!r}"
        stored = self._get(f"reading {what}", lambda: self.api.dashboard.get_dashboard(uid))
        if stored is not None and not dashboard_changed(stored, ours, folder_uid):
            return PushOutcome("dashboard", uid, title, "unchanged")
        if stored is not None and (stored.get("meta") or {}).get("provisioned"):
            raise DxpulseError(
                f"dashboard {uid!r} in Grafana differs from dxpulse's but is managed by "
                "provisioning files; change it there or remove it from them"
            )
        body = {
            "dashboard": {**ours, "id": None},
            "folderUid": folder_uid,
            "overwrite": True,
            "message": PUSH_MESSAGE,
        }
        self._write(f"saving {what}", lambda: self.api.dashboard.update_dashboard(body))
        return PushOutcome("dashboard", uid, title, "created" if stored is None else "updated")

    def alert_rule(self, ours: JSON) -> PushOutcome:
        uid, title = str(ours["uid"]), str(ours["title"])
        what = f"alert rule {uid!r}"
        rules = self.api.alertingprovisioning
        stored = self._get(f"reading {what}", lambda: rules.get_alertrule(uid))
        if stored is None:
            self._write(f"creating {what}", lambda: rules.create_alertrule(ours))
            return PushOutcome("alert rule", uid, title, "created")
        if not alert_rule_changed(stored, ours):
            return PushOutcome("alert rule", uid, title, "unchanged")
        if stored.get("provenance") == "file":
            raise DxpulseError(
                f"alert rule {uid!r} in Grafana differs from dxpulse's but is managed by "
                "provisioning files; change it there or remove it from them"
            )
        self._write(f"updating {what}", lambda: rules.update_alertrule(uid, ours))
        return PushOutcome("alert rule", uid, title, "updated")

    # -- requests and their errors ------------------------------------------------------

    def _get(self, what: str, call: Callable[[], Any]) -> JSON | None:
        """The object, or None when Grafana answers 404."""
        try:
            found = self._call(what, call)
        except _NotFound:
            return None
        if not isinstance(found, dict):
            raise DxpulseError(
                f"{self.url} does not answer like Grafana: {what} returned no JSON object "
                "(check DXPULSE_GRAFANA__URL)"
            )
        return found

    def _write(self, what: str, call: Callable[[], Any]) -> None:
        if self.dry_run:
            return
        try:
            self._call(what, call)
        except _NotFound as exc:
            raise DxpulseError(f"Grafana answered HTTP 404 to {what}: {exc}") from None

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except GrafanaTimeoutError as exc:
            raise self._unreachable(exc) from None
        except GrafanaUnauthorizedError:
            raise DxpulseError(
                "Grafana rejected the token (HTTP 401): set DXPULSE_GRAFANA__TOKEN to a "
                "service-account token"
            ) from None
        except GrafanaException as exc:
            if exc.status_code == 0:  # no HTTP answer at all
                raise self._unreachable(exc) from None
            message = _message(exc)
            if exc.status_code == 404:
                raise _NotFound(message) from None
            if exc.status_code == 403:
                raise DxpulseError(
                    f"the Grafana token lacks permission for {what} (HTTP 403"
                    + (f": {message})" if message else ")")
                ) from None
            kind = "rejected" if isinstance(exc, GrafanaClientError) else "failed"
            raise DxpulseError(
                f"Grafana {kind} {what} (HTTP {exc.status_code})"
                + (f": {message}" if message else "")
            ) from None
        except niquests.exceptions.RequestException as exc:
            raise self._unreachable(exc) from None

    def _unreachable(self, exc: BaseException) -> DxpulseError:
        return DxpulseError(f"Grafana at {self.url} is unreachable: {self._reason(exc)}")

    def _reason(self, exc: BaseException) -> str:
        chain: list[BaseException] = []
        current: BaseException | None = exc
        while current is not None and current not in chain:
            chain.append(current)
            current = current.__cause__ or current.__context__
        if any(isinstance(e, TimeoutError | niquests.exceptions.Timeout) for e in chain):
            return f"no answer within {self.settings.timeout_s:g} s"
        for error in reversed(chain):
            if isinstance(error, socket.gaierror):
                return f"cannot resolve host {urlsplit(self.settings.url).hostname!r}"
            if isinstance(error, OSError) and error.strerror:
                return error.strerror[0].lower() + error.strerror[1:]
        return _one_line(str(chain[-1])) or type(chain[-1]).__name__


class _NotFound(Exception):
    """A 404, which a read turns into "missing"."""


def _message(exc: GrafanaException) -> str:
    """Grafana's own explanation: the "message" of its JSON error body."""
    response = exc.response
    if isinstance(response, dict):
        return _one_line(str(response.get("message") or response.get("error") or ""))
    return _one_line(str(response or ""))


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 300 else line[:297] + "..."
