"""Does an object stored in Grafana already match ours? Pure functions, no I/O.

Grafana answers with more than it was sent (ids, versions, timestamps, defaults it fills in)
and sometimes in another spelling (durations, empty maps left out). Each comparison ignores
exactly that, so a second push of the same bundle finds nothing to do.
"""

from __future__ import annotations

from typing import Any

from dxpulse.core.durations import DurationError, parse_duration

JSON = dict[str, Any]

# Kept by Grafana in the dashboard model; they change on every save.
DASHBOARD_SERVER_FIELDS = frozenset({"id", "version"})
# Never sent back by Grafana (only secureJsonFields says which secrets are set).
DATASOURCE_WRITE_ONLY_FIELDS = frozenset({"secureJsonData"})
# Go durations, written back by Grafana in Prometheus' canonical form ("300s" -> "5m").
ALERT_RULE_DURATION_FIELDS = frozenset({"for", "keep_firing_for"})



def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == {} or value == []


def _same(ours: Any, theirs: Any) -> bool:
    """Equal, where an empty value of ours matches a field Grafana left out."""
    return ours == theirs or (_is_empty(ours) and _is_empty(theirs))


def _contains(theirs: Any, ours: Any) -> bool:
    """``theirs`` holds everything ``ours`` has: extra keys in objects (at any depth) are
    defaults the server added; lists must match item by item."""
    if isinstance(ours, dict):
        if not isinstance(theirs, dict):
            return _is_empty(ours) and _is_empty(theirs)
        return all(
            _contains(theirs[k], v) if k in theirs else _is_empty(v) for k, v in ours.items()
        )
    if isinstance(ours, list):
        return (
            isinstance(theirs, list)
            and len(theirs) == len(ours)
            and all(_contains(t, o) for t, o in zip(theirs, ours, strict=True))
        )
    return _same(ours, theirs)


def duration_seconds(value: Any) -> float | None:
    """Seconds of a duration field as either side spells it (a number, or Go text such as
    "5m" or "1h30m", read by the base's one parser); None if neither, so the field is then
    compared as it is."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):
        return None
    try:
        return parse_duration(value)
    except DurationError:
        return None


def folder_changed(stored: JSON, title: str) -> bool:
    return stored.get("title") != title


def datasource_changed(stored: JSON, ours: JSON, *, password: bool) -> bool:
    """Any field we send differs, or we have a password and Grafana holds none.

    A password Grafana already holds cannot be compared (it never returns it): rotating it
    means changing it in Grafana, or deleting the datasource and pushing again.
    """
    if any(
        not _same(value, stored.get(key))
        for key, value in ours.items()
        if key not in DATASOURCE_WRITE_ONLY_FIELDS
    ):
        return True
    return password and not (stored.get("secureJsonFields") or {}).get("password", False)


def _without(model: JSON, keys: frozenset[str]) -> JSON:
    return {k: v for k, v in model.items() if k not in keys}


def dashboard_changed(stored: JSON, ours: JSON, folder_uid: str) -> bool:
    """``stored`` is the answer of GET /api/dashboards/uid/{uid}: {"dashboard", "meta"}."""
    model = stored.get("dashboard") or {}
    meta = stored.get("meta") or {}
    return (
        _without(model, DASHBOARD_SERVER_FIELDS) != _without(ours, DASHBOARD_SERVER_FIELDS)
        or meta.get("folderUid") != folder_uid
    )


def alert_rule_changed(stored: JSON, ours: JSON) -> bool:
    """Compare only the fields we send. In ``data``, Grafana adds defaults to every query
    (queryType, relativeTimeRange, the model's intervalMs and maxDataPoints), so there only
    what we send counts; other fields must be equal (an empty map of ours matches one that
    Grafana leaves out)."""
    for key, value in ours.items():
        theirs = stored.get(key)
        if key == "data":
            same = _contains(theirs, value)
        elif key in ALERT_RULE_DURATION_FIELDS:
            ours_s, theirs_s = duration_seconds(value), duration_seconds(theirs)
            same = _same(value, theirs) if ours_s is None else ours_s == theirs_s
        else:
            same = _same(value, theirs)
        if not same:
            return True
    return False
