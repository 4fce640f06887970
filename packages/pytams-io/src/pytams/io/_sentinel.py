"""The end-of-file sentinel of the database's files: a truncated CDF-5 file lacks it.

The classic CDF-5 format does not detect truncation itself, so every file ends with the
variable ``pytams_end`` (written last, so its bytes are the last of the file), checked on
reading. netCDF-4 (HDF5) files detect truncation themselves: those without a sentinel (written
by pytams-io 0.1) are read as before.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SENTINEL = 0x7079_7461_6D73  # "pytams"


def define_end(ds: Any) -> tuple[Any, Any]:
    """The end-of-file sentinel: the last variable, so the last bytes of a CDF-5 file."""
    end = ds.createVariable("pytams_end", "i8", (), fill_value=False)
    end.long_name = "end-of-file sentinel (a truncated file lacks it)"
    return end, np.int64(SENTINEL)


def check_end(ds: Any) -> None:
    """Raise ValueError when a CDF-5 file lacks its sentinel (HDF5 detects truncation itself)."""
    if ds.data_model == "NETCDF4" and "pytams_end" not in ds.variables:
        return
    if "pytams_end" not in ds.variables or int(ds["pytams_end"][...]) != SENTINEL:
        msg = "its end is missing (the file is truncated)"
        raise ValueError(msg)
