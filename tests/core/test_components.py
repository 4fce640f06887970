"""Optional components are found through entry points; a missing one names what to install."""

from __future__ import annotations

import importlib.util

import pytest

from pytams.core import MissingComponentError, load_config
from pytams.core.plugins import make_runner, make_store
from pytams.core.runner import SerialRunner
from pytams.core.store import MemoryStore

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


def test_core_imports_none_of_the_other_packages() -> None:
    """Core finds runners, stores and commands through entry points only."""
    import re
    from pathlib import Path

    import pytams.core

    pattern = re.compile(r"^\s*(from|import)\s+pytams\.(io|runners|models)\b", re.MULTILINE)
    folder = Path(pytams.core.__file__).parent
    offenders = [p.name for p in folder.glob("*.py") if pattern.search(p.read_text())]
    assert offenders == []


def test_the_store_engine_and_the_path_agree() -> None:
    from pytams.core import ConfigError
    from pytams.core.plugins import store_engine

    assert store_engine(load_config(BASE)) == "memory"
    assert store_engine(load_config({**BASE, "database": {"path": "x"}})) == "netcdf"
    with pytest.raises(ConfigError, match="engine = 'memory' keeps no files"):
        load_config({**BASE, "database": {"path": "x", "engine": "memory"}})
    with pytest.raises(ConfigError, match="engine = 'netcdf' needs a \\[database\\] path"):
        load_config({**BASE, "database": {"engine": "netcdf"}})


def test_an_unknown_runner_lists_the_known_ones() -> None:
    from pytams.core import ConfigError

    with pytest.raises(ConfigError, match=r"is not an installed plugin.*asyncio, dask, serial"):
        load_config({**BASE, "runner": {"type": "slurmm"}})


def test_the_stop_reason_is_an_enum_with_todays_strings() -> None:
    import json

    from pytams.core import TAMS, StopReason

    config = {
        **BASE,
        "tams": {"ntrajectories": 5, "seed": 1, "max_iterations": 2},
        "model": {"class": "tests.core.models:OrnsteinUhlenbeck"},
    }
    result = TAMS(None, config).run()
    assert result.stop_reason is StopReason.MAX_ITERATIONS
    assert json.loads(result.to_json())["stop_reason"] == "max_iterations"
    assert "stop reason   max_iterations" in result.summary()
    assert [reason.value for reason in StopReason] == [
        "all_converged",
        "target_reached",
        "extinction",
        "max_iterations",
        "max_kills",
        "walltime",
        "montecarlo",
    ]
