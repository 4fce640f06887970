"""Configuration: native keys, pyTAMS keys, overrides, and clear errors for bad input."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from pytams.core import ConfigError, load_config

GOOD: dict[str, Any] = {
    "tams": {"ntrajectories": 10},
    "trajectory": {"end_time": 1.0, "step_size": 0.01, "target_score": 1.0},
}


def with_(section: str, key: str, value: Any) -> dict[str, Any]:
    tables = copy.deepcopy(GOOD)
    tables.setdefault(section, {})[key] = value
    return tables


def without(section: str, key: str | None = None) -> dict[str, Any]:
    tables = copy.deepcopy(GOOD)
    if key is None:
        del tables[section]
    else:
        del tables[section][key]
    return tables


MALFORMED = [
    (without("tams"), "[tams]"),
    (without("trajectory"), "[trajectory]"),
    (without("tams", "ntrajectories"), "ntrajectories"),
    (without("trajectory", "end_time"), "end_time"),
    (without("trajectory", "target_score"), "target_score"),
    (with_("tams", "ntrajectorie", 10), "did you mean 'ntrajectories'"),
    (with_("tams", "kills_per_iteraton", 2), "did you mean 'kills_per_iteration'"),
    (with_("trajectory", "stepsize", 0.1), "did you mean 'step_size'"),
    (with_("tams", "ntrajectories", 0), "ntrajectories"),
    (with_("tams", "ntrajectories", -5), "ntrajectories"),
    (with_("tams", "ntrajectories", "many"), "ntrajectories"),
    (with_("tams", "ntrajectories", 10.5), "ntrajectories"),
    (with_("tams", "ntrajectories", True), "ntrajectories"),
    (with_("tams", "kills_per_iteration", 10), "kills_per_iteration"),
    (with_("tams", "kills_per_iteration", 0), "kills_per_iteration"),
    (with_("trajectory", "end_time", 0.0), "end_time"),
    (with_("trajectory", "end_time", -1.0), "end_time"),
    (with_("trajectory", "step_size", "0.01"), "step_size"),
    (with_("trajectory", "target_score", float("nan")), "target_score"),
    (with_("trajectory", "store_state_every", 0), "store_state_every"),
    (with_("runner", "type", "slurmm"), "type"),
    (with_("runner", "workers", 0), "workers"),
    (with_("runner", "retries", -1), "retries"),
    (with_("tams", "seed", -3), "seed"),
    (with_("tams", "repeats", 0), "repeats"),
    (with_("tams", "walltime", 0), "walltime"),
    (with_("tams", "variant", "magic"), "variant"),
    (with_("database", "resume", "yes"), "resume"),
    (with_("tams", "loglevel", "LOUD"), "loglevel"),
    ({**GOOD, "tamss": {"x": 1}}, "did you mean 'tams'"),
    ({**GOOD, "tams": 5}, "tams"),
    ({**GOOD, "model": 3}, "model"),
    (with_("model", "class", 7), "class"),
    (
        {
            **with_("runner", "nworker_iter", 2),
            "tams": {"ntrajectories": 10, "max_iterations": "x"},
        },
        "max_iterations",
    ),
]


@pytest.mark.parametrize(("tables", "expected"), MALFORMED)
def test_malformed_configuration_names_the_key(tables: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tables)
    message = str(info.value)
    assert expected in message
    assert "<mapping>" in message


def test_at_least_twenty_malformed_cases() -> None:
    assert len(MALFORMED) >= 20


def test_error_names_the_file_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "input.toml"
    path.write_text(
        "[tams]\nntrajectories = 0\n[trajectory]\nend_time = 1.0\n"
        "step_size = 0.1\ntarget_score = 1.0\n"
    )
    with pytest.raises(
        ConfigError,
        match=r"input\.toml: \[tams\] ntrajectories = 0 must be >= 2; "
        r"fix: e\.g\. ntrajectories = 100",
    ):
        load_config(path)


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[tams\nntrajectories = 3")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_defaults_and_native_keys() -> None:
    config = load_config(GOOD)
    assert config.tams.kills_per_iteration == 1
    assert config.tams.repeats == 1
    assert config.runner.type == "serial"
    assert config.database.path is None
    assert config.trajectory.store_state_every == 1
    assert isinstance(config.trajectory.end_time, float)


def test_overrides_and_seed() -> None:
    config = load_config(
        GOOD, overrides=["tams.ntrajectories=50", "runner.type=serial", "model.sigma=0.5"], seed=11
    )
    assert config.tams.ntrajectories == 50
    assert config.tams.seed == 11
    assert config.model["sigma"] == 0.5
    with pytest.raises(ConfigError, match=r"section\.key=value"):
        load_config(GOOD, overrides=["ntrajectories=5"])
    with pytest.raises(ConfigError, match="did you mean 'ntrajectories'"):
        load_config(GOOD, overrides=["tams.ntraj=5"])


def test_pytams_keys_keep_their_original_meaning() -> None:
    tables = {
        "tams": {
            "ntrajectories": 20,
            "nsplititer": 200,
            "deterministic": True,
            "loglevel": "INFO",
            "diagnostics": False,
        },
        "trajectory": {"end_time": 1.0, "step_size": 0.01, "targetscore": 0.9, "sparse_freq": 5},
        "runner": {"type": "serial", "nworker_init": 2, "nworker_iter": 3},
        "database": {"restart": False},
    }
    config = load_config(tables)
    assert config.tams.max_kills == 200
    assert config.tams.deterministic is True
    assert config.tams.seed == 0  # deterministic without a seed: a fixed seed
    assert config.trajectory.target_score == 0.9
    assert config.trajectory.store_state_every == 5
    assert config.runner.workers == 3
    assert config.tams.kills_per_iteration == 3  # nworker_iter is also k in pyTAMS


def test_native_and_pytams_key_conflict() -> None:
    tables = with_("trajectory", "targetscore", 0.5)
    with pytest.raises(ConfigError, match="conflicts"):
        load_config(tables)


def test_model_reference_forms(tmp_path: Path) -> None:
    top = tmp_path / "top.toml"
    top.write_text(
        'model = "pkg.mod:Model"\n[tams]\nntrajectories = 5\n[trajectory]\n'
        "end_time = 1.0\nstep_size = 0.1\ntarget_score = 1.0\n"
    )
    assert load_config(top).model_ref == "pkg.mod:Model"
    table = tmp_path / "table.toml"
    table.write_text(
        "[tams]\nntrajectories = 5\n[trajectory]\nend_time = 1.0\nstep_size = 0.1\n"
        'target_score = 1.0\n[model]\nclass = "my_model.py:M"\nsigma = 2.0\n'
    )
    config = load_config(table)
    assert config.model_ref == f"{tmp_path / 'my_model.py'}:M"
    assert dict(config.model) == {"sigma": 2.0}


def test_config_is_frozen() -> None:
    config = load_config(GOOD)
    with pytest.raises(AttributeError):
        config.tams.ntrajectories = 3  # type: ignore[misc]
