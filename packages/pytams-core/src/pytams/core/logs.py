"""Logging set up by the programs (the command line, pyTAMS's driver API), never by the library."""

from __future__ import annotations

import logging
import os
import sys

from pytams.core.config import Config

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(config: Config) -> None:
    """Log at ``[tams] loglevel`` to stderr, and to ``[tams] logfile`` as well when given."""
    logging.basicConfig(level=config.tams.loglevel, stream=sys.stderr, format=LOG_FORMAT)
    root = logging.getLogger()
    root.setLevel(config.tams.loglevel)
    logfile = config.tams.logfile
    if logfile is None:
        return
    path = os.path.abspath(logfile)
    if any(getattr(h, "baseFilename", None) == path for h in root.handlers):
        return
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(handler)
