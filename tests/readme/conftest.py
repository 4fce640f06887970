"""The README's commands run only in `nox -s readme` (PYTAMS_README_TESTS=1)."""

from __future__ import annotations

import os

import pytest

GATE = "PYTAMS_README_TESTS"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    del config
    if os.environ.get(GATE):
        return
    skip = pytest.mark.skip(
        reason=f"installs the workspace in a fresh clone: run by `nox -s readme` ({GATE}=1)"
    )
    for item in items:
        if item.get_closest_marker("readme") is not None:
            item.add_marker(skip)
