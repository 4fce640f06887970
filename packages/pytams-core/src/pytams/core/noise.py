"""The ``counter`` noise scheme: standard normals as a pure function of where they are used.

Under the ``counter`` scheme the standard-normal noise of step ``s`` (the model's step count
after the step: 1, 2, ... along the whole trajectory) of the segment (slot, generation) of
repeat ``r`` is a pure function of (seed, r, slot, generation, s, component). It is computed
vectorised over many rows and steps in one numpy call, so a batched model's noise costs about
as much as one generator's for the whole batch, and any subset of rows or steps gives the same
values as the whole: the batched and the scalar path agree bit for bit whatever their blocks.

- The bits: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
  SC11; the Random123 reference, as in randomgen's ``Philox(number=4, width=32)``), in numpy
  uint64 arithmetic over arrays of counters. The 2x32-bit key is derived once per run from
  ``SeedSequence(seed, spawn_key=(repeat, NOISE)).generate_state(2, np.uint32)``; the
  4x32-bit counter is (slot, generation, step, component block).
- The normals: the 4 output words are 2 uniform doubles ``(m + 0.5) / 2**53`` in (0, 1)
  (``m`` the top 53 bits of the words (0, 1), then (2, 3)), never 0 or 1, and Box-Muller turns
  them into 2 exact standard normals: ``sqrt(-2 ln u1) cos(2 pi u2 - pi)`` and ``...
  sin(2 pi u2 - pi)`` (the angle centred on 0, where numpy's cos is fastest).
  Component ``c`` of a step is normal ``c % 2`` of block ``c // 2``.

The values are reproducible bit for bit on one platform; numpy's ``log``, ``cos`` and ``sin``
may round differently on another CPU or numpy build (as any libm).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np

from pytams.core.errors import ModelError
from pytams.core.rng import COUNTER, GENERATOR, NOISE

NOISE_SCHEMES = (GENERATOR, COUNTER)
BLOCK = 64  # steps the scalar path computes at once (the values do not depend on it)

_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = 0x9E3779B9, 0xBB67AE85
_LOW = np.uint64(0xFFFFFFFF)
_32, _11 = np.uint64(32), np.uint64(11)
_WORD = 1 << 32
_TWO_PI = 2.0 * math.pi


def noise_scheme_for(model_cls: type[Any]) -> str:
    """The noise scheme of a new run of ``model_cls``.

    ``counter`` for a `pytams.core.batch.BatchedModel` that declares ``noise_shape``;
    ``generator`` (one generator per segment, as before) for every other model.
    """
    from pytams.core.batch import BatchedModel  # here: batch imports segment, which imports us

    if issubclass(model_cls, BatchedModel) and model_cls.noise_shape is not None:
        return COUNTER
    return GENERATOR


def declared_shape(model: Any) -> tuple[int, ...]:
    """The ``noise_shape`` a model under the counter scheme declares.

    Raises:
        ModelError: When it declares none (the run was made with a model that did).
    """
    shape = getattr(model, "noise_shape", None)
    if shape is None:
        msg = (
            f"the run uses the counter noise scheme, and {type(model).__name__} declares no "
            "noise_shape: restore it or start a new database"
        )
        raise ModelError(msg)
    return tuple(shape)


def stored_scheme(metadata: Mapping[str, Any] | None) -> str:
    """The noise scheme a database records (``generator`` when made before the key existed)."""
    scheme = (metadata or {}).get("noise", GENERATOR)
    if scheme not in NOISE_SCHEMES:
        msg = f"the database's noise scheme {scheme!r} is not one of {NOISE_SCHEMES}"
        raise ValueError(msg)
    return str(scheme)


@lru_cache(maxsize=32)
def noise_key(seed: int, repeat: int) -> tuple[int, int]:
    """The run's 2x32-bit Philox key."""
    words = np.random.SeedSequence(seed, spawn_key=(repeat, NOISE)).generate_state(2, np.uint32)
    return int(words[0]), int(words[1])


def philox4x32(
    c0: np.ndarray, c1: np.ndarray, c2: np.ndarray, c3: np.ndarray, key: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Philox4x32-10 of the counters (c0, c1, c2, c3) (uint64 arrays of 32-bit values).

    The arrays broadcast together; returns the 4 output words (uint64 arrays, values < 2**32).
    """
    shape = np.broadcast_shapes(c0.shape, c1.shape, c2.shape, c3.shape)
    # contiguous working copies, updated in place: no allocation in the rounds
    x0, x1, x2, x3 = (np.array(np.broadcast_to(c, shape), np.uint64) for c in (c0, c1, c2, c3))
    p0 = np.empty(shape, np.uint64)
    p1 = np.empty(shape, np.uint64)
    k0, k1 = key
    for round_ in range(10):
        if round_:
            k0, k1 = (k0 + _W0) % _WORD, (k1 + _W1) % _WORD
        np.multiply(x0, _M0, out=p0)  # < 2**64: the exact product of two 32-bit words
        np.multiply(x2, _M1, out=p1)
        np.right_shift(p1, _32, out=x0)  # x0 = hi(M1 x2) ^ x1 ^ k0
        x0 ^= x1
        x0 ^= np.uint64(k0)
        np.bitwise_and(p1, _LOW, out=x1)  # x1 = lo(M1 x2)
        np.right_shift(p0, _32, out=x2)  # x2 = hi(M0 x0) ^ x3 ^ k1
        x2 ^= x3
        x2 ^= np.uint64(k1)
        np.bitwise_and(p0, _LOW, out=x3)  # x3 = lo(M0 x0)
    return x0, x1, x2, x3


def _check(name: str, values: np.ndarray) -> None:
    if values.size and (int(values.min()) < 0 or int(values.max()) >= _WORD):
        msg = (
            f"counter noise: the {name} {int(values.max())} does not fit the 32 bits of its "
            "Philox counter word (at most 4294967295)"
        )
        raise OverflowError(msg)


def counter_normals(
    key: tuple[int, int],
    slots: np.ndarray,
    generations: np.ndarray,
    first_steps: np.ndarray,
    steps: int,
    shape: tuple[int, ...],
) -> np.ndarray:
    """The noise of ``steps`` steps of each row: (rows, steps, *shape) standard normals.

    Row ``i`` is the segment (slots[i], generations[i]); its step ``j`` is model step
    ``first_steps[i] + j`` (the step count after the step).

    Raises:
        OverflowError: When a slot, generation, step or block does not fit 32 bits.
    """
    size = math.prod(shape)
    blocks = (size + 1) // 2
    slot = np.asarray(slots, np.int64).reshape(-1, 1, 1)
    generation = np.asarray(generations, np.int64).reshape(-1, 1, 1)
    first = np.asarray(first_steps, np.int64).reshape(-1, 1, 1)
    step = first + np.arange(steps, dtype=np.int64).reshape(1, -1, 1)
    _check("slot", slot)
    _check("generation", generation)
    _check("step", step)
    _check("component block", np.array([blocks - 1]))
    block = np.arange(blocks, dtype=np.uint64).reshape(1, 1, -1)
    w0, w1, w2, w3 = philox4x32(
        slot.astype(np.uint64),
        generation.astype(np.uint64),
        step.astype(np.uint64),
        block,
        key,
    )
    u1 = ((w0 << _32) | w1) >> _11
    u2 = ((w2 << _32) | w3) >> _11
    radius = np.sqrt(-2.0 * np.log((u1.astype(np.float64) + 0.5) * 2.0**-53))
    angle = _TWO_PI * ((u2.astype(np.float64) + 0.5) * 2.0**-53) - math.pi  # in (-pi, pi)
    out = np.empty((*radius.shape, 2))
    out[..., 0] = radius * np.cos(angle)
    pairs = size // 2  # the blocks whose second normal is used
    if pairs == blocks:
        out[..., 1] = radius * np.sin(angle)
    elif pairs:
        out[..., :pairs, 1] = radius[..., :pairs] * np.sin(angle[..., :pairs])
    flat = out.reshape(out.shape[0], steps, 2 * blocks)
    if 2 * blocks != size:
        flat = flat[..., :size]
    return flat.reshape(out.shape[0], steps, *shape)


class CounterStream:
    """The fresh noise of one segment from model step ``step`` on: each call, the next step's.

    Computes `BLOCK` steps at a time; the values are those of `counter_normals`.
    """

    def __init__(
        self, seed: int, repeat: int, slot: int, generation: int, step: int, shape: tuple[int, ...]
    ) -> None:
        self.key = noise_key(seed, repeat)
        self.slot, self.generation = np.array([slot]), np.array([generation])
        self.shape = shape
        self.first = step + 1  # the step of the next block's first noise
        self.block = np.empty((0, *shape))
        self.index = 0

    def __call__(self) -> np.ndarray:
        """The next step's noise."""
        if self.index == len(self.block):
            first = np.array([self.first])
            self.block = counter_normals(
                self.key, self.slot, self.generation, first, BLOCK, self.shape
            )[0]
            self.first += BLOCK
            self.index = 0
        self.index += 1
        noise: np.ndarray = self.block[self.index - 1]
        return noise
