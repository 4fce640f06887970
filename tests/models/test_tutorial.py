"""The tutorial's code runs: every ```python block of docs/tutorial.md, in order."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TUTORIAL = Path(__file__).parents[2] / "docs" / "tutorial.md"


def blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", TUTORIAL.read_text(), re.MULTILINE | re.DOTALL)


def test_the_tutorial_has_code() -> None:
    assert len(blocks()) >= 5


@pytest.mark.slow
def test_the_tutorial_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("matplotlib", reason="the tutorial plots; nox -s docs installs it")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict[str, object] = {"__name__": "tutorial"}
    for index, code in enumerate(blocks()):
        exec(compile(code, f"{TUTORIAL}:block{index}", "exec"), namespace)
    assert (tmp_path / "levels.png").stat().st_size > 1000
