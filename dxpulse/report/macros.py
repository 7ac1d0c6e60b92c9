"""Expand a panel's SQL the way Grafana and the ClickHouse plugin do before it reaches ClickHouse.

Three stages, in the plugin's order:

1. ``$__conditionalAll(condition, $var)`` (plugin frontend): the condition, or ``1=1`` when
   the variable is "All" (or empty).
2. Template variables (Grafana's templateSrv with the plugin's formatter): ``$var`` and
   ``${var}`` become ``'a','b'`` for multi-value variables and the bare value otherwise;
   ``${var:singlequote}`` quotes and escapes every value. "All" without a custom all value
   means every option's value.
3. Time macros (plugin backend, through grafana/sqlds): ``$__timeFilter(col)``,
   ``$__timeInterval(col)``, ``$__interval_s``, ``$__fromTime`` …, with the query's time
   range and interval.

Anything left that looks like a variable or macro is an error: a typo in a dashboard must
fail the test, not reach ClickHouse as text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from dxpulse.core.errors import DxpulseError


class MacroError(DxpulseError):
    pass


@dataclass(frozen=True)
class Selection:
    """A template variable's current state."""

    values: tuple[str, ...]
    is_all: bool = False
    multi: bool = True


@dataclass(frozen=True)
class QueryContext:
    time_from: datetime
    time_to: datetime
    interval_s: int
    variables: Mapping[str, Selection]


def expand(sql: str, ctx: QueryContext) -> str:
    sql = apply_conditional_all(sql, ctx.variables)
    sql = interpolate_variables(sql, ctx.variables)
    sql = apply_time_macros(sql, ctx)
    leftover = re.search(r"\$\{?\w+|\[\[\w+", sql)
    if leftover:
        raise MacroError(f"unexpanded variable or macro {leftover.group(0)!r} in: {sql}")
    return sql


# -- stage 1: $__conditionalAll ---------------------------------------------------------------
_CONDITIONAL_ALL = "$__conditionalAll("


def apply_conditional_all(sql: str, variables: Mapping[str, Selection]) -> str:
    # Like the plugin: innermost-last first (lastIndexOf), arguments split at top-level commas.
    index = sql.rfind(_CONDITIONAL_ALL)
    while index != -1:
        start = index + len(_CONDITIONAL_ALL)
        args, end = _macro_args(sql, start)
        if len(args) != 2:
            raise MacroError(f"$__conditionalAll takes 2 arguments, got {len(args)}: {sql}")
        condition, var = args[0], args[1].strip()
        selection = variables.get(var.lstrip("$").strip("{}"))
        if selection is None:
            raise MacroError(f"$__conditionalAll refers to unknown variable {var}")
        phrase = "1=1" if selection.is_all or not selection.values else condition
        sql = sql[:index] + phrase + sql[end:]
        index = sql.rfind(_CONDITIONAL_ALL)
    return sql


def _macro_args(sql: str, start: int) -> tuple[list[str], int]:
    """Arguments of a macro call whose '(' ends just before ``start``; and the index after ')'."""
    depth, args, last = 1, [], start
    for i in range(start, len(sql)):
        ch = sql[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                args.append(sql[last:i])
                return args, i + 1
        elif ch == "," and depth == 1:
            args.append(sql[last:i])
            last = i + 1
    raise MacroError(f"unbalanced parentheses in macro call: {sql[start - 20 : start + 40]!r}")


# -- stage 2: template variables --------------------------------------------------------------
# Grafana's variable syntaxes: $name, [[name]] or [[name:format]], ${name} or ${name:format}.
_VARIABLE = re.compile(r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?::([^}]+))?\}")


def interpolate_variables(sql: str, variables: Mapping[str, Selection]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(4)
        fmt = match.group(3) or match.group(5)
        selection = variables.get(name)
        if selection is None:
            return match.group(0)  # not a variable: a macro for the backend, or an error
        return _format(selection, fmt)

    return _VARIABLE.sub(replace, sql)


def _format(selection: Selection, fmt: str | None) -> str:
    if fmt is None:
        # The plugin's formatter: arrays as 'a','b' (unescaped), single values bare.
        if selection.multi:
            return ",".join(f"'{v}'" for v in selection.values)
        return selection.values[0] if selection.values else ""
    if fmt == "singlequote":
        return ",".join("'" + v.replace("'", "\\'") + "'" for v in selection.values)
    if fmt == "raw":
        return ",".join(selection.values)
    raise MacroError(f"variable format {fmt!r} is not supported here")


# -- stage 3: time macros (backend) -----------------------------------------------------------
MacroFn = Callable[[QueryContext, list[str]], str]


def _seconds(t: datetime) -> int:
    return int(t.timestamp())


def _millis(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def _one(args: list[str], name: str) -> str:
    if len(args) != 1 or not args[0]:
        raise MacroError(f"$__{name} takes 1 argument, got {args}")
    return args[0]


def _time_filter(ctx: QueryContext, args: list[str]) -> str:
    col = _one(args, "timeFilter")
    return (
        f"{col} >= toDateTime({_seconds(ctx.time_from)}) "
        f"AND {col} <= toDateTime({_seconds(ctx.time_to)})"
    )


def _time_filter_ms(ctx: QueryContext, args: list[str]) -> str:
    col = _one(args, "timeFilter_ms")
    return (
        f"{col} >= fromUnixTimestamp64Milli({_millis(ctx.time_from)}) "
        f"AND {col} <= fromUnixTimestamp64Milli({_millis(ctx.time_to)})"
    )


def _date_filter(ctx: QueryContext, args: list[str]) -> str:
    # The backend formats the range's dates in UTC, whatever zone the range was given in:
    # from 17:00 UTC on, that is the day before the Vietnam date.
    col = _one(args, "dateFilter")
    start, end = ctx.time_from.astimezone(UTC), ctx.time_to.astimezone(UTC)
    return f"{col} >= toDate('{start:%Y-%m-%d}') AND {col} <= toDate('{end:%Y-%m-%d}')"


def _time_interval(ctx: QueryContext, args: list[str]) -> str:
    col = _one(args, "timeInterval")
    return f"toStartOfInterval(toDateTime({col}), INTERVAL {max(ctx.interval_s, 1)} second)"


MACROS: dict[str, MacroFn] = {
    "fromTime": lambda ctx, _: f"toDateTime({_seconds(ctx.time_from)})",
    "toTime": lambda ctx, _: f"toDateTime({_seconds(ctx.time_to)})",
    "fromTime_ms": lambda ctx, _: f"fromUnixTimestamp64Milli({_millis(ctx.time_from)})",
    "toTime_ms": lambda ctx, _: f"fromUnixTimestamp64Milli({_millis(ctx.time_to)})",
    "timeFilter": _time_filter,
    "timeFilter_ms": _time_filter_ms,
    "dateFilter": _date_filter,
    "timeInterval": _time_interval,
    "interval_s": lambda ctx, _: str(max(ctx.interval_s, 1)),
}
# `$__name`, then `(args)` right after it. Older sqlds matches args lazily up to the first
# ')', newer versions balance parentheses: arguments with parentheses mean different SQL on
# different plugin versions, so they are refused.
_MACRO = re.compile(r"\$__(\w+)(?:\(([^()]*)\)|(\([^)]*\()?)")


def apply_time_macros(sql: str, ctx: QueryContext) -> str:
    def replace(match: re.Match[str]) -> str:
        name, raw_args, nested = match.group(1), match.group(2), match.group(3)
        if nested:
            raise MacroError(f"$__{name}: macro arguments must not contain parentheses")
        fn = MACROS.get(name)
        if fn is None:
            raise MacroError(f"unknown macro $__{name}")
        args = [a.strip() for a in raw_args.split(",")] if raw_args is not None else []
        return fn(ctx, args)

    return _MACRO.sub(replace, sql)
