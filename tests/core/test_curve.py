"""The exceedance curve, weights, reactive trajectories and level crossings of one run.

The central exactness check: the curve of a run with target b, at a level a < b, is bitwise
the estimate (and error bar) that a run with target a returns with the same seed: up to the
first iteration whose level reaches a, the two runs make the same draws.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytams.core import TAMS, Database, MemoryStore, TrajectoryKey
from pytams.core.cli import main
from pytams.core.curve import ExceedanceCurve, RunHistory
from pytams.core.errors import StorageError
from tests.core.models import ROOT, BatchedOU, OrnsteinUhlenbeck, Scripted, scripted_trajectory

DT = 0.1
EXAMPLE = ROOT / "examples" / "brownian" / "input.toml"


def ou_config(
    target: float, *, seed: int = 5, n: int = 20, k: int = 1, variant: str = "tams"
) -> dict[str, Any]:
    tams: dict[str, Any] = {
        "ntrajectories": n,
        "seed": seed,
        "kills_per_iteration": k,
        "variant": variant,
    }
    trajectory: dict[str, Any] = {"end_time": 2.0, "step_size": 0.05, "target_score": target}
    if variant != "tams":
        trajectory["min_score"] = -0.4
    return {"tams": tams, "trajectory": trajectory, "model": {"barrier": 2.0}}


@pytest.mark.parametrize(
    ("variant", "k"), [("tams", 1), ("tams", 3), ("ams", 1), ("hybrid", 1), ("hybrid", 2)]
)
def test_curve_at_a_level_is_the_estimate_of_a_run_with_that_target(variant: str, k: int) -> None:
    full = TAMS(OrnsteinUhlenbeck, ou_config(1.0, k=k, variant=variant)).run()
    assert full.stop_reason == "target_reached"
    levels = [0.1, 0.35, 0.6, 0.85, 1.0]
    curve = full.exceedance_curve(levels)
    for level, p, se in zip(*curve, strict=True):
        short = TAMS(OrnsteinUhlenbeck, ou_config(float(level), k=k, variant=variant)).run()
        assert p == short.probability, level
        assert se == pytest.approx(short.std_error, rel=1e-12, abs=1e-300), level
    # at the target: the run's own estimate and error bar
    assert curve.probability[-1] == full.probability
    assert curve.std_error[-1] == pytest.approx(full.std_error, rel=1e-12)


@pytest.mark.parametrize("variant", ["tams", "ams"])
def test_curve_is_exact_through_the_batched_path(variant: str) -> None:
    """The same check with a batched model (all tasks of a phase advanced together)."""
    full = TAMS(BatchedOU, ou_config(1.0, variant=variant)).run()
    curve = full.exceedance_curve([0.3, 0.7, 1.0])
    for level, p, se in zip(*curve, strict=True):
        short = TAMS(BatchedOU, ou_config(float(level), variant=variant)).run()
        assert p == short.probability, level
        assert se == pytest.approx(short.std_error, rel=1e-12, abs=1e-300), level
    assert math.fsum(full.history().weights.values()) == pytest.approx(1.0, abs=1e-12)


def test_weights_sum_to_one_and_follow_lestang() -> None:
    result = TAMS(OrnsteinUhlenbeck, ou_config(1.0)).run()
    history = result.history()
    assert math.fsum(history.weights.values()) == pytest.approx(1.0, abs=1e-12)
    assert len(history.weights) == result.ntrajectories + result.kills
    before = [1.0, *list(result.weights)]
    for j, record in enumerate(history.iterations):
        for key in record.killed:
            assert history.weights[key] == before[j] / result.ntrajectories
    for trajectory in history.final:
        assert history.weights[trajectory.key] == before[-1] / result.ntrajectories
    # with k = 1 the history takes a killed Q from its level without reading it: the same
    for key in history.weights:
        assert history.max_score(key) == history.database.trajectory(key).max_score


def test_default_curve_is_ascending_nonincreasing_and_ends_at_p_hat() -> None:
    result = TAMS(OrnsteinUhlenbeck, ou_config(1.0)).run()
    levels, probability, std_error = result.exceedance_curve()
    assert np.all(np.diff(levels) > 0)
    assert np.all(np.diff(probability) <= 1e-15)
    assert probability[0] == 1.0
    assert std_error[0] == 0.0
    assert levels[-1] == 1.0
    assert probability[-1] == result.probability
    assert np.all(std_error >= 0)


def test_below_the_first_level_the_error_bar_is_binomial() -> None:
    result = TAMS(OrnsteinUhlenbeck, ou_config(1.0, n=40)).run()
    first = result.levels[0]
    a = first / 2 if first > 0 else first
    curve = result.exceedance_curve([a])
    initial = [result.history().max_score(TrajectoryKey(s)) for s in range(result.ntrajectories)]
    p = sum(q >= a for q in initial) / 40
    assert curve.probability[0] == p
    assert curve.std_error[0] == pytest.approx(math.sqrt(p * (1 - p) / 40), rel=1e-12)


def test_levels_above_the_target_are_refused() -> None:
    result = TAMS(OrnsteinUhlenbeck, ou_config(1.0)).run()
    with pytest.raises(ValueError, match="above the target"):
        result.exceedance_curve([0.5, 1.5])


def test_curve_from_a_reopened_database_is_the_same() -> None:
    store = MemoryStore()
    result = TAMS(OrnsteinUhlenbeck, ou_config(1.0), store=store).run()
    reopened = RunHistory(Database(store)).exceedance_curve()
    mine = result.exceedance_curve()
    for a, b in zip(mine, reopened, strict=True):
        assert np.array_equal(a, b)


def test_unfinished_run_has_no_curve() -> None:
    store = MemoryStore()
    cfg = ou_config(1.0)
    cfg["tams"]["walltime"] = 1e-9  # stops after the first trajectory
    result = TAMS(OrnsteinUhlenbeck, cfg, store=store).run()
    assert not result.complete
    assert "exceedance_curve" not in result.to_dict(curve=True)
    with pytest.raises(StorageError, match="not finished"):
        RunHistory(Database(store))


def test_return_times() -> None:
    curve = ExceedanceCurve(
        np.array([0.1, 0.5, 1.0]), np.array([1.0, 0.5, 0.0]), np.array([0.0, 0.1, 0.0])
    )
    r = curve.return_times(2.0)
    assert r[0] == 0.0
    assert r[1] == pytest.approx(-2.0 / math.log(0.5))
    assert math.isinf(r[2])
    low, high = curve.return_time_band(2.0)
    assert low[1] < r[1] < high[1]
    result = TAMS(OrnsteinUhlenbeck, ou_config(1.0)).run()
    _levels, times, band = result.return_time_curve([0.5, 1.0])
    p = result.exceedance_curve([0.5, 1.0]).probability
    assert np.allclose(times, -2.0 / np.log1p(-p))
    assert band.shape == (2, 2)
    ams = TAMS(OrnsteinUhlenbeck, ou_config(1.0, variant="ams")).run()
    with pytest.raises(ValueError, match="fixed duration"):
        ams.return_time_curve()


def test_reactive_trajectories_weigh_p_hat_and_average_observables() -> None:
    result = TAMS(OrnsteinUhlenbeck, ou_config(1.0)).run()
    reactive = result.reactive_trajectories()
    assert len(reactive) == result.converged
    assert reactive.total_weight == pytest.approx(result.probability, rel=1e-12)
    assert all(t.converged and t.max_score >= 1.0 for t, _ in reactive)
    durations = [t.end_time for t in reactive.trajectories]
    assert result.reactive_average(lambda t: t.end_time) == pytest.approx(np.mean(durations))
    # array observables: the mean path of the last 3 scores
    mean = result.reactive_average(lambda t: np.array(t.scores[-3:]))
    assert mean.shape == (3,)


def test_hand_built_curve_weights_and_crossings() -> None:
    """N = 3: A (max 0.2) dies first; B's clone ties with B at 0.5 or C's clone converges.

    Parent B: kills A at W0 = 1, then B and its clone at W1 = 2/3 (weight 2/9 each after),
    leaving C and two clones of C: each final one weighs W2 / 3 = (2/9) / 3.
    """
    scripts = [[0.0, 0.1, 0.2, 0.1, 0.0], [0.0, 0.3, 0.5, 0.4, 0.3], [0.0, 0.5, 1.0]]
    base: dict[str, Any] = {
        "tams": {"ntrajectories": 3, "seed": 0, "max_iterations": 0},
        "trajectory": {"end_time": 0.4, "step_size": DT, "target_score": 1.0},
    }
    for seed in range(12):
        store = MemoryStore()
        base["tams"]["seed"] = seed
        TAMS(Scripted, base, store=store).run()
        for slot, script in enumerate(scripts):
            store.write_trajectory(scripted_trajectory(slot, script))
        store.write_ensemble([TrajectoryKey(s) for s in range(3)])
        cfg = {**base, "tams": {"ntrajectories": 3, "seed": seed}, "database": {"resume": True}}
        result = TAMS(Scripted, cfg, store=store).run()
        history = result.history()
        assert history.weights[TrajectoryKey(0)] == 1 / 3
        if result.kills == 3:  # parent B
            assert history.weights[TrajectoryKey(1)] == pytest.approx(2 / 9, rel=1e-15)
            _levels, p, _ = result.exceedance_curve([0.2, 0.25, 0.5, 0.75, 1.0])
            assert list(p) == pytest.approx([1.0, 2 / 3, 2 / 3, 2 / 9, 2 / 9], rel=1e-15)
            crossings = result.level_crossings([0.5, 1.0])
            assert crossings[0].crossings == 5  # B, its clone, C and C's two clones
            assert crossings[1].crossings == 3
            assert crossings[1].mean_time == pytest.approx(2 * DT)
            # B and its clone cross 0.5 at t = 0.2 (weight 2/9 each), C and its clones
            # at t = 0.1 (2/27 each): (4/9 * 0.2 + 2/9 * 0.1) / (2/3) = 1/6
            assert crossings[0].mean_time == pytest.approx(1 / 6)
        else:  # parent C, one iteration
            _levels, p, _ = result.exceedance_curve([0.2, 0.5, 1.0])
            assert list(p) == pytest.approx([1.0, 2 / 3, 4 / 9], rel=1e-15)


def test_crossing_times_by_hand() -> None:
    """Monte Carlo over a scripted model: weights 1 / N, first crossings on the script."""
    script = [0.0, 0.2, 0.6, 0.4, 0.9, 1.0]
    cfg: dict[str, Any] = {
        "tams": {"ntrajectories": 4, "seed": 1, "sampler": "montecarlo"},
        "trajectory": {"end_time": 0.5, "step_size": DT, "target_score": 1.0},
        "model": {"script": script},
    }
    result = TAMS(Scripted, cfg).run()
    assert result.probability == 1.0
    low, high = result.level_crossings([0.5, 0.8])
    assert (low.crossings, high.crossings) == (4, 4)
    assert low.mean_time == pytest.approx(0.2)
    assert high.mean_time == pytest.approx(0.4)
    assert low.std_time == pytest.approx(0.0, abs=1e-12)
    assert low.median_time == pytest.approx(0.2)


def test_diagnostic_levels_are_stored_in_the_database() -> None:
    store = MemoryStore()
    cfg = ou_config(1.0)
    cfg["tams"]["diagnostic_levels"] = [0.75, 0.25]
    result = TAMS(OrnsteinUhlenbeck, cfg, store=store).run()
    stored = Database(store).metadata
    assert stored is not None
    rows = stored["diagnostics"]["levels"]
    assert [row["level"] for row in rows] == [0.25, 0.75]
    expected = result.level_crossings([0.25, 0.75])
    assert rows == [c.to_dict() for c in expected]
    assert rows[1]["probability"] == result.exceedance_curve([0.75]).probability[0]
    assert rows[0]["crossings"] >= rows[1]["crossings"] > 0
    assert 0.0 < rows[1]["mean_time"] <= 2.0


def test_repeats_curve_is_the_mean_of_the_runs_curves() -> None:
    cfg = ou_config(1.0, n=10)
    cfg["tams"]["repeats"] = 3
    result = TAMS(OrnsteinUhlenbeck, cfg).run()
    levels = [0.25, 0.5, 1.0]
    curve = result.exceedance_curve(levels)
    each = np.vstack([r.exceedance_curve(levels).probability for r in result.repeats])
    assert np.allclose(curve.probability, each.mean(axis=0), rtol=1e-14)
    assert np.allclose(curve.std_error, each.std(axis=0, ddof=1) / math.sqrt(3), rtol=1e-12)
    assert curve.probability[-1] == pytest.approx(result.probability, rel=1e-14)
    assert result.reactive_trajectories().total_weight == pytest.approx(
        result.probability, rel=1e-12
    )


def test_the_database_is_not_part_of_equality_or_repr() -> None:
    first = TAMS(OrnsteinUhlenbeck, ou_config(1.0)).run()
    second = TAMS(OrnsteinUhlenbeck, ou_config(1.0)).run()
    assert first.database is not second.database
    assert first == second
    assert "database" not in repr(first)


def test_json_has_the_curve_and_keeps_the_documented_keys(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    args = ["run", str(EXAMPLE), "--set", "tams.ntrajectories=20", "--set", "model.barrier=3.0"]
    assert main([*args, "--seed", "4", "--json", str(out), "--quiet"]) == 0
    data = json.loads(out.read_text())
    for key in ("probability", "std_error", "ci_low", "ci_high", "levels", "weights", "seed"):
        assert key in data
    curve = data["exceedance_curve"]
    assert set(curve) == {"levels", "probability", "std_error"}
    levels = curve["levels"]
    assert levels == sorted(levels)
    assert len(set(levels)) == len(levels)
    assert len(curve["probability"]) == len(levels) == len(curve["std_error"])
    assert curve["probability"][-1] == pytest.approx(data["probability"], rel=1e-12)
    assert levels[-1] == 1.0
