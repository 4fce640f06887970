"""spython parses and checks containers/*.def; the check fails on broken definition files."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("spython", reason="spython is installed by `nox -s containers`")

from tests.containers.deffile import check_definition, parse_definition

CONTAINERS = Path(__file__).resolve().parents[2] / "containers"
CORE = CONTAINERS / "pytams-core.def"
FULL = CONTAINERS / "pytams-full.def"


@pytest.mark.parametrize(("path", "flavour"), [(CORE, "core"), (FULL, "full")])
def test_definition_files_pass_the_check(path: Path, flavour: str) -> None:
    assert check_definition(path, flavour) == []


def test_spython_reads_sections_files_labels_and_test() -> None:
    d = parse_definition(FULL)
    assert d.bootstrap == "localimage"
    assert d.from_ == "base.sif"
    assert ("wheelhouse", "/opt/wheelhouse") in d.files
    assert d.labels["org.opencontainers.image.title"] == "pytams-full"
    assert any("pytams run" in line for line in d.test)
    assert any(line.startswith("python3 -m venv") for line in d.post)
    # spython parsed once: no entry is duplicated (its parse() must not be called again)
    assert len(d.files) == len(set(d.files)) == 2


def test_spython_alone_rejects_a_localimage_header(tmp_path: Path) -> None:
    """The quirk parse_definition works around: SingularityParser takes only docker."""
    from spython.main.parse.parsers import SingularityParser

    copy = tmp_path / "core.def"
    copy.write_text(CORE.read_text())
    with pytest.raises(NotImplementedError):
        SingularityParser(str(copy))


# (what to break, how, the problem the check must report)
BROKEN = {
    "docker bootstrap": ("Bootstrap: localimage", "Bootstrap: docker", "Bootstrap is 'docker'"),
    "other base": ("From: base.sif", "From: debian:12", "From is 'debian:12'"),
    "no test": ("\n%test\n", "\n%tset\n", "no %test section"),
    "unknown section": ("\n%test\n", "\n%tset\n", "unknown sections ['tset']"),
    "pip from PyPI": ("--no-index ", "", "may reach the network"),
    "apt-get in post": (
        "set -eu\n    python3 -m venv",
        "set -eu\n    apt-get install -y gcc\n    python3 -m venv",
        "uses the network",
    ),
    "no wheelhouse": ("    wheelhouse /opt/wheelhouse\n", "", "does not copy the wheelhouse"),
    "no version labels": ('>> "$APPTAINER_LABELS"', "> /dev/null", "$APPTAINER_LABELS"),
    "no PATH": (
        "export PATH=/opt/pytams/venv/bin:$PATH\n    export PYTHONDONTWRITEBYTECODE=1",
        "export PYTHONDONTWRITEBYTECODE=1",
        "does not put /opt/pytams/venv/bin on PATH",
    ),
    "wrong title": (
        "org.opencontainers.image.title pytams-core",
        "org.opencontainers.image.title pytams",
        "image.title is not pytams-core",
    ),
    "dask in core": (
        "--find-links /opt/wheelhouse pytams-core",
        "--find-links /opt/wheelhouse pytams-core dask",
        "pytams-core alone",
    ),
    "stray word in a comment": (
        "# pytams-core:",
        "# bootstrapped by hand; pytams-core:",
        "spython cannot parse",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_the_check_fails_on_a_broken_definition_file(tmp_path: Path, case: str) -> None:
    old, new, problem = BROKEN[case]
    text = CORE.read_text()
    assert old in text, f"the test's anchor {old!r} is gone from {CORE}"
    broken = tmp_path / "pytams-core.def"
    broken.write_text(text.replace(old, new, 1))
    problems = check_definition(broken, "core")
    assert any(problem in p for p in problems), problems


def test_the_full_check_fails_without_dask_jobqueue(tmp_path: Path) -> None:
    broken = tmp_path / "pytams-full.def"
    broken.write_text(FULL.read_text().replace("dask, distributed, dask_jobqueue,", "dask,"))
    assert any("dask_jobqueue" in p for p in check_definition(broken, "full"))


def test_the_core_definition_is_not_a_full_one() -> None:
    assert any("pytams-core alone" in p for p in check_definition(FULL, "core"))
