"""The database's main file, ``tams.nc``: metadata, iteration table and ensemble membership.

Its global attributes describe the run (`pytams.io._attributes.run_attributes`): N, k, T,
dt, the target, the seed, the model, the configuration as TOML, and the outcome once the
run has one.

Only the driver writes it, whole, at every change. The classic CDF-5 format is three times
faster to write than netCDF-4/HDF5; it does not detect truncation itself, hence the sentinel
(`pytams.io._sentinel`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from pytams.core.errors import DatabaseCorruptError, StorageError
from pytams.core.trajectory import TrajectoryKey
from pytams.io import _cdf5 as cdf5
from pytams.io._attributes import run_attributes
from pytams.io._columns import write_data
from pytams.io._files import open_for_reading
from pytams.io._iterations import IterationTable, define_iterations, read_iterations
from pytams.io._layout import FILE_FORMAT_VERSION, READABLE_VERSIONS
from pytams.io._metadata import from_json
from pytams.io._sentinel import check_end, define_end

MAIN_FORMAT = cdf5.DATA_MODEL
_VERSIONED = ("pytams-core", "pytams-io", "netCDF4", "numpy", "xarray")


@dataclass(frozen=True)
class MainFile:
    """What ``tams.nc`` holds.

    Attributes:
        metadata_json: The run's metadata (`pytams.io._metadata`), None before it is written.
        iterations: The iteration table (a journal: appended before the clones run).
        ensemble: The committed ensemble, None before the initial one is complete.
        created: When the run was started (ISO 8601, UTC).
        versions: Versions of the packages that wrote the database.
        clearing: Whether a clear began (the next writer deletes the trajectory files).
    """

    metadata_json: str | None = None
    iterations: IterationTable = field(default_factory=IterationTable)
    ensemble: list[TrajectoryKey] | None = None
    created: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    clearing: bool = False

    def fill(self, ds: Any) -> None:
        """Define and write the file in a new dataset (netCDF4 or `pytams.io._cdf5`)."""
        if ds.data_model != "NETCDF4":
            ds.set_fill_off()  # every variable is written whole
        attrs: dict[str, Any] = {
            "Conventions": "CF-1.10",
            "title": "pytams database: run metadata, iteration table and ensemble",
            "institution": "pytams",
            "source": f"pytams-io {package_versions().get('pytams-io', 'unknown')}",
            "history": f"{now()} written by pytams-io",
            "pytams_format": "pytams-database",
            "pytams_format_version": np.int32(FILE_FORMAT_VERSION),
            "pytams_clearing": np.int8(self.clearing),
            "pytams_created": self.created or now(),
            "pytams_versions": json.dumps(self.versions, sort_keys=True),
            "pytams_ensemble_committed": np.int8(self.ensemble is not None),
        }
        if self.metadata_json is not None:
            versions = self.versions or package_versions()
            attrs |= _metadata_attributes(self.metadata_json, json.dumps(versions, sort_keys=True))
        ds.setncatts(attrs)
        writes = define_iterations(ds, self.iterations.frozen())
        if self.ensemble:
            ds.createDimension("slot", len(self.ensemble))
            var = ds.createVariable("ensemble_generation", "i8", ("slot",), fill_value=False)
            var.long_name = "generation of the trajectory occupying each slot of the ensemble"
            writes.append((var, np.asarray([k.generation for k in self.ensemble], dtype=np.int64)))
            if [k.slot for k in self.ensemble] != list(range(len(self.ensemble))):
                var = ds.createVariable("ensemble_slot", "i8", ("slot",), fill_value=False)
                var.long_name = "slot of each member of the ensemble"
                writes.append((var, np.asarray([k.slot for k in self.ensemble], dtype=np.int64)))
        writes.append(define_end(ds))
        write_data(writes)

    @classmethod
    def read(cls, path: Path) -> MainFile:
        """Read a ``tams.nc``.

        Raises:
            StorageError: When the file is netCDF but not a pytams database.
            DatabaseCorruptError: When it is damaged or of another format version.
        """
        fix = (
            "restore it from a backup, or move the directory away (pytams never deletes a "
            "damaged database) and start the run again"
        )
        with open_for_reading(path, "the database's main file", fix) as ds:
            names = ds.ncattrs()
            if "pytams_format" not in names or ds.pytams_format != "pytams-database":
                msg = (
                    f"{path} is a netCDF file but not a pytams database; choose "
                    "another [database] path"
                )
                raise StorageError(msg)
            found = int(ds.pytams_format_version)
            if found not in READABLE_VERSIONS:
                newer = "a newer" if found > FILE_FORMAT_VERSION else "an older"
                readable = " and ".join(map(str, READABLE_VERSIONS))
                msg = (
                    f"{path} has database format version {found}, and this "
                    f"pytams-io reads versions {readable}: it was written by {newer} "
                    "pytams-io; install a pytams-io that reads that format (see its "
                    "pytams_versions attribute), or start a new database"
                )
                raise DatabaseCorruptError(msg)
            check_end(ds)
            clearing = bool(ds.pytams_clearing)
            created = str(ds.pytams_created)
            versions = json.loads(ds.pytams_versions)
            metadata_json = str(ds.pytams_metadata) if "pytams_metadata" in names else None
            if metadata_json is not None:
                json.loads(metadata_json)
            iterations = IterationTable(read_iterations(ds))
            ensemble = None
            if int(ds.pytams_ensemble_committed):
                generations = ds.variables["ensemble_generation"][:].tolist()
                slots = (
                    ds.variables["ensemble_slot"][:].tolist()
                    if "ensemble_slot" in ds.variables
                    else range(len(generations))
                )
                ensemble = [TrajectoryKey(s, g) for s, g in zip(slots, generations, strict=True)]
        return cls(metadata_json, iterations, ensemble, created, versions, clearing)


@functools.lru_cache(maxsize=1)
def _package_versions() -> tuple[tuple[str, str], ...]:
    found = []
    for name in _VERSIONED:
        with contextlib.suppress(PackageNotFoundError):
            found.append((name, version(name)))
    return tuple(found)


def package_versions() -> dict[str, str]:
    """Versions of the packages that write the database (those installed)."""
    return dict(_package_versions())


def now() -> str:
    """The current time (ISO 8601, UTC, seconds)."""
    return datetime.fromtimestamp(time.time(), tz=timezone.utc).isoformat(timespec="seconds")


@functools.lru_cache(maxsize=4)
def _metadata_attributes(metadata_json: str, versions_json: str) -> dict[str, Any]:
    """The global attributes from the run's metadata (cached: tams.nc is rewritten often)."""
    # only a run's own store writes tams.nc, and it reads the pickles of its own database
    metadata = from_json(metadata_json, allow_pickle=True) or {}
    return {
        "pytams_metadata": metadata_json,
        "pytams_model": str(metadata.get("model")),
        "pytams_seed": str(metadata.get("seed")),
        **run_attributes(metadata, json.loads(versions_json)),
    }
