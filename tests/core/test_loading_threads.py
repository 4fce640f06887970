"""A model file loaded by many threads at once (the threads of a dask worker, each starting its
first task) gives every thread the class: none sees the module before its body has run."""

from __future__ import annotations

import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pytams.core.loading import load_model_class

SLOW_MODEL = textwrap.dedent(
    """
    import time

    from pytams.core import ForwardModel

    time.sleep(0.3)  # a slow import (numpy, a compiled extension): other threads arrive now


    class SlowToImport(ForwardModel):
        def _setup(self, params):
            self.x = 0.0

        def _advance(self, dt, noise):
            return dt

        def _get_state(self):
            return self.x

        def _set_state(self, state):
            self.x = state

        def _score(self):
            return self.x

        def _make_noise(self, rng):
            return 0.0
    """
)


def test_threads_loading_one_model_file_all_get_the_class(tmp_path: Path) -> None:
    path = tmp_path / "slow_model.py"
    path.write_text(SLOW_MODEL)
    reference = f"{path}:SlowToImport"
    with ThreadPoolExecutor(8) as pool:
        classes = list(pool.map(lambda _: load_model_class(reference), range(8)))
    assert all(cls is classes[0] for cls in classes)
    assert classes[0].__name__ == "SlowToImport"
