"""Errors that the CLI reports as one line and a non-zero exit, not a traceback."""

from __future__ import annotations

# What follows a ClickHouse message: the server's stack trace and version, the driver's URL.
_TRAILERS = ("Stack trace:", "(version ", "(for url ")


class DxpulseError(Exception):
    """A failure the user can act on (unreachable broker, bad configuration, ...)."""


def one_line(exc: BaseException) -> str:
    """An exception's text as one line: for a ClickHouse error, its ``Code: N. DB::Exception:
    … (NAME)`` part, without the driver's preamble, the server version or a stack trace,
    since these errors end up in a single ``dxpulse: error:`` line."""
    text = str(exc)
    at = text.find("Code: ")
    if at > 0:
        text = text[at:]
    for trailer in _TRAILERS:
        text = text.split(trailer, 1)[0]
    return " ".join(text.split()) or type(exc).__name__
