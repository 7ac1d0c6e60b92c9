"""The statement splitter: `;` ends a statement only where ClickHouse's lexer says so.

The engine itself confirms these rules in tests/integration_tests/test_sqlsplit_engine.py.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dxpulse.clickhouse import Migration, load_migrations
from dxpulse.core.errors import DxpulseError
from dxpulse.core.sqlsplit import split_statements

# (script, the statements it holds)
CASES = [
    (
        r"INSERT INTO t VALUES ('it\'s; here'); SELECT 2",
        [r"INSERT INTO t VALUES ('it\'s; here')", "SELECT 2"],
    ),
    (
        "INSERT INTO t VALUES ('it''s; here'); SELECT 2",
        ["INSERT INTO t VALUES ('it''s; here')", "SELECT 2"],
    ),
    (r"SELECT 'a\\'; SELECT 'b;'", [r"SELECT 'a\\'", "SELECT 'b;'"]),
    (
        'SELECT 1 AS "a;b", 2 AS "c\\";d", 3 AS "e"";f"; SELECT 2',
        ['SELECT 1 AS "a;b", 2 AS "c\\";d", 3 AS "e"";f"', "SELECT 2"],
    ),
    (
        "SELECT 1 AS `a;b`, 2 AS `c\\`;d`, 3 AS `e``;f`; SELECT 2",
        ["SELECT 1 AS `a;b`, 2 AS `c\\`;d`, 3 AS `e``;f`", "SELECT 2"],
    ),
    ("SELECT 1; -- done; it's over\nSELECT 2 -- x; 'y\n;", ["SELECT 1", "SELECT 2"]),
    ("SELECT 1 --c;d\n, 2;", ["SELECT 1 --c;d\n, 2"]),
    (
        "SELECT 1 # hash; comment\n, 2; SELECT 3 #! shebang;\n",
        ["SELECT 1 # hash; comment\n, 2", "SELECT 3"],
    ),
    ("SELECT /* ; */ 1; /* only ; a comment */", ["SELECT /* ; */ 1"]),
    ("SELECT /* a /* ; */ b; */ 1; SELECT 2", ["SELECT /* a /* ; */ b; */ 1", "SELECT 2"]),
    ("SELECT $$a;b$$, $x$ $$; $y$ $x$; SELECT 2", ["SELECT $$a;b$$, $x$ $$; $y$ $x$", "SELECT 2"]),
    ("SELECT a$b; SELECT 2", ["SELECT a$b", "SELECT 2"]),
    (
        "CREATE TABLE begin (x UInt8) ENGINE = Memory; SELECT 3",
        ["CREATE TABLE begin (x UInt8) ENGINE = Memory", "SELECT 3"],
    ),
    (
        "SELECT 1--1\n; SELECT '-- not a comment; really'",
        ["SELECT 1", "SELECT '-- not a comment; really'"],
    ),
    ("SELECT 'Hà Nội; Đà Nẵng'", ["SELECT 'Hà Nội; Đà Nẵng'"]),
    (
        "-- header; with a semicolon\n\n-- more\nCREATE VIEW v AS SELECT 1;\n\n-- trailing; note\n",
        ["CREATE VIEW v AS SELECT 1"],
    ),
    (";;  ;\n-- nothing\n; /* */ ;", []),
    ("SELECT 'a\nb;c'\r\n; SELECT 2", ["SELECT 'a\nb;c'", "SELECT 2"]),
]


@pytest.mark.parametrize(("script", "expected"), CASES)
def test_splits_where_clickhouse_ends_a_statement(script: str, expected: list[str]) -> None:
    assert Migration(1, "001_case", script).statements("dxpulse") == expected


@pytest.mark.parametrize(
    ("script", "what", "line"),
    [
        ("SELECT 1;\nSELECT 'open; SELECT 2", "quoted text", 2),
        ("SELECT `x", "quoted text", 1),
        ("SELECT 1 /* a /* b */ ; SELECT 2", "comment", 1),
        ("\n\nSELECT $t$ never closed $u$", "heredoc", 3),
        (r"SELECT 'ends in an escape\'", "quoted text", 1),
    ],
)
def test_unterminated_text_is_an_error_naming_the_line(script: str, what: str, line: int) -> None:
    with pytest.raises(DxpulseError, match=f"^unterminated {what} starting on line {line}$"):
        split_statements(script)


def test_a_broken_migration_file_is_named_in_the_error() -> None:
    with pytest.raises(DxpulseError, match=r"^migration 002_x: unterminated quoted text starting"):
        Migration(2, "002_x", "SELECT 1;\nSELECT 'oops").statements("dxpulse")


def test_placeholders_are_filled_after_splitting() -> None:
    migration = Migration(3, "003_x", "CREATE TABLE {db}.t (s String) DEFAULT ';'; -- x\n")
    assert migration.statements("d1") == ["CREATE TABLE d1.t (s String) DEFAULT ';'"]


def test_every_committed_migration_splits_into_real_statements() -> None:
    """Each piece starts with a keyword, not mid-statement or in a comment (the engine
    checks them further: tests/integration_tests/test_sqlsplit_engine.py)."""
    for migration in load_migrations():
        statements = migration.statements("dxpulse")
        assert statements, migration.name
        for statement in statements:
            assert re.match(r"[A-Za-z]+\s", statement), (migration.name, statement)
            assert "{db}" not in statement


# --- property: splitting the join of statements gives them back ---------------------------

_TEXT = st.text(st.sampled_from("ab ;-/*#$\"`'\n\\é"), max_size=8)


def _quoted(quote: str) -> st.SearchStrategy[str]:
    """A literal or quoted name with `;`, comment starts and both escapes inside."""
    plain = st.text(st.sampled_from("ab ;-/*#$\n"), min_size=1, max_size=4)
    escape = st.sampled_from([f"\\{quote}", quote * 2, "\\\\", "\\n", '"' if quote != '"' else "`"])
    body = st.lists(st.one_of(plain, escape), max_size=4).map("".join)
    return body.map(lambda text: f"{quote}{text}{quote}")


_HEREDOC = st.tuples(
    st.sampled_from(["", "x", "tag_1"]), st.text(st.sampled_from("ab ;-'\"/*#\n"), max_size=8)
).map(lambda t: f"${t[0]}${t[1]}${t[0]}$")
_CODE = st.one_of(
    st.sampled_from(
        ["SELECT", "x", "a$b", "1", "(", ")", ",", "-", "/", "*", "=", "{db}.t", "begin", "END"]
    ),
    _quoted("'"),
    _quoted('"'),
    _quoted("`"),
    _HEREDOC,
)
_LINE_COMMENT = st.tuples(st.sampled_from(["--", "# ", "#!"]), _TEXT).map(
    lambda t: t[0] + t[1].replace("\n", " ") + "\n"
)
_BLOCK_TEXT = st.text(st.sampled_from("ab ;-'\"#$\n"), max_size=6)
_BLOCK_COMMENT = st.one_of(
    _BLOCK_TEXT.map(lambda t: f"/*{t}*/"),
    st.tuples(_BLOCK_TEXT, _BLOCK_TEXT).map(lambda t: f"/* {t[0]} /* {t[1]} */ */"),
)
# Each gap starts with whitespace, so that no code symbol (`-`, `/`) runs into a comment.
_GAP = st.one_of(
    st.sampled_from([" ", "\n", "\t", " \r\n "]),
    _LINE_COMMENT.map(lambda c: f" {c}"),
    _BLOCK_COMMENT.map(lambda c: f" {c} "),
)


@st.composite
def _statement(draw: st.DrawFn) -> str:
    """Code, with whitespace or comments between its tokens (never around it)."""
    parts = [draw(_CODE)]
    for code in draw(st.lists(_CODE, max_size=6)):
        parts += [draw(_GAP), code]
    return "".join(parts)


@st.composite
def _separator(draw: st.DrawFn) -> str:
    """`;` with whitespace, comments and empty or comment-only statements around it."""
    around = st.lists(_GAP, max_size=2).map("".join)
    return draw(around) + ";" + draw(around) + draw(st.sampled_from(["", ";", "; -- only\n;"]))


@given(st.lists(_statement(), max_size=5), st.data())
def test_splitting_the_joined_statements_gives_them_back(
    statements: list[str], data: st.DataObject
) -> None:
    script = data.draw(st.lists(_GAP, max_size=2).map("".join))
    for statement in statements:
        script += statement + data.draw(_separator())
    assert split_statements(script) == statements
