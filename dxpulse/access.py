"""dxpulse's least-privilege ClickHouse users, applied by `dxpulse init --users`.

The statements live in deploy/clickhouse/access/*.sql (outside the migrations' glob; shipped
as package data through dxpulse.deploy): settings profiles, roles with their grants, and the
users dxpulse_writer, dxpulse_analyst and dxpulse_grafana. Each password is hashed here,
SHA-256 of the password and a fresh random salt as ClickHouse's own sha256_password does,
and sent as ``IDENTIFIED WITH sha256_hash BY '<hex>' SALT '<hex>'``: the plaintext never
leaves the process, so it cannot reach the server's query log, a SQL error or this module's
messages.

The SQL may only use the statement forms below (`parse_access` rejects anything else), so
what each user may do can be read back from the file: the CLI prints it and the tests check
that it is least privilege.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError
from pydantic import SecretStr

from dxpulse.clickhouse import MIGRATIONS_DIR
from dxpulse.core.config import IDENTIFIER, Settings
from dxpulse.core.errors import DxpulseError
from dxpulse.deploy import sql_files

ACCESS_DIR: Traversable = MIGRATIONS_DIR / "access"
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
_IDENTIFIER = re.compile(IDENTIFIER)
_PLACEHOLDER = re.compile(r"\{[A-Za-z0-9_]+\}")
_HEXISH = re.compile(r"[0-9A-Fa-f]{32,}")


@dataclass(frozen=True)
class AccessUser:
    name: str
    key: str  # the SQL's placeholders are {<key>_sha256} and {<key>_salt}
    env: str  # where its password comes from


USERS: tuple[AccessUser, ...] = (
    AccessUser("dxpulse_writer", "writer", "DXPULSE_CLICKHOUSE__WRITER_PASSWORD"),
    AccessUser("dxpulse_analyst", "analyst", "DXPULSE_CLICKHOUSE__ANALYST_PASSWORD"),
    AccessUser("dxpulse_grafana", "grafana", "DXPULSE_GRAFANA__CLICKHOUSE_PASSWORD"),
)


def user_passwords(settings: Settings) -> dict[str, SecretStr]:
    """Each user's password from the settings (the environment), validated; one error
    naming every missing or unusable variable, never a value."""
    given = {
        "dxpulse_writer": settings.clickhouse.writer_password,
        "dxpulse_analyst": settings.clickhouse.analyst_password,
        "dxpulse_grafana": settings.grafana.clickhouse_password,
    }
    found = {name: value for name, value in given.items() if value is not None}
    missing = [u.env for u in USERS if u.name not in found]
    if missing:
        raise DxpulseError(f"no password for the ClickHouse users: set {', '.join(missing)}")
    problems = [
        f"{u.env} {reason}"
        for u in USERS
        if (reason := password_problem(found[u.name].get_secret_value()))
    ]
    if problems:
        raise DxpulseError("; ".join(problems))
    return found


def password_problem(password: str) -> str | None:
    """Why a password is unusable, without repeating it; None when it is fine."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"is too short: use at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"is too long: at most {MAX_PASSWORD_LENGTH} characters"
    if password != password.strip():
        return "starts or ends with whitespace (a stray newline?)"
    if any(unicodedata.category(c).startswith("C") for c in password):
        return "contains control characters"
    return None


def password_hash(password: str, salt: str) -> str:
    """What ClickHouse stores for sha256_password: SHA-256 of the password then the salt."""
    return hashlib.sha256((password + salt).encode()).hexdigest()


def load_access_sql(directory: Traversable = ACCESS_DIR) -> list[str]:
    """The statements of every .sql file under ``directory``, in file-name order, with
    placeholders unfilled."""
    files = sql_files(directory)
    if not files:
        raise DxpulseError(f"no access SQL in {directory}")
    statements = []
    for path in files:
        body = "\n".join(
            line
            for line in path.read_text("utf-8").splitlines()
            if not line.lstrip().startswith("--")
        )
        statements += [" ".join(s.split()) for s in body.split(";") if s.strip()]
    return statements


@dataclass(frozen=True)
class Rendered:
    """Filled statements, and the values no message may show."""

    statements: list[str]
    secrets: list[str] = field(repr=False)


def render(
    database: str,
    passwords: Mapping[str, SecretStr],
    statements: Sequence[str] | None = None,
    salts: Mapping[str, str] | None = None,
) -> Rendered:
    """Fill {db} and each user's {<key>_sha256}/{<key>_salt}; every placeholder must be
    known. Salts are fresh and random unless given (tests)."""
    if not _IDENTIFIER.match(database):
        raise DxpulseError(f"not a plain database name: {database!r}")
    values = {"db": database}
    hidden = []
    for user in USERS:
        password = passwords[user.name].get_secret_value()
        salt = (salts or {}).get(user.name) or secrets.token_hex(32).upper()
        digest = password_hash(password, salt)
        values[f"{user.key}_sha256"] = digest
        values[f"{user.key}_salt"] = salt
        hidden += [password, digest, salt]

    def fill(match: re.Match[str]) -> str:
        name = match.group(0)[1:-1]
        if name not in values:
            raise DxpulseError(f"unknown placeholder {match.group(0)} in the access SQL")
        return values[name]

    filled = [_PLACEHOLDER.sub(fill, s) for s in (statements or load_access_sql())]
    return Rendered(filled, hidden)


# --- What the SQL grants: parsed from the statements, for the summary and the tests. ----

_AUTH = r"IDENTIFIED WITH sha256_hash BY '[^']*' SALT '[^']*'"
_FORMS: list[tuple[str, re.Pattern[str]]] = [
    ("create_profile", re.compile(r"^CREATE SETTINGS PROFILE IF NOT EXISTS (\w+)$")),
    ("alter_profile", re.compile(r"^ALTER SETTINGS PROFILE (\w+) SETTINGS (.+)$")),
    ("create_role", re.compile(r"^CREATE ROLE IF NOT EXISTS (\w+)$")),
    (
        "grant_privileges",
        re.compile(r"^GRANT ([A-Z][A-Z ,]*?) ON (\w+\.\*|\w+\.\w+) TO (\w+) WITH REPLACE OPTION$"),
    ),
    ("grant_role", re.compile(r"^GRANT (\w+) TO (\w+) WITH REPLACE OPTION$")),
    ("create_user", re.compile(rf"^CREATE USER IF NOT EXISTS (\w+) {_AUTH}$")),
    (
        "alter_user",
        re.compile(rf"^ALTER USER (\w+) {_AUTH} DEFAULT DATABASE (\w+) SETTINGS PROFILE '(\w+)'$"),
    ),
]
_SETTING = re.compile(
    r"^(\w+) = ('[^',]*'|[0-9.]+)(?: MIN ([0-9.]+))?(?: MAX ([0-9.]+))?"
    r"(?: (CONST|READONLY|WRITABLE|CHANGEABLE_IN_READONLY))?$"
)


@dataclass(frozen=True)
class ProfileSetting:
    name: str
    value: str
    min: str | None = None
    max: str | None = None
    constraint: str | None = None  # CONST, WRITABLE, CHANGEABLE_IN_READONLY

    def __str__(self) -> str:
        bounds = "".join(
            f" {word} {v}" for word, v in (("MIN", self.min), ("MAX", self.max)) if v is not None
        )
        return f"{self.name}={self.value}{bounds}" + (
            f" {self.constraint}" if self.constraint else ""
        )


@dataclass
class UserAccess:
    """One user's effective rights: its roles' grants, its profile's settings."""

    name: str
    database: str | None = None
    profile: str | None = None
    roles: list[str] = field(default_factory=list)
    privileges: list[tuple[str, str]] = field(default_factory=list)  # (privilege, on)
    settings: list[ProfileSetting] = field(default_factory=list)

    def rights(self) -> str:
        by_object: dict[str, list[str]] = {}
        for privilege, on in self.privileges:
            by_object.setdefault(on, []).append(privilege)
        return "; ".join(f"{', '.join(p)} on {on}" for on, p in by_object.items())

    def setting(self, name: str) -> ProfileSetting | None:
        return next((s for s in self.settings if s.name == name), None)


def parse_access(statements: Iterable[str]) -> dict[str, UserAccess]:
    """Users and their effective rights from the rendered access statements; raises on any
    statement outside the known forms."""
    parsed = _Parsed()
    for statement in statements:
        form, match = _match(statement)
        _APPLY[form](parsed, match)
    for user in parsed.users.values():
        parsed.resolve(user)
    return parsed.users


@dataclass
class _Parsed:
    """What the statements declare, one method per statement form (named as in _FORMS)."""

    profiles: dict[str, list[ProfileSetting]] = field(default_factory=dict)
    role_privileges: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    users: dict[str, UserAccess] = field(default_factory=dict)
    user_roles: dict[str, list[str]] = field(default_factory=dict)

    def create_profile(self, match: re.Match[str]) -> None:
        self.profiles.setdefault(match.group(1), [])

    def alter_profile(self, match: re.Match[str]) -> None:
        self.profiles[match.group(1)] = [_setting(s) for s in match.group(2).split(",")]

    def create_role(self, match: re.Match[str]) -> None:
        self.role_privileges.setdefault(match.group(1), [])

    def grant_privileges(self, match: re.Match[str]) -> None:
        privileges = [p.strip() for p in match.group(1).split(",")]
        self.role_privileges[match.group(3)] = [(p, match.group(2)) for p in privileges]

    def grant_role(self, match: re.Match[str]) -> None:
        self.user_roles[match.group(2)] = [match.group(1)]

    def create_user(self, match: re.Match[str]) -> None:
        self.users.setdefault(match.group(1), UserAccess(match.group(1)))

    def alter_user(self, match: re.Match[str]) -> None:
        user = self.users.setdefault(match.group(1), UserAccess(match.group(1)))
        user.database, user.profile = match.group(2), match.group(3)

    def resolve(self, user: UserAccess) -> None:
        """A user's roles' grants and its profile's settings, each checked to exist."""
        user.roles = self.user_roles.get(user.name, [])
        for role in user.roles:
            if role in self.users or role not in self.role_privileges:
                raise DxpulseError(f"{user.name} is granted {role}, which is not a role here")
            user.privileges += self.role_privileges[role]
        if user.profile is not None:
            if user.profile not in self.profiles:
                raise DxpulseError(f"{user.name} uses undefined settings profile {user.profile}")
            user.settings = self.profiles[user.profile]


# Each statement form of _FORMS, and what it declares.
_APPLY: dict[str, Callable[[_Parsed, re.Match[str]], None]] = {
    "create_profile": _Parsed.create_profile,
    "alter_profile": _Parsed.alter_profile,
    "create_role": _Parsed.create_role,
    "grant_privileges": _Parsed.grant_privileges,
    "grant_role": _Parsed.grant_role,
    "create_user": _Parsed.create_user,
    "alter_user": _Parsed.alter_user,
}


def _match(statement: str) -> tuple[str, re.Match[str]]:
    for form, pattern in _FORMS:
        match = pattern.match(statement)
        if match:
            return form, match
    raise DxpulseError(f"statement not allowed in the access SQL: {_redacted(statement)[:120]}")


def _setting(text: str) -> ProfileSetting:
    match = _SETTING.match(text.strip())
    if not match:
        raise DxpulseError(f"cannot read profile setting {text.strip()!r}")
    name, value, low, high, constraint = match.groups()
    return ProfileSetting(
        name, value, low, high, "CONST" if constraint == "READONLY" else constraint
    )


# --- Applying. ------------------------------------------------------------------------


@dataclass(frozen=True)
class UserOutcome:
    user: UserAccess
    action: str  # created, updated or applied (when the server would not say which)


def apply_access(
    client: Client, database: str, passwords: Mapping[str, SecretStr]
) -> list[UserOutcome]:
    """Create or update the users, their roles and profiles; returns what each may do."""
    rendered = render(database, passwords)
    users = parse_access(rendered.statements)
    names = [u.name for u in USERS]
    try:
        existing: set[str] | None = {
            str(name)
            for (name,) in client.query(
                "SELECT name FROM system.users WHERE has({names:Array(String)}, name)",
                parameters={"names": names},
            ).result_rows
        }
    except ClickHouseError:
        existing = None  # no SHOW USERS right: the statements below will say what is wrong
    run_statements(client, rendered.statements, rendered.secrets)
    return [
        UserOutcome(
            users[name],
            "applied" if existing is None else "updated" if name in existing else "created",
        )
        for name in names
    ]


def run_statements(client: Client, statements: Sequence[str], hidden: Sequence[str]) -> None:
    """Run the statements in order; a failure is one line with every secret masked."""
    for statement in statements:
        try:
            client.command(statement)
        except ClickHouseError as exc:
            message = scrub(_first_error_line(str(exc)), hidden)
            # `from None`: the original exception's text may quote the statement.
            raise DxpulseError(
                f"access SQL failed at `{_redacted(statement)[:120]}`: {message}"
            ) from None


def scrub(text: str, hidden: Sequence[str]) -> str:
    """``text`` with the secrets, and anything that looks like a hash or salt, masked."""
    for secret in sorted((s for s in hidden if s), key=len, reverse=True):
        text = text.replace(secret, "***")
        text = text.replace(secret.lower(), "***").replace(secret.upper(), "***")
    return _HEXISH.sub("***", text)


def _redacted(statement: str) -> str:
    return re.sub(r"BY '[^']*' SALT '[^']*'", "BY '***' SALT '***'", statement)


def _first_error_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if "Code:" in line or "Exception" in line:
            return line[:400]
    return (lines[0] if lines else text)[:400]
