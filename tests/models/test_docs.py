"""The user guide's key reference is generated from the config dataclasses: every key is in it."""

from __future__ import annotations

import sys
from dataclasses import fields
from pathlib import Path

import pytest

from pytams.core.config import LEGACY_KEYS, SECTIONS, UNSUPPORTED_KEYS

DOCS = Path(__file__).parents[2] / "docs"


def test_every_configuration_key_is_documented() -> None:
    pytest.importorskip("sphinx", reason="nox -s docs installs Sphinx")
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        from pytams_config import reference_lines  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    text = "\n".join(reference_lines())
    for section, cls in SECTIONS.items():
        assert f"[{section}]" in text
        for field in fields(cls):
            if field.metadata["public"]:
                assert f"``{field.name}``" in text, field.name
            assert " ".join(field.metadata["doc"].split()) in text, field.name
    for section, key in [*LEGACY_KEYS, *UNSUPPORTED_KEYS]:
        assert f"``[{section}] {key}``" in text, key
    assert "pytams-config" in (DOCS / "user-guide.md").read_text()
