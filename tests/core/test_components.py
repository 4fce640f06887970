"""Optional components are found through entry points; a missing one names what to install."""

from __future__ import annotations

import importlib.util

import pytest

from pytams.core import MissingComponentError, load_config
from pytams.core.runner import SerialRunner, make_runner
from pytams.core.store import MemoryStore
from pytams.core.tams import make_store

BASE = {
    "tams": {"ntrajectories": 5},
    "trajectory": {"end_time": 1.0, "step_size": 0.1, "target_score": 1.0},
}


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def test_defaults_are_embedded() -> None:
    config = load_config(BASE)
    assert isinstance(make_runner(config), SerialRunner)
    assert isinstance(make_store(config, 0), MemoryStore)


@pytest.mark.skipif(installed("pytams.runners"), reason="pytams-runners is installed")
def test_missing_runner_names_the_package() -> None:
    config = load_config({**BASE, "runner": {"type": "dask"}})
    with pytest.raises(MissingComponentError, match="pip install pytams-runners"):
        make_runner(config)


@pytest.mark.skipif(installed("pytams.io"), reason="pytams-io is installed")
def test_missing_store_names_the_package(tmp_path: object) -> None:
    config = load_config({**BASE, "database": {"path": str(tmp_path)}})
    with pytest.raises(MissingComponentError, match="pip install pytams-io"):
        make_store(config, 0)


@pytest.mark.skipif(not installed("pytams.runners"), reason="pytams-runners is not installed")
def test_installed_runner_is_found_by_entry_point() -> None:
    config = load_config({**BASE, "runner": {"type": "asyncio"}})
    runner = make_runner(config)
    assert type(runner).__module__.startswith("pytams.runners")
