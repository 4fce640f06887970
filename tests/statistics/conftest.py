"""The pooled statistical tests run only in `nox -s statistics` (PYTAMS_STATISTICS_TESTS=1)."""

from __future__ import annotations

import pytest

from tests.gates import skip_unless_gated

GATE = "PYTAMS_STATISTICS_TESTS"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    del config
    skip_unless_gated(
        items,
        GATE,
        "statistics",
        "thousands of TAMS runs, about ten minutes on two cores: run by `nox -s statistics`",
    )
