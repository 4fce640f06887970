"""Tests that only a dedicated nox session runs, gated by an environment variable."""

from __future__ import annotations

import os

import pytest


def skip_unless_gated(items: list[pytest.Item], gate: str, marker: str, what: str) -> None:
    """Skip the items marked ``marker`` unless the environment sets ``gate``.

    Args:
        items: The collected items (`pytest_collection_modifyitems`).
        gate: The variable the session sets (e.g. ``PYTAMS_CONTAINER_TESTS``).
        marker: The marker of the gated tests.
        what: What they do and which session runs them, for the skip reason.
    """
    if os.environ.get(gate):
        return
    skip = pytest.mark.skip(reason=f"{what} ({gate}=1)")
    for item in items:
        if item.get_closest_marker(marker) is not None:
            item.add_marker(skip)
