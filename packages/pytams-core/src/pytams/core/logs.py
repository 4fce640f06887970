"""Logging set up by the programs (the command line, pyTAMS's driver API), never by the library.

The logs of the libraries a runner drives (dask's ``distributed``, ``dask_jobqueue``,
``tornado``, ``asyncio``, ``bokeh``) go to ``[tams] logfile``, not to the terminal, unless
the program asks for them (``verbose``, or ``[tams] loglevel = "DEBUG"``).
"""

from __future__ import annotations

import logging
import os
import sys

from pytams.core.config import Config

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# loggers of the libraries behind the runners: the log file only, unless verbose
THIRD_PARTY = ("distributed", "dask", "dask_jobqueue", "tornado", "asyncio", "bokeh")


class OffTheTerminal(logging.Filter):
    """Drops the records of the `THIRD_PARTY` loggers (a filter of the terminal's handler)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Whether ``record`` comes from a logger other than the `THIRD_PARTY` ones."""
        return not any(record.name == n or record.name.startswith(f"{n}.") for n in THIRD_PARTY)


def configure_logging(config: Config, *, verbose: bool = False) -> None:
    """Log at ``[tams] loglevel`` to stderr, and to ``[tams] logfile`` as well when given.

    Args:
        config: The run's configuration (``[tams] loglevel`` and ``logfile``).
        verbose: Show the `THIRD_PARTY` loggers on stderr too (also with loglevel DEBUG);
            otherwise they reach only the log file.
    """
    logging.basicConfig(level=config.tams.loglevel, stream=sys.stderr, format=LOG_FORMAT)
    root = logging.getLogger()
    root.setLevel(config.tams.loglevel)
    _take_over_third_party()
    shown = verbose or config.tams.loglevel == "DEBUG"
    for handler in root.handlers:
        if _is_terminal(handler):
            _set_filter(handler, on=not shown)
    logfile = config.tams.logfile
    if logfile is None:
        return
    path = os.path.abspath(logfile)
    if any(getattr(h, "baseFilename", None) == path for h in root.handlers):
        return
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(handler)


def third_party_quiet() -> bool:
    """Whether the program keeps the `THIRD_PARTY` logs off the terminal (`configure_logging`).

    A runner then quiets the processes it starts as well (dask's worker processes).
    """
    return any(
        _is_terminal(h) and any(isinstance(f, OffTheTerminal) for f in h.filters)
        for h in logging.getLogger().handlers
    )


def _is_terminal(handler: logging.Handler) -> bool:
    """A handler writing to a stream such as stderr (not a file, not a test's capture)."""
    return type(handler) is logging.StreamHandler


def _set_filter(handler: logging.Handler, *, on: bool) -> None:
    for existing in [f for f in handler.filters if isinstance(f, OffTheTerminal)]:
        handler.removeFilter(existing)
    if on:
        handler.addFilter(OffTheTerminal())


def _take_over_third_party() -> None:
    """Route the `THIRD_PARTY` loggers through the root's handlers.

    distributed, when imported before any handler exists, gives its loggers a stderr handler
    of their own and stops their propagation; that handler is removed.
    """
    for name in THIRD_PARTY:
        logger = logging.getLogger(name)
        own = [h for h in logger.handlers if _is_terminal(h)]
        for handler in own:
            logger.removeHandler(handler)
        if own:
            logger.propagate = True
