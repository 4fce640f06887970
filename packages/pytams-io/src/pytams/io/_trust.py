"""What reading a database may execute: nothing, unless the reader trusts the database.

Unpickling runs whatever code the pickle names, so a database must never be unpickled just
because someone explores it. pytams-io stores metadata as plain JSON and common states
natively; only truly exotic state values are pickled, and those are read only by a store that
trusts its database:

- the store a run opens (it writes the database and holds its lock: running or resuming in a
  database means trusting it);
- a reader that opted in: ``open_database(path, allow_pickle=True)``, ``pytams inspect
  --allow-pickle``, ``pytams plot --allow-pickle``.
"""

from __future__ import annotations

import pickle
from typing import Any

from pytams.core.errors import StorageError

OPT_IN = (
    "if you trust the database (you wrote it, or know who did), opt in with "
    "open_database(path, allow_pickle=True) or pytams inspect/plot --allow-pickle"
)


class UntrustedPickleError(StorageError):
    """A database holds Python pickles and the reader did not opt in to unpickling them."""


def refusal(what: str) -> UntrustedPickleError:
    """The error refusing to unpickle ``what`` (e.g. "the state column")."""
    msg = (
        f"{what} holds Python pickles; unpickling can run any code the file names, so "
        f"pytams does not read them unless told to: {OPT_IN}"
    )
    return UntrustedPickleError(msg)


def loads(blob: bytes, *, allow: bool, what: str) -> Any:
    """Unpickle ``blob`` when the reader trusts the database, else raise.

    Raises:
        UntrustedPickleError: When ``allow`` is false (nothing is unpickled).
    """
    if not allow:
        raise refusal(what)
    return pickle.loads(blob)  # only on opt-in: see the module docstring
