"""Pinned results: the same seed gives the same run, bit for bit, across optimisations.

Each case's fingerprint (probability, levels, weights, model steps, as exact hex floats) was
recorded on main before the speed work of issue 15; a change of the hot path, the driver's
bookkeeping or the pyTAMS adapter that alters a single bit of a run fails here. A deliberate
change of a run's numbers (a new noise scheme) adds a case rather than editing one.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from pytams.core import TAMS, TAMSResult
from tests.core.models import BatchedDoubleWell, BatchedOU, OrnsteinUhlenbeck, VectorOU

COMPAT = Path(__file__).resolve().parents[1] / "compat"


def fingerprint(result: TAMSResult) -> str:
    """A short digest of everything a run decides (exact floats, not rounded)."""
    parts = [
        result.probability.hex(),
        *(level.hex() for level in result.levels),
        *(weight.hex() for weight in result.weights),
        str(result.model_steps),
        str(result.converged),
    ]
    return hashlib.sha256(" ".join(parts).encode()).hexdigest()[:16]


def config(n: int, k: int, seed: int, barrier: float, **tams: Any) -> dict[str, Any]:
    return {
        "tams": {"ntrajectories": n, "kills_per_iteration": k, "seed": seed, **tams},
        "trajectory": {"end_time": 1.0, "step_size": 0.01, "target_score": 1.0},
        "model": {"barrier": barrier},
    }


CASES: dict[str, tuple[Any, dict[str, Any]]] = {
    "scalar-k1": (OrnsteinUhlenbeck, config(40, 1, 11, 2.5)),
    "scalar-k5": (OrnsteinUhlenbeck, config(40, 5, 12, 2.5)),
    "scalar-hybrid": (
        OrnsteinUhlenbeck,
        {
            **config(40, 2, 13, 2.0, variant="hybrid"),
            "trajectory": {
                "end_time": 1.0,
                "step_size": 0.01,
                "target_score": 1.0,
                "min_score": -0.5,
            },
        },
    ),
    "vector-sparse": (
        VectorOU,
        {
            **config(30, 3, 14, 2.0),
            "trajectory": {
                "end_time": 1.0,
                "step_size": 0.01,
                "target_score": 1.0,
                "store_state_every": 4,
            },
        },
    ),
    "batched-k1": (BatchedOU, config(40, 1, 15, 2.0)),
    "batched-k10": (BatchedOU, config(60, 10, 16, 2.2)),
    "batched-dw": (BatchedDoubleWell, config(40, 4, 17, 0.0)),
    "pytams-adapter": (f"{COMPAT / 'ou_memory.py'}:OUMemory", config(30, 2, 18, 2.0)),
}

PINNED: dict[str, str] = {  # recorded on main at ddff4ca (python -m tests.core.test_pinned_results)
    "batched-dw": "ab8669f6b18943a1",
    "batched-k1": "7d1be6394d926648",
    "batched-k10": "94fb92ace579cf25",
    "pytams-adapter": "add4f6a35005666a",
    "scalar-hybrid": "81ab3bafb7353eae",
    "scalar-k1": "d91fbb22b8ee4c75",
    "scalar-k5": "0cf29942c3189479",
    "vector-sparse": "16a76f6df148cc77",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_seed_same_run_as_pinned(name: str) -> None:
    model, cfg = CASES[name]
    assert fingerprint(TAMS(model, cfg).run()) == PINNED[name]


@pytest.mark.parametrize("name", ["batched-k1", "batched-k10", "pytams-adapter", "scalar-k5"])
def test_pinned_runs_on_the_asyncio_runner(name: str) -> None:
    pytest.importorskip("pytams.runners")
    model, cfg = CASES[name]
    cfg = {**cfg, "runner": {"type": "asyncio", "workers": 2}}
    assert fingerprint(TAMS(model, cfg).run()) == PINNED[name]


if __name__ == "__main__":  # prints the table to pin (run on the commit the pins come from)
    for case in sorted(CASES):
        model, cfg = CASES[case]
        print(f'    "{case}": "{fingerprint(TAMS(model, cfg).run())}",')
