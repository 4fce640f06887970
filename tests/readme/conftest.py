"""The README's commands run only in `nox -s readme` (PYTAMS_README_TESTS=1)."""

from __future__ import annotations

import pytest

from tests.gates import skip_unless_gated

GATE = "PYTAMS_README_TESTS"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    del config
    skip_unless_gated(
        items, GATE, "readme", "installs the workspace in a fresh clone: run by `nox -s readme`"
    )
