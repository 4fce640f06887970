"""Framework-owned randomness: every stream is a pure function of the run's seed.

A trajectory segment (slot, generation) of repeat r draws its noise from
``SeedSequence(seed, spawn_key=(r, SEGMENT, slot, generation))``; the parents chosen at
iteration j come from ``SeedSequence(seed, spawn_key=(r, SELECTION, j))``. Nothing depends on
the runner, the number of workers or the order in which tasks finish. Under the ``counter``
noise scheme (`pytams.core.noise`) a segment's noise comes instead from Philox4x32-10 keyed by
``SeedSequence(seed, spawn_key=(r, NOISE))`` at the counter (slot, generation, step, block).
"""

from __future__ import annotations

import numpy as np

SEGMENT = 0
SELECTION = 1
MODEL_ID = 2
NOISE = 3

#: the noise scheme of every run before issue 15: one PCG64 generator per segment
GENERATOR = "generator"
#: standard normals as a pure function of (seed, repeat, slot, generation, step, component),
#: Philox4x32-10 keyed by ``SeedSequence(seed, spawn_key=(repeat, NOISE))``
#: (`pytams.core.noise`); for batched models that declare ``noise_shape``
COUNTER = "counter"


def new_seed() -> int:
    """Return fresh entropy for a run whose configuration gives no seed (recorded in the result)."""
    return int(np.random.SeedSequence().entropy)  # type: ignore[arg-type]


def segment_generator(seed: int, repeat: int, slot: int, generation: int) -> np.random.Generator:
    """The noise stream of one trajectory segment."""
    sequence = np.random.SeedSequence(seed, spawn_key=(repeat, SEGMENT, slot, generation))
    return np.random.Generator(np.random.PCG64(sequence))


def selection_generator(seed: int, repeat: int, iteration: int) -> np.random.Generator:
    """The stream that picks the parents of the clones made at one iteration."""
    sequence = np.random.SeedSequence(seed, spawn_key=(repeat, SELECTION, iteration))
    return np.random.Generator(np.random.PCG64(sequence))


def segment_model_id(seed: int, repeat: int, slot: int, generation: int) -> int:
    """A 63-bit integer unique (in practice) to a segment and changing with the seed.

    Handed to models that seed their own generator, as pyTAMS models do with ``m_id``.
    """
    sequence = np.random.SeedSequence(seed, spawn_key=(repeat, MODEL_ID, slot, generation))
    words = sequence.generate_state(2, np.uint32)
    return (int(words[0]) << 31) ^ int(words[1])
