"""The hot path does only what a model needs: what it does not use, it does not pay for.

Pinned results (test_pinned_results.py) show that the cuts change no bit of a run; these tests
show the cuts themselves: a model's id and working directory are derived only when read, a
hook a model does not override is not called, and a pyTAMS model's directory is made by the
model, as pyTAMS 1.0.0 does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from pytams.core import TAMS
from pytams.core import segment as segment_module
from pytams.core.compat import model_factory
from pytams.core.rng import segment_model_id
from pytams.fmodel import ForwardModelBaseClass
from tests.core.models import OrnsteinUhlenbeck

COMPAT = Path(__file__).resolve().parents[1] / "compat"


def config(**database: Any) -> dict[str, Any]:
    if "path" in database:
        pytest.importorskip("pytams.io", reason="a database on disk needs pytams-io")
    return {
        "tams": {"ntrajectories": 10, "kills_per_iteration": 2, "seed": 5, "max_iterations": 5},
        "trajectory": {"end_time": 0.5, "step_size": 0.05, "target_score": 1.0},
        "database": database,
    }


def test_a_model_that_reads_no_id_never_derives_one(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> int:
        raise AssertionError(f"segment_model_id{args} derived for a model that never reads it")

    monkeypatch.setattr(segment_module, "segment_model_id", refuse)
    assert TAMS(OrnsteinUhlenbeck, config()).run().iterations == 5


class ReadsItsId(OrnsteinUhlenbeck):
    seen: ClassVar[list[tuple[int, Path]]] = []

    def _setup(self, params: dict[str, Any]) -> None:
        super()._setup(params)
        self.seen.append((self.model_id, self.workdir))


def test_the_id_and_directory_read_are_the_segments_own(tmp_path: Path) -> None:
    ReadsItsId.seen = []
    TAMS(ReadsItsId, config(path=str(tmp_path / "run.tdb"))).run()
    initial = ReadsItsId.seen[:10]
    assert [i for i, _ in initial] == [segment_model_id(5, 0, slot, 0) for slot in range(10)]
    assert [d.name for _, d in initial] == [f"traj{slot:06d}_0000" for slot in range(10)]
    assert all(d.is_dir() for _, d in ReadsItsId.seen)  # self.workdir makes it on first use


def test_a_model_that_writes_no_file_gets_no_directory(tmp_path: Path) -> None:
    database = tmp_path / "run.tdb"
    TAMS(OrnsteinUhlenbeck, config(path=str(database))).run()
    assert not list((database / "trajectories").glob("traj*"))


def test_a_pytams_model_gets_the_trajectories_folder_and_makes_its_own(tmp_path: Path) -> None:
    """As in pyTAMS 1.0.0: ``<database>/trajectories`` exists; a disk model makes its folder."""
    memory, disk = tmp_path / "memory.tdb", tmp_path / "disk.tdb"
    TAMS(f"{COMPAT / 'ou_memory.py'}:OUMemory", config(path=str(memory))).run()
    assert (memory / "trajectories").is_dir()
    assert not list((memory / "trajectories").glob("traj*"))
    TAMS(f"{COMPAT / 'ou_disk.py'}:OUDisk", config(path=str(disk))).run()
    assert len(list((disk / "trajectories").glob("traj*"))) == 10 + 5 * 2


class Counting(ForwardModelBaseClass):
    """A pyTAMS model that counts the calls of its convergence test."""

    checks: ClassVar[int] = 0

    def _init_model(self, m_id: int, params: dict[str, Any]) -> None:
        self._rng = np.random.default_rng(m_id)
        self._x = 0.0

    def _advance(self, step: int, time: float, dt: float, noise: Any, need: bool) -> float:
        self._x += noise * dt**0.5
        return dt

    def get_current_state(self) -> float:
        return self._x

    def set_current_state(self, state: Any) -> None:
        self._x = state

    def score(self) -> float:
        return self._x / 2.0

    def make_noise(self) -> float:
        return float(self._rng.standard_normal())


class CountingWithTest(Counting):
    def check_convergence(self, step: int, time: float, score: float, target: float) -> bool:
        type(self).checks += 1
        return score >= target


@pytest.mark.parametrize("model_class", [Counting, CountingWithTest])
def test_the_adapter_calls_check_convergence_only_when_the_model_has_one(
    model_class: type[Counting],
) -> None:
    model_class.checks = 0
    result = TAMS(model_class, config()).run()
    overridden = model_class is CountingWithTest
    assert (model_class.checks > result.model_steps) == overridden
    assert (model_class.checks == 0) == (not overridden)


def test_a_factory_takes_values_or_functions_for_the_id_and_directory() -> None:
    build = model_factory(ReadsItsId, {}, {})
    by_value = build(7, None)
    by_function = build(lambda: 7, lambda: None)
    assert by_value.model_id == by_function.model_id == 7
    assert by_value.workdir == by_function.workdir == Path.cwd()


def test_a_batched_model_without_its_own_test_keeps_the_default_convergence() -> None:
    """The scalar path then compares the score itself instead of a numpy call per step."""
    from pytams.core import ForwardModel
    from tests.core.models import BatchedOU

    class OwnTest(BatchedOU):
        def _converged_batch(self, scores: np.ndarray, target: float) -> np.ndarray:
            return scores >= 0.5 * target

    assert BatchedOU._is_converged is ForwardModel._is_converged
    assert OwnTest._is_converged is not ForwardModel._is_converged
    model = OwnTest({})
    assert model.is_converged(0.6, 1.0)
    assert not BatchedOU({}).is_converged(0.6, 1.0)
