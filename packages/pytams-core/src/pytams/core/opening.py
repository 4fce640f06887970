"""Opening a run's database: start it, resume it, replace it or move it aside.

The policy: a new database starts the run; an existing one is resumed only when asked
(``--resume``, ``[database] resume``; an input file with pyTAMS's keys resumes by default, as
pyTAMS loads an existing database) and only with a configuration that gives the same result;
``overwrite`` replaces it, pyTAMS's ``restart`` moves it aside first.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from pytams.core.config import SECTIONS, Config
from pytams.core.database import Database
from pytams.core.errors import ConfigError, StorageError

_logger = logging.getLogger(__name__)

# keys that may change when a run resumes; every other key must match the stored run
RESUMABLE_CHANGES = {
    ("tams", "max_iterations"),
    ("tams", "walltime"),
    ("tams", "max_kills"),
    ("tams", "loglevel"),
    ("tams", "diagnostic_levels"),
    ("tams", "logfile"),
    ("tams", "init_ensemble_only"),
    ("runner", "type"),
    ("runner", "workers"),
    ("runner", "retries"),
    ("database", "resume"),
    ("database", "overwrite"),
    ("database", "restart"),
    ("database", "path"),
}
# tables that may change as a whole: [dask] only says where the tasks run (like [runner])
RESUMABLE_SECTIONS = {"dask"}


def open_run(database: Database, config: Config, wanted: Mapping[str, Any]) -> tuple[Database, int]:
    """Start the run in ``database`` or check that its stored run may be resumed.

    Args:
        database: The repeat's database (maybe holding a run).
        config: The run's configuration.
        wanted: The metadata of the run to start: config, seed, repeat, model.

    Returns:
        The database to run in and the run's seed (the stored one when resuming).

    Raises:
        StorageError: When the database holds a run and neither resume nor overwrite is set,
            or holds a run of another model.
        ConfigError: When resuming with a change that would change the result.
    """
    metadata = database.metadata
    if metadata is None:
        if config.database.resume:
            _logger.warning("no database at %s: starting a new run", _shown(database, config))
        database.start(dict(wanted))
        return database, int(wanted["seed"])
    located = database.store.location or config.database.path
    where = located or "(in memory)"
    resume = config.database.resume
    if config.pytams_input and not resume and not config.database.overwrite:
        _logger.warning(
            "resuming the run in the database %s (a pyTAMS input file: pyTAMS loads an "
            "existing database; [database] restart = true starts afresh)",
            where,
        )
        resume = True
    if not resume:
        if not config.database.overwrite:
            msg = (
                f"the database {where} already holds "
                "a run: resume it (--resume, [database] resume = true) or replace it "
                "(--overwrite, [database] overwrite = true)"
            )
            raise StorageError(msg)
        database.store.clear()
        database = Database(database.store)
        database.start(dict(wanted))
        return database, int(wanted["seed"])
    try:
        check_resumable(metadata, wanted, config.tams.seed is not None)
    except (ConfigError, StorageError) as exc:
        if located is None:
            raise
        raise type(exc)(f"{located}: {exc}") from None  # name the database
    return database, int(metadata["seed"])


def _shown(database: Database, config: Config) -> str:
    """The database's absolute path, or ``(in memory)``."""
    located = database.store.location or config.database.path
    return str(Path(located).resolve()) if located else "(in memory)"


def move_aside(path: str | None) -> None:
    """``[database] restart``: rename an existing database to ``path_NNNNNN`` (as pyTAMS)."""
    if path is None or not Path(path).exists():
        return
    source = Path(path)
    number = 1
    while (target := source.with_name(f"{source.name}_{number:06d}")).exists():
        number += 1
    source.rename(target)
    _logger.warning("[database] restart: moved the existing database %s to %s", source, target)


def check_resumable(stored: Mapping[str, Any], wanted: Mapping[str, Any], seed_given: bool) -> None:
    """Refuse to resume with a change that would change the result."""
    if stored.get("model") != wanted["model"]:
        msg = (
            f"cannot resume: the database holds a run of model {stored.get('model')!r}, not "
            f"{wanted['model']!r}; resume with the same model or start a new database"
        )
        raise StorageError(msg)
    if seed_given and stored.get("seed") != wanted["seed"]:
        msg = (
            f"cannot resume: the database's seed is {stored.get('seed')}, not "
            f"{wanted['seed']}; drop --seed / [tams] seed to resume with the stored one"
        )
        raise ConfigError(msg)
    old, new = stored.get("config", {}), wanted["config"]
    for section in sorted(set(old) | set(new)):
        old_table, new_table = old.get(section, {}), new.get(section, {})
        if section in RESUMABLE_SECTIONS:
            continue
        if not isinstance(old_table, dict) or not isinstance(new_table, dict):
            continue
        for key in sorted(set(old_table) | set(new_table)):
            if (section, key) in RESUMABLE_CHANGES or (section, key) == ("tams", "seed"):
                continue
            if key not in old_table and _is_default(section, key, new_table[key]):
                continue  # a key added after the stored run was made, at its default
            if old_table.get(key) != new_table.get(key):
                msg = (
                    f"cannot resume: [{section}] {key} was {old_table.get(key)!r} in the "
                    f"stored run and is {new_table.get(key)!r} now, which would change the "
                    "result; restore it (only max_iterations, walltime and the runner may "
                    "change) or start a new database"
                )
                raise ConfigError(msg)


def _is_default(section: str, key: str, value: Any) -> bool:
    """Whether ``value`` is the default of ``[section] key``."""
    settings = SECTIONS.get(section)
    if settings is None:
        return False
    for fld in fields(settings):
        if fld.name == key:
            return fld.default is not MISSING and fld.default == value
    return False
