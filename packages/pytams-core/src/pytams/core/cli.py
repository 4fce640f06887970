"""The ``pytams`` command: run a TAMS job, write a model template."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from pytams.core import __version__, plugins
from pytams.core.config import load_config
from pytams.core.errors import MissingComponentError, TAMSError
from pytams.core.logs import configure_logging
from pytams.core.tams import TAMS, Progress
from pytams.core.template import model_template

_logger = logging.getLogger("pytams")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pytams`` command; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except TAMSError as exc:
        print(f"pytams: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pytams: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pytams",
        description="Rare-event probabilities with TAMS (trajectory-adaptive "
        "multilevel splitting).",
    )
    parser.add_argument("--version", action="version", version=f"pytams {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run (or resume) a TAMS job from a TOML file")
    add_job_arguments(run)
    run.add_argument(
        "--json",
        type=Path,
        metavar="FILE",
        help="write the result as JSON (with its exceedance curve)",
    )
    run.add_argument("--resume", action="store_true", help="continue the run in the database")
    run.add_argument(
        "--overwrite", action="store_true", help="replace an existing database at [database] path"
    )
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(handler=_run)

    new = commands.add_parser("new-model", help="write a commented model template")
    new.add_argument("name", help="the class name, e.g. MyModel")
    new.add_argument("--output", type=Path, help="the file (default: <name in lower case>.py)")
    new.set_defaults(handler=_new_model)
    _add_plugin_commands(commands)
    return parser


def add_job_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments naming a job: CONFIG, --model, --set (repeatable) and --seed.

    Shared by ``run`` and the commands of other packages that run a job.
    """
    parser.add_argument("config", type=Path, help="the input TOML file")
    parser.add_argument("--model", help="the model: 'package.module:Class' or 'path/file.py:Class'")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a key (repeatable)",
    )
    parser.add_argument("--seed", type=int, help="override [tams] seed")


def _add_plugin_commands(commands: Any) -> None:
    """Commands from the entry-point group ``pytams.commands``: ``register(subparsers)``.

    A well-known command whose package is missing still parses, and says what to install.
    """
    for entry in entry_points(group=plugins.COMMANDS):
        entry.load()(commands)
    for name in plugins.known(plugins.COMMANDS):
        if name not in commands.choices:
            package = plugins.PROVIDED_BY[plugins.COMMANDS, name]
            stub = commands.add_parser(name, help=f"(needs {package})")
            stub.add_argument("args", nargs=argparse.REMAINDER)
            stub.set_defaults(handler=_missing(name))


def _missing(name: str) -> Any:
    def handler(args: argparse.Namespace) -> int:
        del args
        message = plugins.missing_message(plugins.COMMANDS, name, f"'pytams {name}'")
        raise MissingComponentError(message)

    return handler


def _run(args: argparse.Namespace) -> int:
    overrides = list(args.overrides)
    if args.resume:
        overrides.append("database.resume=true")
    if args.overwrite:
        overrides.append("database.overwrite=true")
    config = load_config(args.config, overrides=overrides, seed=args.seed)
    configure_logging(config)
    bar = None if args.quiet else _ProgressBar(config.tams.ntrajectories)
    try:
        result = TAMS(args.model, config, progress=bar).run()
    finally:
        if bar is not None:
            bar.close()
    print(result.summary())
    if args.json is not None:
        args.json.write_text(result.to_json(curve=True) + "\n")
    return 0 if result.complete else 3


class _ProgressBar:
    """A tqdm bar on stderr: trajectories of the initial ensemble, then iterations."""

    def __init__(self, ntrajectories: int) -> None:
        self.ntrajectories = ntrajectories
        self.bar: Any = None
        self.phase = ""

    def __call__(self, event: Progress) -> None:
        from tqdm import tqdm

        phase = f"{event.phase}-{event.repeat}"
        if phase != self.phase:
            self.close()
            self.phase = phase
            label = "initial ensemble" if event.phase == "initial" else "iterations"
            total = event.total if event.phase == "initial" else None
            self.bar = tqdm(
                total=total,
                desc=label,
                unit="traj" if total else "it",
                file=sys.stderr,
                dynamic_ncols=True,
                leave=True,
            )
        self.bar.update(event.done - self.bar.n)
        if event.phase == "iteration":
            self.bar.set_postfix(
                level=f"{event.level:.4g}",
                weight=f"{event.weight:.3e}",
                converged=f"{event.converged}/{self.ntrajectories}",
                refresh=False,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.refresh()
            self.bar.close()
            self.bar = None


def _new_model(args: argparse.Namespace) -> int:
    name: str = args.name
    if not name.isidentifier():
        print(f"pytams: error: {name!r} is not a valid class name", file=sys.stderr)
        return 2
    path: Path = args.output or Path(f"{name.lower()}.py")
    if path.exists():
        print(f"pytams: error: {path} exists; choose another --output", file=sys.stderr)
        return 2
    path.write_text(model_template(name))
    print(f"wrote {path}; fill in its hooks, then: pytams run input.toml --model {path}:{name}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
