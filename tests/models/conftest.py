from __future__ import annotations

from pathlib import Path

import pytest

from pytams.models.external import build_executable


@pytest.fixture(scope="session")
def stepper(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The external model's C stepper, compiled once with gcc for the session."""
    return build_executable(tmp_path_factory.mktemp("external-bin"))
