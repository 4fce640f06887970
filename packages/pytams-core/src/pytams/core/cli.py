"""The ``pytams`` command: run a TAMS job, write a model template."""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pytams.core import __version__, plugins
from pytams.core.config import load_config
from pytams.core.errors import ConfigError, MissingComponentError, ModelError, TAMSError
from pytams.core.learned import MAX_DEGREE
from pytams.core.logs import configure_logging
from pytams.core.tams import TAMS, Progress
from pytams.core.template import class_name_problem, input_template, model_template

_logger = logging.getLogger("pytams")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pytams`` command; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except TAMSError as exc:
        if getattr(args, "traceback", False):
            _print_traceback(exc)
        print(f"pytams: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pytams: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of our output left (pytams run ... | head)
        _silence_stdout()
        return 141  # 128 + SIGPIPE, as a Unix tool killed by it


def _print_traceback(exc: TAMSError) -> None:
    """The model's own traceback when a model failed (maybe in a worker), else ``exc``'s."""
    if isinstance(exc, ModelError) and exc.model_traceback:
        print(exc.model_traceback, file=sys.stderr, end="")
    else:
        traceback.print_exception(exc, file=sys.stderr)


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that Python's final flush raises no second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no file descriptor (captured output): nothing to flush
        pass


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
    run.add_argument(
        "-v", "--verbose", action="store_true", help="show dask's logs too (else: [tams] logfile)"
    )
    run.add_argument(
        "--traceback",
        action="store_true",
        help="on an error, print the full traceback (a model's own, where it raised)",
    )
    run.set_defaults(handler=_run)

    new = commands.add_parser("new-model", help="write a commented model template")
    new.add_argument("name", help="the class name, e.g. MyModel")
    new.add_argument("--output", type=Path, help="the file (default: <name in lower case>.py)")
    new.set_defaults(handler=_new_model)

    learn = commands.add_parser(
        "learn-score",
        help="fit a score (an estimate of the committor) from finished runs' databases",
    )
    learn.add_argument("databases", nargs="+", type=Path, metavar="DB", help="finished runs")
    learn.add_argument(
        "--out", type=Path, metavar="FILE", help="the file (default: DB/learned-score.npz)"
    )
    learn.add_argument("--method", choices=("logistic",), default="logistic")
    learn.add_argument(
        "--degree",
        type=int,
        choices=range(1, MAX_DEGREE + 1),
        default=2,
        help=f"logistic: the monomials of the features up to this degree (1-{MAX_DEGREE})",
    )
    learn.add_argument("--ridge", type=float, default=1e-4, help="L2 penalty (default 1e-4)")
    learn.add_argument("--model", help="the model whose features to use (default: the run's)")
    learn.add_argument(
        "--allow-pickle",
        action="store_true",
        help="read pickled states (runs code: only databases you trust)",
    )
    learn.set_defaults(handler=_learn_score)
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

    Every command registers at each start of ``pytams`` (``--help`` included), so
    ``register`` must be light: it adds its parser, and its handler imports the command's
    heavy code (scipy, xarray, matplotlib...) when it runs. Keep the module an entry point
    names free of heavy imports at its top (pytams-models' ``pytams.models._commands``,
    pytams-io's ``pytams.io.cli``); tests/core/test_command_start.py checks it.

    A well-known command whose package is missing still parses, and says what to install.
    """
    for entry in plugins.entries(plugins.COMMANDS):
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
    if args.resume and args.overwrite:
        msg = (
            "--resume and --overwrite conflict: give --resume to continue the stored run "
            "or --overwrite to replace it"
        )
        raise ConfigError(msg)
    if args.resume:
        overrides.append("database.resume=true")
    if args.overwrite:
        overrides.append("database.overwrite=true")
    config = load_config(args.config, overrides=overrides, seed=args.seed)
    configure_logging(config, verbose=args.verbose)
    print(f"pytams: database {_database_shown(config.database.path)}", file=sys.stderr)
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


def _database_shown(path: str | None) -> str:
    """A database path as shown at the start of a run: absolute, or in memory."""
    if path is None:
        return "in memory (nothing kept; set [database] path to keep the run)"
    return str(Path(path).resolve())


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


def _learn_score(args: argparse.Namespace) -> int:
    from pytams.core.learned import fit_learned_score

    score = fit_learned_score(
        args.databases,
        out=args.out,
        method=args.method,
        degree=args.degree,
        ridge=args.ridge,
        model=args.model,
        allow_pickle=args.allow_pickle,
    )
    info = score.info
    print(
        f"wrote {score.path}: {args.method} (degree {args.degree}) on {score.n_features} "
        f"features from {info['trajectories']} trajectories ({info['samples']} snapshots)"
    )
    print(f'use it: [trajectory] score = "learned:{score.path}"')
    return 0


def _new_model(args: argparse.Namespace) -> int:
    name: str = args.name
    problem = class_name_problem(name)
    if problem is not None:
        msg = f"{problem}: it cannot name a class; fix: a name such as MyModel"
        raise ConfigError(msg)
    path: Path = args.output or Path(f"{name.lower()}.py")
    if path.suffix != ".py":
        msg = f"--output {path}: a model file must end in .py; fix: e.g. --output {path.stem}.py"
        raise ConfigError(msg)
    if args.output is None and path.stem in sys.stdlib_module_names:
        msg = (
            f"{path} would shadow Python's module {path.stem}; fix: another name, or "
            f"--output my_{path.name}"
        )
        raise ConfigError(msg)
    if path.exists():
        msg = f"{path} exists; fix: choose another --output"
        raise ConfigError(msg)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(model_template(name, module=path.stem))
    print(f"wrote {path}")
    print(f"then: {_input_for(path, name)}")
    return 0


def _input_for(path: Path, name: str) -> str:
    """Write the input.toml beside the model (unless there is one); the command to run."""
    config = path.parent / "input.toml"
    if config.exists():
        print(f"kept the existing {config} (not overwritten); it must name the model:")
        return f"pytams run {shlex.quote(str(config))} --model {shlex.quote(f'{path}:{name}')}"
    config.write_text(input_template(name, module=path.stem))
    print(f"wrote {config}; fill in the model's hooks, then run it")
    return f"pytams run {shlex.quote(str(config))}"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
