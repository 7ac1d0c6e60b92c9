"""Errors that the CLI reports as one line and a non-zero exit, not a traceback."""


class DxpulseError(Exception):
    """A failure the user can act on (unreachable broker, bad configuration, ...)."""
