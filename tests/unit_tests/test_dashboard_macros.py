"""The macro expander reproduces what Grafana and the ClickHouse plugin send to ClickHouse.

Expected strings are the plugin's documented and tested expansions (pkg/macros in
grafana/clickhouse-datasource; applyConditionalAll in its frontend).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from dxpulse.report.macros import MacroError, QueryContext, Selection, expand

FROM = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
TO = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)


def ctx(**variables: Selection) -> QueryContext:
    return QueryContext(FROM, TO, 60, variables)


def test_time_filter_and_interval_as_the_plugin_backend_writes_them() -> None:
    out = expand(
        "SELECT $__timeInterval(t) AS time, count() / $__interval_s FROM x "
        "WHERE $__timeFilter(t) AND d >= toDate($__fromTime) AND e <= $__toTime",
        ctx(),
    )
    assert out == (
        "SELECT toStartOfInterval(toDateTime(t), INTERVAL 60 second) AS time, count() / 60 "
        "FROM x WHERE t >= toDateTime(1795316400) AND t <= toDateTime(1795320000) "
        "AND d >= toDate(toDateTime(1795316400)) AND e <= toDateTime(1795320000)"
    )


def test_date_filter_takes_the_utc_dates_of_a_range_given_in_vietnam_time() -> None:
    # 00:30-06:30 ICT on 23 November is 17:30-23:30 UTC on the 22nd, for the plugin too.
    vn = timezone(timedelta(hours=7))
    start, end = datetime(2026, 11, 23, 0, 30, tzinfo=vn), datetime(2026, 11, 23, 6, 30, tzinfo=vn)
    out = expand("WHERE $__dateFilter(day)", QueryContext(start, end, 60, {}))
    assert out == "WHERE day >= toDate('2026-11-22') AND day <= toDate('2026-11-22')"
    assert expand("$__dateFilter(day)", ctx()) == (
        "day >= toDate('2026-11-22') AND day <= toDate('2026-11-22')"
    )


def test_millisecond_variants_are_not_mistaken_for_their_prefix() -> None:
    out = expand("$__timeFilter_ms(t) $__fromTime_ms $__toTime_ms", ctx())
    assert out == (
        "t >= fromUnixTimestamp64Milli(1795316400000) AND t <= fromUnixTimestamp64Milli"
        "(1795320000000) fromUnixTimestamp64Milli(1795316400000) "
        "fromUnixTimestamp64Milli(1795320000000)"
    )


def test_conditional_all_drops_the_condition_for_all_and_empty() -> None:
    sql = "WHERE $__conditionalAll(r IN (${r:singlequote}), $r)"
    assert expand(sql, ctx(r=Selection(("a", "b"), is_all=True))) == "WHERE 1=1"
    assert expand(sql, ctx(r=Selection(()))) == "WHERE 1=1"
    assert expand(sql, ctx(r=Selection(("a", "b")))) == "WHERE r IN ('a','b')"


def test_several_conditional_alls_with_nested_parentheses() -> None:
    sql = (
        "$__conditionalAll(r IN (${r:singlequote}), $r) AND "
        "$__conditionalAll(lower(p) IN (${p:singlequote}), $p)"
    )
    out = expand(sql, ctx(r=Selection(("x",), is_all=True), p=Selection(("y",))))
    assert out == "1=1 AND lower(p) IN ('y')"


def test_variable_formats() -> None:
    multi = Selection(("Hà Nội", "O'Reilly"))
    single = Selection(("60",), multi=False)
    assert expand("${v:singlequote}", ctx(v=multi)) == "'Hà Nội','O\\'Reilly'"
    assert expand("$v", ctx(v=multi)) == "'Hà Nội','O'Reilly'"  # the plugin's own formatter
    assert expand("w = $w AND [[w]] = ${w}", ctx(w=single)) == "w = 60 AND 60 = 60"


def test_all_expands_to_every_option() -> None:
    every = Selection(("a", "b", "c"), is_all=True)
    assert expand("x IN (${v:singlequote})", ctx(v=every)) == "x IN ('a','b','c')"


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("$__timeFilter(toDateTime(t))", "must not contain parentheses"),
        ("$__timeGroup(t, '1m')", "unknown macro"),
        ("$__timeFilter()", "takes 1 argument"),
        ("x = $undefined_variable", "unexpanded"),
        ("$__conditionalAll(x = 1, $nope)", "unknown variable"),
        ("$__conditionalAll(x = 1)", "takes 2 arguments"),
        ("${v:json}", "not supported"),
    ],
)
def test_mistakes_fail_loudly(sql: str, message: str) -> None:
    with pytest.raises(MacroError, match=message):
        expand(sql, ctx(v=Selection(("a",))))
