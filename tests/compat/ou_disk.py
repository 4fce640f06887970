"""An OU process whose state lives in files, written in the manner of pyTAMS's examples.

Like pyTAMS's ``DoubleWell2D_disk.py``: every model instance writes its states as ``.npy``
files into its working directory and returns their paths relative to the database
(``workdir.parents[1]``); ``set_current_state`` reads the file back. The score is computed
from the state kept in memory between steps.
"""

from pathlib import Path

import numpy as np

from pytams.fmodel import ForwardModelBaseClass


class OUDisk(ForwardModelBaseClass):
    """dX = -theta X dt + sigma dW from X(0) = 0; score X / barrier."""

    def _init_model(self, m_id, params):
        self._db_path = self._workdir.parents[1]
        if not Path(self._workdir).exists():
            Path(self._workdir).mkdir()
        model = params["model"]
        self._barrier = model.get("barrier", 2.0)
        self._theta = model.get("theta", 1.0)
        self._sigma = model.get("sigma", 1.0)
        if model["deterministic"]:
            self._rng = np.random.default_rng(m_id)
        else:
            self._rng = np.random.default_rng()
        self._x = np.zeros(1)
        self._state = self._save("init_state.npy")

    def _save(self, name):
        path = Path(self._workdir / name)
        np.save(path, self._x)
        return path.relative_to(self._db_path).as_posix()

    def _advance(self, step, time, dt, noise, need_end_state):
        self._x = self._x - self._theta * self._x * dt + self._sigma * np.sqrt(dt) * noise
        if need_end_state:
            self._state = self._save(f"state_{step + 1:06}.npy")
        else:
            self._state = None
        return dt

    def get_current_state(self):
        return self._state

    def set_current_state(self, state):
        self._state = state
        self._x = np.load(Path(self._db_path / self._state))

    def score(self):
        return float(self._x[0] / self._barrier)

    def make_noise(self):
        return self._rng.standard_normal(1)

    @classmethod
    def name(cls):
        return "OUDisk"
