"""A score learned from finished runs (pytams.core.learned, docs/learned-score.md).

The Brownian case: dX = dW from 0, barrier b = 3, T = 1, dt = 0.02, N = 100. Its continuous
committor is q(x, t) = 2 (1 - Phi((b - x) / sqrt(T - t))) = erfc((b - x) / sqrt(2 (T - t))).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytams.core import TAMS
from pytams.core.cli import main
from pytams.core.config import load_config
from pytams.core.curve import RunHistory
from pytams.core.database import Database
from pytams.core.errors import ConfigError
from pytams.core.learned import (
    FILE_NAME,
    LearnedScore,
    LearnedScoreError,
    LogisticScore,
    fit_learned_score,
    learned_model_class,
    load_learned_score,
    monomials,
    save_learned_score,
    training_set,
    use_of,
)
from pytams.core.store import MemoryStore
from tests.core.models import BROWNIAN_FILE, BatchedBrownian, BrownianMotion

BARRIER = 3.0


def brownian_config(seed: int, score: str | None = None, n: int = 100) -> dict[str, Any]:
    trajectory: dict[str, Any] = {"end_time": 1.0, "step_size": 0.02, "target_score": 1.0}
    if score is not None:
        trajectory["score"] = score
    return {
        "tams": {"ntrajectories": n, "seed": seed},
        "trajectory": trajectory,
        "model": {"barrier": BARRIER},
    }


def finished(model: Any, seed: int, score: str | None = None, n: int = 100) -> MemoryStore:
    store = MemoryStore()
    TAMS(model, brownian_config(seed, score, n), store=store).run()
    return store


def committor(x: float, t: float, b: float = BARRIER, horizon: float = 1.0) -> float:
    return math.erfc((b - x) / math.sqrt(2.0 * (horizon - t)))


@pytest.fixture(scope="module")
def batched_fit(tmp_path_factory: pytest.TempPathFactory) -> LearnedScore:
    """Fitted from two runs on the batched path (seeds 1 and 2), saved."""
    out = tmp_path_factory.mktemp("learned") / FILE_NAME
    histories = [RunHistory(Database(finished(BatchedBrownian, seed))) for seed in (1, 2)]
    return fit_learned_score(histories, out=out)


# ------------------------------------------------------------------------------ fitting
def test_logistic_fit_recovers_a_known_logistic_function() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(20_000, 2))
    truth = 1.0 / (1.0 + np.exp(-(0.5 + 2.0 * x[:, 0] - 1.0 * x[:, 1])))
    y = (rng.random(x.shape[0]) < truth).astype(float)
    fit = LogisticScore.fit(x, y, np.ones(x.shape[0]), degree=1, ridge=0.0)
    grid = rng.normal(size=(200, 2))
    expected = 1.0 / (1.0 + np.exp(-(0.5 + 2.0 * grid[:, 0] - grid[:, 1])))
    # 20,000 samples: coefficient errors ~0.03, so probabilities within ~0.02
    assert np.max(np.abs(fit.predict_proba(grid) - expected)) < 0.05
    with_squares = LogisticScore.fit(x, y, np.ones(x.shape[0]), degree=2)
    assert np.max(np.abs(with_squares.predict_proba(grid) - expected)) < 0.06


def test_a_higher_degree_follows_a_logit_a_quadratic_cannot() -> None:
    """logit q = x^3 - 2 x y (standard normal features): degree 3 recovers it, degree 2 cannot."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(40_000, 2))

    def truth(f: np.ndarray) -> np.ndarray:
        q: np.ndarray = 1.0 / (1.0 + np.exp(-(f[:, 0] ** 3 - 2.0 * f[:, 0] * f[:, 1])))
        return q

    y = (rng.random(x.shape[0]) < truth(x)).astype(float)
    grid = rng.normal(size=(500, 2)) * 0.8
    errors = {
        degree: np.max(
            np.abs(
                LogisticScore.fit(x, y, np.ones(x.shape[0]), degree=degree).predict_proba(grid)
                - truth(grid)
            )
        )
        for degree in (2, 3, 4)
    }
    # 40,000 samples: a well-specified fit is within 0.008 (degree 3) and 0.016 (degree 4) of
    # q on this grid (measured); a quadratic logit is off by 0.68
    assert errors[3] < 0.04
    assert errors[4] < 0.05
    assert errors[2] > 0.25  # a quadratic logit misses the cubic term by far
    assert [len(monomials(2, d)) for d in (1, 2, 3, 4)] == [2, 5, 9, 14]
    for bad in (0, 7, 2.5, True):
        with pytest.raises(ValueError, match="degree from 1 to 6"):
            LogisticScore.fit(x, y, np.ones(x.shape[0]), degree=bad)  # type: ignore[arg-type]
    assert LogisticScore.fit(x, y, np.ones(x.shape[0]), degree=np.int64(3)).degree == 3


def test_the_fit_builds_its_design_a_block_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """`FIT_BLOCK_ROWS` rows of monomials at a time: blocks that do not divide the samples give
    the fit of one block (every row counted once), and the fit's memory is the features' and
    a block's, below half of the design matrix that the whole fit would build (and copy)."""
    import tracemalloc

    from pytams.core import learned

    rng = np.random.default_rng(11)
    x = rng.normal(size=(100_000, 3))
    truth = 1.0 / (1.0 + np.exp(-(x[:, 0] ** 3 - x[:, 1] * x[:, 2] - 1.0)))
    y = (rng.random(x.shape[0]) < truth).astype(float)
    weights = rng.random((x.shape[0],))
    monkeypatch.setattr(learned, "FIT_BLOCK_ROWS", 4_099)
    tracemalloc.start()
    try:
        blocked = LogisticScore.fit(x, y, weights, degree=4)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    terms = 1 + len(monomials(3, 4))
    design = x.shape[0] * terms * 8  # 28 MB
    # the features, their standardised copy and temporaries (6 x 2.4 MB), and a block's
    # design matrix with its weighted copy and temporaries (4 x 1.1 MB): 19 MB
    bound = 6 * x.nbytes + 4 * learned.FIT_BLOCK_ROWS * terms * 8
    assert peak < bound < design / 1.4
    monkeypatch.setattr(learned, "FIT_BLOCK_ROWS", x.shape[0])
    whole = LogisticScore.fit(x, y, weights, degree=4)
    assert blocked.intercept == pytest.approx(whole.intercept, abs=1e-9)
    np.testing.assert_allclose(blocked.coef, whole.coef, rtol=0.0, atol=1e-9)
    part = LogisticScore.fit(x[:-1], y[:-1], weights[:-1], degree=4)  # one row less
    assert np.abs(part.coef - whole.coef).max() > 1e-7


def test_weights_give_the_weighted_answer() -> None:
    # a constant feature: q_hat is the weighted mean of the labels, not the plain one
    features = np.zeros((4, 1))
    labels = np.array([1.0, 0.0, 0.0, 0.0])
    weights = np.array([3.0, 1.0, 1.0, 1.0])
    fit = LogisticScore.fit(features, labels, weights, degree=1)
    assert fit.predict_proba(np.zeros((1, 1)))[0] == pytest.approx(0.5, abs=1e-9)
    no_feature = LogisticScore.fit(np.zeros((4, 0)), labels, weights, degree=1)  # intercept
    assert no_feature.predict_proba(np.zeros((1, 0)))[0] == pytest.approx(0.5, abs=1e-9)
    # integer weights are duplicated samples
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 1))
    y = (rng.random(300) < 1.0 / (1.0 + np.exp(-2.0 * x[:, 0]))).astype(float)
    w = rng.integers(1, 4, size=300).astype(float)
    weighted = LogisticScore.fit(x, y, w, degree=2)
    repeated = LogisticScore.fit(
        np.repeat(x, w.astype(int), 0), np.repeat(y, w.astype(int)), np.ones(int(w.sum())), degree=2
    )
    grid = np.linspace(-2, 2, 9)[:, None]
    assert weighted.predict_proba(grid) == pytest.approx(repeated.predict_proba(grid), abs=1e-6)


# ------------------------------------------------------------------------------ the file
class ThresholdEstimator:
    """A user's own fitted object: predict_proba in the scikit-learn layout."""

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        q = np.clip(np.asarray(x)[:, 0] / 10.0, 0.0, 1.0)
        return np.column_stack([1.0 - q, q])


def test_save_and_load_round_trip(batched_fit: LearnedScore, tmp_path: Path) -> None:
    loaded = load_learned_score(batched_fit.path or "")
    grid = np.array([[1.0, 0.5], [2.0, 0.5], [0.0, 0.0]])
    assert loaded.probability(grid) == pytest.approx(batched_fit.probability(grid), rel=1e-12)
    assert loaded.method == "logistic"
    assert loaded.n_features == 2
    assert loaded.sha256 == batched_fit.sha256
    sources = loaded.info["sources"]
    assert [s["seed"] for s in sources] == [1, 2]
    assert {s["ntrajectories"] for s in sources} == {100}
    assert {s["target_score"] for s in sources} == {1.0}
    # a directory means its learned-score.npz
    assert load_learned_score(Path(batched_fit.path or "").parent).sha256 == loaded.sha256
    # the user's own object, pickled: read only when trusted
    own = save_learned_score(ThresholdEstimator(), tmp_path / "own.npz", n_features=2)
    with pytest.raises(LearnedScoreError, match="allow_pickle=True"):
        load_learned_score(own.path or "")
    trusted = load_learned_score(own.path or "", allow_pickle=True)
    assert trusted.probability(np.array([[5.0, 0.0]]))[0] == pytest.approx(0.5)


def test_clear_errors_for_unusable_files(batched_fit: LearnedScore, tmp_path: Path) -> None:
    with pytest.raises(LearnedScoreError, match=r"no such learned-score file.*learn-score"):
        load_learned_score(tmp_path / "absent.npz")
    text = tmp_path / "text.npz"
    text.write_text("not a score")
    with pytest.raises(LearnedScoreError, match="not a learned-score file"):
        load_learned_score(text)
    other = tmp_path / "other.npz"
    np.savez(other, a=np.zeros(3))
    with pytest.raises(LearnedScoreError, match="no 'meta' record"):
        load_learned_score(other)
    with np.load(batched_fit.path or "") as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["meta"]))
    arrays["meta"] = np.array(json.dumps({**meta, "format_version": 99}))
    future = tmp_path / "future.npz"
    np.savez(future, **arrays)
    with pytest.raises(LearnedScoreError, match=r"format version 99.*fit it again"):
        load_learned_score(future)
    arrays["meta"] = np.array(json.dumps({**meta, "degree": 3}))  # 5 coefficients, not 9
    damaged = tmp_path / "damaged.npz"
    np.savez(damaged, **arrays)
    with pytest.raises(LearnedScoreError, match=r"damaged logistic score \(degree 3, 5 coef"):
        load_learned_score(damaged)
    with pytest.raises(LearnedScoreError, match=r"fitted on 2 features but the model gives 3"):
        batched_fit.probability(np.zeros((1, 3)))


# ------------------------------------------------------------------------------ Brownian
#: where the weighted runs put their samples (x below b, t inside (0, T)); far from the
#: visited states (e.g. x = 2 at t = 0) a degree-2 fit says nothing reliable, and closer to T
#: logit q bends more than a quadratic can (at (2.0, 0.7): q_hat 0.032 against q 0.068)
POINTS = [(1.0, 0.5), (1.5, 0.3), (2.0, 0.5), (2.5, 0.5), (2.5, 0.3)]


def test_learned_committor_of_brownian_motion(batched_fit: LearnedScore) -> None:
    """q_hat from two runs (N = 100) within a factor 2 of the continuous committor.

    The factor: the Euler chain monitored every dt = 0.02 has a smaller committor than the
    continuous process (the barrier is effectively shifted by 0.5826 sqrt(dt) = 0.082:
    20-35% lower at these points); a degree-2 logistic function in (x, t / T) cannot follow
    logit q, which diverges as t -> T (misfit measured 10-40% here); and two runs of N = 100
    (relative error of p_hat about 0.4 each) pin the scale to ~30%. Together, up to a
    factor 2 (|ln(q_hat / q)| < ln 2); a score off by more is not an estimate of q.
    """
    for x, t in POINTS:
        q_hat = float(batched_fit.probability(np.array([[x, t]]))[0])
        assert abs(math.log(q_hat / committor(x, t))) < math.log(2.0), (x, t, q_hat)


def test_fit_on_the_scalar_path_from_one_run(tmp_path: Path) -> None:
    """One run is noisier than two (its q_hat at (1, 0.5) was 3.3x q): check the shape only."""
    history = RunHistory(Database(finished(BrownianMotion, 3)))
    data = training_set([history])
    assert data.features.shape[1] == 2  # x and t / T
    assert data.trajectories == len(history.weights)
    assert set(np.unique(data.labels)) == {0.0, 1.0}
    score = fit_learned_score([history], out=tmp_path / "s.npz")
    q = score.probability(np.array([[x, 0.5] for x in (0.0, 1.0, 2.0, 2.5)]))
    assert np.all(np.diff(q) > 0.0)


# ------------------------------------------------------------------------------ use
def converged_iff_barrier(store: MemoryStore) -> None:
    """Every final trajectory converged exactly when its state reached the barrier."""
    database = Database(store)
    ensemble = database.ensemble
    assert ensemble is not None
    for trajectory in ensemble:
        states = np.asarray([np.asarray(s, dtype=float).ravel()[0] for s in trajectory.states])
        reached = bool(states.max() >= BARRIER)
        assert trajectory.converged == reached
        scores = np.asarray(trajectory.scores, dtype=float)
        if trajectory.converged:
            assert scores[-1] == 1.0
            assert scores[:-1].max() < 1.0
        else:
            assert scores.max() < 1.0


@pytest.mark.parametrize("model", [BatchedBrownian, BrownianMotion], ids=["batched", "scalar"])
def test_a_run_with_the_learned_score_keeps_the_event(
    batched_fit: LearnedScore, model: Any
) -> None:
    score = f"learned:{batched_fit.path}"
    store = finished(model, 11, score, n=50)
    converged_iff_barrier(store)
    metadata = store.read_metadata()
    assert metadata is not None
    assert metadata["score"] == {
        "kind": "learned",
        "path": str(batched_fit.path),
        "sha256": batched_fit.sha256,
        "method": "logistic",
    }
    assert metadata["config"]["trajectory"]["score"] == score
    plain = MemoryStore()
    TAMS(model, brownian_config(11, None, n=50), store=plain).run()
    assert "score" not in (plain.read_metadata() or {})


def test_the_wrapper_scores_target_exactly_at_the_event(batched_fit: LearnedScore) -> None:
    config = load_config(brownian_config(1, f"learned:{batched_fit.path}"))
    use = use_of(config)
    scalar = learned_model_class(BrownianMotion, use)({"barrier": BARRIER})
    for x, expected_at_target in [(2.99, False), (3.0, True), (3.5, True), (-1.0, False)]:
        scalar.restore(x, time=0.5, step=25)
        value = scalar.score()
        assert (value == 1.0) is expected_at_target
        assert value <= 1.0
    batched = learned_model_class(BatchedBrownian, use)({"barrier": BARRIER})
    states = np.array([[2.99], [3.0], [3.5], [-1.0]])
    values = batched._score_batch(states, np.full(4, 0.5))
    assert list(values == 1.0) == [False, True, True, False]
    q = batched_fit.probability(np.array([[2.99, 0.5], [-1.0, 0.5]]))
    assert values[[0, 3]] == pytest.approx(q, rel=1e-12)


def test_one_trajectory_scores_as_in_a_batch(batched_fit: LearnedScore) -> None:
    """A batched model's one-row call (every step at k = 1) takes a float path: the same bits."""
    config = load_config(brownian_config(1, f"learned:{batched_fit.path}"))
    batched = learned_model_class(BatchedBrownian, use_of(config))({"barrier": BARRIER})
    rng = np.random.default_rng(3)
    states = np.concatenate([rng.normal(1.0, 1.5, size=(300, 1)), [[3.0], [3.5], [2.999]]])
    times = rng.uniform(0.0, 1.0, size=(states.shape[0],))
    batch = batched._score_batch(states, times)
    alone = [batched._score_batch(states[i : i + 1], times[i : i + 1]) for i in range(len(times))]
    assert np.concatenate(alone).tobytes() == batch.tobytes()
    assert batched._score_batch(states[:1], float(times[0])).tobytes() == batch[:1].tobytes()
    assert list(batch[-3:] == 1.0) == [True, True, False]


@pytest.mark.parametrize("degree", [1, 2, 3, 4])
def test_one_feature_vector_scores_bit_for_bit_as_a_batch(degree: int) -> None:
    """`LogisticScore.one` (a scalar model's score at every step) is `predict_proba`'s
    arithmetic on floats: the same bits, on features spread over 40 orders of magnitude of q."""
    rng = np.random.default_rng(degree)
    n = len(monomials(3, degree))  # 3 features: 3, 9, 19, 34 terms
    logistic = LogisticScore(
        mean=rng.normal(size=3),
        scale=rng.uniform(0.1, 3.0, size=3),
        degree=degree,
        coef=rng.normal(scale=4.0, size=n),
        intercept=float(rng.normal()),
    )
    features = rng.normal(scale=5.0, size=(2_000, 3))
    batch = logistic.predict_proba(features)
    one = np.array([logistic.one(row.tolist()) for row in features])
    assert one.tobytes() == batch.tobytes()
    assert batch.min() < 1e-20  # both branches of the sigmoid
    assert batch.max() > 1 - 1e-12


def test_the_scalar_wrapper_gives_the_array_score(batched_fit: LearnedScore) -> None:
    config = load_config(brownian_config(1, f"learned:{batched_fit.path}"))
    model = learned_model_class(BrownianMotion, use_of(config))({"barrier": BARRIER})
    for x, t in [(0.3, 0.1), (-1.0, 0.5), (2.5, 0.9), (2.999, 0.02)]:
        model.restore(x, time=t, step=round(t / 0.02))
        q = batched_fit.probability(np.array([[x, t]]))[0]
        assert model.score() == min(min(q, 1.0 - 1e-9), math.nextafter(1.0, 0.0))


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "scalar"])
def test_the_asyncio_runner_gives_the_serial_run(batched_fit: LearnedScore, batched: bool) -> None:
    runners = pytest.importorskip("pytams.runners")
    model: Any = BatchedBrownian if batched else f"{BROWNIAN_FILE}:BrownianMotion"
    config = brownian_config(5, f"learned:{batched_fit.path}", n=30)
    serial = MemoryStore()
    result = TAMS(model, config, store=serial).run()
    parallel = MemoryStore()
    runner = runners.AsyncioRunner(workers=2)
    assert TAMS(model, config, store=parallel, runner=runner).run() == result
    converged_iff_barrier(parallel)


# ------------------------------------------------------------------------------ the key
def test_the_key_is_relative_to_the_input_file_and_checked(
    batched_fit: LearnedScore, tmp_path: Path
) -> None:
    folder = tmp_path / "case"
    folder.mkdir()
    (folder / "q.npz").write_bytes(Path(batched_fit.path or "").read_bytes())
    (folder / "input.toml").write_text(
        "[tams]\nntrajectories = 10\n[trajectory]\nend_time = 1.0\nstep_size = 0.02\n"
        'target_score = 1.0\nscore = "learned:q.npz"\n'
    )
    config = load_config(folder / "input.toml")
    assert config.trajectory.score == f"learned:{(folder / 'q.npz').resolve()}"
    with pytest.raises(ConfigError, match=r"score.*learned:PATH"):
        load_config(
            {
                **brownian_config(1),
                "trajectory": {
                    "end_time": 1.0,
                    "step_size": 0.02,
                    "target_score": 1.0,
                    "score": "q.npz",
                },
            }
        )
    with pytest.raises(LearnedScoreError, match="no such learned-score file"):
        TAMS(BatchedBrownian, brownian_config(1, f"learned:{tmp_path / 'absent.npz'}"))


def test_learn_score_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("pytams.io")
    database = tmp_path / "run.tams"
    config = {**brownian_config(2, n=40), "database": {"path": str(database)}}
    TAMS(BatchedBrownian, config).run()
    assert main(["learn-score", str(database), "--degree", "1"]) == 0
    assert f"learned:{database / FILE_NAME}" in capsys.readouterr().out
    score = load_learned_score(database)
    assert score.info["degree"] == 1
    assert score.info["sources"][0]["database"] == str(database.resolve())
