"""The tutorials' code runs: every ```python block of each tutorial page, in order."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).parents[2] / "docs"
TUTORIAL = DOCS / "tutorial.md"
LEARNED = DOCS / "tutorial-learned-score.md"
# each page, and a file its code leaves in the working directory
PAGES = {TUTORIAL: "levels.png", LEARNED: "learned-score.npz"}


def blocks(page: Path = TUTORIAL) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", page.read_text(), re.MULTILINE | re.DOTALL)


def test_the_tutorial_has_code() -> None:
    assert len(blocks()) >= 5
    assert len(blocks(LEARNED)) >= 4


@pytest.mark.slow
@pytest.mark.parametrize("page", list(PAGES), ids=[page.stem for page in PAGES])
def test_the_tutorial_runs(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("matplotlib", reason="the tutorial plots; nox -s docs installs it")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict[str, object] = {"__name__": "tutorial"}
    for index, code in enumerate(blocks(page)):
        exec(compile(code, f"{page}:block{index}", "exec"), namespace)
    assert (tmp_path / PAGES[page]).stat().st_size > 1000
