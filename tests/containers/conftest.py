"""End-to-end container tests run only in `nox -s containers` (PYTAMS_CONTAINER_TESTS=1)."""

from __future__ import annotations

import pytest

from tests.gates import skip_unless_gated

GATE = "PYTAMS_CONTAINER_TESTS"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    del config
    skip_unless_gated(
        items, GATE, "containers", "builds Apptainer images: run by `nox -s containers`"
    )
