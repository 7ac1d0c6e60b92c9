"""An independent JSON Schema 2020-12 verdict on raw message bytes, for the contract tests.

The committed ``schemas/json/*.schema.json`` are read with :mod:`json` (never through the
pydantic models they were generated from) and judged by:

- ``jsonschema``'s Draft 2020-12 validator, with ``format`` as an assertion;
- ``date-time`` and ``uuid`` checked by the spec-exact functions below, because jsonschema's
  own checkers are not: its ``date-time`` needs ``rfc3339-validator`` (not installed here;
  without it the format is silently not checked, and that package rejects leap seconds and
  accepts a trailing newline), and its ``uuid`` goes through :class:`uuid.UUID`, which strips
  every hyphen and brace (``"<uuid>-"`` and ``"<uuid>}"`` pass) and reads non-ASCII digits.
  Both functions are held to the official JSON-Schema-Test-Suite (tests/format_suite.py);
- ``pattern`` with ECMA-262 semantics (the ``regress`` package) instead of Python's
  ``re.search``, whose ``$`` also matches before a trailing newline;
- numbers read exactly (:class:`~decimal.Decimal`), so ``1.0000000000000001`` is not an
  integer although a double rounds it to 1, while ``1e3`` and ``34907897.0`` are;
- a member name repeated in one object makes the instance ambiguous: invalid, as the
  committed schemas' description states.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import regress
from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas" / "json"
KNOWN_FORMATS = frozenset({"date-time", "uuid"})


# -- the committed files -------------------------------------------------------------------
@cache
def committed_schemas() -> dict[str, dict[str, Any]]:
    """Each committed schema by the event type its ``event_type`` const names."""
    schemas = {}
    for path in sorted(SCHEMA_DIR.glob("*.schema.json")):
        schema = json.loads(path.read_text("utf-8"))
        schemas[schema["properties"]["event_type"]["const"]] = schema
    return schemas


# -- exact JSON reading --------------------------------------------------------------------
class RepeatedName(ValueError):
    """A member name occurs twice in one JSON object."""


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in pairs]
    for name in names:
        if names.count(name) > 1:
            raise RepeatedName(name)
    return dict(pairs)


def _no_constant(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


def read_exact(payload: bytes) -> Any:
    """The JSON value with every number as an exact Decimal; RepeatedName if ambiguous."""
    return json.loads(
        payload.decode("utf-8"),
        parse_float=Decimal,
        parse_int=Decimal,
        parse_constant=_no_constant,
        object_pairs_hook=_unique_members,
    )


def _is_number(checker: Any, instance: Any) -> bool:
    return isinstance(instance, Decimal)


def _is_integer(checker: Any, instance: Any) -> bool:
    """JSON Schema's integer: any number whose (exact) value is integral, e.g. 1.0 or 1e3."""
    return isinstance(instance, Decimal) and instance == instance.to_integral_value()


# -- formats, as RFC 3339 / RFC 4122 and the official test suite define them ---------------
_DATE_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
    r"(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))"
)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


def date_time_parts(text: str) -> tuple[int, ...] | None:
    """(year, month, day, hour, minute, second, offset minutes) of an RFC 3339 date-time.

    None unless ``text`` is one: real calendar days, hours <= 23, minutes <= 59, offsets
    within +-23:59, and second 60 only where the time in UTC is 23:59:60.
    """
    match = _DATE_TIME.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    sign, off_h, off_m = match.group(8), match.group(9), match.group(10)
    offset = 0 if sign is None else (1 if sign == "+" else -1) * (int(off_h) * 60 + int(off_m))
    if not 1 <= month <= 12 or not 1 <= day <= _days_in_month(year, month):
        return None
    if hour > 23 or minute > 59 or second > 60:
        return None
    if sign is not None and (int(off_h) > 23 or int(off_m) > 59):
        return None
    if second == 60 and (hour * 60 + minute - offset) % 1440 != 23 * 60 + 59:
        return None
    return (year, month, day, hour, minute, second, offset)


def is_date_time(instance: object) -> bool:
    return not isinstance(instance, str) or date_time_parts(instance) is not None


def is_uuid(instance: object) -> bool:
    return not isinstance(instance, str) or _UUID.fullmatch(instance) is not None


def documented_event_ms(text: str) -> int:
    """Epoch ms the worker must store for a valid date-time, as its schema documents it:
    in UTC, sub-millisecond digits truncated, a leap second as 23:59:59.999 of its day."""
    parts = date_time_parts(text)
    assert parts is not None, text
    year, month, day, hour, minute, second, offset = parts
    fraction = _DATE_TIME.fullmatch(text).group(7) or ".0"  # type: ignore[union-attr]
    ms = int((fraction[1:] + "000")[:3])
    if second == 60:
        second, ms = 59, 999
    local = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    at = local - timedelta(minutes=offset)
    return int(at.timestamp()) * 1000 + ms


# -- the reference validator ---------------------------------------------------------------
@cache
def _ecma(pattern: str) -> regress.Regex:
    return regress.Regex(pattern, "u")


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    if validator.is_type(instance, "string") and _ecma(pattern).find(instance) is None:
        yield ValidationError(f"{instance!r} does not match {pattern!r} (ECMA-262)")


_ReferenceValidator = validators.extend(
    Draft202012Validator,
    validators={"pattern": _ecma_pattern},
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine_many(
        {"integer": _is_integer, "number": _is_number}
    ),
)


def _formats_used(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["format"]} if isinstance(node.get("format"), str) else set()
        return found.union(*(_formats_used(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_formats_used(v) for v in node))
    return set()


class Reference:
    """The verdict of one committed schema on raw message bytes."""

    def __init__(self, schema: dict[str, Any]) -> None:
        unknown = _formats_used(schema) - KNOWN_FORMATS
        assert not unknown, f"no spec-exact checker for format(s) {unknown}: add one here"
        Draft202012Validator.check_schema(schema)
        formats = FormatChecker(formats=())
        formats.checks("date-time")(is_date_time)
        formats.checks("uuid")(is_uuid)
        self.validator = _ReferenceValidator(schema, format_checker=formats)

    def errors(self, payload: bytes) -> list[str]:
        """Why the schema rejects ``payload``; empty when it accepts it."""
        try:
            instance = read_exact(payload)
        except RepeatedName as exc:
            return [f"member name {exc} repeated: the instance is ambiguous"]
        return [error.message for error in self.validator.iter_errors(instance)]


@cache
def reference(event_type: str) -> Reference:
    return Reference(committed_schemas()[event_type])
