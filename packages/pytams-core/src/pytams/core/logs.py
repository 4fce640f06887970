"""Logging set up by the programs (the command line, pyTAMS's driver API), never by the library."""

from __future__ import annotations

import logging
import sys

from pytams.core.config import Config

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(config: Config) -> None:
    """Log at ``[tams] loglevel`` to stderr, and to ``[tams] logfile`` as well when given."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if config.tams.logfile is not None:
        handlers.append(logging.FileHandler(config.tams.logfile))
    logging.basicConfig(level=config.tams.loglevel, format=LOG_FORMAT, handlers=handlers)
