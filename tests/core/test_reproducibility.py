"""The same seed gives a bitwise identical run; branches replay their parent exactly."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pytams.core import TAMS, Database, MemoryStore, TAMSResult
from tests.core.models import OrnsteinUhlenbeck, VectorOU


def ou_config(seed: int, **trajectory: Any) -> dict[str, Any]:
    return {
        "tams": {"ntrajectories": 20, "seed": seed, "kills_per_iteration": 2},
        "trajectory": {"end_time": 1.0, "step_size": 0.05, "target_score": 1.0, **trajectory},
        "model": {"barrier": 1.5},
    }


def run(model: type[Any], config: dict[str, Any]) -> tuple[TAMSResult, Database]:
    store = MemoryStore()
    result = TAMS(model, config, store=store).run()
    return result, Database(store)


def test_same_seed_same_result_levels_and_trajectories() -> None:
    first, db1 = run(OrnsteinUhlenbeck, ou_config(5))
    second, db2 = run(OrnsteinUhlenbeck, ou_config(5))
    assert first == second  # every field but the wall time, bit for bit
    assert first.levels == second.levels
    assert first.iterations > 5
    assert db1.ensemble == db2.ensemble
    assert db1.iterations == db2.iterations
    assert db1.archived() == db2.archived()


def test_another_seed_gives_another_run() -> None:
    first, _ = run(OrnsteinUhlenbeck, ou_config(5))
    other, _ = run(OrnsteinUhlenbeck, ou_config(6))
    assert first.levels != other.levels


def test_storing_every_kth_state_replays_to_the_same_run() -> None:
    dense, db_dense = run(VectorOU, ou_config(8))
    sparse, db_sparse = run(VectorOU, ou_config(8, store_state_every=4))
    assert replace(sparse, model_steps=dense.model_steps) == dense
    assert sparse.model_steps > dense.model_steps  # replays cost steps
    assert dense.iterations > 5
    for full, thin in zip(db_dense.ensemble or [], db_sparse.ensemble or [], strict=False):
        assert full.scores == thin.scores
        assert full.times == thin.times
        kept = [i for i, s in enumerate(thin.states) if s is not None]
        assert kept == list(range(0, len(thin), 4))
        assert all((full.states[i] == thin.states[i]).all() for i in kept)


def test_clone_replays_its_parent_up_to_the_branching_point() -> None:
    _, db = run(VectorOU, ou_config(3))
    checked = 0
    for record in db.iterations:
        for clone_key, parent_key in zip(record.clones, record.parents, strict=False):
            clone, parent = db.trajectory(clone_key), db.trajectory(parent_key)
            b = clone.branch_index
            assert b is not None
            assert clone.scores[: b + 1] == parent.scores[: b + 1]
            replayed = zip(clone.noises[1 : b + 1], parent.noises[1 : b + 1], strict=True)
            assert all((x == y).all() for x, y in replayed)
            checked += 1
    assert checked > 10


def test_repeats_are_independent_and_reproducible() -> None:
    config = ou_config(21)
    config["tams"]["repeats"] = 4
    result = TAMS(OrnsteinUhlenbeck, config).run()
    again = TAMS(OrnsteinUhlenbeck, config).run()
    assert result == again
    estimates = [r.probability for r in result.repeats]
    assert len(set(estimates)) > 1
    assert result.probability == sum(estimates) / 4
    assert result.spread > 0
    assert result.std_error == result.spread / 2
    single = TAMS(OrnsteinUhlenbeck, ou_config(21)).run()
    assert result.repeats[0] == single  # repeat 0 is the run of the same seed alone
