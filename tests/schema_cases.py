"""Valid and invalid events derived from the committed JSON Schemas, systematically.

For each committed schema (read with :mod:`json`, never from the models): a valid base
event; every enum value; every field missing; each field as every JSON type; integer
boundaries with integral, exponent and fractional spellings; pattern boundaries (lengths,
one character outside the class, trailing newline, Unicode look-alikes); consts;
additionalProperties; each ``if``/``then``; date-time and uuid spellings; repeated member
names. A case carries no expected verdict: tests/schema_reference.py gives it. Each case has
its own event_id, so a worker's deduplication keeps every one. Shared by the unit test
(verdicts) and the integration test (through a running worker).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any


# -- raw JSON text, so that number spellings and repeated names survive --------------------
@dataclass(frozen=True)
class Raw:
    """A JSON value written exactly as ``text`` (e.g. the number ``1e3``)."""

    text: str


Members = list[tuple[str, Any]]
_EVENT_ID = object()  # placeholder: each case gets its own event_id


def _text(value: Any) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, list):
        return "[" + ",".join(map(_text, value)) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{_text(k)}:{_text(v)}" for k, v in value.items()) + "}"
    return json.dumps(value, ensure_ascii=False)


def case_uuid(event_type: str, label: str) -> str:
    """A distinct, stable event_id per case, so a worker's deduplication keeps every case."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"dxpulse-contract:{event_type}:{label}"))


@dataclass(frozen=True)
class Case:
    event_type: str  # the schema, and the topic, the case is judged against
    category: str
    label: str
    payload: bytes

    @property
    def name(self) -> str:
        return f"{self.event_type} / {self.category} / {self.label}"


# -- patterns of the committed schemas -----------------------------------------------------
@dataclass(frozen=True)
class Atom:
    """One piece of an anchored pattern: a character class (or a literal) and its counts."""

    chars: str
    low: int
    high: int


def _expand(spec: str) -> str:
    chars, i = [], 0
    while i < len(spec):
        if i + 2 < len(spec) and spec[i + 1] == "-":
            chars += [chr(c) for c in range(ord(spec[i]), ord(spec[i + 2]) + 1)]
            i += 3
        else:
            chars.append(spec[i])
            i += 1
    return "".join(chars)


def parse_pattern(pattern: str) -> list[Atom]:
    """The atoms of an anchored pattern of literals and ``[...]{m,n}`` classes.

    The committed schemas use nothing more; anything else fails here, so a new pattern
    makes this generator grow instead of going untested.
    """
    assert pattern.startswith("^") and pattern.endswith("$"), pattern
    body, atoms, i = pattern[1:-1], [], 0
    while i < len(body):
        assert body[i] not in "\\.()|*+?{}]^$", f"unsupported syntax in {pattern!r}"
        if body[i] == "[":
            end = body.index("]", i)
            chars, i = _expand(body[i + 1 : end]), end + 1
        else:
            chars, i = body[i], i + 1
        low = high = 1
        if i < len(body) and body[i] == "{":
            end = body.index("}", i)
            first, comma, last = body[i + 1 : end].partition(",")
            low, high, i = int(first), int(last) if comma else int(first), end + 1
        atoms.append(Atom(chars, low, high))
    return atoms


def _fill(atoms: list[Atom], counts: list[int], offset: int = 0) -> str:
    """A string of the atoms, each repeated counts[i] times, cycling through its class."""
    out = []
    for atom, count in zip(atoms, counts, strict=True):
        out += [atom.chars[(offset + k) % len(atom.chars)] for k in range(count)]
    return "".join(out)


def valid_for_pattern(pattern: str) -> str:
    atoms = parse_pattern(pattern)
    return _fill(atoms, [a.low for a in atoms])


# Characters one of which, put where the class does not allow it, must make the value invalid:
# ASCII neighbours, whitespace, Vietnamese letters and look-alikes of ASCII letters and digits.
OUTSIDE = (
    " ", "\t", "\n", "\r", ".", "-", "_", "/", ":", "+", "a", "z", "A", "Z", "0", "9",
    "é", "đ", "Đ", "ạ", "\u0430", "\u0410", "\u041e", "\u0391", "\uff10", "\uff21", "\uff41",
    "\u0660", "\u09ea", "\u00a0", "\u200b", "\u2010", "\ufeff",
)  # fmt: skip


def pattern_strings(pattern: str) -> Iterator[tuple[str, str]]:
    """(label, string) near the pattern's boundaries, valid and invalid."""
    atoms = parse_pattern(pattern)
    low = [a.low for a in atoms]
    high = [a.high for a in atoms]
    yield "shortest", _fill(atoms, low)
    yield "longest", _fill(atoms, high)
    for shift in range(max(len(a.chars) for a in atoms)):
        yield f"class chars from {shift}", _fill(atoms, high, shift)
    for i, atom in enumerate(atoms):
        if atom.low > 0:
            yield f"atom {i} one short", _fill(atoms, [*low[:i], atom.low - 1, *low[i + 1 :]])
        yield f"atom {i} one long", _fill(atoms, [*high[:i], atom.high + 1, *high[i + 1 :]])
        start = sum(low[:i])
        base = _fill(atoms, low)
        for ch in OUTSIDE:
            if ch not in atom.chars and atom.low > 0:
                yield f"atom {i} holds {ch!r}", base[:start] + ch + base[start + 1 :]
        if atom.chars.isalpha() and atom.chars.swapcase() != atom.chars and atom.low > 0:
            swapped = base[:start] + base[start].swapcase() + base[start + 1 :]
            yield f"atom {i} case swapped", swapped
    yield from _edges(_fill(atoms, low))
    yield "empty", ""


def _edges(value: str) -> Iterator[tuple[str, str]]:
    yield "trailing newline", value + "\n"
    yield "trailing CRLF", value + "\r\n"
    yield "leading newline", "\n" + value
    yield "trailing space", value + " "
    yield "leading space", " " + value
    yield "NUL inside", value[:1] + "\x00" + value[1:]


def look_alikes(value: str) -> Iterator[tuple[str, str]]:
    """The value with one character replaced by a Unicode look-alike or its case swapped."""
    table = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441",
             "0": "\uff10", "1": "\uff11", "7": "\u0667", "9": "\uff19", "A": "\u0410"}  # fmt: skip
    for i, ch in enumerate(value):
        if ch in table:
            yield f"look-alike at {i}", value[:i] + table[ch] + value[i + 1 :]
            break
    if value.upper() != value:
        yield "upper case", value.upper()
    if value[:1].isalpha():
        yield "first letter fullwidth", chr(ord(value[0]) + 0xFEE0) + value[1:]


# -- date-time and uuid spellings (in the validation context: 2000 <= t <= 2024-03-04) ---
VALID_DATE_TIMES = (
    "2024-03-04T10:00:00.000Z",
    "2024-03-04T10:00:00Z",
    "2024-03-04T10:00:00.1Z",
    "2024-03-04T10:00:00.12Z",
    "2024-03-04T10:00:00.123456Z",
    "2024-03-04T10:00:00.1239Z",
    "2024-03-04T10:00:00.999999999999999Z",
    "2024-03-04t10:00:00.000z",
    "2024-03-04T10:00:00.000z",
    "2024-03-04t10:00:00Z",
    "2024-03-04T17:00:00.000+07:00",
    "2024-03-04T03:00:00-07:00",
    "2024-03-04T10:00:00+00:00",
    "2024-03-04T10:00:00-00:00",
    "2024-03-04T10:00:00+23:59",
    "2024-03-03T10:00:00-23:59",
    "2024-03-04T10:00:00.5+05:30",
    "2024-02-29T12:00:00Z",
    "2000-02-29T00:00:00Z",
    "2000-01-01T00:00:00Z",
    "2000-01-01T07:00:00+07:00",
    "2023-12-31T23:59:59.999Z",
    "2023-04-30T00:00:00Z",
    "2023-02-28T23:59:59Z",
    "2016-12-31T23:59:60Z",
    "2016-12-31T23:59:60.5Z",
    "2016-12-31t23:59:60.999999z",
    "2016-12-31T15:59:60.123-08:00",
    "2017-01-01T06:59:60+07:00",
    "2024-03-03T23:59:60Z",
    "2024-03-04T00:29:60+00:30",
)
INVALID_DATE_TIMES = (
    "2024-03-04 10:00:00.000Z",
    "2024-03-04 10:00:00Z",
    "2024-03-04T10:00Z",
    "2024-03-04T10:00",
    "2024-03-04T17:00:00.000+0700",
    "2024-03-04T17:00:00+07",
    "2024-03-04T17:00:00+7:00",
    "2024-03-04T10:00:00,000Z",
    "2024-03-04T10:00:00,5Z",
    "2024-03-04T10:00:00.Z",
    "2024-03-04T10:00:00.000",
    "2024-03-04T10:00:00",
    "2024-03-04",
    "2024-03-04T",
    "10:00:00Z",
    "2024-03-04T10:00:00.000ZZ",
    "2024-03-04T10:00:00.000+07:00Z",
    "2024-03-04T10:00:00.000UTC",
    "2024-03-04T10:00:00 Z",
    "2024-03-04T10:00:00.000Z\n",
    "2024-03-04T10:00:00.000Z ",
    " 2024-03-04T10:00:00.000Z",
    "2024-03-04T10:00:00.000\u221207:00",
    "2024-03-04T10:00:00+24:00",
    "2024-03-04T10:00:00-24:00",
    "2024-03-04T10:00:00+07:60",
    "2024-03-04T24:00:00Z",
    "2024-03-04T10:60:00Z",
    "2024-03-04T10:00:61Z",
    "2016-12-31T23:59:61Z",
    "2016-12-31T23:58:60Z",
    "2016-12-31T22:59:60Z",
    "2016-12-31T23:59:60+07:00",
    "2017-01-01T00:00:60Z",
    "2023-02-29T10:00:00Z",
    "1900-02-29T10:00:00Z",
    "2024-02-30T10:00:00Z",
    "2024-04-31T10:00:00Z",
    "2024-13-01T10:00:00Z",
    "2024-00-10T10:00:00Z",
    "2024-03-00T10:00:00Z",
    "2024-03-32T10:00:00Z",
    "2024-3-04T10:00:00Z",
    "2024-03-4T10:00:00Z",
    "24-03-04T10:00:00Z",
    "+02024-03-04T10:00:00Z",
    "2024-064T10:00:00Z",
    "2024-W10-1T10:00:00Z",
    "20240304T100000Z",
    "2024-03-04T10:00:00.000Z[Asia/Ho_Chi_Minh]",
    "\uff12\uff10\uff12\uff14-03-04T10:00:00.000Z",
    "2024-03-0\u09eaT10:00:00Z",
    "2024-03-04T1\u0660:00:00Z",
    "2024-03-04\u0422" + "10:00:00Z",
    "2024-03-04T10:00:00.000\u0417",
    "04/03/2024 10:00:00",
    "1709546400",
    "",
)


def _shifted(bare: str) -> str:
    return "-".join((bare[:7], bare[7:12], bare[12:15], bare[15:22], bare[22:]))


# (label, spelling of a canonical lowercase UUID): the format's valid spellings first.
UUID_SPELLINGS: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("lower case", lambda u: u),
    ("upper case", str.upper),
    ("mixed case", lambda u: "".join(c.upper() if i % 2 else c for i, c in enumerate(u))),
    ("32 hex digits", lambda u: u.replace("-", "")),
    ("32 hex digits upper", lambda u: u.replace("-", "").upper()),
    ("braces", lambda u: "{" + u + "}"),
    ("closing brace", lambda u: u + "}"),
    ("urn:uuid:", lambda u: "urn:uuid:" + u),
    ("URN:UUID:", lambda u: "URN:UUID:" + u.upper()),
    ("trailing dash", lambda u: u + "-"),
    ("extra dash", lambda u: u[:9] + "-" + u[9:]),
    ("shifted dashes", lambda u: _shifted(u.replace("-", ""))),
    ("dashes at the end", lambda u: u.replace("-", "") + "----"),
    ("missing section", lambda u: u[:19] + u[24:]),
    ("one digit short", lambda u: u[:-1]),
    ("one digit long", lambda u: u + "0"),
    ("not hex", lambda u: u[:-1] + "g"),
    ("Arabic-Indic digit", lambda u: u[:-1] + "\u0663"),
    ("fullwidth digit", lambda u: u[:-1] + "\uff13"),
    ("trailing newline", lambda u: u + "\n"),
    ("leading space", lambda u: " " + u),
    ("underscores", lambda u: u.replace("-", "_")),
    ("hyphen look-alike", lambda u: u.replace("-", "\u2010")),
)


FIXED_UUIDS = ("00000000-0000-0000-0000-000000000000", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF")


# -- the cases of one schema ---------------------------------------------------------------
# Integral spellings of an integer n, and numbers just off it.
def integral_spellings(n: int) -> Iterator[tuple[str, str]]:
    digits = str(abs(n))
    sign = "-" if n < 0 else ""
    yield "plain", str(n)
    yield ".0", f"{n}.0"
    yield ".000", f"{n}.000"
    yield "e0", f"{n}e0"
    yield "E+0", f"{n}E+0"
    mantissa = digits.rstrip("0") or "0"
    exponent = len(digits) - len(mantissa) if n else 0
    yield "exponent", f"{sign}{mantissa}e{exponent}"
    if len(mantissa) > 1:
        scaled = f"{mantissa[0]}.{mantissa[1:]}e{exponent + len(mantissa) - 1}"
        yield "scaled exponent", sign + scaled
    yield "ten times, e-1", f"{sign}{abs(n) * 10}e-1"
    yield "tenth, e1", f"{sign}0.{digits}e{len(digits)}"
    if n == 0:
        yield "-0", "-0"
        yield "-0.0", "-0.0"
        yield "-0e5", "-0e5"


# Spellings of integers quoted in issue 13 and beyond a double's range, tried on each field.
INTEGER_SPELLINGS = (
    "34907897.0", "1e3", "1E3", "1e+3", "1.5e1", "1e400", "-1e400", "1e-400",
    "1" + "0" * 30, "-1" + "0" * 30, "0.0", "0e0",
)  # fmt: skip


def fractional_spellings(n: int) -> Iterator[tuple[str, str]]:
    yield ".5", f"{n}.5"
    yield "float-rounded fraction", f"{n}.0000000000000001"
    yield "tiny fraction", f"{n}.{'0' * 40}1"
    yield "e-1", f"{n}e-1" if n % 10 else f"{n + 1}e-1"
    yield "1e-400 added", f"{n}.{'0' * 399}1"


class SchemaCases:
    """Every case derived from one committed schema, and the values each field was given."""

    def __init__(self, event_type: str, schemas: dict[str, dict[str, Any]]) -> None:
        self.event_type = event_type
        self.schema = schemas[event_type]
        self.others = {t: s for t, s in schemas.items() if t != event_type}
        self.props: dict[str, dict[str, Any]] = self.schema["properties"]
        self.required: list[str] = self.schema["required"]
        self.cases: list[Case] = []
        self.pool: dict[str, list[Any]] = {}  # field -> every value a case gave it
        self._labels: set[tuple[str, str]] = set()

    # -- building blocks ------------------------------------------------------------------
    def base(self) -> Members:
        """Every property with a valid value, required ones first."""
        order = self.required + sorted(set(self.props) - set(self.required))
        return [(name, self.valid_value(self.props[name])) for name in order]

    def valid_value(self, prop: dict[str, Any]) -> Any:
        if "const" in prop:
            return prop["const"]
        if "enum" in prop:
            return prop["enum"][0]
        if "anyOf" in prop:
            return self.valid_value(next(b for b in prop["anyOf"] if b.get("type") != "null"))
        if prop.get("format") == "date-time":
            return VALID_DATE_TIMES[0]
        if prop.get("format") == "uuid":
            return _EVENT_ID
        if "pattern" in prop:
            return valid_for_pattern(prop["pattern"])
        if prop.get("type") == "integer":
            return (prop.get("minimum", 0) + prop.get("maximum", 10**6)) // 2
        raise AssertionError(f"no valid value for {prop}: teach the generator")

    def payload(self, members: Members, label: str) -> bytes:
        """The JSON text of ``members`` in order (repeats kept, numbers as spelled)."""
        own = case_uuid(self.event_type, label)
        text = ",".join(f"{_text(k)}:{_text(own if v is _EVENT_ID else v)}" for k, v in members)
        return ("{" + text + "}").encode()

    def add(self, category: str, label: str, members: Members | bytes) -> None:
        assert (category, label) not in self._labels, (category, label)
        self._labels.add((category, label))
        if not isinstance(members, bytes):
            members = self.payload(members, f"{category}/{label}")
        self.cases.append(Case(self.event_type, category, label, members))

    def with_value(self, name: str, value: Any) -> Members:
        """The base event with ``name`` set to ``value`` (added if it is not a property)."""
        self.pool.setdefault(name, []).append(value)
        members = self.base()
        if name not in dict(members):
            return [*members, (name, value)]
        return [(k, value if k == name else v) for k, v in members]

    def without(self, *names: str) -> Members:
        return [(k, v) for k, v in self.base() if k not in names]

    # -- the generators, one per kind of rule in a schema ---------------------------------
    def build(self) -> list[Case]:
        self.add("base", "every property valid", self.base())
        for name, prop in self.props.items():
            self.enums(name, prop)
            self.consts(name, prop)
            self.json_types(name, prop)
            self.integers(name, prop)
            self.patterns(name, prop)
            self.repeated(name, prop)
            self.formats(name, prop)
        self.missing()
        self.additional()
        self.conditionals()
        self.not_objects()
        return self.cases

    def enums(self, name: str, prop: dict[str, Any]) -> None:
        for value in prop.get("enum", ()):
            self.add("enum", f"{name}={value!r}", self.with_value(name, value))
        if prop.get("enum"):
            first = prop["enum"][0]
            near = [*_edges(first), *look_alikes(first), ("empty", ""), ("prefix", first[:-1])]
            for label, text in near:
                self.add("enum", f"{name} {label}", self.with_value(name, text))

    def consts(self, name: str, prop: dict[str, Any]) -> None:
        if "const" not in prop:
            return
        const = prop["const"]
        if isinstance(const, str):
            for other in sorted(s["properties"][name]["const"] for s in self.others.values()):
                self.add("const", f"{name}={other!r}", self.with_value(name, other))
            for label, text in [*_edges(const), *look_alikes(const), ("empty", "")]:
                self.add("const", f"{name} {label}", self.with_value(name, text))
            return
        for label, text in integral_spellings(const):
            self.add("const", f"{name} {label} {text}", self.with_value(name, Raw(text)))
        for label, text in fractional_spellings(const):
            self.add("const", f"{name} {label}", self.with_value(name, Raw(text)))
        for other in (const - 1, const + 1):
            self.add("const", f"{name}={other}", self.with_value(name, other))

    def json_types(self, name: str, prop: dict[str, Any]) -> None:
        valid = self.valid_value(prop)
        valid = case_uuid(self.event_type, name) if valid is _EVENT_ID else valid
        wrong = {
            "string of the value": json.dumps(valid) if not isinstance(valid, str) else "x",
            "integer": Raw("1"),
            "number": Raw("1.5"),
            "true": True,
            "false": False,
            "null": None,
            "empty array": [],
            "array of the value": [valid],
            "empty object": {},
            "object of the value": {"value": valid},
        }
        for label, value in wrong.items():
            self.add("json type", f"{name} {label}", self.with_value(name, value))

    def integers(self, name: str, prop: dict[str, Any]) -> None:
        if prop.get("type") != "integer" or "const" in prop:
            return
        for bound in (prop[k] for k in ("minimum", "maximum") if k in prop):
            for n in (bound - 1, bound, bound + 1):
                for label, text in [*integral_spellings(n), *fractional_spellings(n)]:
                    members = self.with_value(name, Raw(text))
                    self.add("integer", f"{name}={n} {label} {text[:24]}", members)
        for text in INTEGER_SPELLINGS:
            self.add("integer", f"{name} spelled {text[:40]}", self.with_value(name, Raw(text)))

    def patterns(self, name: str, prop: dict[str, Any]) -> None:
        for branch in (b for b in [prop, *prop.get("anyOf", ())] if "pattern" in b):
            pattern = branch["pattern"]
            near = [*pattern_strings(pattern), *look_alikes(valid_for_pattern(pattern))]
            for label, text in near:
                self.add("pattern", f"{name} {label}", self.with_value(name, text))

    def repeated(self, name: str, prop: dict[str, Any]) -> None:
        members = self.base()
        value = dict(members)[name]
        self.add("repeated name", f"{name} twice, same value", [*members, (name, value)])
        self.add("repeated name", f"{name} twice, then null", [*members, (name, None)])
        self.add("repeated name", f"{name} null, then valid", [(name, None), *members])

    def formats(self, name: str, prop: dict[str, Any]) -> None:
        if prop.get("format") == "date-time":
            for text in VALID_DATE_TIMES + INVALID_DATE_TIMES:
                self.add("date-time", f"{name}={text!r}", self.with_value(name, text))
        if prop.get("format") == "uuid":
            for label, spell in UUID_SPELLINGS:
                own = case_uuid(self.event_type, f"uuid/{label}")
                self.add("uuid", f"{name} {label}", self.with_value(name, spell(own)))
            for text in FIXED_UUIDS:
                self.add("uuid", f"{name}={text}", self.with_value(name, text))

    def missing(self) -> None:
        for name in self.props:
            self.add("missing", f"without {name}", self.without(name))
        self.add("missing", "empty object", [])

    def additional(self) -> None:
        names = {n for s in self.others.values() for n in s["properties"]}
        for name in sorted(names - set(self.props)):
            self.add("additional", f"foreign {name}", [*self.base(), (name, "x")])
            self.add("additional", f"foreign {name} null", [*self.base(), (name, None)])
        for name in self.props:
            keys = {
                "upper": name.upper(),
                "trailing space": name + " ",
                "trailing newline": name + "\n",
                "look-alike": name.replace("a", "\u0430", 1),
            }
            for label, key in keys.items():
                if key != name:
                    self.add("additional", f"{name} key {label}", [*self.base(), (key, 1)])
        self.add("additional", "extra", [*self.base(), ("extra", 1)])
        self.add("additional", "empty name", [*self.base(), ("", None)])

    def conditionals(self) -> None:
        """For every if/then: each enum value of the condition's fields x each state of the
        fields the consequence constrains (absent, null, wrong type, near its pattern)."""
        for rule in [self.schema, *self.schema.get("allOf", ())]:
            if "if" not in rule:
                continue
            then = rule["then"]
            targets = sorted({*then.get("required", ()), *then.get("properties", {})})
            for field_name in rule["if"].get("properties", {}):
                for value in self.props[field_name].get("enum", ()):
                    for target in targets:
                        self._conditional(field_name, value, target)

    def _conditional(self, field_name: str, value: Any, target: str) -> None:
        prop = self.props[target]
        states: dict[str, Any] = {"null": None, "empty": "", "number": 1}
        for branch in (b for b in [prop, *prop.get("anyOf", ())] if "pattern" in b):
            states.update(list(pattern_strings(branch["pattern"]))[:3])
            states["trailing newline"] = valid_for_pattern(branch["pattern"]) + "\n"
        prefix = f"{field_name}={value} {target}"
        for state, target_value in states.items():
            members = [
                (k, value if k == field_name else target_value if k == target else v)
                for k, v in self.base()
            ]
            self.add("if/then", f"{prefix} {state}", members)
        members = [(k, value if k == field_name else v) for k, v in self.base() if k != target]
        self.add("if/then", f"{prefix} absent", members)

    def not_objects(self) -> None:
        event = self.payload(self.base(), "not an object/array of the event")
        for label, payload in [("array", b"[]"), ("null", b"null"), ("number", b"1"),
                               ("string", b'"event"'), ("true", b"true"),
                               ("array of the event", b"[" + event + b"]")]:  # fmt: skip
            self.add("not an object", label, payload)
