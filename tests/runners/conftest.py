from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pytams.core import TAMS, Database, MemoryStore, TAMSResult, load_config
from pytams.runners import DaskRunner
from tests.runners.models import FaultyOU, tables


def run_tams(
    config: dict[str, Any], runner: Any = None, store: MemoryStore | None = None
) -> tuple[TAMSResult, Database]:
    """Run TAMS over FaultyOU with a memory store; return the result and the database."""
    store = store if store is not None else MemoryStore()
    result = TAMS(FaultyOU, load_config(config), runner=runner, store=store).run()
    return result, Database(store)


@pytest.fixture(scope="session")
def serial_run() -> tuple[TAMSResult, Database]:
    """The reference: the serial runner on the default test configuration."""
    return run_tams(tables())


@pytest.fixture(scope="session")
def dask2() -> Iterator[DaskRunner]:
    """One local dask cluster of two workers shared by the tests (re-entrant runner)."""
    with DaskRunner(workers=2, retries=0) as runner:
        yield runner
