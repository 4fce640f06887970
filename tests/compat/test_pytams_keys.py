"""pyTAMS's keys keep their original meaning; the ones with no counterpart are never silent."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytams.core import TAMS, ConfigError, ModelError, TAMSWarning, load_config
from pytams.core.cli import main
from pytams.core.compat import model_factory
from pytams.core.config import PYTAMS_TARGET_SCORE, UNSUPPORTED_KEYS
from pytams.core.loading import load_model_class

HERE = Path(__file__).parent
MEMORY = f"{HERE / 'ou_memory.py'}:OUMemory"


def pytams_tables(**changes: dict[str, Any]) -> dict[str, Any]:
    tables: dict[str, Any] = {
        "tams": {"ntrajectories": 10, "nsplititer": 100},
        "trajectory": {"end_time": 1.0, "step_size": 0.01, "targetscore": 1.0},
        "model": {"barrier": 1.0},
    }
    for section, values in changes.items():
        tables.setdefault(section, {}).update(values)
    return tables


def test_targetscore_is_optional_in_a_pytams_input() -> None:
    tables = pytams_tables()
    del tables["trajectory"]["targetscore"]
    assert load_config(tables).trajectory.target_score == PYTAMS_TARGET_SCORE == 0.95


def test_a_native_input_still_needs_its_target_score() -> None:
    tables = {"tams": {"ntrajectories": 10}, "trajectory": {"end_time": 1.0, "step_size": 0.1}}
    with pytest.raises(ConfigError, match="missing key \\[trajectory\\] target_score"):
        load_config(tables)


def test_init_ensemble_only_stops_after_the_initial_ensemble() -> None:
    config = load_config(pytams_tables(tams={"init_ensemble_only": True}))
    assert config.tams.max_iterations == 0
    assert load_config(pytams_tables(tams={"pool_only": True})).tams.max_iterations == 0
    result = TAMS(MEMORY, config.with_seed(1)).run()
    assert result.iterations == 0
    assert result.stop_reason == "max_iterations"
    with pytest.raises(ConfigError, match="init_ensemble_only"):
        load_config(pytams_tables(tams={"init_ensemble_only": True, "max_iterations": 5}))


def test_restart_conflicts_with_resume_and_overwrite() -> None:
    for native in ("resume", "overwrite"):
        tables = pytams_tables(database={"path": "x.tdb", "restart": True, native: True})
        with pytest.raises(ConfigError, match=f"give only one of restart and {native}"):
            load_config(tables)


def test_a_native_input_does_not_resume_by_default(tmp_path: Path) -> None:
    from pytams.core.errors import StorageError

    pytest.importorskip("pytams.io")
    tables: dict[str, Any] = {
        "tams": {"ntrajectories": 10, "seed": 1, "max_iterations": 3},
        "trajectory": {"end_time": 1.0, "step_size": 0.01, "target_score": 1.0},
        "database": {"path": str(tmp_path / "db")},
    }
    TAMS(MEMORY, tables).run()
    with pytest.raises(StorageError, match="already holds a run"):
        TAMS(MEMORY, tables).run()


@pytest.mark.parametrize(("section", "key"), sorted(UNSUPPORTED_KEYS))
def test_unsupported_keys_warn_unless_harmless(section: str, key: str) -> None:
    harmless, why = UNSUPPORTED_KEYS[section, key]
    value = "XML" if harmless is None else not harmless if isinstance(harmless, bool) else 5
    with pytest.warns(TAMSWarning, match=f"\\[{section}\\] {key} = .* no effect here"):
        load_config(pytams_tables(**{section: {key: value}}))
    if harmless is not None:
        load_config(pytams_tables(**{section: {key: harmless}}))  # no warning (an error here)
    assert why


def test_logfile_is_written_relative_to_the_input_file(tmp_path: Path) -> None:
    folder = tmp_path / "case"
    folder.mkdir()
    (folder / "input.toml").write_text(
        textwrap.dedent("""
        [tams]
        ntrajectories = 10
        nsplititer = 100
        loglevel = "INFO"
        logfile = "tams.log"
        [trajectory]
        end_time = 1.0
        step_size = 0.01
        targetscore = 1.0
        [model]
        barrier = 1.0
        """)
    )
    config = load_config(folder / "input.toml")
    assert config.tams.logfile == str(folder / "tams.log")
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        argv = ["run", str(folder / "input.toml"), "--model", MEMORY, "--seed", "2", "--quiet"]
        assert main(argv) == 0
    finally:
        for handler in root.handlers[len(before) :]:
            handler.close()
        root.handlers[:] = before
    log = (folder / "tams.log").read_text()
    assert "stopped (target_reached)" in log


def test_the_1_0_noise_api() -> None:
    model_class = load_model_class(MEMORY)
    tables = pytams_tables()
    inner = model_factory(model_class, tables["model"], tables)(7, None)._inner  # type: ignore[attr-defined]
    first = inner.get_noise()
    assert isinstance(first, np.ndarray)  # drawn at construction, as pyTAMS 1.0.0
    inner.set_noise(np.array([0.5]))
    assert inner.get_noise()[0] == 0.5
    inner.advance(0.01, True)
    assert inner.get_current_state()[0] == pytest.approx(0.5 * 0.1)


def test_models_are_seeded_from_the_run_seed_even_when_deterministic_is_false() -> None:
    """pyTAMS models seed their generator only when deterministic: the adapter always sets it,
    with an m_id derived from the seed, so --seed reproduces a run."""
    tables = pytams_tables(tams={"deterministic": False})
    config = load_config(tables, seed=3)
    assert TAMS(MEMORY, config).run() == TAMS(MEMORY, config).run()
    assert TAMS(MEMORY, config).run().levels != TAMS(MEMORY, config.with_seed(4)).run().levels


FORGETFUL = textwrap.dedent('''
    """A pyTAMS model whose state misses a variable the step uses (like pyTAMS's MOC example)."""
    import numpy as np
    from pytams.fmodel import ForwardModelBaseClass


    class Forgetful(ForwardModelBaseClass):
        def _init_model(self, m_id, params):
            self._rng = np.random.default_rng(m_id)
            self._x = 0.0
            self._memory = 0.0  # not part of the state

        def _advance(self, step, time, dt, noise, need_end_state):
            self._memory = 0.9 * self._memory + noise
            self._x += 0.1 * self._memory
            return dt

        def get_current_state(self):
            return self._x

        def set_current_state(self, state):
            self._x = state

        def score(self):
            return self._x

        def make_noise(self):
            return float(self._rng.standard_normal())
''')


def test_a_model_that_forgets_a_variable_is_told_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "forgetful.py").write_text(FORGETFUL)
    model = f"{tmp_path / 'forgetful.py'}:Forgetful"
    sparse = load_config(pytams_tables(trajectory={"sparse_freq": 4}), seed=1)
    with pytest.raises(ModelError, match="store_state_every = 1, pyTAMS: sparse_freq = 1"):
        TAMS(model, sparse).run()
    every = load_config(pytams_tables(trajectory={"sparse_freq": 1}), seed=1)
    assert TAMS(model, every).run().iterations > 0
