"""Plugin discovery: runners, stores and commands are found only through their entry points.

A runner registers in the group ``pytams.runners`` under the name used in ``[runner] type``
and is built as ``RunnerClass(config)``; a store registers in ``pytams.stores`` under the
name used in ``[database] engine`` and is built as ``StoreClass(path)`` (``StoreClass()``
for a store without a path, such as ``memory``). Core's own ``serial`` runner and ``memory``
store register the same way. `PROVIDED_BY` only improves the error message for a plugin
that is not installed; it decides nothing.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytams.core.errors import MissingComponentError

if TYPE_CHECKING:
    from pytams.core.config import Config
    from pytams.core.runner import Runner
    from pytams.core.store import Store

RUNNERS = "pytams.runners"
STORES = "pytams.stores"
COMMANDS = "pytams.commands"

#: where the well-known plugins come from (for the message when one is missing)
PROVIDED_BY: dict[tuple[str, str], str] = {
    (RUNNERS, "asyncio"): "pytams-runners",
    (RUNNERS, "dask"): "pytams-runners",
    (STORES, "netcdf"): "pytams-io",
    (COMMANDS, "inspect"): "pytams-io",
    (COMMANDS, "plot"): "pytams-io[plot]",
    (COMMANDS, "compare"): "pytams-models",
}


@cache
def entries(group: str) -> tuple[EntryPoint, ...]:
    """The entry points of a group, read once per process (each read scans every package)."""
    return tuple(entry_points(group=group))


@cache
def installed(group: str) -> tuple[str, ...]:
    """The names registered in an entry-point group, sorted."""
    return tuple(sorted({entry.name for entry in entries(group)}))


def known(group: str) -> tuple[str, ...]:
    """The installed names and the well-known ones (which may not be installed)."""
    hinted = {name for (where, name) in PROVIDED_BY if where == group}
    return tuple(sorted(set(installed(group)) | hinted))


def load(group: str, name: str, *, setting: str, what: str | None = None) -> Any:
    """The object registered as ``name`` in ``group``.

    Args:
        group: The entry-point group.
        name: The registered name.
        setting: What chose it, for the message (e.g. ``[runner] type``).
        what: The message's subject instead of ``setting = name``.

    Raises:
        MissingComponentError: Naming what is installed and what to install.
    """
    for entry in entries(group):
        if entry.name == name:
            return entry.load()
    subject = f"{setting} = {name!r}" if what is None else what
    raise MissingComponentError(missing_message(group, name, subject))


def missing_message(group: str, name: str, what: str) -> str:
    """Why ``name`` (asked for by ``what``) is not available, what is, and how to get it."""
    package = PROVIDED_BY.get((group, name))
    have = ", ".join(installed(group)) or "none"
    if package is not None:
        spec = f"'{package}'" if "[" in package else package
        return f"{what} needs {package}: pip install {spec} (installed: {have})"
    return (
        f"{what}: {name!r} is not installed (installed: {have}); install the package that "
        f"registers it in the entry-point group {group!r}"
    )


def make_runner(config: Config) -> Runner:
    """Build the runner named by ``[runner] type``.

    Raises:
        MissingComponentError: When no installed package registers that runner.
    """
    runner_class = load(RUNNERS, config.runner.type, setting="[runner] type")
    runner: Runner = runner_class(config)
    return runner


def store_engine(config: Config) -> str:
    """``[database] engine``, or its default: netcdf with a path, memory without."""
    database = config.database
    if database.engine is not None:
        return database.engine
    return "memory" if database.path is None else "netcdf"


def make_store(config: Config, repeat: int) -> Store:
    """The store of one repeat: ``[database] engine`` at ``path``, or in memory.

    With several repeats, repeat r is stored at ``path/repeat-NNNN``.

    Raises:
        MissingComponentError: When no installed package registers that engine.
    """
    engine = store_engine(config)
    what = None if config.database.engine else "[database] path (the netcdf store)"
    store_class = load(STORES, engine, setting="[database] engine", what=what)
    if config.database.path is None:
        store: Store = store_class()
        return store
    path = Path(config.database.path)
    if config.tams.repeats > 1:
        path = path / f"repeat-{repeat:04d}"
    store = store_class(path)
    return store
