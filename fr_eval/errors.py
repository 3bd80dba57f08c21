"""Exceptions that end a run with a one-line message (no traceback)."""


class FrEvalError(Exception):
    """A user-facing error: bad configuration, missing data or model files."""


class ConfigError(FrEvalError):
    """A configuration key or value is invalid; the message names the valid choices."""


class ModelFilesMissing(FrEvalError):
    """Model files are absent and could not be fetched; the message says which and where."""


class DiskFull(FrEvalError):
    """The disk filled up while writing; the message says what was kept and how to resume."""
