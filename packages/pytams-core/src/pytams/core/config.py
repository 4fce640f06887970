"""Configuration: TOML or a mapping, parsed once into frozen, validated dataclasses.

Every key of every section is a field below; its metadata holds the documentation (the user
guide is generated from it) and the check of its value. The original pyTAMS keys are
accepted with their original meaning (`LEGACY_KEYS`).
"""

from __future__ import annotations

import copy
import difflib
import logging
import math
import sys
import types
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, Field, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from pytams.core import plugins
from pytams.core.errors import ConfigError, TAMSWarning

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_logger = logging.getLogger(__name__)

Check = Callable[[Any], str | None]
VARIANTS = ("tams", "ams", "hybrid")
SAMPLERS = ("tams", "montecarlo")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _key(
    doc: str,
    *,
    kind: type | tuple[type, ...],
    check: Check | None = None,
    fix: str,
    default: Any = MISSING,
    public: bool = True,
) -> Any:
    """A config field: its documentation, accepted types, value check and the fix to suggest."""
    metadata = {"doc": doc, "kind": kind, "check": check, "fix": fix, "public": public}
    if default is MISSING:
        return field(metadata=metadata)
    return field(default=default, metadata=metadata)


def _at_least(bound: float) -> Check:
    return lambda v: None if v >= bound else f"must be >= {bound}"


def _positive(v: float) -> str | None:
    return None if v > 0 and math.isfinite(v) else "must be a finite number > 0"


def _one_of(choices: Sequence[str]) -> Check:
    return lambda v: None if v in choices else f"must be one of {', '.join(map(repr, choices))}"


def _registered(group: str) -> Check:
    """A check that the value names a plugin of ``group`` (installed or well known)."""

    def check(value: str) -> str | None:
        names = plugins.known(group)
        if value in names:
            return None
        hint = _did_you_mean(value, set(names))
        return f"is not an installed plugin{hint}; the known ones are {', '.join(names)}"

    return check


def _seed(v: int) -> str | None:
    return None if v >= 0 else "must be an integer >= 0"


@dataclass(frozen=True, slots=True, kw_only=True)
class TamsSettings:
    """The ``[tams]`` table: the algorithm."""

    ntrajectories: int = _key(
        "N, the ensemble size.", kind=int, check=_at_least(2), fix="e.g. ntrajectories = 100"
    )
    kills_per_iteration: int = _key(
        "k: the level of an iteration is the k-th smallest maximum score; every trajectory at "
        "or below it is killed (ties included).",
        kind=int,
        check=_at_least(1),
        fix="an integer between 1 and ntrajectories - 1",
        default=1,
    )
    max_iterations: int | None = _key(
        "Stop after this many iterations (the estimate stays unbiased, with more variance). "
        "Absent: no cap.",
        kind=int,
        check=_at_least(0),
        fix="a non-negative integer",
        default=None,
    )
    walltime: float | None = _key(
        "Seconds after which the run checkpoints and stops, claiming no estimate (resumable "
        "from an on-disk database). Absent: no limit.",
        kind=float,
        check=_positive,
        fix="a number of seconds > 0",
        default=None,
    )
    seed: int | None = _key(
        "The run's seed: every random stream derives from it. Absent: fresh entropy, "
        "recorded in the result.",
        kind=int,
        check=_seed,
        fix="an integer >= 0",
        default=None,
    )
    repeats: int = _key(
        "K independent runs; their mean, standard error and spread are reported.",
        kind=int,
        check=_at_least(1),
        fix="an integer >= 1",
        default=1,
    )
    variant: str = _key(
        "The sampler variant: tams (fixed horizon T), ams (no horizon: a trajectory ends when "
        "it converges or falls back to the start set, score <= [trajectory] min_score) or "
        "hybrid (whichever comes first).",
        kind=str,
        check=_one_of(VARIANTS),
        fix='variant = "tams"',
        default="tams",
    )
    sampler: str = _key(
        "tams (multilevel splitting) or montecarlo (brute force: ntrajectories independent "
        "trajectories through the same runner and database, p_hat = converged / N with the "
        "binomial Wilson interval; the baseline to compare TAMS with).",
        kind=str,
        check=_one_of(SAMPLERS),
        fix='sampler = "tams"',
        default="tams",
    )
    diagnostic_levels: tuple[float, ...] | None = _key(
        "Score levels at which the finished run records weighted first-crossing statistics "
        "(how many trajectories cross, the probability, first-crossing times) in its "
        "database (shown by pytams inspect). Absent: none.",
        kind=tuple,
        check=lambda v: None if all(math.isfinite(x) for x in v) else "must be finite numbers",
        fix="a list of numbers, e.g. diagnostic_levels = [0.25, 0.5, 0.75]",
        default=None,
    )
    max_kills: int | None = _key(
        "A cap on the total number of killed trajectories (pyTAMS's nsplititer).",
        kind=int,
        check=_at_least(0),
        fix="a non-negative integer",
        default=None,
        public=False,
    )
    deterministic: bool = _key(
        "pyTAMS's flag: with no seed it fixes the seed to 0. pyTAMS models always get "
        "params['model']['deterministic'] = true, with an m_id derived from the seed, so every "
        "run is reproducible from its seed.",
        kind=bool,
        fix="true or false",
        default=False,
        public=False,
    )
    loglevel: str = _key(
        "Logging level of the command line.",
        kind=str,
        check=_one_of(LOG_LEVELS),
        fix='e.g. loglevel = "INFO"',
        default="WARNING",
        public=False,
    )
    logfile: str | None = _key(
        "pyTAMS's log file: the command line (and pytams.tams.TAMS) also write the log there; "
        "relative to the input file's folder.",
        kind=str,
        fix='e.g. logfile = "tams.log"',
        default=None,
        public=False,
    )
    init_ensemble_only: bool = _key(
        "pyTAMS's flag: stop after the initial ensemble (max_iterations = 0); run again "
        "without it to continue from the database.",
        kind=bool,
        fix="true or false",
        default=False,
        public=False,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class TrajectorySettings:
    """The ``[trajectory]`` table: how each trajectory is advanced."""

    end_time: float = _key(
        "T, the time horizon.", kind=float, check=_positive, fix="a time > 0, e.g. end_time = 1.0"
    )
    step_size: float = _key(
        "dt, the time step requested from the model.",
        kind=float,
        check=_positive,
        fix="a time step > 0, e.g. step_size = 0.01",
    )
    target_score: float = _key(
        "A trajectory converges when its score reaches this value (unless the model "
        "overrides its convergence test).",
        kind=float,
        check=lambda v: None if math.isfinite(v) else "must be finite",
        fix="e.g. target_score = 1.0",
    )
    store_state_every: int = _key(
        "Keep the state of every k-th snapshot only (scores and noise are always kept); "
        "branching replays noise from the last kept state.",
        kind=int,
        check=_at_least(1),
        fix="an integer >= 1",
        default=1,
    )
    min_score: float | None = _key(
        "For the ams and hybrid variants: a trajectory whose score falls to or below this "
        "value has returned to the start set and ends there.",
        kind=float,
        check=lambda v: None if math.isfinite(v) else "must be finite",
        fix="e.g. min_score = 0.0",
        default=None,
    )
    score: str | None = _key(
        "The levels' score: absent, the model's own; \"learned:PATH\", a score learned from "
        "finished runs (pytams learn-score; PATH relative to the input file's folder), "
        "target_score * q_hat below the target. Convergence stays the model's own test: the "
        "event and the estimated probability do not change, only the variance "
        "(docs/learned-score.md).",
        kind=str,
        check=lambda v: (
            None
            if v.startswith("learned:") and len(v) > len("learned:")
            else 'must be "learned:PATH"'
        ),
        fix='score = "learned:run.tams/learned-score.npz"',
        default=None,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class RunnerSettings:
    """The ``[runner]`` table: where trajectory tasks run."""

    type: str = _key(
        "serial (embedded), asyncio or dask (pytams-runners), or any runner an installed "
        "package registers in the entry-point group pytams.runners.",
        kind=str,
        check=_registered(plugins.RUNNERS),
        fix='type = "serial"',
        default="serial",
    )
    workers: int = _key(
        "Number of parallel workers.",
        kind=int,
        check=_at_least(1),
        fix="an integer >= 1",
        default=1,
    )
    retries: int = _key(
        "How many times a failing task is retried.",
        kind=int,
        check=_at_least(0),
        fix="an integer >= 0",
        default=0,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class DatabaseSettings:
    """The ``[database]`` table: where the run is stored."""

    path: str | None = _key(
        "A directory for a persistent netCDF database (pytams-io), relative to the input "
        "file's folder. Absent: in memory.",
        kind=str,
        fix='e.g. path = "run.tams"',
        default=None,
    )
    engine: str | None = _key(
        "The store: netcdf (pytams-io; the default with a path), memory (the default without "
        "one), or any store an installed package registers in the entry-point group "
        "pytams.stores.",
        kind=str,
        check=_registered(plugins.STORES),
        fix='engine = "netcdf"',
        default=None,
    )
    resume: bool = _key(
        "Continue the run stored at path.", kind=bool, fix="true or false", default=False
    )
    overwrite: bool = _key(
        "Replace an existing database at path.", kind=bool, fix="true or false", default=False
    )
    restart: bool = _key(
        "pyTAMS's flag: move an existing database at path aside (to path_NNNNNN) and start afresh.",
        kind=bool,
        fix="true or false",
        default=False,
        public=False,
    )


SECTIONS: dict[str, type] = {
    "tams": TamsSettings,
    "trajectory": TrajectorySettings,
    "runner": RunnerSettings,
    "database": DatabaseSettings,
}
FREE_SECTIONS = ("dask", "model")

# original pyTAMS key -> the field that gives it its original meaning
LEGACY_KEYS: dict[tuple[str, str], str] = {
    ("tams", "nsplititer"): "max_kills",
    ("tams", "deterministic"): "deterministic",
    ("tams", "loglevel"): "loglevel",
    ("tams", "logfile"): "logfile",
    ("tams", "init_ensemble_only"): "init_ensemble_only",
    ("tams", "pool_only"): "init_ensemble_only",
    ("trajectory", "targetscore"): "target_score",
    ("trajectory", "sparse_freq"): "store_state_every",
    ("runner", "nworker_init"): "workers",
    ("runner", "nworker_iter"): "workers",
    ("database", "restart"): "restart",
}
# original pyTAMS keys with no counterpart: (the value that changes nothing, why, what instead)
UNSUPPORTED_KEYS: dict[tuple[str, str], tuple[Any, str]] = {
    ("tams", "diagnostics"): (
        False,
        "the per-iteration score plots are not drawn during the run; draw them after it "
        "with: pytams plot <database>",
    ),
    ("trajectory", "sparse_start"): (
        0,
        "states are kept from step 0, every store_state_every steps; the offset only moved "
        "which snapshots keep a state (the result does not depend on it)",
    ),
    ("trajectory", "chkfile_dump_all"): (
        False,
        "a trajectory's file is written when its segment ends, and a killed run resumes from "
        "the database's journal with the result it would have had: no per-step checkpoint",
    ),
    ("database", "archive_discarded"): (
        True,
        "killed trajectories are always kept (open_database(path).to_xarray(archived=True))",
    ),
    ("database", "format"): (
        None,
        "the database is netCDF (pytams-io); open it with pytams.io.open_database or "
        "pytams.database.Database.load",
    ),
}
# keys whose value is a path: relative to the input file's folder when read from a file
PATH_KEYS: tuple[tuple[str, str], ...] = (
    ("database", "path"),
    ("tams", "logfile"),
    ("dask", "slurm_config_file"),
)
#: pyTAMS's default target score, used when a pyTAMS input file gives none
PYTAMS_TARGET_SCORE = 0.95


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """A whole, validated configuration.

    Attributes:
        tams, trajectory, runner, database: The typed tables.
        dask: The ``[dask]`` table, passed through to the dask runner.
        model: The ``[model]`` table, handed to the model.
        model_ref: ``"module:Class"`` or ``"path.py:Class"``: the top-level ``model`` key, or
            ``class`` in the ``[model]`` table (a model file is relative to the TOML file).
        source: Where the configuration came from (a file path or ``"<mapping>"``).
        tables: Every table as given (with pyTAMS keys), for pyTAMS models.
        pytams_input: Whether the input uses keys of the original pyTAMS: then an existing
            database is resumed unless ``[database] restart`` (pyTAMS's behaviour), and the
            target score defaults to pyTAMS's 0.95.
    """

    tams: TamsSettings
    trajectory: TrajectorySettings
    runner: RunnerSettings = RunnerSettings()
    database: DatabaseSettings = DatabaseSettings()
    dask: Mapping[str, Any] = field(default_factory=lambda: types.MappingProxyType({}))
    model: Mapping[str, Any] = field(default_factory=lambda: types.MappingProxyType({}))
    model_ref: str | None = None
    source: str = "<mapping>"
    tables: Mapping[str, Any] = field(default_factory=lambda: types.MappingProxyType({}))
    pytams_input: bool = False

    def __post_init__(self) -> None:
        for section in SECTIONS:
            _check_values(section, getattr(self, section), self.source)
        if self.tams.variant != "tams" and self.trajectory.min_score is None:
            raise _error(
                self.source,
                "trajectory",
                "min_score",
                None,
                f"is required by variant = {self.tams.variant!r}",
                "set [trajectory] min_score to the score of the start set",
            )
        database = self.database
        if database.engine == "memory" and database.path is not None:
            raise _error(
                self.source,
                "database",
                "engine",
                "memory",
                "keeps no files, but [database] path is given",
                "remove path (in memory) or engine (netcdf at path)",
            )
        if database.engine not in (None, "memory") and database.path is None:
            raise _error(
                self.source,
                "database",
                "engine",
                database.engine,
                "needs a [database] path",
                'add path = "run.tams"',
            )
        if database.restart and (database.resume or database.overwrite):
            chosen = "resume" if database.resume else "overwrite"
            raise _error(
                self.source,
                "database",
                "restart",
                True,
                f"conflicts with {chosen} = true (restart moves the old database aside)",
                f"give only one of restart and {chosen}",
            )
        if self.tams.init_ensemble_only and self.tams.max_iterations not in (None, 0):
            raise _error(
                self.source,
                "tams",
                "init_ensemble_only",
                True,
                f"conflicts with max_iterations = {self.tams.max_iterations}",
                "give only one of them",
            )
        k, n = self.tams.kills_per_iteration, self.tams.ntrajectories
        if k >= n:
            raise _error(
                self.source,
                "tams",
                "kills_per_iteration",
                k,
                f"must be smaller than ntrajectories ({n})",
                "an integer between 1 and ntrajectories - 1",
            )
        self._check_meaningful()

    def _check_meaningful(self) -> None:
        """Refuse settings that make a run meaningless: no step fits, nothing to resume."""
        database, trajectory = self.database, self.trajectory
        if database.resume and database.overwrite:
            raise _error(
                self.source,
                "database",
                "resume",
                True,
                "conflicts with overwrite = true (overwrite replaces the run resume continues)",
                "give only one of resume (--resume) and overwrite (--overwrite)",
            )
        if self.tams.variant != "ams" and trajectory.step_size > trajectory.end_time:
            raise _error(
                self.source,
                "trajectory",
                "step_size",
                trajectory.step_size,
                f"is larger than end_time ({trajectory.end_time}): not one step fits",
                "a step_size smaller than end_time, e.g. end_time / 100",
            )
        low, target = trajectory.min_score, trajectory.target_score
        if self.tams.variant != "tams" and low is not None and low >= target:
            raise _error(
                self.source,
                "trajectory",
                "min_score",
                low,
                f"must be smaller than target_score ({target})",
                "the score of the start set, below the target",
            )

    def with_seed(self, seed: int) -> Config:
        """This configuration with ``[tams] seed`` set."""
        return replace(self, tams=replace(self.tams, seed=seed))

    def to_dict(self) -> dict[str, Any]:
        """The configuration as native TOML tables (what a database records)."""
        out: dict[str, Any] = {}
        for section in SECTIONS:
            settings = getattr(self, section)
            out[section] = {
                f.name: _listed(getattr(settings, f.name))
                for f in fields(settings)
                if getattr(settings, f.name) is not None
            }
        out["dask"] = plain(self.dask)
        out["model"] = plain(self.model)
        return out


def load_config(
    source: str | Path | Mapping[str, Any],
    *,
    overrides: Sequence[str] = (),
    seed: int | None = None,
) -> Config:
    """Read a configuration from a TOML file or a mapping, apply overrides, validate it.

    Args:
        source: A path to a TOML file, or a mapping of tables.
        overrides: ``"section.key=value"`` strings (value in TOML syntax; bare words are strings).
        seed: Overrides ``[tams] seed``.

    Raises:
        ConfigError: Naming the key, the file and the fix.
    """
    if isinstance(source, Mapping):
        origin, tables = "<mapping>", copy.deepcopy(dict(source))
    else:
        origin, tables = str(source), _read_toml(Path(source))
        resolve_paths(tables, Path(source).parent)
    for override in overrides:
        _apply_override(tables, override, origin)
    if seed is not None:
        tables.setdefault("tams", {})["seed"] = seed
    return _parse(tables, origin)


def database_of(path: Path) -> Path:
    """The database ``pytams inspect PATH`` means: PATH, or an input file's [database] path.

    Raises:
        ConfigError: When PATH is an input file whose database is in memory or not there yet.
    """
    if path.suffix != ".toml" or not path.is_file():
        return path
    database = load_config(path).database.path
    if database is None:
        msg = (
            f"{path} is an input file, not a database, and it keeps its run in memory (no "
            "[database] path); fix: add [database] path to it, run it, then inspect that path"
        )
        raise ConfigError(msg)
    if not Path(database).exists():
        msg = (
            f"{path} is an input file, not a database; its database {database} ([database] "
            f"path) does not exist yet; fix: pytams run {path}"
        )
        raise ConfigError(msg)
    return Path(database)


def resolve_paths(tables: dict[str, Any], base: Path) -> None:
    """Make the relative paths of a TOML file's tables relative to its folder ``base``.

    The path keys are `PATH_KEYS` and the model file of ``model`` / ``[model] class``;
    paths given on the command line (``--set``) stay relative to the working directory.
    """
    for section, key in PATH_KEYS:
        table = tables.get(section)
        if isinstance(table, dict) and isinstance(table.get(key), str) and table[key]:
            table[key] = str((base / Path(table[key]).expanduser()).resolve())
    trajectory = tables.get("trajectory")
    score = trajectory.get("score") if isinstance(trajectory, dict) else None
    if isinstance(score, str) and score.startswith("learned:") and len(score) > len("learned:"):
        assert isinstance(trajectory, dict)
        file = base / Path(score[len("learned:") :]).expanduser()
        trajectory["score"] = f"learned:{file.resolve()}"
    model = tables.get("model")
    if isinstance(model, str):
        tables["model"] = _model_file(model, base)
    elif isinstance(model, dict) and isinstance(model.get("class"), str):
        model["class"] = _model_file(model["class"], base)


def _model_file(ref: str, base: Path) -> str:
    """A ``"file.py:Class"`` reference with the file relative to ``base``."""
    module, sep, name = ref.rpartition(":")
    if not module.endswith(".py") or Path(module).is_absolute():
        return ref
    return f"{(base / module).resolve()}{sep}{name}"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            tables: dict[str, Any] = tomllib.load(handle)
            return tables
    except FileNotFoundError:
        msg = f"{path}: no such configuration file; give the path to an input.toml"
        raise ConfigError(msg) from None
    except tomllib.TOMLDecodeError as exc:
        msg = f"{path}: not valid TOML ({exc}); fix the syntax at the position shown"
        raise ConfigError(msg) from None


def _apply_override(tables: dict[str, Any], override: str, origin: str) -> None:
    dotted, sep, text = override.partition("=")
    section, dot, key = dotted.strip().partition(".")
    if not sep or not dot or not section or not key:
        msg = f"--set {override!r}: expected section.key=value, e.g. --set tams.ntrajectories=50"
        raise ConfigError(msg)
    section, key, text = section.strip(), key.strip(), text.strip()
    where = f"--set {override}"
    target = tables.setdefault(section, {})
    if not isinstance(target, dict):
        raise _error(where, section, key, text, "is not a table", f"remove the key {section}")
    if not text:  # --set section.key= : back to the default (no path: in memory)
        _check_override_key(section, key, where)
        target.pop(key, None)
        return
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text
    _check_override(section, key, value, where)
    target[key] = value


def _check_override_key(section: str, key: str, where: str) -> Field[Any] | None:
    """The field ``--set section.key`` sets (None for a free or pyTAMS-only key).

    Raises:
        ConfigError: Naming ``--set`` when the section or the key does not exist.
    """
    known_top = {*SECTIONS, *FREE_SECTIONS}
    if section not in known_top:
        hint = _did_you_mean(section, known_top)
        msg = f"{where}: unknown section [{section}]{hint}; the sections are " + ", ".join(
            f"[{s}]" for s in sorted(known_top)
        )
        raise ConfigError(msg)
    if section in FREE_SECTIONS:
        return None
    by_name = {f.name: f for f in fields(SECTIONS[section])}
    public = {name for name, f in by_name.items() if f.metadata["public"]}
    legacy = {k: native for (sec, k), native in LEGACY_KEYS.items() if sec == section}
    if key in public | set(legacy):
        return by_name[legacy.get(key, key)]
    if (section, key) in UNSUPPORTED_KEYS:
        return None
    hint = _did_you_mean(key, public | set(legacy))
    msg = f"{where}: unknown key [{section}] {key}{hint}; the keys of [{section}] are " + ", ".join(
        sorted(public)
    )
    raise ConfigError(msg)


def _check_override(section: str, key: str, value: Any, where: str) -> None:
    """Check the key, type and range of a ``--set`` value, blaming ``--set`` for an error."""
    fld = _check_override_key(section, key, where)
    if fld is None:
        return
    value = _coerce(section, key, value, fld, where)
    check = fld.metadata["check"]
    problem = check(value) if check is not None else None
    if problem:
        raise _error(where, section, key, value, problem, fld.metadata["fix"])


def _parse(tables: dict[str, Any], origin: str) -> Config:
    known_top = {*SECTIONS, *FREE_SECTIONS}
    model_ref, model_table = _split_model(tables.get("model", {}), origin)
    for name, value in tables.items():
        if name == "model":
            continue
        if name not in known_top:
            hint = _did_you_mean(name, known_top)
            msg = f"{origin}: unknown section [{name}]{hint}; the sections are " + ", ".join(
                f"[{s}]" for s in sorted(known_top)
            )
            raise ConfigError(msg)
        if not isinstance(value, dict):
            msg = f"{origin}: {name} must be a table ([{name}]), not {type(value).__name__}"
            raise ConfigError(msg)
    for required in ("tams", "trajectory"):
        if required not in tables:
            example = (
                "[tams]\nntrajectories = 100"
                if required == "tams"
                else "[trajectory]\nend_time = 1.0\nstep_size = 0.01\ntarget_score = 1.0"
            )
            msg = f"{origin}: missing section [{required}]; add it, e.g.\n{example}"
            raise ConfigError(msg)
    _apply_legacy_kills(tables)
    pytams_input = _uses_pytams_keys(tables)
    trajectory = tables["trajectory"]
    no_target = isinstance(trajectory, dict) and not {"target_score", "targetscore"} & set(
        trajectory
    )
    if pytams_input and no_target:
        _logger.info("%s: no target score given: pyTAMS's default %g", origin, PYTAMS_TARGET_SCORE)
        trajectory["targetscore"] = PYTAMS_TARGET_SCORE
    settings = {
        name: _parse_section(name, cls, tables.get(name, {}), origin)
        for name, cls in SECTIONS.items()
    }
    tams = settings["tams"]
    if tams.seed is None and tams.deterministic:
        settings["tams"] = tams = replace(tams, seed=0)
    if tams.init_ensemble_only and tams.max_iterations is None:
        settings["tams"] = tams = replace(tams, max_iterations=0)
    return Config(
        **settings,
        dask=types.MappingProxyType(copy.deepcopy(tables.get("dask", {}))),
        model=types.MappingProxyType(copy.deepcopy(model_table)),
        model_ref=model_ref,
        source=origin,
        tables=types.MappingProxyType(copy.deepcopy({**tables, "model": model_table})),
        pytams_input=pytams_input,
    )


def _uses_pytams_keys(tables: Mapping[str, Any]) -> bool:
    """Whether any table holds a key only the original pyTAMS has."""
    return any(
        (section, key) in LEGACY_KEYS or (section, key) in UNSUPPORTED_KEYS
        for section, table in tables.items()
        if isinstance(table, Mapping)
        for key in table
    )


def _split_model(value: Any, origin: str) -> tuple[str | None, dict[str, Any]]:
    """The model reference and the model's parameters.

    Either a top-level ``model = "module:Class"`` (no parameters: TOML allows no ``[model]``
    table beside it), or a ``[model]`` table whose optional ``class`` key names the model.
    """
    if isinstance(value, str):
        return value, {}
    if not isinstance(value, dict):
        raise _error(
            origin,
            "",
            "model",
            value,
            "must be a string or a table",
            'model = "package.module:Class", or a [model] table',
        )
    params = dict(value)
    ref = params.pop("class", None)
    if ref is not None and not isinstance(ref, str):
        raise _error(
            origin, "model", "class", ref, "must be a string", 'class = "package.module:Class"'
        )
    return ref, params


def _apply_legacy_kills(tables: dict[str, Any]) -> None:
    """PyTAMS's nworker_iter is also the number of kills per iteration there."""
    kills = tables.get("runner", {}).get("nworker_iter")
    tams = tables.get("tams", {})
    if isinstance(kills, int) and not isinstance(kills, bool) and isinstance(tams, dict):
        tams.setdefault("kills_per_iteration", kills)


def _parse_section(section: str, cls: type, table: Mapping[str, Any], origin: str) -> Any:
    by_name = {f.name: f for f in fields(cls)}
    public = {name for name, f in by_name.items() if f.metadata["public"]}
    legacy = {key: native for (sec, key), native in LEGACY_KEYS.items() if sec == section}
    unsupported = {key: note for (sec, key), note in UNSUPPORTED_KEYS.items() if sec == section}
    accepted = public | set(legacy) | set(unsupported)
    values: dict[str, Any] = {}
    given_by: dict[str, str] = {}
    for key, value in table.items():
        if key not in accepted:
            hint = _did_you_mean(key, public | set(legacy))
            msg = (
                f"{origin}: unknown key [{section}] {key}{hint}; the keys of [{section}] are "
                + ", ".join(sorted(public))
            )
            raise ConfigError(msg)
        if key in unsupported:
            _warn_unsupported(origin, section, key, value, *unsupported[key])
            continue
        native = legacy.get(key, key)
        value = _coerce(section, key, value, by_name[native], origin)
        if native in values and values[native] != value:
            if (section, native) == ("runner", "workers") and key.startswith("nworker"):
                value = max(value, values[native])
            else:
                raise _error(
                    origin,
                    section,
                    key,
                    value,
                    f"conflicts with [{section}] {given_by[native]} = {values[native]!r}",
                    f"give only one of {given_by[native]} and {key}",
                )
        values[native] = value
        given_by[native] = key
    missing = [f.name for f in fields(cls) if f.default is MISSING and f.name not in values]
    if missing:
        name = missing[0]
        msg = (
            f"{origin}: missing key [{section}] {name} ({by_name[name].metadata['doc']}); "
            f"add it: {by_name[name].metadata['fix']}"
        )
        raise ConfigError(msg)
    return cls(**values)


def _warn_unsupported(
    origin: str, section: str, key: str, value: Any, harmless: Any, why: str
) -> None:
    """Warn about a pyTAMS key that has no effect here, unless its value changes nothing."""
    if harmless is not None and value == harmless:
        return
    message = f"{origin}: [{section}] {key} = {value!r} (pyTAMS) has no effect here: {why}"
    warnings.warn(message, TAMSWarning, stacklevel=2)


def _coerce(section: str, key: str, value: Any, fld: Any, origin: str) -> Any:
    kind = fld.metadata["kind"]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is tuple:
        numbers = value if isinstance(value, (list, tuple)) else [value]
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in numbers):
            raise _error(
                origin, section, key, value, "must be a list of numbers", fld.metadata["fix"]
            )
        return tuple(sorted(float(x) for x in numbers))
    ok = False if isinstance(value, bool) and kind is not bool else isinstance(value, kind)
    if not ok:
        expected = {
            int: "an integer",
            float: "a number",
            bool: "true or false",
            str: "a string",
            tuple: "a list of numbers",
        }[kind]
        raise _error(origin, section, key, value, f"must be {expected}", fld.metadata["fix"])
    return value


def _check_values(section: str, settings: Any, origin: str) -> None:
    for fld in fields(settings):
        value = getattr(settings, fld.name)
        if value is None:
            continue
        kind = fld.metadata["kind"]
        if (isinstance(value, bool) and kind is not bool) or not isinstance(
            value, (float, int) if kind is float else kind
        ):
            raise _error(
                origin,
                section,
                fld.name,
                value,
                f"must be of type {kind.__name__}",
                fld.metadata["fix"],
            )
        check = fld.metadata["check"]
        problem = check(value) if check is not None else None
        if problem:
            raise _error(origin, section, fld.name, value, problem, fld.metadata["fix"])


def _error(origin: str, section: str, key: str, value: Any, problem: str, fix: str) -> ConfigError:
    where = f"[{section}] {key}" if section else key
    return ConfigError(f"{origin}: {where} = {value!r} {problem}; fix: {fix}")


def _did_you_mean(word: str, choices: set[str]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1)
    if not close:
        close = sorted(c for c in choices if c.startswith(word) or word.startswith(c))
    return f" (did you mean {close[0]!r}?)" if close else ""


def plain(value: Any) -> Any:
    """Plain, picklable values from read-only tables: mappings as dicts, lists copied."""
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def _listed(value: Any) -> Any:
    """A tuple setting as the list TOML would give."""
    return list(value) if isinstance(value, tuple) else value
