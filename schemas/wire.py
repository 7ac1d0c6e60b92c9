"""What a JSON message says before the models read it: numbers by their exact value, and
each member name once.

The committed JSON Schemas say ``"type": "integer"``, which JSON Schema defines on the value,
not on its spelling: ``1000``, ``1000.0`` and ``1e3`` are one integer, and
``1.0000000000000001`` is not an integer although a double rounds it to 1. pydantic's JSON
parser reads any number with a fraction or an exponent as a double, so the models alone
would reject the first spellings and could not see the fraction of the last. This module
reads the message with :mod:`json` and exact :class:`~decimal.Decimal` numbers and, when some
number has a fraction or an exponent, rewrites the message with each integral value as an
integer literal. Only the slow path pays for this: the fast pre-check accepts integer
literals only.

A member name repeated in one object (``{"amount_vnd": 1, "amount_vnd": -1}``) leaves the
instance ambiguous: RFC 8259 says names SHOULD be unique and parsers differ on which value
wins (orjson and pydantic keep the last). Such a message is rejected, :class:`Ambiguous`.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

# Beyond this many digits no integer field of the models can hold the value, so it is
# written as +-_HUGE: the bound check still names the field, and a 64 KiB exponent cannot
# make a 64 KiB-digit integer.
_DIGITS = 30
_HUGE: int = 10 ** (_DIGITS + 1)


class NotJson(ValueError):
    """The message is not JSON (RFC 8259), e.g. invalid UTF-8, ``NaN`` or a syntax error."""


class Ambiguous(Exception):
    """A member name occurs more than once in one JSON object."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise Ambiguous(name)
            seen.add(name)
    return members


class _Reader:
    """Parses numbers as Decimals and notes whether any was spelled with a fraction or an
    exponent (only those can differ between their spelling and their value)."""

    def __init__(self) -> None:
        self.spelled = False

    def number(self, text: str) -> Decimal:
        self.spelled = True
        return Decimal(text)

    @staticmethod
    def constant(text: str) -> Any:
        raise NotJson(f"{text} is not a JSON value")

    def read(self, payload: bytes) -> Any:
        return json.loads(
            payload.decode("utf-8"),
            parse_float=self.number,
            parse_int=Decimal,
            parse_constant=self.constant,
            object_pairs_hook=_members,
        )


def for_models(payload: bytes) -> bytes:
    """``payload`` as the models must read it: itself, or with exact integers written out.

    Raises :class:`NotJson` when it is not JSON, :class:`Ambiguous` when a member name
    repeats in an object. Nesting too deep for :mod:`json` is left
    to the models, which reject it (every field of an event is a scalar).
    """
    reader = _Reader()
    try:
        value = reader.read(payload)
    except RecursionError:
        return payload
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise NotJson(str(exc)) from exc
    if not reader.spelled:
        return payload
    try:
        # ASCII, so that a lone surrogate escape stays an escape for the models to reject.
        return json.dumps(_exact(value)).encode("ascii")
    except RecursionError:
        return payload


def _exact(value: Any) -> Any:
    if isinstance(value, Decimal):
        return exact_number(value)
    if isinstance(value, list):
        return [_exact(item) for item in value]
    if isinstance(value, dict):
        return {name: _exact(item) for name, item in value.items()}
    return value


def exact_number(value: Decimal) -> int | float:
    """An int when the exact value is integral, else a float (which no integer field of
    the strict models accepts, whatever it rounds to)."""
    if value == value.to_integral_value():
        if value.adjusted() > _DIGITS:
            return _HUGE if value > 0 else -_HUGE
        return int(value)
    approximate = float(value)
    return approximate if math.isfinite(approximate) else 0.5
