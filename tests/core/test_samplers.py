"""Sampler variants (tams, ams, hybrid) and the Monte Carlo sampler on the core alone."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from pytams.core import TAMS, ConfigError, Database, MemoryStore, TrajectoryKey
from pytams.core.estimator import wilson_interval
from pytams.core.runner import SerialRunner
from pytams.core.segment import RunContext, SegmentResult, SegmentTask
from tests.core.models import OrnsteinUhlenbeck, Scripted, scripted_trajectory

DT = 0.1


def variant_config(n: int, steps: int, variant: str, seed: int, **tams: Any) -> dict[str, Any]:
    return {
        "tams": {"ntrajectories": n, "seed": seed, "variant": variant, **tams},
        "trajectory": {
            "end_time": steps * DT,
            "step_size": DT,
            "target_score": 1.0,
            "min_score": 0.0,
        },
    }


def run_scripts(scripts: list[list[float]], variant: str, seed: int, steps: int) -> Any:
    n = len(scripts)
    store = MemoryStore()
    TAMS(Scripted, variant_config(n, steps, variant, seed, max_iterations=0), store=store).run()
    for slot, script in enumerate(scripts):
        horizon = None if variant == "ams" else steps
        store.write_trajectory(scripted_trajectory(slot, script, lower=0.0, steps=horizon))
    store.write_ensemble([TrajectoryKey(s) for s in range(n)])
    cfg = variant_config(n, steps, variant, seed)
    cfg["database"] = {"resume": True}
    return TAMS(Scripted, cfg, store=store).run(), Database(store)


@pytest.mark.parametrize("variant", ["ams", "hybrid"])
def test_a_clone_that_returns_to_the_start_set_ends_there_unconverged(variant: str) -> None:
    """N = 2. A dies at 0.3 and clones B, which goes back to A (score 0) after 0.6.

    The clone ends at the step where it falls to min_score, unconverged: a tie at 0.6 with B
    kills both (extinction, p = 0) -- or, with B's script ending in the target, p by hand.
    """
    scripts = [
        [0.2, 0.3, 0.1, 0.0],
        [0.2, 0.6, 0.4, 0.0, 0.5, 0.9, 1.0, 1.0, 1.0],  # falls into A at index 3
    ]
    result, db = run_scripts(scripts, variant, seed=1, steps=12)
    first, second = db.iterations[0], None
    assert first.level == 0.3
    clone = db.trajectory(first.clones[0])
    assert clone.scores == [0.2, 0.6, 0.4, 0.0]  # stopped in A, not at the horizon
    assert not clone.converged
    assert clone.end_time == pytest.approx(3 * DT)
    # then the level is 0.6: both (B and its clone) are killed: extinction
    assert result.stop_reason == "extinction"
    assert result.probability == 0.0
    del second


def test_ams_estimator_by_hand() -> None:
    """N = 3, variant ams: p_hat = W_J C / N with the number killed, whatever the horizon.

    A falls into A at once (max 0.2); B rises to 0.5 and falls back; C converges (after the
    horizon T = 0.2, which ams ignores). Parent C for A's clone: W1 = 2/3; then B dies at 0.5:
    W2 = 4/9, three converged: p = 4/9. Parent B: B and its clone tie at 0.5: W = 2/9, p = 2/9.
    """
    scripts = [
        [0.1, 0.2, 0.0],
        [0.1, 0.3, 0.5, 0.4, 0.0],
        [0.1, 0.2, 0.3, 0.4, 0.6, 1.0],
    ]
    seen = set()
    for seed in range(12):
        result, db = run_scripts(scripts, "ams", seed=seed, steps=2)
        first = db.iterations[0]
        assert first.level == 0.2
        parent = first.parents[0].slot
        seen.add(parent)
        expected = 4 / 9 if parent == 2 else 2 / 9
        assert result.probability == pytest.approx(expected, rel=1e-15)
        assert result.converged == 3
        history = result.history()
        assert math.fsum(history.weights.values()) == pytest.approx(1.0, abs=1e-15)
        # C converges at t = 0.5 > T = 0.2: the ams variant has no horizon
        assert all(t.end_time == pytest.approx(5 * DT) for t in history.final)
    assert seen == {1, 2}


def test_hybrid_ends_at_the_horizon_or_in_the_start_set() -> None:
    scripts = [[0.1, 0.2, 0.0], [0.1, 0.3, 0.5, 0.4, 0.0], [0.1, 0.2, 0.3, 0.4, 0.6, 1.0]]
    result, db = run_scripts(scripts, "hybrid", seed=3, steps=3)
    for trajectory in [*db.archived(), *(db.ensemble or [])]:
        assert trajectory.end_time <= 3 * DT + 1e-12
        assert trajectory.converged == (trajectory.max_score >= 1.0)
    assert result.probability == 0.0  # C converges only after the horizon


@pytest.mark.parametrize("variant", ["ams", "hybrid"])
def test_ams_runs_end_to_end(variant: str) -> None:
    cfg: dict[str, Any] = {
        "tams": {"ntrajectories": 30, "seed": 11, "variant": variant},
        "trajectory": {"end_time": 1.5, "step_size": 0.05, "target_score": 1.0, "min_score": -0.2},
        "model": {"barrier": 1.5},
    }
    result = TAMS(OrnsteinUhlenbeck, cfg).run()
    assert result.stop_reason == "target_reached"
    assert 0.0 < result.probability < 1.0
    history = result.history()
    for trajectory in history.all_trajectories().trajectories:
        last = trajectory.scores[-1]
        if trajectory.converged:
            assert last >= 1.0
        elif variant == "ams":
            assert last <= -0.2  # no horizon: only A ends an unconverged path
        else:
            assert last <= -0.2 or trajectory.end_time == pytest.approx(1.5)


# ---------------------------------------------------------------------- Monte Carlo
def mc_config(n: int = 200, seed: int = 2, **tams: Any) -> dict[str, Any]:
    return {
        "tams": {"ntrajectories": n, "seed": seed, "sampler": "montecarlo", **tams},
        "trajectory": {"end_time": 1.0, "step_size": 0.05, "target_score": 1.0},
        "model": {"barrier": 1.5},
    }


def test_wilson_interval_known_values() -> None:
    assert wilson_interval(0, 10)[2:] == pytest.approx((0.0, 0.27753), abs=1e-5)
    assert wilson_interval(5, 10)[2:] == pytest.approx((0.23659, 0.76341), abs=1e-5)
    p, se, low, high = wilson_interval(3, 100)
    assert p == 0.03
    assert se == pytest.approx(math.sqrt(0.03 * 0.97 / 100))
    assert (low, high) == pytest.approx((0.010255, 0.084519), abs=1e-5)
    _, _, low, high = wilson_interval(10, 10)
    assert low == pytest.approx(0.72247, abs=1e-5)
    assert high == 1.0
    with pytest.raises(ValueError, match="n > 0"):
        wilson_interval(0, 0)


class CountingRunner(SerialRunner):
    """A serial runner that counts the tasks it runs."""

    def __init__(self) -> None:
        super().__init__()
        self.tasks: list[SegmentTask] = []

    def run(self, context: RunContext, tasks: Sequence[SegmentTask]) -> Iterator[SegmentResult]:
        self.tasks.extend(tasks)
        yield from super().run(context, tasks)


def test_monte_carlo_runs_independent_trajectories_through_the_runner_and_store() -> None:
    store, runner = MemoryStore(), CountingRunner()
    result = TAMS(OrnsteinUhlenbeck, mc_config(), runner=runner, store=store).run()
    assert [t.key for t in runner.tasks] == [TrajectoryKey(s) for s in range(200)]
    assert all(t.parent is None for t in runner.tasks)
    db = Database(store)
    assert db.iterations == []
    assert len(db.ensemble or []) == 200
    converged = sum(t.converged for t in db.ensemble or [])
    assert result.converged == converged > 0
    assert result.stop_reason == "montecarlo"
    assert (result.iterations, result.kills) == (0, 0)
    expected = wilson_interval(converged, 200)
    assert (result.probability, result.std_error, result.ci_low, result.ci_high) == expected
    assert result.model_steps == sum(t.model_steps for t in db.ensemble or [])
    # the same trajectories as the initial ensemble of a TAMS run with the same seed
    tams_cfg = mc_config()
    tams_cfg["tams"].pop("sampler")
    tams_cfg["tams"]["max_iterations"] = 0
    tams_store = MemoryStore()
    TAMS(OrnsteinUhlenbeck, tams_cfg, store=tams_store).run()
    assert Database(tams_store).ensemble == db.ensemble
    # the curve of a Monte Carlo run is the empirical one, binomial error bars
    _levels, p, se = result.exceedance_curve([0.5, 1.0])
    maxima = [t.max_score for t in db.ensemble or []]
    share = sum(q >= 0.5 for q in maxima) / 200
    assert p[0] == share
    assert se[0] == pytest.approx(math.sqrt(share * (1 - share) / 200), rel=1e-12)
    assert p[1] == result.probability


def test_monte_carlo_resumes_after_its_walltime() -> None:
    whole = TAMS(OrnsteinUhlenbeck, mc_config(n=40)).run()
    store = MemoryStore()
    stopped = TAMS(OrnsteinUhlenbeck, mc_config(n=40, walltime=1e-9), store=store).run()
    assert not stopped.complete
    assert 0 < len(store.trajectory_keys()) < 40
    cfg = mc_config(n=40)
    cfg["database"] = {"resume": True}
    resumed = TAMS(OrnsteinUhlenbeck, cfg, store=store).run()
    assert resumed == whole


def test_monte_carlo_repeats_and_variants() -> None:
    result = TAMS(OrnsteinUhlenbeck, mc_config(n=30, repeats=3)).run()
    assert len(result.repeats) == 3
    assert all(r.stop_reason == "montecarlo" for r in result.repeats)
    cfg = mc_config(n=30, variant="ams")
    cfg["trajectory"]["min_score"] = -0.2
    ams = TAMS(OrnsteinUhlenbeck, cfg).run()
    for trajectory in ams.history().final:
        assert trajectory.converged or trajectory.scores[-1] <= -0.2


# ---------------------------------------------------------------------- configuration
def test_sampler_and_diagnostic_levels_are_checked() -> None:
    with pytest.raises(ConfigError, match="sampler"):
        TAMS(OrnsteinUhlenbeck, mc_config(sampler="brute")).run()
    with pytest.raises(ConfigError, match="diagnostic_levels"):
        TAMS(OrnsteinUhlenbeck, mc_config(diagnostic_levels=["high"])).run()
    cfg = mc_config(n=10, diagnostic_levels=[0.5, 0.2])
    result = TAMS(OrnsteinUhlenbeck, cfg).run()
    assert result.database is not None
    metadata = result.database.metadata or {}
    assert metadata["config"]["tams"]["diagnostic_levels"] == [0.2, 0.5]
    assert [row["level"] for row in metadata["diagnostics"]["levels"]] == [0.2, 0.5]


def test_diagnostic_levels_may_change_on_resume_but_the_sampler_may_not() -> None:
    store = MemoryStore()
    TAMS(OrnsteinUhlenbeck, mc_config(n=10), store=store).run()
    cfg = mc_config(n=10, diagnostic_levels=[0.5])
    cfg["database"] = {"resume": True}
    TAMS(OrnsteinUhlenbeck, cfg, store=store).run()
    cfg["tams"]["sampler"] = "tams"
    with pytest.raises(ConfigError, match="sampler"):
        TAMS(OrnsteinUhlenbeck, cfg, store=store).run()


def test_a_database_made_before_the_sampler_key_existed_resumes() -> None:
    store = MemoryStore()
    cfg = mc_config(n=10)
    cfg["tams"].pop("sampler")
    cfg["tams"]["max_iterations"] = 2
    first = TAMS(OrnsteinUhlenbeck, cfg, store=store).run()
    metadata = store.read_metadata()
    assert metadata is not None
    del metadata["config"]["tams"]["sampler"]  # as an older pytams wrote it
    store.write_metadata(metadata)
    cfg["tams"]["max_iterations"] = 4
    cfg["database"] = {"resume": True}
    resumed = TAMS(OrnsteinUhlenbeck, cfg, store=store).run()
    assert resumed.iterations > first.iterations


def test_ams_clones_replay_past_the_nominal_horizon() -> None:
    """With sparse states a clone replays its parent's noise: past T too, for ams."""
    cfg: dict[str, Any] = {
        "tams": {"ntrajectories": 20, "seed": 3, "variant": "ams"},
        "trajectory": {
            "end_time": 0.2,
            "step_size": 0.05,
            "target_score": 1.0,
            "min_score": -0.3,
            "store_state_every": 3,
        },
        "model": {"barrier": 2.0},
    }
    result = TAMS(OrnsteinUhlenbeck, cfg).run()
    assert result.stop_reason == "target_reached"
