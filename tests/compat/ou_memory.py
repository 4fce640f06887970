"""The in-memory twin of ``ou_disk.py``: the same steps and noise, the state an array."""

import numpy as np

from pytams.fmodel import ForwardModelBaseClass


class OUMemory(ForwardModelBaseClass):
    """dX = -theta X dt + sigma dW from X(0) = 0; score X / barrier."""

    def _init_model(self, m_id, params):
        model = params["model"]
        self._barrier = model.get("barrier", 2.0)
        self._theta = model.get("theta", 1.0)
        self._sigma = model.get("sigma", 1.0)
        if model["deterministic"]:
            self._rng = np.random.default_rng(m_id)
        else:
            self._rng = np.random.default_rng()
        self._x = np.zeros(1)

    def _advance(self, step, time, dt, noise, need_end_state):
        self._x = self._x - self._theta * self._x * dt + self._sigma * np.sqrt(dt) * noise
        return dt

    def get_current_state(self):
        return self._x.copy()

    def set_current_state(self, state):
        self._x = np.array(state)

    def score(self):
        return float(self._x[0] / self._barrier)

    def make_noise(self):
        return self._rng.standard_normal(1)

    @classmethod
    def name(cls):
        return "OUMemory"
