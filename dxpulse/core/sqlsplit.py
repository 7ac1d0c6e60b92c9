"""Split a ClickHouse SQL script into statements, as ClickHouse's own lexer would.

A `;` ends a statement only outside string literals, quoted identifiers, heredocs and
comments, so the splitter must know exactly those lexical rules of ClickHouse, and no
others (checked against the engine in tests/integration_tests/test_sqlsplit_engine.py):

- ``'…'``, ``"…"`` and `````…````` : a backslash escapes the next character; a doubled
  quote is an escaped quote, which for splitting is the same as two adjacent literals.
- ``$tag$…$tag$`` heredocs, the tag being ``[A-Za-z0-9_]*``; a ``$`` inside a word
  (``a$b``) is part of an identifier.
- ``--`` comments, and ``#`` followed by a space or ``!``, end at a newline (``\\n``);
  ``/* … */`` comments nest.

Why not a library: sqlparse.split is wrong on ClickHouse SQL (``'a\\\\'`` — an escaped
backslash before the closing quote — keeps the string open; a table named ``begin`` opens a
block that swallows the next statements; nested ``/* */`` comments end early). sqlglot's
ClickHouse tokenizer finds the right `;` but is an 8 MB transpiler whose token offsets are
not a promise (its "command" statements, e.g. ``SYSTEM …``, report offsets that include
trailing comments); for the five rules above a lexer of our own is smaller than the glue.

Each statement comes back without the comments and whitespace around it (comments inside
it stay); a statement of comments only is dropped.
"""

from __future__ import annotations

import re

from dxpulse.core.errors import DxpulseError

_HEREDOC_TAG = re.compile(r"\$[A-Za-z0-9_]*\$")
_WORD = re.compile(r"[\w$]+")


def split_statements(sql: str) -> list[str]:
    """The statements of ``sql`` in order, each without its surrounding comments."""
    statements: list[str] = []
    first = last = -1  # where the current statement's code starts and ends
    i = 0
    while i < len(sql):
        if sql[i] == ";":
            if first >= 0:
                statements.append(sql[first : last + 1])
            first = last = -1
            i += 1
        elif sql[i].isspace():
            i += 1
        elif (end := _comment_end(sql, i)) is not None:
            i = end
        else:
            end = _code_end(sql, i)
            first = i if first < 0 else first
            last, i = end - 1, end
    if first >= 0:
        statements.append(sql[first : last + 1])
    return statements


def tokens(sql: str) -> list[str]:
    """The code tokens of ``sql`` in order: words, literals, quoted names, heredocs and single
    symbols, without comments or whitespace. A guard reads a statement's words from here, so
    that ``'INTO OUTFILE'`` in a literal or a comment is not taken for the clause."""
    found: list[str] = []
    i = 0
    while i < len(sql):
        if sql[i].isspace():
            i += 1
        elif (end := _comment_end(sql, i)) is not None:
            i = end
        else:
            end = _code_end(sql, i)
            found.append(sql[i:end])
            i = end
    return found


def _comment_end(sql: str, i: int) -> int | None:
    """The index after the comment that starts at ``i``, or None if none starts there."""
    two = sql[i : i + 2]
    if two in ("--", "# ", "#!"):
        newline = sql.find("\n", i)
        return len(sql) if newline < 0 else newline + 1
    if two != "/*":
        return None
    depth, j = 0, i
    while j < len(sql):
        two = sql[j : j + 2]
        if two in ("/*", "*/"):
            depth += 1 if two == "/*" else -1
            j += 2
            if depth == 0:
                return j
        else:
            j += 1
    raise _unterminated("comment", sql, i)


def _code_end(sql: str, i: int) -> int:
    """The index after the token (literal, quoted name, heredoc, word or symbol) at ``i``."""
    char = sql[i]
    if char in "'\"`":
        j = i + 1
        while j < len(sql):
            if sql[j] == "\\":
                j += 2
            elif sql[j] == char:
                return j + 1
            else:
                j += 1
        raise _unterminated("quoted text", sql, i)
    if heredoc := _HEREDOC_TAG.match(sql, i):
        close = sql.find(heredoc.group(), heredoc.end())
        if close < 0:
            raise _unterminated("heredoc", sql, i)
        return close + len(heredoc.group())
    if word := _WORD.match(sql, i):
        return word.end()
    return i + 1


def _unterminated(what: str, sql: str, i: int) -> DxpulseError:
    line = sql.count("\n", 0, i) + 1
    return DxpulseError(f"unterminated {what} starting on line {line}")
