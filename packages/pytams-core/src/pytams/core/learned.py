"""A score learned from finished runs: an estimate of the committor q(x, t) (docs/learned-score.md).

Fitting. A finished TAMS run's trajectories, each with its Lestang weight (killed at iteration j:
W_{j-1} / N; final: W_J / N; `pytams.core.curve.RunHistory.all_trajectories`), estimate path
expectations without bias. Every stored snapshot (x_i(t), t) of trajectory i becomes a sample
with the label "trajectory i converged" and the weight of trajectory i; the weighted logistic
log-loss is then an unbiased estimate of E[sum_t loss(q_hat(X_t, t), Y)], minimised by the
committor (Markov property: P(Y = 1 | X_t = x, not converged before t) = q(x, t)). A clone
carries its parent's prefix (copied up to the branch point): the prefix is counted in every
trajectory that holds it, with that trajectory's label, because the weighted ensemble estimates
expectations of *whole* paths; counting a prefix only in the trajectory that first computed it
would give early states the label of a killed ancestor (0) and bias q_hat down there.

Use. ``[trajectory] score = "learned:PATH"`` wraps the model class at load time (`wrap_spec`):
the subclass's score is ``target * min(q_hat, 1 - 1e-9)`` while the model's own convergence test
says no, and exactly ``target`` once it says yes, so a trajectory converges exactly when the
model's own event happens and the run estimates the same probability (TAMS is unbiased for
any score); only the levels, hence the variance, change. For the ams and hybrid variants the
score maps q_hat into (min_score, target) and equals the model's own score at or below
min_score, so the start set is unchanged too.

Only numpy here; scikit-learn style estimators are used through their methods, never imported.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import logging
import math
import os
import pickle
import tempfile
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import NDArray

from pytams.core.errors import ConfigError, StorageError, TAMSError

if TYPE_CHECKING:
    from pytams.core.config import Config
    from pytams.core.curve import RunHistory
    from pytams.core.loading import ModelSpec

_logger = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]

#: the file `fit_learned_score` writes in a database directory by default
FILE_NAME = "learned-score.npz"
FORMAT = "pytams-learned-score"
FORMAT_VERSION = 1
#: the prefix of the ``[trajectory] score`` value that names a learned score
PREFIX = "learned:"
#: the default features take a state of at most this many numbers
MAX_DEFAULT_FEATURES = 64
#: q_hat is capped below 1 so that a learned score never reaches the target by itself
Q_CAP = 1.0 - 1e-9
METHODS = ("logistic", "plugin")

Predict = Callable[[FloatArray], FloatArray]


class LearnedScoreError(TAMSError, ValueError):
    """A learned-score file that cannot be used (missing, wrong format, wrong features)."""


# ---------------------------------------------------------------------------- features
def default_features(states: Any, times: Any, horizon: float) -> FloatArray:
    """The default features of a batch: each state as a flat float vector, then t / T.

    Raises:
        LearnedScoreError: When a state is not a small numeric array (define the model's
            ``score_features``).
    """
    try:
        flat = np.asarray(states, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        msg = (
            "the default features of a learned score need numeric states (the state as a "
            f"flat float vector, then t / T); this model's states are not ({exc}); fix: "
            "define score_features(self) -> sequence of floats on the model "
            "(score_features_batch(self, states, times) on a BatchedModel)"
        )
        raise LearnedScoreError(msg) from exc
    rows = flat.shape[0] if flat.ndim else 1
    flat = flat.reshape(rows, -1)
    if flat.shape[1] > MAX_DEFAULT_FEATURES:
        msg = (
            f"the state has {flat.shape[1]} numbers, more than the {MAX_DEFAULT_FEATURES} the "
            "default features of a learned score take; fix: define score_features(self) -> "
            "a few floats (score_features_batch on a BatchedModel) describing the state"
        )
        raise LearnedScoreError(msg)
    t = np.broadcast_to(np.asarray(times, dtype=np.float64), (rows,)) / horizon
    return np.column_stack([flat, t])


def model_features(model: Any, horizon: float) -> FloatArray:
    """The features (1, F) of a scalar model's current state at its time."""
    hook = getattr(model, "score_features", None)
    if hook is not None:
        return np.asarray(hook(), dtype=np.float64).reshape(1, -1)
    return default_features(np.asarray(model._get_state())[None], model.time, horizon)


def scalar_features(model: Any, horizon: float) -> list[float]:
    """`model_features` as a list of floats, without building arrays where it can."""
    hook = getattr(model, "score_features", None)
    if hook is None:
        state = model._get_state()
        if isinstance(state, (float, int)) and not isinstance(state, bool):
            return [float(state), model.time / horizon]
        small = isinstance(state, np.ndarray) and state.size <= MAX_DEFAULT_FEATURES
        if small and state.dtype == np.float64:
            return [*state.ravel().tolist(), model.time / horizon]
    return model_features(model, horizon)[0].tolist()  # type: ignore[no-any-return]


def batch_features(model: Any, states: Any, times: Any, horizon: float) -> FloatArray:
    """The features (B, F) of a batch of states at their times (a `BatchedModel`)."""
    hook = getattr(model, "score_features_batch", None)
    if hook is not None:
        rows = np.shape(states)[0]
        return np.asarray(hook(states, times), dtype=np.float64).reshape(rows, -1)
    return default_features(states, times, horizon)


# ---------------------------------------------------------------------------- logistic
MAX_DEGREE = 6
#: `LogisticScore.fit` builds its design matrix this many rows at a time, so its memory is
#: the features' and a block's (rows x monomials), not samples x monomials: 4.7 million
#: samples of 3 features at degree 4 took 4.1 GB built whole
FIT_BLOCK_ROWS = 2**15


@functools.cache
def monomials(n_features: int, degree: int) -> tuple[tuple[int, ...], ...]:
    """The polynomial terms up to ``degree``, as feature indices: degree 1 first, then 2, ...

    Within a degree, in lexicographic order (degree 2: ``(0, 0), (0, 1), ..., (1, 1), ...``).
    """
    return tuple(
        term
        for d in range(1, degree + 1)
        for term in itertools.combinations_with_replacement(range(n_features), d)
    )


def _terms(values: Sequence[Any], degree: int) -> list[Any]:
    """Every monomial of ``values`` (feature columns or floats) up to ``degree``.

    Each is its factors multiplied left to right (the product of its first factors, a term
    of a lower degree, times its last): columns and floats give the same bits.
    """
    products: dict[tuple[int, ...], Any] = {}
    for term in monomials(len(values), degree):
        last = values[term[-1]]
        products[term] = last if len(term) == 1 else products[term[:-1]] * last
    return list(products.values())


def _design(x: FloatArray, degree: int) -> FloatArray:
    """Polynomial features of the (standardised) x: every monomial of degree 1 to ``degree``."""
    if degree == 1:
        return x
    return np.column_stack(_terms([x[:, i] for i in range(x.shape[1])], degree))


def _sigmoid(z: FloatArray) -> FloatArray:
    out = np.empty_like(z)
    positive = z >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-z[positive]))
    e = np.exp(z[~positive])
    out[~positive] = e / (1.0 + e)
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class LogisticScore:
    """q_hat(f) = sigmoid(b + c . poly((f - mean) / scale)): weighted logistic regression.

    Attributes:
        mean, scale: The features' weighted mean and standard deviation (standardisation).
        degree: 1 (linear), 2 (and the pairwise products), up to `MAX_DEGREE` (every
            monomial of the features up to that degree).
        coef: The coefficients of the polynomial features; intercept: b.
    """

    mean: FloatArray
    scale: FloatArray
    degree: int
    coef: FloatArray
    intercept: float

    def predict_proba(self, features: FloatArray) -> FloatArray:
        """q_hat of each row of ``features`` (n, F): shape (n,)."""
        x = (np.asarray(features, dtype=np.float64) - self.mean) / self.scale
        design = _design(x, self.degree)
        # a sum one coefficient at a time, not a matrix product: the same bits for a row
        # whatever the batch size (a BLAS product's summation order can change with it)
        z = np.full(design.shape[0], self.intercept)
        for k in range(design.shape[1]):
            z = z + design[:, k] * self.coef[k]
        return _sigmoid(z)

    def one(self, features: Sequence[float]) -> float:
        """q_hat of one feature vector, bit for bit as `predict_proba` gives it.

        The same arithmetic in the same order, on floats: a scalar model's score at every
        step, about 10 times faster than through arrays.
        """
        scaling = zip(features, self.mean.tolist(), self.scale.tolist(), strict=True)
        x = [(f - m) / s for f, m, s in scaling]
        if self.degree != 1:
            x = _terms(x, self.degree)
        z = self.intercept
        for term, c in zip(x, self.coef.tolist(), strict=True):
            z = z + term * c
        if z >= 0:
            return 1.0 / (1.0 + float(np.exp(-z)))
        e = float(np.exp(z))
        return e / (1.0 + e)

    @classmethod
    def fit(
        cls,
        features: FloatArray,
        labels: FloatArray,
        weights: FloatArray,
        *,
        degree: int = 2,
        ridge: float = 1e-4,
        max_iterations: int = 100,
    ) -> LogisticScore:
        """Minimise (sum_i w_i logloss_i) / sum_i w_i + ridge / 2 |c|^2 by damped Newton (IRLS).

        Raises:
            ValueError: For no sample, a non-positive total weight or a bad degree.
        """
        if isinstance(degree, bool) or degree not in range(1, MAX_DEGREE + 1):
            msg = f"degree {degree!r}: the logistic score takes a degree from 1 to {MAX_DEGREE}"
            raise ValueError(msg)
        degree = int(degree)  # also a numpy integer, or 4.0
        f = np.asarray(features, dtype=np.float64)
        y = np.asarray(labels, dtype=np.float64)
        w = np.asarray(weights, dtype=np.float64)
        if f.ndim != 2 or f.shape[0] == 0 or w.sum() <= 0.0:
            msg = "no weighted sample to fit a score on"
            raise ValueError(msg)
        w = w / w.sum()
        mean = w @ f
        scale = np.sqrt(w @ (f - mean) ** 2)
        scale = np.where(scale > 0.0, scale, 1.0)
        standard = np.asfortranarray((f - mean) / scale)  # each feature's column contiguous

        def blocks() -> Iterator[tuple[FloatArray, FloatArray, FloatArray]]:
            """The design matrix, labels and weights, `FIT_BLOCK_ROWS` rows at a time.

            The design matrix: a column of ones, then the monomials (`_design`'s).
            """
            for start in range(0, f.shape[0], FIT_BLOCK_ROWS):
                rows = slice(start, start + FIT_BLOCK_ROWS)
                columns = [standard[rows, i] for i in range(f.shape[1])]
                ones = np.ones(y[rows].shape[0])
                yield np.column_stack([ones, *_terms(columns, degree)]), y[rows], w[rows]

        terms = 1 + len(monomials(f.shape[1], degree))
        penalty = np.full(terms, ridge)
        penalty[0] = 0.0

        def objective(b: FloatArray) -> float:
            value = 0.5 * penalty @ b**2
            for x, y_block, w_block in blocks():
                z = x @ b
                # log(1 + e^z) - y z, computed stably
                value += w_block @ (np.logaddexp(0.0, z) - y_block * z)
            return float(value)

        def newton_step(b: FloatArray) -> FloatArray:
            gradient = penalty * b
            hessian = np.diag(penalty + 1e-12)
            for x, y_block, w_block in blocks():
                p = _sigmoid(x @ b)
                gradient += x.T @ (w_block * (p - y_block))
                hessian += (x * (w_block * p * (1.0 - p))[:, None]).T @ x
            return np.linalg.solve(hessian, gradient)  # type: ignore[return-value]

        beta = np.zeros(terms)
        prior = float(np.clip(w @ y, 1e-12, 1.0 - 1e-12))
        beta[0] = math.log(prior / (1.0 - prior))
        current = objective(beta)
        for _ in range(max_iterations):
            step = newton_step(beta)
            t = 1.0
            while True:  # damped: halve the step until the objective does not rise
                trial = beta - t * step
                value = objective(trial)
                if value <= current or t < 1e-8:
                    break
                t *= 0.5
            beta, previous, current = trial, current, value
            if (
                previous - current < 1e-14 * max(1.0, abs(current))
                and t * np.abs(step).max() < 1e-9
            ):
                break
        return cls(
            mean=mean, scale=scale, degree=degree, coef=beta[1:].copy(), intercept=float(beta[0])
        )

    def arrays(self) -> dict[str, FloatArray]:
        """What a file stores of it."""
        return {
            "mean": self.mean,
            "scale": self.scale,
            "coef": self.coef,
            "intercept": np.array(self.intercept),
        }


def probability_of(estimator: Any) -> Predict:
    """``X -> q`` for a fitted object: ``predict_proba``, else ``predict``.

    ``predict_proba`` may return one column or scikit-learn's two (class 1 last); ``predict``
    must return probabilities.

    Raises:
        TypeError: When the object has neither method.
    """
    proba = getattr(estimator, "predict_proba", None)
    predict = getattr(estimator, "predict", None)
    if proba is None and predict is None:
        msg = (
            f"{type(estimator).__name__} has no predict_proba or predict method: give a fitted "
            "object whose predict_proba(X) returns P(converge) (scikit-learn style) or whose "
            "predict(X) returns probabilities"
        )
        raise TypeError(msg)

    def q(features: FloatArray) -> FloatArray:
        if proba is not None:
            out = np.asarray(proba(features), dtype=np.float64)
            if out.ndim == 2:
                out = out[:, -1]  # scikit-learn: one column per class, class 1 last
        else:
            assert predict is not None
            out = np.asarray(predict(features), dtype=np.float64)
        return np.clip(out.reshape(-1), 0.0, 1.0)

    return q


# ---------------------------------------------------------------------------- the fitted score
@dataclass(frozen=True, slots=True, kw_only=True)
class LearnedScore:
    """A fitted estimate of the committor, as a file holds it.

    Attributes:
        method: ``"logistic"`` (`LogisticScore`) or ``"plugin"`` (a pickled fitted object).
        n_features: How many features it takes.
        estimator: The fitted object (a `LogisticScore`, or the user's).
        info: The rest of the file's record: source databases and their run identity, the
            training set's size, the format.
        path: The file it was read from (None before it is saved); sha256: the file's hash.
    """

    method: str
    n_features: int
    estimator: Any
    info: Mapping[str, Any] = field(default_factory=dict)
    path: Path | None = None
    sha256: str | None = None

    def probability(self, features: Any) -> FloatArray:
        """q_hat of each row of ``features`` (n, n_features).

        Raises:
            LearnedScoreError: When the rows have another number of features.
        """
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            got = x.shape[-1] if x.ndim else 0
            where = self.path if self.path is not None else "the learned score"
            msg = (
                f"{where} was fitted on {self.n_features} features but the model gives {got}; "
                "fix: fit it again from runs of this model (pytams learn-score DB), or make "
                "score_features return the features it was fitted on"
            )
            raise LearnedScoreError(msg)
        return _predictor(self)(x)

    def save(self, path: str | os.PathLike[str]) -> LearnedScore:
        """Write the score to ``path`` (an ``.npz``; atomic); return it with path and hash."""
        target = Path(path)
        meta = {
            **dict(self.info),
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "method": self.method,
            "n_features": self.n_features,
        }
        arrays: dict[str, Any] = {}
        if self.method == "logistic":
            assert isinstance(self.estimator, LogisticScore)
            meta["degree"] = self.estimator.degree
            arrays.update(self.estimator.arrays())
        else:
            blob = pickle.dumps(self.estimator, protocol=pickle.HIGHEST_PROTOCOL)
            arrays["pickle"] = np.frombuffer(blob, dtype=np.uint8)
        arrays["meta"] = np.array(json.dumps(meta, sort_keys=True))
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".npz.tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                np.savez(out, **arrays)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return LearnedScore(
            method=self.method,
            n_features=self.n_features,
            estimator=self.estimator,
            info=meta,
            path=target.resolve(),
            sha256=file_hash(target),
        )


def _predictor(score: LearnedScore) -> Predict:
    if isinstance(score.estimator, LogisticScore):
        return score.estimator.predict_proba
    return probability_of(score.estimator)


def file_hash(path: str | os.PathLike[str]) -> str:
    """The sha256 of a file, hex."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_learned_score(path: str | os.PathLike[str], *, allow_pickle: bool = False) -> LearnedScore:
    """Read a learned score written by `fit_learned_score` or `LearnedScore.save`.

    Args:
        path: The file, or a database directory holding ``learned-score.npz``.
        allow_pickle: Unpickle a plug-in estimator (``method = "plugin"``); unpickling runs
            any code, so only for a file you trust (you wrote it, or know who did).

    Raises:
        LearnedScoreError: When the file is missing, is not a learned score, has another
            format version, or holds a pickle and ``allow_pickle`` is false; each message
            says the fix.
    """
    file = Path(path)
    if file.is_dir():
        file = file / FILE_NAME
    if not file.is_file():
        msg = (
            f"{file}: no such learned-score file; fix: fit one with 'pytams learn-score DB' "
            f"(it writes DB/{FILE_NAME}) or fit_learned_score([...], out=...)"
        )
        raise LearnedScoreError(msg)
    try:
        with np.load(file, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except Exception as exc:
        msg = f"{file} is not a learned-score file (not a readable .npz: {exc}); fit it again"
        raise LearnedScoreError(msg) from exc
    try:
        meta = json.loads(str(arrays["meta"]))
    except (KeyError, ValueError) as exc:
        msg = f"{file} is an .npz but not a learned-score file (no 'meta' record); fit it again"
        raise LearnedScoreError(msg) from exc
    if meta.get("format") != FORMAT:
        msg = f"{file} is not a learned-score file (format {meta.get('format')!r}); fit it again"
        raise LearnedScoreError(msg)
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        msg = (
            f"{file} has learned-score format version {version!r}; this pytams reads version "
            f"{FORMAT_VERSION}: fit it again with this version (pytams learn-score)"
        )
        raise LearnedScoreError(msg)
    method = meta.get("method")
    n_features = int(meta.get("n_features", 0))
    estimator: Any
    if method == "logistic":
        estimator = LogisticScore(
            mean=arrays["mean"],
            scale=arrays["scale"],
            degree=int(meta["degree"]),
            coef=arrays["coef"],
            intercept=float(arrays["intercept"]),
        )
        degree, features = estimator.degree, estimator.mean.size
        if not 1 <= degree <= MAX_DEGREE or estimator.coef.size != len(monomials(features, degree)):
            msg = (
                f"{file}: a damaged logistic score (degree {degree}, "
                f"{estimator.coef.size} coefficients for {features} features; "
                f"degrees 1-{MAX_DEGREE}): fit it again"
            )
            raise LearnedScoreError(msg)
    elif method == "plugin":
        if not allow_pickle:
            msg = (
                f"{file} holds a pickled estimator; unpickling runs any code, so it is read "
                "only when you trust the file: load_learned_score(..., allow_pickle=True) (a "
                "run's [trajectory] score key trusts the file its input names)"
            )
            raise LearnedScoreError(msg)
        _logger.warning("unpickling the estimator of %s (runs code: trusted files only)", file)
        estimator = pickle.loads(arrays["pickle"].tobytes())
    else:
        msg = f"{file}: unknown learned-score method {method!r}; expected one of {METHODS}"
        raise LearnedScoreError(msg)
    return LearnedScore(
        method=str(method),
        n_features=n_features,
        estimator=estimator,
        info=meta,
        path=file.resolve(),
        sha256=file_hash(file),
    )


# ---------------------------------------------------------------------------- training data
@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingSet:
    """Weighted samples from finished runs: features (n, F), labels (n,) and weights (n,).

    Each run's weights sum to 1 over its trajectories (each snapshot carries its trajectory's
    weight); several runs are pooled with equal total weight.
    """

    features: FloatArray
    labels: FloatArray
    weights: FloatArray
    sources: tuple[dict[str, Any], ...]
    trajectories: int


def _open_history(source: Any, allow_pickle: bool) -> tuple[RunHistory, str | None]:
    from pytams.core.curve import RunHistory
    from pytams.core.database import Database

    if isinstance(source, RunHistory):
        return source, None
    if isinstance(source, Database):
        return RunHistory(source), None
    path = Path(source)
    if not path.is_dir():
        msg = f"{path}: no such database directory; give the [database] path of a finished run"
        raise StorageError(msg)
    from pytams.core import plugins

    store_class = plugins.load(
        plugins.STORES, "netcdf", setting="reading a database", what="a database on disk"
    )
    try:
        store = store_class(path, read_only=True, allow_pickle=allow_pickle)
    except TypeError:  # another store: its own defaults
        store = store_class(path)
    return RunHistory(Database(store)), str(path.resolve())


def training_set(
    databases: Iterable[Any],
    *,
    model: type[Any] | str | None = None,
    allow_pickle: bool = False,
) -> TrainingSet:
    """The weighted samples of finished runs (see the module docstring for which snapshots).

    Args:
        databases: Database directories, `Database` or `RunHistory` objects.
        model: The model class (or ``"module:Class"``) whose ``score_features`` give the
            features; default: the one each run records.
        allow_pickle: Read pickled states of a trusted database.

    Raises:
        StorageError: When a database is missing or its run is not finished.
        LearnedScoreError: When the runs give features of different lengths.
    """
    from pytams.core.compat import model_factory
    from pytams.core.loading import load_model_class

    blocks: list[tuple[FloatArray, FloatArray, FloatArray]] = []
    sources: list[dict[str, Any]] = []
    count = 0
    for source in databases:
        history, where = _open_history(source, allow_pickle)
        metadata = history.database.metadata or {}
        config = metadata.get("config", {})
        reference = model if model is not None else metadata.get("model")
        if reference is None:
            msg = f"{where or 'the database'} records no model; pass model=ModelClass"
            raise ConfigError(msg)
        cls = load_model_class(reference) if isinstance(reference, str) else reference
        cls = getattr(cls, "__pytams_base__", cls)
        horizon = history.horizon
        build = model_factory(cls, config.get("model", {}), config)
        instance = build(0, lambda: None)
        from pytams.core.batch import BatchedModel

        batched = isinstance(instance, BatchedModel)
        feats, labels, weights = [], [], []
        for trajectory, weight in history.all_trajectories():
            keep = [i for i in range(len(trajectory)) if trajectory.states[i] is not None]
            if trajectory.converged and keep and keep[-1] == len(trajectory) - 1:
                keep.pop()  # the converged snapshot: its q is 1 by definition, not learned
            if not keep:
                continue
            times = np.asarray([trajectory.times[i] for i in keep], dtype=np.float64)
            if batched:
                states = np.stack([np.asarray(trajectory.states[i]) for i in keep])
                f = batch_features(instance, states, times, horizon)
            elif getattr(instance, "score_features", None) is not None:
                rows = []
                for i, t in zip(keep, times, strict=True):
                    instance.restore(trajectory.states[i], time=float(t), step=i)
                    rows.append(model_features(instance, horizon)[0])
                f = np.asarray(rows)
            else:
                f = default_features([trajectory.states[i] for i in keep], times, horizon)
            feats.append(f)
            labels.append(np.full(len(keep), 1.0 if trajectory.converged else 0.0))
            weights.append(np.full(len(keep), weight))
            count += 1
        instance.close()
        if not feats:
            msg = f"{where or 'the database'}: no stored state to learn from"
            raise StorageError(msg)
        blocks.append((np.vstack(feats), np.concatenate(labels), np.concatenate(weights)))
        sources.append(
            {
                "database": where,
                "model": metadata.get("model"),
                "seed": metadata.get("seed"),
                "repeat": metadata.get("repeat"),
                "ntrajectories": history.n,
                "target_score": history.target,
                "end_time": history.horizon,
                "variant": history.variant,
                "estimate": (metadata.get("outcome") or {}).get("probability"),
            }
        )
    if not blocks:
        msg = "no database given to learn a score from"
        raise ValueError(msg)
    widths = {b[0].shape[1] for b in blocks}
    if len(widths) > 1:
        msg = f"the runs give features of different lengths {sorted(widths)}: fit them apart"
        raise LearnedScoreError(msg)
    # each run's trajectory weights sum to 1: pool the runs with equal total weight
    return TrainingSet(
        features=np.vstack([b[0] for b in blocks]),
        labels=np.concatenate([b[1] for b in blocks]),
        weights=np.concatenate([b[2] for b in blocks]) / len(blocks),
        sources=tuple(sources),
        trajectories=count,
    )


def fit_learned_score(
    databases: Sequence[Any] | Any,
    *,
    out: str | os.PathLike[str] | None = None,
    method: str = "logistic",
    degree: int = 2,
    ridge: float = 1e-4,
    estimator: Any = None,
    model: type[Any] | str | None = None,
    allow_pickle: bool = False,
) -> LearnedScore:
    """Fit q_hat(x, t) from finished runs and save it (docs/learned-score.md).

    Args:
        databases: One or more finished runs: database directories, `Database` or
            `RunHistory` objects.
        out: The file to write; default ``<first database>/learned-score.npz``; an in-memory
            run must give one (or pass ``out=None`` with no directory: nothing is written).
        method: ``"logistic"`` (weighted logistic regression, numpy) or ``"plugin"``.
        degree: For logistic: 1 (linear in the features), 2 (and their pairwise products),
            up to `MAX_DEGREE` (every monomial up to that degree).
        ridge: For logistic: the L2 penalty on the standardised coefficients.
        estimator: For plugin: an unfitted scikit-learn style object, fitted here with
            ``fit(X, y, sample_weight=w)`` (then pickled into the file).
        model: The model class whose features to use (default: the one each run records).
        allow_pickle: Read pickled states of a trusted database.

    Raises:
        ValueError: For an unknown method, or plugin without an estimator.
    """
    sources = [databases] if isinstance(databases, (str, os.PathLike)) else list(databases)
    if method not in METHODS:
        msg = f"method {method!r}: expected one of {METHODS}"
        raise ValueError(msg)
    data = training_set(sources, model=model, allow_pickle=allow_pickle)
    fitted: Any
    if method == "logistic":
        fitted = LogisticScore.fit(
            data.features, data.labels, data.weights, degree=degree, ridge=ridge
        )
    else:
        if estimator is None:
            msg = "method 'plugin' needs estimator=an object with fit(X, y, sample_weight=w)"
            raise ValueError(msg)
        estimator.fit(data.features, data.labels, sample_weight=data.weights)
        probability_of(estimator)  # checks it can predict
        fitted = estimator
    info = {
        "sources": list(data.sources),
        "samples": int(data.labels.size),
        "trajectories": data.trajectories,
        "converged_samples": int(data.labels.sum()),
        "ridge": ridge,
    }
    score = LearnedScore(
        method=method, n_features=data.features.shape[1], estimator=fitted, info=info
    )
    if out is None:
        first = data.sources[0]["database"]
        if first is None:
            return score
        out = Path(first) / FILE_NAME
    return score.save(out)


def save_learned_score(
    estimator: Any,
    path: str | os.PathLike[str],
    *,
    n_features: int,
    info: Mapping[str, Any] | None = None,
) -> LearnedScore:
    """Save the user's own fitted object (``predict_proba`` or ``predict``) as a learned score.

    The object is pickled into the file: picklable by reference (its class importable where
    the run's workers run). Return the saved score.
    """
    probability_of(estimator)
    method = "logistic" if isinstance(estimator, LogisticScore) else "plugin"
    score = LearnedScore(
        method=method, n_features=int(n_features), estimator=estimator, info=dict(info or {})
    )
    return score.save(path)


# ---------------------------------------------------------------------------- use in a run
@dataclass(frozen=True, slots=True)
class ScoreUse:
    """What a run's model wrapper needs: the file, its hash and the run's settings."""

    path: str
    sha256: str
    target: float
    lower: float | None
    horizon: float

    def record(self, method: str) -> dict[str, Any]:
        """The run metadata's ``score`` entry."""
        return {"kind": "learned", "path": self.path, "sha256": self.sha256, "method": method}


def score_path(value: str) -> str:
    """The file of a ``[trajectory] score`` value ``learned:PATH``."""
    return value[len(PREFIX) :]


@cache
def _load_checked(path: str, sha256: str) -> LearnedScore:
    score = load_learned_score(path, allow_pickle=True)
    if score.sha256 != sha256:
        msg = (
            f"the learned score {path} changed since the run started (its sha256 differs): "
            "a run must use one score throughout; restore the file or start a new run"
        )
        raise LearnedScoreError(msg)
    return score


def use_of(config: Config) -> ScoreUse:
    """The learned score a configuration's ``[trajectory] score`` names, checked.

    Raises:
        LearnedScoreError: When the file is missing or unusable.
        ConfigError: When the target score does not allow a learned score.
    """
    trajectory = config.trajectory
    assert trajectory.score is not None
    path = str(Path(score_path(trajectory.score)).expanduser().resolve())
    lower = trajectory.min_score if config.tams.variant != "tams" else None
    if lower is None and trajectory.target_score <= 0.0:
        msg = (
            f"{config.source}: [trajectory] score = {trajectory.score!r} needs target_score > 0 "
            f"(the learned score is target_score * q_hat); got {trajectory.target_score}"
        )
        raise ConfigError(msg)
    try:
        score = load_learned_score(path, allow_pickle=True)
    except LearnedScoreError as exc:
        msg = f"{config.source}: [trajectory] score = {trajectory.score!r}: {exc}"
        raise LearnedScoreError(msg) from exc
    assert score.sha256 is not None
    _load_checked.cache_clear()
    return ScoreUse(
        path=path,
        sha256=score.sha256,
        target=trajectory.target_score,
        lower=lower,
        horizon=trajectory.end_time,
    )


def wrap_spec(spec: ModelSpec, config: Config) -> ModelSpec:
    """The model spec of a run whose ``[trajectory] score`` names a learned score."""
    return with_use(spec, use_of(config))


def with_use(spec: ModelSpec, use: ScoreUse) -> ModelSpec:
    """``spec`` with its class wrapped to score with ``use`` (also in a worker process)."""
    from pytams.core.loading import ModelSpec

    return ModelSpec(learned_model_class(spec.cls, use), spec.reference, use)


def learned_model_class(cls: type[Any], use: ScoreUse) -> type[Any]:
    """A subclass of ``cls`` whose score is the learned one (one class per (cls, use)).

    Raises:
        ConfigError: For a pyTAMS model class (not supported).
    """
    wrapped: type[Any] = _learned_model_class(cast(Hashable, cls), use)
    return wrapped


@cache
def _learned_model_class(cls: Any, use: ScoreUse) -> type[Any]:
    """A subclass of ``cls`` whose score is the learned one (see the module docstring).

    Raises:
        ConfigError: For a pyTAMS model class (not supported).
    """
    from pytams.core.batch import BatchedModel
    from pytams.core.model import ForwardModel

    base = getattr(cls, "__pytams_base__", cls)
    if not issubclass(base, ForwardModel):
        msg = (
            f"a learned score needs a pytams.core.ForwardModel; {base.__qualname__} is a pyTAMS "
            "model class: drop [trajectory] score or port the model to ForwardModel"
        )
        raise ConfigError(msg)
    score = _load_checked(use.path, use.sha256)
    probability = _predictor(score)
    n_features = score.n_features
    target, horizon = use.target, use.horizon
    lower = -math.inf if use.lower is None else use.lower
    top = math.nextafter(target, -math.inf)
    floor = math.nextafter(lower, math.inf)

    def squash(q: FloatArray) -> FloatArray:
        q = np.minimum(np.clip(q, 0.0, 1.0), Q_CAP)
        if use.lower is None:
            return np.minimum(target * q, top)
        values = lower + (target - lower) * q
        return np.clip(values, floor, top)

    logistic = score.estimator if isinstance(score.estimator, LogisticScore) else None

    def checked(features: FloatArray) -> FloatArray:
        if features.shape[1] != n_features:
            return score.probability(features)  # raises the message naming the fix
        return probability(features)

    def squash_one(features: list[float]) -> float:
        """`squash` of the logistic's q, on floats: the same bits (`LogisticScore.one`)."""
        assert logistic is not None
        if len(features) != n_features:
            score.probability(np.array([features]))  # raises the message naming the fix
        q = min(min(max(logistic.one(features), 0.0), 1.0), Q_CAP)
        if use.lower is None:
            return min(target * q, top)
        return min(max(lower + (target - lower) * q, floor), top)

    namespace: dict[str, Any] = {"__pytams_base__": base, "__module__": base.__module__}
    if issubclass(base, BatchedModel):
        own_score, own_converged = base._score_batch, base._converged_batch

        def _score_batch(self: Any, states: Any, times: Any) -> Any:
            own = np.asarray(own_score(self, states, times), dtype=np.float64)
            converged = np.asarray(own_converged(self, own, target), dtype=bool)
            if own.size == 1 and _one_plain_row(self, states):  # one trajectory, on floats
                value = float(own[0])
                if converged[0]:
                    return np.array([target])
                if value <= lower or not math.isfinite(value):
                    return own
                t = float(np.asarray(times, dtype=np.float64).reshape(-1)[0]) / horizon
                return np.array([squash_one([*states.reshape(-1).tolist(), t])])
            q = checked(batch_features(self, states, times, horizon))
            values = squash(q)
            values = np.where(converged, target, values)
            keep_own = ~converged & ((own <= lower) | ~np.isfinite(own))
            return np.where(keep_own, own, values)

        def _one_plain_row(self: Any, states: Any) -> bool:
            """One row of a float array that the default features take, logistic score."""
            return (
                logistic is not None
                and isinstance(states, np.ndarray)
                and states.dtype == np.float64
                and states.shape[0] == 1
                and states.size <= MAX_DEFAULT_FEATURES
                and getattr(self, "score_features_batch", None) is None
            )

        namespace["_score_batch"] = _score_batch
        namespace["_converged_batch"] = BatchedModel._converged_batch
        namespace["_is_converged"] = ForwardModel._is_converged
    else:
        own_scalar, own_test = base._score, base._is_converged

        def _score(self: Any) -> float:
            own = float(own_scalar(self))
            if own_test(self, own, target):
                return target
            if own <= lower or not math.isfinite(own):
                return own
            if logistic is None:
                return float(squash(checked(model_features(self, horizon)))[0])
            return squash_one(scalar_features(self, horizon))

        namespace["_score"] = _score
        namespace["_is_converged"] = ForwardModel._is_converged
    wrapped = type(f"{base.__name__}WithLearnedScore", (base,), namespace)
    wrapped.__qualname__ = f"{base.__qualname__}WithLearnedScore"
    return wrapped


def score_record(use: ScoreUse) -> dict[str, Any]:
    """The run metadata's ``score`` entry: kind, path, sha256 and method of the file."""
    return use.record(_load_checked(use.path, use.sha256).method)
