"""pytams.io: a persistent, crash-safe, resumable netCDF database for TAMS runs.

Set ``[database] path = "run.tams"`` to keep a run on disk (`NetCDFStore`, found by pytams-core
through the entry-point group ``pytams.stores``); explore it with `open_database`.
"""

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
