"""The hot path: msgspec decodes and validates a message into a flat event in one C pass.

The worker handles ~10^5 events/s, and a pydantic model per event costs more than
everything else together (docs/benchmarks.md). So each event type gets a msgspec ``Struct``
*derived from its model* at import (:func:`fields_of`, :func:`struct_of`): a ``Literal``
stays a ``Literal``, a bound or length becomes a ``msgspec.Meta`` constraint, the province
validator becomes a ``Literal`` of the codes, the tag is ``event_type`` and unknown fields are
forbidden; a field or rule this module cannot express stops the import with a line saying
so. A field added to a model needs no edit here (docs/architecture.md, "Adding a field").

It is a pure *subset* of the models: :func:`decode_flat` returns a flat event only when the
models accept the message with the same values, and ``None`` for anything else, which then
goes to the slow path (:mod:`schemas.wire`, the models) for the verdict and the reason.
Tests prove this (tests/unit_tests/test_flat.py). What msgspec cannot say stays in a few
Python checks after the decode, each saying why: the message's length (repeated member
names), the patterns (the models' regexes; see :class:`Kind` for why not ``Meta``), the
event time (:func:`event_ms_of`) and the models' cross-field rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from operator import attrgetter
from types import NoneType, UnionType
from typing import Annotated, Any, Final, Literal, Union, get_args, get_origin
from uuid import UUID

import annotated_types
import msgspec
from pydantic import AwareDatetime
from pydantic.fields import FieldInfo

from dxpulse.schemas.events import AGENT_KINDS, EARLIEST_EVENT_TIME, MODELS, Envelope
from dxpulse.schemas.flat import FLAT_FIELDS, FlatEvent, epoch_ms
from dxpulse.schemas.formats import parse_date_time
from dxpulse.schemas.provinces import province_codes

_TAG: Final = "event_type"
# What a model's field validators mean for the Struct (by validator name). A validator not
# listed here stops the import: msgspec would skip it without a word.
#   _canonical_uuid: 8-4-4-4-12 lowercase hex digits, checked after the decode (upper case
#                    is valid but stored lowercased: the models take it, and say so);
#   _integer_version: msgspec never reads `true` or `1.0` as an int;
#   _known_province: a Literal of the codes (the committed JSON Schema's enum);
#   _rfc3339, _sane_time: the event time is a str read after the decode (:func:`event_ms_of`).
_FIELD_VALIDATORS: Final = frozenset(
    {"_canonical_uuid", "_integer_version", "_known_province", "_rfc3339", "_sane_time"}
)
_UUID_TEXT: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_BOUNDS: Final = {
    annotated_types.Ge: "ge",
    annotated_types.Le: "le",
    annotated_types.Gt: "gt",
    annotated_types.Lt: "lt",
    annotated_types.MinLen: "min_length",
    annotated_types.MaxLen: "max_length",
}
# Regular-expression syntax Python's re and pydantic's Rust regex read differently.
_UNLIKE_RUST: Final = re.compile(r"\\[dDwWsSbBpPAzZ]|\[:|\(\?")


class Unexpressed(TypeError):
    """A model field or rule the Struct cannot express: the import stops, naming it."""


@dataclass(frozen=True, slots=True)
class Kind:
    """A model field as the fast path checks it: the msgspec type (Literals, bounds and
    lengths, checked in C) and the model's pattern, if any, checked after the decode.

    Why not ``msgspec.Meta(pattern=...)``: msgspec 0.23 spends ~0.7 µs per constrained
    string beyond the regex itself (measured: a ``"^0"`` pattern 0.88 µs against 0.21 µs for
    a plain str), while the same compiled regex called from Python costs ~0.14 µs. Matched
    values are not remembered: a cache of them saved ~0.1 µs per value but held every
    customer id it saw (~160 bytes an id: 17.6 MB after 600,000 events of the generator,
    ~80 MB at its cap of 100,000 values per field), memory the worker cannot spare
    (issue 16, docs/benchmarks.md "Round 5").
    """

    type: Any
    pattern: re.Pattern[str] | None = None


def _regex(pattern: str, where: str) -> re.Pattern[str]:
    """The model's pattern as Python's ``re.search`` must read it to match what pydantic
    (Rust regex, search semantics) matches: its final ``$`` only at the very end of the
    text, not before a newline, so ``\\Z``. Syntax the two engines could read differently
    stops the import."""
    body = pattern.removesuffix("$")
    if "$" in body or _UNLIKE_RUST.search(body):
        raise Unexpressed(f"{where}: the fast path reads patterns of classes and counts only")
    return re.compile(body + r"\Z" if body != pattern else body)


def _constraints(metadata: Sequence[Any], where: str) -> tuple[msgspec.Meta | None, Any]:
    """Bounds and lengths as one ``msgspec.Meta``, and the pattern; others stop the import."""
    found: dict[str, Any] = {}
    regex = None
    for item in metadata:
        bound = _BOUNDS.get(type(item))
        pattern = getattr(item, "pattern", None)
        if bound is not None:
            found[bound] = getattr(item, bound)
        elif isinstance(pattern, str) and set(vars(item)) == {"pattern"}:
            regex = _regex(pattern, where)
        else:
            raise Unexpressed(f"{where}: the fast path has no check for {item!r}")
    return (msgspec.Meta(**found) if found else None), regex


def _scalar(annotation: Any, metadata: Sequence[Any], where: str, strings: bool) -> Kind:
    """One field's kind. ``strings``: only str values (a type's own fields, which the flat
    tuple and the raw table hold as strings)."""
    if get_origin(annotation) is Annotated:
        annotation, *extra = get_args(annotation)
        infos = [x for x in extra if isinstance(x, FieldInfo)]
        metadata = [*metadata, *(m for info in infos for m in info.metadata)]
    meta, regex = _constraints(metadata, where)
    if get_origin(annotation) is Literal and not metadata:
        kinds = {type(v) for v in get_args(annotation)}
        if kinds <= ({str} if strings else {str, int}):
            return Kind(annotation)
    elif annotation is str or (annotation is int and not strings and regex is None):
        return Kind(annotation if meta is None else Annotated[annotation, meta], regex)
    raise Unexpressed(
        f"{where}: the fast path (schemas/fast.py) checks a type's own fields when they "
        "are a str Literal or a str with a pattern; an optional one has a default"
    )


def _optional(annotation: Any) -> tuple[Any, bool]:
    """``X | None`` as (X, True); anything else as (itself, False)."""
    if get_origin(annotation) in (Union, UnionType) and NoneType in get_args(annotation):
        inner = [a for a in get_args(annotation) if a is not NoneType]
        return (inner[0] if len(inner) == 1 else object), True
    return annotation, False


def _envelope_kind(info: FieldInfo, validators: set[str], where: str) -> Kind:
    """An envelope field's kind; the ones the models read through a validator by what that
    validator makes of them (:data:`_FIELD_VALIDATORS`)."""
    if "_canonical_uuid" in validators and info.annotation is UUID:
        return Kind(str, _UUID_TEXT)
    if "_rfc3339" in validators and info.annotation is AwareDatetime:
        return Kind(str)  # msgspec's datetime takes a space, +0700, rounds: event_ms_of reads it
    if "_known_province" in validators:
        return Kind(Literal[tuple(sorted(province_codes()))])
    return _scalar(info.annotation, info.metadata, where, strings=False)


def _own_field(info: FieldInfo, where: str) -> tuple[Kind, bool, tuple[Any, ...]]:
    """A type's own field: a str (Literal or pattern), required, or optional with a default
    that is None (then nullable) or a string. Its kind, whether nullable, and (default,)."""
    annotation, nullable = _optional(info.annotation)
    kind = _scalar(annotation, info.metadata, where, strings=True)
    if info.is_required() and not nullable:
        return kind, False, ()
    default = info.default
    if info.default_factory is not None or info.is_required() or (default is None) != nullable:
        raise Unexpressed(f"{where}: the fast path wants an optional field with a default")
    if default is not None and not (type(default) is str and _accepts(kind, default)):
        raise Unexpressed(f"{where}: the fast path wants a default the field accepts")
    return kind, nullable, (default,)


def _accepts(kind: Kind, value: str) -> bool:
    if kind.pattern is not None:
        return kind.pattern.search(value) is not None
    return get_origin(kind.type) is not Literal or value in get_args(kind.type)


@dataclass(frozen=True, slots=True)
class Field:
    """One Struct field: its msgspec definition and the pattern checked after the decode."""

    name: str
    definition: tuple[Any, ...]  # (name, type[, default]) for msgspec.defstruct
    pattern: re.Pattern[str] | None
    nullable: bool


def _field(event_type: str, name: str, model: type[Envelope]) -> Field:
    """One Struct field for a model field, or Unexpressed."""
    where, info = f"{event_type}.{name}", model.model_fields[name]
    validators = _validators(model).get(name, set())
    if name in Envelope.model_fields:
        kind = _envelope_kind(info, validators, where)
        return Field(name, (name, kind.type), kind.pattern, False)
    if validators:
        raise Unexpressed(f"{event_type}: the fast path does not run validators {validators}")
    kind, nullable, default = _own_field(info, where)
    typ = kind.type | None if nullable else kind.type
    return Field(name, (name, typ, *default), kind.pattern, nullable)


def _validators(model: type[Envelope]) -> dict[str, set[str]]:
    """Each field's validators, by name."""
    found: dict[str, set[str]] = {}
    for name, validator in model.__pydantic_decorators__.field_validators.items():
        for field in validator.info.fields:
            found.setdefault(field, set()).add(name)
    return found


def _checked_validators(event_type: str, model: type[Envelope]) -> None:
    decorators = model.__pydantic_decorators__
    if unknown := set(decorators.field_validators) - _FIELD_VALIDATORS:
        raise Unexpressed(f"{event_type}: the fast path does not run validators {unknown}")
    if unknown := set(decorators.model_validators) - set(_RULES):
        raise Unexpressed(f"{event_type}: add rules {unknown} to schemas/fast.py")


def fields_of(event_type: str, model: type[Envelope]) -> tuple[Field, ...]:
    """The model's fields as the Struct holds them, in the model's order, tag left out."""
    _checked_validators(event_type, model)
    return tuple(_field(event_type, name, model) for name in model.model_fields if name != _TAG)


def struct_of(event_type: str, fields: Sequence[Field]) -> type[msgspec.Struct]:
    """The Struct of one event type, tagged by ``event_type``, unknown fields forbidden (the
    models' ``extra="forbid"``). ``gc=False``: it holds only scalars."""
    return msgspec.defstruct(
        MODELS[event_type].__name__,
        [f.definition for f in fields],
        tag_field=_TAG,
        tag=event_type,
        forbid_unknown_fields=True,
        gc=False,
    )


def _agent_for_cash(obj: Any) -> bool:
    """MobileMoney._agent_for_cash: cash-in and cash-out name their agent. A rule across two
    fields, which a Struct type cannot state."""
    return obj.kind not in AGENT_KINDS or obj.agent_id is not None


# The models' cross-field rules (model validators), by name, as checks of a decoded Struct.
_RULES: dict[str, Callable[[Any], bool]] = {"_agent_for_cash": _agent_for_cash}

_EARLIEST_MS: Final = epoch_ms(EARLIEST_EVENT_TIME)
# The form producers write (schemas.events.format_event_time) ends so; its second is cached.
_MS_TAILS: Final = {f".{ms:03d}Z": ms for ms in range(1000)}
_second_cache: dict[str, int] = {}
_SECOND_CACHE_MAX: Final = 100_000


def event_ms_of(text: str) -> int | None:
    """Epoch ms of an RFC 3339 date-time as the models store it (UTC, truncated to the
    millisecond), or None when the models' parser rejects it or datetime cannot hold it.

    Not msgspec's datetime: it takes what the schema's date-time does not (a space for
    the T, +0700) and rounds a seventh fractional digit where the models truncate. The
    canonical form producers write is read from a per-second cache (events cluster in
    time); any other spelling goes through the models' own parser.
    """
    ms = _MS_TAILS.get(text[19:]) if len(text) == 24 else None
    if ms is not None:
        second_ms = _second_cache.get(text[:19])
        if second_ms is not None:
            return second_ms + ms
    try:
        at = parse_date_time(text)
    except ValueError:  # OutOfRange is one
        return None
    # Valid with a .mmmZ tail, so text[:19] is the second. Not a leap second's: all of its
    # fractions are stored as the last millisecond.
    if ms is not None and text[17:19] != "60":
        if len(_second_cache) >= _SECOND_CACHE_MAX:
            _second_cache.clear()  # a backfill walks through time: keep memory bounded
        _second_cache[text[:19]] = epoch_ms(at) - ms
    return epoch_ms(at)


FlatOf = Callable[[Any, bytes, int], FlatEvent | None]


class _Flattener:
    """A decoded Struct of one type to its flat tuple, with the checks msgspec cannot make.

    Derived per type: the patterns to check, the optional members a message may leave out,
    and :func:`_builder`.
    """

    def __init__(self, event_type: str, fields: Sequence[Field]) -> None:
        self.event_type = event_type
        self.build = _builder(event_type, fields)
        # Patterned fields: (name, search). None is only ever a nullable field's absent
        # value (msgspec gives a non-nullable one a str), and it has nothing to match.
        self.patterns = tuple(
            (f.name, f.pattern.search)
            for f in fields
            if f.pattern is not None and f.pattern is not _UUID_TEXT
        )
        uuids = [attrgetter(f.name) for f in fields if f.pattern is _UUID_TEXT]
        # An absent optional member is in msgspec's text (its default) but not the message.
        self.absent = tuple(
            (b'"%s"' % f.name.encode(), len(b',"%s":' % f.name.encode() + _encoded(f)))
            for f in fields
            if len(f.definition) == 3
        )
        model = MODELS[event_type]
        rules = [_RULES[n] for n in model.__pydantic_decorators__.model_validators]
        # The checks of a whole decoded event: the models' rules, and the UUIDs' spelling.
        self.checks: tuple[Callable[[Any], bool], ...] = (
            *rules,
            *(partial(_is_uuid, get) for get in uuids),
        )


def _builder(event_type: str, fields: Sequence[Field]) -> Callable[[Any, int], FlatEvent]:
    """``(obj, event_ms) -> FlatEvent`` for one type, as one tuple display compiled from
    FLAT_FIELDS: an attribute per field ("" for a null or a field the type lacks).

    Why compiled: per event, ``itemgetter`` over ``astuple`` took 1.7 µs and this 0.6 µs
    (measured on 50k generated events). The source holds only field names, checked to be
    identifiers, and the type's name as a literal.
    """
    nullable = {f.name for f in fields if f.nullable}
    own = {f.name for f in fields}
    parts = []
    for name in FLAT_FIELDS:
        if not name.isidentifier():
            raise Unexpressed(f"{event_type}.{name}: not an identifier")
        if name == _TAG:
            parts.append(repr(event_type))
        elif name == "event_ms":
            parts.append("ms")
        elif name in own:
            parts.append(f'(o.{name} or "")' if name in nullable else f"o.{name}")
        else:
            parts.append('""')
    built: Callable[[Any, int], FlatEvent] = eval(f"lambda o, ms: ({', '.join(parts)},)")
    return built


def _is_uuid(get: Callable[[Any], str], obj: Any) -> bool:
    """Lowercase 8-4-4-4-12 hex, the form stored (the models also take upper case)."""
    return _UUID_TEXT.fullmatch(get(obj)) is not None


def _encoded(field: Field) -> bytes:
    return msgspec.json.encode(field.definition[2])


# One closure per event type, run per event: its branches stay inline (a helper per branch
# would add calls on the hot path), hence over the complexity limit.
def _flat_of(spec: _Flattener) -> FlatOf:
    """The per-event check and flattening of one type, with its tables bound as locals
    (it runs per event)."""
    encode, patterns, absent, checks, build = (
        msgspec.json.encode,
        spec.patterns,
        spec.absent,
        spec.checks,
        spec.build,
    )

    def flat_of(obj: Any, payload: bytes, max_event_us: int) -> FlatEvent | None:
        # msgspec keeps the last of a repeated member name, and such an event is ambiguous
        # (schemas.wire): its encoding, the shortest spelling of the values, must be exactly
        # as long as the message, less the optional members the message leaves out.
        size = len(payload)
        for quoted, length in absent:
            if quoted not in payload:
                size += length
        if len(encode(obj)) != size:
            return None
        for check in checks:
            if not check(obj):
                return None
        for name, search in patterns:
            value = getattr(obj, name)
            if value is not None and search(value) is None:
                return None
        ms = event_ms_of(obj.event_time)
        if ms is None or ms < _EARLIEST_MS or ms * 1000 > max_event_us:
            return None  # the two time rules JSON Schema cannot express
        return build(obj, ms)

    return flat_of


FIELDS: Final = {t: fields_of(t, model) for t, model in MODELS.items()}
STRUCTS: Final = {t: struct_of(t, fields) for t, fields in FIELDS.items()}
_FLAT_OF: Final[dict[type, tuple[str, FlatOf]]] = {
    STRUCTS[t]: (t, _flat_of(_Flattener(t, fields))) for t, fields in FIELDS.items()
}
if len(STRUCTS) < 2:  # pragma: no cover - a one-member Union is the Struct itself
    raise Unexpressed("the fast path decodes a union of two or more event types")
# One decoder of the tagged union: a Struct decoded alone would not require its tag.
_decode = msgspec.json.Decoder(Union[tuple(STRUCTS.values())]).decode  # noqa: UP007


def decode_flat(payload: bytes, expected_type: str | None, max_event_us: int) -> FlatEvent | None:
    """The flat event if ``payload`` is a valid event in its shortest spelling, else None
    (ask the models). ``max_event_us``: the latest acceptable event time in epoch µs (now
    plus the allowed future skew), as the models' ``_sane_time`` computes it."""
    try:
        obj = _decode(payload)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    event_type, flat_of = _FLAT_OF[type(obj)]
    if expected_type is not None and event_type != expected_type:
        return None
    return flat_of(obj, payload, max_event_us)
