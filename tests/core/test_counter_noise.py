"""The counter noise scheme: Philox4x32-10 right, normals right, both paths bit for bit."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pytest

from pytams.core import TAMS, MemoryStore, SerialRunner
from pytams.core.batch import BatchedModel
from pytams.core.noise import (
    BLOCK,
    CounterStream,
    counter_normals,
    noise_key,
    noise_scheme_for,
    philox4x32,
    stored_scheme,
)
from pytams.core.rng import COUNTER, GENERATOR
from tests.core.models import (
    BatchedOU,
    CounterDoubleWell,
    CounterOU,
    CounterOU3,
    OrnsteinUhlenbeck,
)
from tests.core.test_batch import both_paths, config
from tests.core.test_pinned_results import fingerprint


def words(a: int, b: int, c: int, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    one = [np.array([v], dtype=np.uint64) for v in (a, b, c, d)]
    return one[0], one[1], one[2], one[3]


# Random123's known-answer vectors (kat_vectors, philox4x32 10 rounds): counter, key -> output
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((2**32 - 1,) * 4, (2**32 - 1,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]


@pytest.mark.parametrize(("counter", "key", "expected"), KAT)
def test_philox_known_answers(
    counter: tuple[int, ...], key: tuple[int, int], expected: tuple[int, ...]
) -> None:
    out = philox4x32(*words(*counter), key)
    assert tuple(int(w[0]) for w in out) == expected


def test_philox_equals_randomgen_on_300_counters() -> None:
    """Vectorised, against randomgen 2.3's ``Philox(number=4, width=32)`` bit generator.

    numpy's own ``numpy.random.Philox`` is Philox4x64-10 (4x64-bit counter, 2x64-bit key), a
    different function; randomgen's 4x32 variant, which like numpy increments its counter
    before each block (``random_raw(4)`` at counter c is Philox4x32-10 of c + 1), gave the
    digest below for these cases (computed once, outside the test environment).
    """
    cases = np.random.default_rng(15).integers(0, 2**32, size=(300, 6), dtype=np.uint64)
    cases[0] = 0
    cases[1] = 2**32 - 1  # the counter's + 1 carries through all four words
    counters = [sum(int(row[i]) << (32 * i) for i in range(4)) + 1 for row in cases]
    fields = np.array(
        [[(c >> (32 * i)) & 0xFFFFFFFF for i in range(4)] for c in counters], dtype=np.uint64
    )
    raw = np.empty((300, 4), dtype=np.uint32)
    for key in {(int(row[4]), int(row[5])) for row in cases}:  # one vectorised call per key
        rows = np.flatnonzero((cases[:, 4] == key[0]) & (cases[:, 5] == key[1]))
        block = fields[rows]
        out = philox4x32(block[:, 0], block[:, 1], block[:, 2], block[:, 3], key)
        raw[rows] = np.stack(out, axis=1)
    assert raw[0].tolist() == [4175744164, 1555169499, 2980410603, 159317863]
    digest = hashlib.sha256(raw.tobytes()).hexdigest()
    assert digest == "570be9fa853717334366b44b4164f73a7cd3f3647c23143b0903da5acfac47ab"


def test_normals_have_mean_zero_and_variance_one() -> None:
    """10^6 draws, 4 standard errors: detects a mean off by 0.004 or a variance off by 0.0057.

    The draws are exact normals (Box-Muller); the bounds come from 1/sqrt(n) and sqrt(2/n).
    """
    key = noise_key(123, 0)
    rows = np.arange(1000)
    normals = counter_normals(key, rows, rows % 7, rows * 3, 500, (2,)).ravel()
    assert normals.size == 10**6
    se = 1.0 / np.sqrt(normals.size)
    assert abs(normals.mean()) < 4 * se
    assert abs(normals.var() - 1.0) < 4 * np.sqrt(2.0) * se  # var of the sample variance: 2/n
    assert np.all(np.isfinite(normals))


@pytest.mark.parametrize("shape", [(1,), (3,), (2, 2)])
def test_normals_are_a_pure_function_of_their_place(shape: tuple[int, ...]) -> None:
    key = noise_key(9, 1)
    slots, gens = np.arange(40), np.arange(40) % 3
    first = np.arange(40) * 17
    whole = counter_normals(key, slots, gens, first, 2 * BLOCK, shape)
    assert whole.shape == (40, 2 * BLOCK, *shape)
    assert np.array_equal(whole, counter_normals(key, slots, gens, first, 2 * BLOCK, shape))
    subset = [3, 17, 39]
    part = counter_normals(key, slots[subset], gens[subset], first[subset], 2 * BLOCK, shape)
    assert np.array_equal(part, whole[subset])
    later = counter_normals(key, slots, gens, first + 5, 7, shape)  # other blocks of steps
    assert np.array_equal(later, whole[:, 5:12])
    one = counter_normals(key, slots[8:9], gens[8:9], first[8:9] + 100, 1, shape)
    assert np.array_equal(one[0, 0], whole[8, 100])
    assert not np.array_equal(whole[0], whole[1])  # another slot, other numbers


def test_a_wider_shape_extends_the_narrower_one() -> None:
    key = noise_key(1, 0)
    one = counter_normals(key, np.array([2]), np.array([0]), np.array([1]), 9, (1,))
    three = counter_normals(key, np.array([2]), np.array([0]), np.array([1]), 9, (3,))
    assert np.array_equal(one[..., 0], three[..., 0])


def test_counter_stream_gives_the_steps_in_order() -> None:
    stream = CounterStream(5, 0, 4, 2, 10, (3,))
    drawn = np.stack([stream() for _ in range(BLOCK + 3)])
    key = noise_key(5, 0)
    want = counter_normals(key, np.array([4]), np.array([2]), np.array([11]), BLOCK + 3, (3,))
    assert np.array_equal(drawn, want[0])


def test_a_field_beyond_32_bits_is_refused() -> None:
    key = noise_key(1, 0)
    with pytest.raises(OverflowError, match="step 4294967296 does not fit"):
        counter_normals(key, np.array([0]), np.array([0]), np.array([2**32 - 3]), 4, (1,))
    with pytest.raises(OverflowError, match="slot"):
        counter_normals(key, np.array([2**32]), np.array([0]), np.array([1]), 1, (1,))


def test_the_scheme_of_a_new_run() -> None:
    assert noise_scheme_for(CounterOU) == COUNTER
    assert noise_scheme_for(BatchedOU) == GENERATOR
    assert noise_scheme_for(OrnsteinUhlenbeck) == GENERATOR
    assert stored_scheme({"seed": 1}) == GENERATOR
    assert stored_scheme({"noise": COUNTER}) == COUNTER
    with pytest.raises(ValueError, match="noise scheme 'other'"):
        stored_scheme({"noise": "other"})


class Declared(BatchedModel):
    """A batched model that only declares its noise shape (default noise hooks)."""

    noise_shape = (2, 3)

    def _setup(self, params: dict[str, Any]) -> None:
        self.x = np.zeros((2, 3))

    def _advance_batch(self, states: Any, times: Any, dt: Any, noise: Any) -> np.ndarray:
        return np.asarray(states + noise)

    def _score_batch(self, states: np.ndarray, times: Any) -> np.ndarray:
        return np.asarray(states[:, 0, 0])


def test_default_noise_hooks_of_a_model_with_a_noise_shape() -> None:
    model = Declared({})
    block = model._noise_block(np.random.default_rng(3), 5)
    rng = np.random.default_rng(3)
    assert np.array_equal(block, np.stack([model._make_noise(rng) for _ in range(5)]))
    assert block.shape == (5, 2, 3)


CASES = [
    (CounterOU, {"dim": 1, "barrier": 1.6}),
    (CounterOU3, {"dim": 3, "barrier": 1.4}),
    (CounterDoubleWell, {"epsilon": 0.12}),
]


@pytest.mark.parametrize("k", [1, 10])
@pytest.mark.parametrize(("model", "params"), CASES)
def test_counter_scheme_batched_equals_scalar(
    model: type[Any], params: dict[str, Any], k: int
) -> None:
    scalar, batched, scalar_db, batched_db = both_paths(model, config(k, 7, **params))
    assert batched == scalar
    assert scalar.iterations > 3
    assert (scalar_db.metadata or {})["noise"] == COUNTER
    assert (batched_db.metadata or {})["noise"] == COUNTER
    for one, other in zip(scalar_db.ensemble or [], batched_db.ensemble or [], strict=True):
        assert np.array_equal(np.asarray(one.scores), other.scores)
        assert np.array_equal(np.stack(one.noises[1:]), other.noises[1:])
        assert np.array_equal(np.stack(one.states), other.states)


def test_counter_scheme_changes_the_numbers_and_runs_longer_than_a_block() -> None:
    cfg = config(1, 2, n=10, dim=1, barrier=1.2)
    cfg["trajectory"]["end_time"] = 3.0  # 300 steps, several noise blocks
    scalar, batched, _, _ = both_paths(CounterOU, cfg)
    assert batched == scalar
    assert TAMS(BatchedOU, cfg).run() != batched  # the generator scheme draws other numbers


def test_counter_scheme_ams_variant_and_sparse_states() -> None:
    cfg = config(2, 5, n=20, epsilon=0.15)
    cfg["tams"]["variant"] = "hybrid"
    cfg["trajectory"]["min_score"] = -0.05
    cfg["trajectory"]["store_state_every"] = 3  # clones replay stored noise from a state
    scalar, batched, _, _ = both_paths(CounterDoubleWell, cfg)
    assert batched == scalar
    assert scalar.iterations > 3


PINNED_COUNTER = "5b588cf6afb1e9fa"  # recorded when the counter scheme was introduced


def test_counter_scheme_is_pinned() -> None:
    """A counter-scheme run, bit for bit (a change of the scheme's numbers fails here)."""
    result = TAMS(CounterOU, config(5, 11, dim=1, barrier=1.6)).run()
    assert fingerprint(result) == PINNED_COUNTER


def test_serial_and_asyncio_give_the_same_counter_run() -> None:
    runners = pytest.importorskip("pytams.runners")
    cfg = config(4, 3, n=24, dim=3, barrier=1.4)
    serial = TAMS(CounterOU3, cfg, runner=SerialRunner()).run()
    parallel = TAMS(CounterOU3, cfg, runner=runners.AsyncioRunner(workers=2)).run()
    assert parallel == serial
    assert serial.iterations > 3


def test_a_database_without_the_noise_key_resumes_with_the_generator_scheme(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cfg = config(2, 4, n=20, dim=1, barrier=1.4)
    with monkeypatch.context() as patch:  # the code before the counter scheme
        patch.setattr("pytams.core.tams.noise_scheme_for", lambda cls: GENERATOR)
        uninterrupted = TAMS(CounterOU, cfg).run()
        store = MemoryStore()
        TAMS(CounterOU, {**cfg, "tams": {**cfg["tams"], "max_iterations": 3}}, store=store).run()
    metadata = store.read_metadata()
    assert metadata is not None
    assert metadata.pop("noise") == GENERATOR
    store.write_metadata(metadata)  # as written before the key existed
    resumed = TAMS(CounterOU, {**cfg, "database": {"resume": True}}, store=store).run()
    assert resumed.iterations > 3
    assert fingerprint(resumed) == fingerprint(uninterrupted)
    assert resumed.probability == uninterrupted.probability
    fresh = TAMS(CounterOU, cfg).run()  # a new run of the same model: the counter scheme
    assert fingerprint(fresh) != fingerprint(uninterrupted)
