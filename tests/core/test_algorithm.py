"""The algorithm's rules on hand-built ensembles (Scripted model: clones follow the script)."""

from __future__ import annotations

from typing import Any

import pytest

from pytams.core import TAMS, Database, MemoryStore, TrajectoryKey
from tests.core.models import Scripted, scripted_trajectory

DT = 0.1


def config(
    n: int,
    steps: int,
    *,
    k: int = 1,
    max_iterations: int | None = None,
    resume: bool = False,
    seed: int = 1,
) -> dict[str, Any]:
    tams: dict[str, Any] = {"ntrajectories": n, "kills_per_iteration": k, "seed": seed}
    if max_iterations is not None:
        tams["max_iterations"] = max_iterations
    return {
        "tams": tams,
        "trajectory": {"end_time": steps * DT, "step_size": DT, "target_score": 1.0},
        "database": {"resume": resume},
    }


def run_from(scripts: list[list[float]], **options: Any) -> tuple[Any, Database]:
    """Run TAMS from a hand-built initial ensemble; return the result and the database."""
    n, steps = len(scripts), max(len(s) for s in scripts) - 1
    store = MemoryStore()
    setup = {**options, "max_iterations": 0}
    TAMS(Scripted, config(n, steps, **setup), store=store).run()
    ensemble = [scripted_trajectory(slot, script) for slot, script in enumerate(scripts)]
    for trajectory in ensemble:
        store.write_trajectory(trajectory)
    store.write_ensemble([t.key for t in ensemble])
    result = TAMS(Scripted, config(n, steps, resume=True, **options), store=store).run()
    return result, Database(store)


def test_three_trajectories_by_hand() -> None:
    """N = 3: A dies at 0.2; B's clone ties with B at 0.5 (both die) or C's clone converges.

    Parent B: W = (2/3)(1/3) = 2/9, every final trajectory converged: p = 2/9 (3 kills).
    Parent C: W = (2/3)(2/3) = 4/9, p = 4/9 (2 kills). No extra factor at the last iteration.
    """
    scripts = [
        [0.0, 0.1, 0.2, 0.1, 0.0],
        [0.0, 0.3, 0.5, 0.4, 0.3],
        [0.0, 0.5, 1.0],
    ]
    seen = set()
    for seed in range(12):
        result, db = run_from(scripts, seed=seed)
        first = db.iterations[0]
        assert first.level == 0.2
        assert first.killed == (TrajectoryKey(0),)
        if first.parents[0].slot == 1:
            assert result.probability == (1 - 1 / 3) * (1 - 2 / 3) * 3 / 3
            assert result.probability == pytest.approx(2 / 9, rel=1e-15)
            assert (result.iterations, result.kills) == (2, 3)
            assert db.iterations[1].killed == (TrajectoryKey(0, 1), TrajectoryKey(1))
        else:
            assert first.parents[0].slot == 2
            assert result.probability == (1 - 1 / 3) * (1 - 1 / 3) * 3 / 3
            assert result.probability == pytest.approx(4 / 9, rel=1e-15)
            assert (result.iterations, result.kills) == (2, 2)
        assert result.stop_reason == "target_reached"
        assert result.converged == 3
        seen.add(first.parents[0].slot)
    assert seen == {1, 2}, "both parents should be drawn over 12 seeds"


def test_ties_are_all_killed_and_weight_uses_the_number_killed() -> None:
    scripts = [
        [0.0, 0.2, 0.1],
        [0.0, 0.2, 0.2],
        [0.0, 0.1, 0.2],
        [0.0, 0.5, 0.4],
        [0.0, 0.7, 0.6],
    ]
    _, db = run_from(scripts, max_iterations=1)
    (record,) = db.iterations
    assert record.level == 0.2
    assert [k.slot for k in record.killed] == [0, 1, 2]
    assert {k.slot for k in record.parents} <= {3, 4}
    assert record.weight == 1.0 * (1.0 - 3 / 5)


def test_clones_branch_at_the_first_point_strictly_above_the_level_with_k_greater_than_1() -> None:
    scripts = [
        [0.0, 0.10, 0.05, 0.0],
        [0.0, 0.30, 0.20, 0.1],
        [0.0, 0.20, 0.40, 0.1],
        [0.0, 0.35, 0.30, 0.6],
        [0.0, 0.25, 0.45, 0.9],
        [0.0, 0.50, 0.80, 0.7],
    ]
    _, db = run_from(scripts, k=3, max_iterations=1, seed=3)
    (record,) = db.iterations
    assert record.level == 0.4  # the 3rd smallest maximum: 0.1, 0.3, 0.4
    assert [k.slot for k in record.killed] == [0, 1, 2]
    for clone_key, parent_key in zip(record.clones, record.parents, strict=False):
        clone, parent = db.trajectory(clone_key), db.trajectory(parent_key)
        branch = clone.branch_index
        assert branch is not None
        assert clone.scores[branch] > record.level
        assert all(s <= record.level for s in parent.scores[:branch])
        assert clone.scores[: branch + 1] == parent.scores[: branch + 1]
        assert clone.parent == parent_key


def test_weights_multiply_by_exactly_one_minus_killed_over_n() -> None:
    scripts = [[0.0, 0.1 * (i + 1), 0.05 * (i + 1)] for i in range(8)]
    result, db = run_from(scripts, max_iterations=5, seed=4)
    weight = 1.0
    for record in db.iterations:
        weight *= 1.0 - len(record.killed) / 8
        assert record.weight == weight
    assert result.weights == tuple(r.weight for r in db.iterations)
    assert result.stop_reason == "max_iterations"
    assert result.iterations == 5


def test_extinction_gives_zero_with_its_stop_reason() -> None:
    scripts = [[0.0, 0.3, 0.2]] * 4
    result, db = run_from(scripts)
    assert result.probability == 0.0
    assert result.stop_reason == "extinction"
    assert result.levels == (0.3,)
    assert db.iterations == []


def test_all_converged_initial_ensemble_gives_one() -> None:
    scripts = [[0.0, 1.0], [0.0, 0.5, 1.2], [0.0, 2.0]]
    result, _ = run_from(scripts)
    assert result.probability == 1.0
    assert result.stop_reason == "all_converged"
    assert result.iterations == 0
    assert result.ci_high == 1.0


def test_k_kills_per_iteration_do_not_depend_on_the_number_of_workers() -> None:
    scripts = [[0.0, 0.1 * (i + 1), 0.0] for i in range(6)]
    results = []
    for workers in (1, 4):
        options: dict[str, Any] = {"k": 2, "max_iterations": 1, "seed": 9}
        n, steps = 6, 2
        store = MemoryStore()
        cfg = config(n, steps, max_iterations=0, seed=9, k=2)
        cfg["runner"] = {"workers": workers}
        TAMS(Scripted, cfg, store=store).run()
        for slot, script in enumerate(scripts):
            store.write_trajectory(scripted_trajectory(slot, script))
        store.write_ensemble([TrajectoryKey(s) for s in range(n)])
        cfg = config(n, steps, resume=True, **options)
        cfg["runner"] = {"workers": workers}
        TAMS(Scripted, cfg, store=store).run()
        results.append(Database(store).iterations)
    assert results[0] == results[1]
    assert len(results[0][0].killed) == 2


def test_max_kills_caps_the_number_of_killed_trajectories() -> None:
    """pyTAMS's nsplititer is a cap on kills, not on iterations."""
    scripts = [[0.0, 0.1 * (i + 1), 0.0] for i in range(6)]
    n, steps = 6, 2
    store = MemoryStore()
    TAMS(Scripted, config(n, steps, max_iterations=0), store=store).run()
    for slot, script in enumerate(scripts):
        store.write_trajectory(scripted_trajectory(slot, script))
    store.write_ensemble([TrajectoryKey(s) for s in range(n)])
    cfg = config(n, steps, resume=True)
    cfg["tams"]["nsplititer"] = 3
    result = TAMS(Scripted, cfg, store=store).run()
    assert result.stop_reason == "max_kills"
    assert result.kills >= 3
    assert result.kills - len(Database(store).iterations[-1].killed) < 3
