"""The ``pytams compare`` command's registration, light to import.

The ``pytams`` command registers every command of the entry-point group ``pytams.commands``
at each start, even for ``pytams --help``: `register` only adds the parser, and the handler
imports `pytams.models.compare` (which runs TAMS and loads the model) when the command runs.
"""

from __future__ import annotations

import argparse
from typing import Any

from pytams.core.cli import add_job_arguments


def register(subparsers: Any) -> None:
    """Add the ``compare`` command (entry point of the group ``pytams.commands``)."""
    parser = subparsers.add_parser(
        "compare", help="run TAMS and print the estimate beside the model's known answer"
    )
    add_job_arguments(parser)
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="accepted for symmetry with run (compare shows no progress bar)",
    )
    parser.set_defaults(handler=_compare)


def _compare(args: argparse.Namespace) -> int:
    from pytams.models.compare import run_compare

    return run_compare(args)
