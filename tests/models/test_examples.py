"""Every example of examples/ (but core's brownian) runs small and prints its known answer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytams.core.cli import main

EXAMPLES = Path(__file__).parents[2] / "examples"
MINE = sorted(
    p.name for p in EXAMPLES.iterdir() if (p / "input.toml").exists() and p.name != "brownian"
)


def test_the_examples_are_found() -> None:
    assert {
        "brownian_drift",
        "ornstein_uhlenbeck",
        "double_well_1d",
        "double_well_2d",
        "double_well_3d",
        "triple_well",
        "cessi",
        "external",
    } <= set(MINE)
    for name in MINE:
        readme = (EXAMPLES / name / "README.md").read_text()
        assert "pytams compare" in readme, name
        assert "Known answer" in readme or "known answer" in readme, name


@pytest.mark.slow
@pytest.mark.parametrize("name", MINE)
def test_example_runs_small_and_prints_its_known_answer(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    overrides = ["--set", "tams.ntrajectories=20"]
    if name == "external":
        overrides += ["--set", f"model.state_dir='{tmp_path}'"]  # compiles its C stepper
    if name in {"double_well_1d", "double_well_2d", "double_well_3d", "cessi", "triple_well"}:
        overrides += ["--set", "trajectory.end_time=4.0"]  # smaller still
    status = main(["compare", str(EXAMPLES / name / "input.toml"), *overrides, "--quiet"])
    out = capsys.readouterr().out
    print(out)
    assert status == 0
    assert re.search(r"^estimate\s+\S+", out, re.MULTILINE)
    assert re.search(r"^known answer\s+", out, re.MULTILINE)
    if name != "triple_well":
        assert re.search(r"^known answer\s+[0-9.e-]+", out, re.MULTILINE)
