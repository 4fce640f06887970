"""The exceptions and warnings of pytams: one hierarchy, each error also a matching builtin."""

from __future__ import annotations


class TAMSError(Exception):
    """Base class of every error pytams raises on purpose."""


class ConfigError(TAMSError, ValueError):
    """A configuration is missing a key, has a typo, a wrong type or an out-of-range value."""


class ModelError(TAMSError, RuntimeError):
    """A forward model raised or returned something unusable (a NaN score, a bad time step).

    Attributes:
        model_traceback: The formatted traceback of the model's own exception, if it raised
            one (kept as text: it travels with the error from a worker process).
    """

    model_traceback: str | None = None


class RunnerError(TAMSError, RuntimeError):
    """A runner could not complete its tasks (after its retries) or could not start."""


class StorageError(TAMSError, OSError):
    """A database could not be read or written."""


class DatabaseCorruptError(StorageError):
    """A database on disk is damaged, incomplete or of an incompatible format."""


class MissingComponentError(TAMSError, ImportError):
    """An optional component (runner, store) is not installed; the message names the package."""


class TAMSWarning(UserWarning):
    """A warning from pytams (the test suite turns these into errors)."""
