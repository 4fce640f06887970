"""pytams.io: a persistent, crash-safe, resumable netCDF database for TAMS runs.

Set ``[database] path = "run.tams"`` to keep a run on disk (`NetCDFStore`, found by pytams-core
through the entry-point group ``pytams.stores``); explore it with `open_database`.

The names below are imported on first use (``pytams.io.open_database`` imports
``pytams.io.explore``): the ``pytams`` command imports `pytams.io.cli` at each start to
register ``inspect`` and ``plot``, and that must not load the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytams.core.lazy import lazy_exports

if TYPE_CHECKING:
    from pytams.io._trust import UntrustedPickleError
    from pytams.io.explore import ExploredDatabase, RunStatus, open_database, run_status, to_xarray
    from pytams.io.store import FILE_FORMAT_VERSION, NetCDFStore

__all__ = [
    "FILE_FORMAT_VERSION",
    "ExploredDatabase",
    "NetCDFStore",
    "RunStatus",
    "UntrustedPickleError",
    "open_database",
    "run_status",
    "to_xarray",
]

__version__ = "0.1.0"

#: the module of each name imported on first use
_LAZY = {
    "FILE_FORMAT_VERSION": "store",
    "ExploredDatabase": "explore",
    "NetCDFStore": "store",
    "RunStatus": "explore",
    "UntrustedPickleError": "_trust",
    "open_database": "explore",
    "run_status": "explore",
    "to_xarray": "explore",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
