"""End-to-end container tests run only in `nox -s containers` (PYTAMS_CONTAINER_TESTS=1)."""

from __future__ import annotations

import os

import pytest

GATE = "PYTAMS_CONTAINER_TESTS"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    del config
    if os.environ.get(GATE):
        return
    skip = pytest.mark.skip(
        reason=f"builds Apptainer images: run by `nox -s containers` ({GATE}=1)"
    )
    for item in items:
        if item.get_closest_marker("containers") is not None:
            item.add_marker(skip)
