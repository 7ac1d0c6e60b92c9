"""The validated event as a flat tuple, and a fast pre-check that produces it.

The worker's hot path handles ~10^5 events/s; a pydantic model per event costs more than
everything else together (docs/benchmarks.md). So the hot path works on :data:`FlatEvent`
tuples, and :func:`precheck_json` builds them straight from the message for events in the
canonical form producers emit. It is a pure *subset* of the slow path: it accepts an event
only when every rule of :mod:`schemas.wire` and :mod:`schemas.events` holds, and returns
``None`` for anything else, which then goes through the slow path for the verdict and the
reason. Tests prove that whatever it accepts, the models accept with identical values
(tests/unit_tests/test_flat.py).

The flat fields and each type's tables (allowed values, patterns, optional fields) are
derived from the models once, at import: a field added to a model needs no edit here
(docs/architecture.md, "Adding a field"), and one the pre-check could not check stops the
import instead of being skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import product
from operator import attrgetter, itemgetter
from types import NoneType, UnionType
from typing import Annotated, Any, Final, Literal, Union, get_args, get_origin
from uuid import UUID

import orjson
from pydantic.fields import FieldInfo

from dxpulse.schemas.events import (
    AGENT_KINDS,
    EARLIEST_EVENT_TIME,
    MAX_AMOUNT_VND,
    MODELS,
    SCHEMA_VERSION,
    Area,
    Channel,
    Envelope,
    Status,
    values,
)
from dxpulse.schemas.provinces import province_codes

# The envelope, as the models declare it; check() below reads it field by field.
ENVELOPE_FIELDS: Final = tuple(Envelope.model_fields)
_CHECKED_ENVELOPE = (
    "event_id", "event_type", "schema_version", "event_time", "province_code", "area",
    "channel", "amount_vnd", "status", "customer_id",
)  # fmt: skip
if ENVELOPE_FIELDS != _CHECKED_ENVELOPE:
    raise TypeError(f"the envelope is {ENVELOPE_FIELDS}: extend the pre-check's envelope code")


def _own_fields(model: type[Envelope]) -> tuple[str, ...]:
    """The fields a model adds to the envelope, in declaration order."""
    return tuple(name for name in model.model_fields if name not in Envelope.model_fields)


# Every type's own fields, once each (provider is both online_payment's and mobile_money's),
# in the models' order: derived, so a field added to a model gets its place here.
TYPE_FIELDS: Final = tuple(
    dict.fromkeys(name for model in MODELS.values() for name in _own_fields(model))
)
FLAT_FIELDS: Final = (
    *("event_ms" if name == "event_time" else name for name in ENVELOPE_FIELDS),
    *TYPE_FIELDS,
)
# event_id (canonical lowercase UUID text), event_ms (epoch milliseconds, UTC), then the
# type fields: a field the event type does not have (or a null) is an empty string.
FlatEvent = tuple[str, str, int, int, str, str, str, int, str, str, *tuple[str, ...]]
# Final, so a type checker knows what type each position holds.
EVENT_ID: Final = 0
EVENT_TYPE: Final = 1
EVENT_MS: Final = 3
PROVINCE: Final = 4
AREA: Final = 5
CHANNEL: Final = 6
AMOUNT: Final = 7
STATUS: Final = 8
CUSTOMER: Final = 9
def _pattern(info: FieldInfo) -> re.Pattern[str] | None:
    """The field's one constraint, a regular expression (matched whole), if that is all."""
    found = [getattr(m, "pattern", None) for m in info.metadata]
    if len(found) != 1 or not isinstance(found[0], str) or len(vars(info.metadata[0])) != 1:
        return None
    # fullmatch anchors it already: the models' ^ and $ would cost time per event.
    pattern = found[0].removeprefix("^")
    anchored = pattern.endswith("$") and not pattern.endswith("\\$")
    return re.compile(pattern[:-1] if anchored else pattern)


_EARLIEST_MS = int(EARLIEST_EVENT_TIME.timestamp()) * 1000
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_CUSTOMER = _pattern(Envelope.model_fields["customer_id"]) or re.compile("(?!)")  # (?!): none
# The exact form producers write (schemas.events.format_event_time): ASCII digits, a T,
# three fractional digits and a Z. Other ISO 8601 spellings are left to the models.
_TIME_PREFIX = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}")

_PROVINCES = province_codes()
_AREAS = frozenset(values(Area))
_CHANNELS = frozenset(values(Channel))
_STATUSES = frozenset(values(Status))


_second_cache: dict[str, int] = {}
_SECOND_CACHE_MAX = 100_000
_MS_TAILS = {f".{ms:03d}Z": ms for ms in range(1000)}


def _epoch_second(prefix: str) -> int | None:
    """Epoch seconds of 'YYYY-MM-DDTHH:MM:SS' (UTC); None if it is not a real date and time."""
    if _TIME_PREFIX.fullmatch(prefix) is None:
        return None
    try:
        at = datetime.fromisoformat(prefix).replace(tzinfo=UTC)
    except ValueError:
        return None
    if len(_second_cache) >= _SECOND_CACHE_MAX:
        _second_cache.clear()  # a backfill walks through time: keep memory bounded
    seconds = _second_cache[prefix] = int(at.timestamp())
    return seconds


def event_ms_of(text: Any) -> int | None:
    """Epoch ms of a canonical event_time string, or None when it is not canonical."""
    if type(text) is not str or len(text) != 24:
        return None
    ms = _MS_TAILS.get(text[19:])
    if ms is None:
        return None
    # Events cluster in time: most seconds were seen (and validated) moments ago.
    seconds = _second_cache.get(text[:19])
    if seconds is None:
        seconds = _epoch_second(text[:19])
        if seconds is None:
            return None
    return seconds * 1000 + ms


def precheck_json(
    payload: bytes, expected_type: str | None, max_event_us: int
) -> FlatEvent | None:
    """The flat event if ``payload`` is a canonical valid event, else None (ask the models).

    orjson keeps the last of a repeated member name without a word, and such an event is
    invalid (:mod:`schemas.wire`). So the pre-check also wants the message to be exactly as
    long as the canonical text of what it decoded (no whitespace, no escapes, each member
    once): that text is the shortest spelling of those values, and a repeated member only
    adds bytes. The lengths come from the lookups the pre-check makes anyway, which is
    cheaper than scanning the message for commas or quotes.
    """
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    return precheck(obj, expected_type, max_event_us, len(payload))


def precheck(
    obj: Any, expected_type: str | None, max_event_us: int, size: int | None = None
) -> FlatEvent | None:
    """The flat event if the decoded ``obj`` is a canonical valid event, else None.

    ``max_event_us`` is the latest acceptable event time in epoch microseconds (now plus
    the allowed future skew), as the models' ``_sane_time`` computes it. ``size`` is the
    length of the message ``obj`` was decoded from; without it the pre-check cannot see
    repeated member names, which decoding has merged (use :func:`precheck_json`).
    """
    try:
        etype = obj["event_type"]
        spec = _SPECS[etype]
        if expected_type is not None and etype != expected_type:
            return None
        return spec.check(obj, max_event_us, size)
    except (TypeError, KeyError, IndexError):
        # Not an object, no or unhashable event_type, unknown type, unhashable field value.
        return None


def _lengths(combos: Iterable[tuple[str, ...]]) -> dict[tuple[str, ...], int]:
    """Each combination of enum values, with its values' length in the canonical text."""
    return {combo: sum(len(value) + 2 for value in combo) for combo in combos}


_ABSENT: Final = object()


@dataclass(frozen=True, slots=True)
class _Field:
    """One of a type's own fields, as the pre-check checks it: a string that is one of a
    ``Literal``'s values or matches a pattern; optional ones with their flat default."""

    name: str
    accept: Callable[[Any], object]  # truthy for an allowed value; may raise TypeError
    allowed: frozenset[str] | None  # a Literal's values (None: a pattern)
    required: bool
    nullable: bool
    default: str  # the flat value when the member is absent
    member: int  # len(',"name":') in the canonical text


def _field(event_type: str, name: str, info: FieldInfo) -> _Field:
    """How to check ``info`` without the model, or a TypeError at import saying why not."""
    annotation, nullable, constraints = info.annotation, False, info
    if get_origin(annotation) in (Union, UnionType) and NoneType in get_args(annotation):
        inner = [a for a in get_args(annotation) if a is not NoneType]
        annotation, nullable = inner[0] if len(inner) == 1 else object, True
    if get_origin(annotation) is Annotated:
        annotation, extra = get_args(annotation)
        constraints = extra if isinstance(extra, FieldInfo) else FieldInfo()
    allowed: frozenset[str] | None = None
    accept: Callable[[Any], object] | None = None
    if get_origin(annotation) is Literal and all(type(v) is str for v in get_args(annotation)):
        allowed = frozenset(values(annotation))
        accept = allowed.__contains__ if not constraints.metadata else None
    elif annotation is str and (pattern := _pattern(constraints)) is not None:
        accept = pattern.fullmatch
    required = info.is_required()
    default = "" if required or info.default is None else info.default
    if (
        accept is None
        or info.default_factory is not None
        or (nullable and required)
        or (info.default is None and not nullable and not required)
        or (default and not (type(default) is str and accept(default)))
    ):
        raise TypeError(
            f"{event_type}.{name}: the flat pre-check (schemas/flat.py) checks string fields "
            "that are a Literal or have one pattern; an optional one has a default"
        )
    return _Field(name, accept, allowed, required, nullable, default, len(name) + 4)


def _agent_for_cash(obj: dict[str, Any]) -> bool:
    """MobileMoney._agent_for_cash: cash-in and cash-out name their agent."""
    return obj["kind"] not in AGENT_KINDS or obj.get("agent_id") is not None


# The models' cross-field rules (model validators), by name, as checks of a decoded event
# whose fields are valid: a rule the pre-check does not know stops the import.
_RULES: dict[str, Callable[[dict[str, Any]], bool]] = {"_agent_for_cash": _agent_for_cash}


def _items(keys: Sequence[Any]) -> Callable[[Any], tuple[Any, ...]]:
    """itemgetter that always returns a tuple, of one item or none too."""
    if len(keys) > 1:
        return itemgetter(*keys)
    return lambda obj: tuple(obj[key] for key in keys)


def _attrs(names: Sequence[str]) -> Callable[[Any], tuple[Any, ...]]:
    """attrgetter that always returns a tuple, of one item or none too."""
    if len(names) > 1:
        return attrgetter(*names)
    return lambda obj: tuple(getattr(obj, name) for name in names)


def _rules(
    event_type: str, model: type[Envelope], own: set[str]
) -> tuple[Callable[[dict[str, Any]], bool], ...]:
    """The model's cross-field rules as the pre-check runs them; a validator of the model
    that the pre-check would not run stops the import, so it is never skipped unseen."""
    decorators = model.__pydantic_decorators__
    validated = {name for v in decorators.field_validators.values() for name in v.info.fields}
    if unknown := validated & own:
        raise TypeError(f"{event_type}: the pre-check does not run validators of {unknown}")
    if unknown := set(decorators.model_validators) - set(_RULES):
        raise TypeError(f"{event_type}: add rules {unknown} to schemas/flat.py")
    return tuple(_RULES[name] for name in decorators.model_validators)


class _TypeSpec:
    """What one event type's canonical form looks like, derived from its model.

    Its own fields are read in one order (the Literal ones, which one lookup checks together,
    then the patterned, then the optional) and placed in TYPE_FIELDS' order by one picker.
    """

    def __init__(self, event_type: str, model: type[Envelope]) -> None:
        self.event_type = event_type
        own = [_field(event_type, n, model.model_fields[n]) for n in _own_fields(model)]
        rules = _rules(event_type, model, {f.name for f in own})
        enums = tuple(f for f in own if f.required and f.allowed is not None)
        self.patterns = tuple((f.name, f.accept) for f in own if f.required and not f.allowed)
        self.optional_fields = tuple(f for f in own if not f.required)
        order = [*(f.name for f in enums), *(n for n, _ in self.patterns)]
        order += [f.name for f in self.optional_fields]
        self.place = _items([order.index(c) if c in order else len(order) for c in TYPE_FIELDS])
        self.get_own = _attrs(order)
        self.rest = _rest(self.patterns, self.optional_fields, rules, self.place)
        envelope = [n for n in ENVELOPE_FIELDS if n != "event_type"]
        required = {k for k, f in model.model_fields.items() if f.is_required()}
        self.required = len(required)
        self.optional = tuple(sorted(set(model.model_fields) - required))
        self.get_envelope = itemgetter(*envelope)
        self.enums = tuple(f.name for f in enums)
        self.get_enums = _items(self.enums)
        # The canonical text's length less the variable values: braces, commas, quoted
        # names and colons, the quotes of the strings outside the combos, and the values
        # of fixed length (event_type, event_id, schema_version 1, event_time, province).
        quoted = required - {"schema_version", "amount_vnd", "area", "channel", "status"}
        quoted -= set(self.enums)
        skeleton = (
            1 + sum(len(name) + 4 for name in required) + 2 * len(quoted)
            + len(event_type) + 36 + 1 + 24 + 2
        )  # fmt: skip
        # Every allowed combination of the type's Literal fields: one hash lookup checks them
        # all, and gives the canonical length of all but the envelope's and the variable values.
        allowed = [f.allowed or frozenset() for f in enums]
        self.combos = {
            combo: skeleton + length for combo, length in _lengths(product(*allowed)).items()
        }

    def check(self, obj: dict[str, Any], max_event_us: int, size: int | None) -> FlatEvent | None:
        extra = len(obj) - self.required
        if extra and (extra > len(self.optional) or sum(k in obj for k in self.optional) != extra):
            return None
        event_id, version, time, province, area, channel, amount, status, customer = (
            self.get_envelope(obj)
        )
        # A combination that is not allowed raises KeyError, as a missing field does.
        envelope_chars = _ENVELOPE_COMBOS[(area, channel, status)]
        if province not in _PROVINCES:
            return None
        if type(version) is not int or version != SCHEMA_VERSION:
            return None
        if type(amount) is not int or not 0 <= amount <= MAX_AMOUNT_VND:
            return None
        # A value that is not a string makes fullmatch raise TypeError: declined, too.
        if not _UUID.fullmatch(event_id) or not _CUSTOMER.fullmatch(customer):
            return None
        event_ms = event_ms_of(time)
        if event_ms is None or event_ms < _EARLIEST_MS or event_ms * 1000 > max_event_us:
            return None
        enums = self.get_enums(obj)
        canonical = self.combos[enums]
        if size is not None:  # what the type's own variable values must take up
            size -= canonical + envelope_chars + len(customer) + len(str(amount))
        rest = self.rest(obj, enums, size)
        if rest is None:
            return None
        envelope = (event_id, self.event_type, version, event_ms, province, area, channel)
        return (*envelope, amount, status, customer, *rest)


Rest = Callable[[dict[str, Any], tuple[str, ...], int | None], tuple[str, ...] | None]


# One closure per event type, run per event: its branches stay inline (a helper per branch
# would add calls on the hot path), hence over the complexity limit.
def _rest(  # noqa: C901
    patterns: tuple[tuple[str, Callable[[Any], object]], ...],
    optional: tuple[_Field, ...],
    rules: tuple[Callable[[dict[str, Any]], bool], ...],
    place: Callable[[Any], tuple[str, ...]],
) -> Rest:
    """The check of a type's other own fields, made once per type with its tables bound.

    It gives the type's flat fields if the values are valid and fill ``room`` characters of
    the canonical text exactly (None: the length is not known). A closure, because it runs
    per event: its tables are local names, not attribute lookups.
    """
    if not patterns and not optional and not rules:
        return lambda obj, own, room: None if room else place((*own, ""))

    def rest(obj: dict[str, Any], own: tuple[str, ...], room: int | None) -> tuple[str, ...] | None:
        used = 0
        for name, accept in patterns:
            value = obj[name]
            if not accept(value):  # a value that is not a string raises TypeError
                return None
            own += (value,)
            used += len(value)
        for field in optional:
            value = obj.get(field.name, _ABSENT)
            if value is _ABSENT:
                own += (field.default,)
            elif value is None and field.nullable:
                own += ("",)
                used += field.member + 4
            elif field.accept(value):
                own += (value,)
                used += field.member + 2 + len(value)
            else:
                return None
        if room is not None and room != used:
            return None
        for rule in rules:
            if not rule(obj):
                return None
        return place((*own, ""))

    return rest


_ENVELOPE_COMBOS = _lengths(product(_AREAS, _CHANNELS, _STATUSES))
_SPECS: dict[str, _TypeSpec] = {t: _TypeSpec(t, model) for t, model in MODELS.items()}


def flatten(event: Envelope) -> FlatEvent:
    """The flat form of a model-validated event (the slow path's result)."""
    spec = _SPECS[event.event_type]
    own = ("" if value is None else value for value in spec.get_own(event))
    rest = spec.place((*own, ""))
    return (
        str(event.event_id),
        event.event_type,
        event.schema_version,
        _epoch_ms(event.event_time),
        event.province_code,
        event.area,
        event.channel,
        event.amount_vnd,
        event.status,
        event.customer_id,
        *rest,
    )


def _epoch_ms(at: datetime) -> int:
    delta = at - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def event_uuid(flat: FlatEvent) -> UUID:
    return UUID(flat[EVENT_ID])
