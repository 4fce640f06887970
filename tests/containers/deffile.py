"""Checks of the Apptainer definition files in containers/, through spython's parser.

spython 0.3.14 quirks handled here:
- its ``SingularityParser`` accepts only ``Bootstrap: docker`` (any line containing the word
  "bootstrap" is taken as the header and checked), so it parses a copy whose header line is
  swapped to ``Bootstrap: docker``;
- it parses in its constructor (``parse()`` again would duplicate every entry), so the parser
  is constructed once and its recipe read;
- it maps unknown sections (``%tset``) and ``%help`` to comments silently, so section names and
  the header (``Bootstrap``, ``From``) are read from the text as well.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SECTIONS = {
    "setup",
    "files",
    "post",
    "environment",
    "runscript",
    "test",
    "labels",
    "help",
    "startscript",
    "arguments",
}
NETWORK = re.compile(r"\b(apt-get|apt|curl|wget|git clone|conda|mamba)\b")
FLAVOURS = ("core", "full")


@dataclass
class Definition:
    """A definition file as spython parsed it, with what spython does not keep."""

    path: Path
    bootstrap: str
    from_: str
    sections: dict[str, list[str]]
    files: list[tuple[str, str]]
    post: list[str]
    test: list[str]
    environ: list[str]
    labels: dict[str, str]
    problems: list[str] = field(default_factory=list)


def _raw_sections(text: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    header: dict[str, str] = {}
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        match = re.match(r"^%(\w+)", stripped)
        if match:
            current = sections.setdefault(match.group(1).lower(), [])
        elif current is not None:
            current.append(line)
        elif ":" in stripped and not stripped.startswith("#"):
            key, value = stripped.split(":", 1)
            header[key.strip().lower()] = value.strip()
    return header, sections


def _join_continuations(lines: list[str]) -> list[str]:
    joined: list[str] = []
    pending = ""
    for line in lines:
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
        else:
            joined.append(pending + line)
            pending = ""
    if pending:
        joined.append(pending.rstrip())
    return joined


def parse_definition(path: Path) -> Definition:
    """Parse ``path`` with spython (on a copy whose header says ``Bootstrap: docker``).

    Raises:
        ValueError: When spython cannot parse the file.
    """
    from spython.main.parse.parsers import SingularityParser

    text = path.read_text()
    header, sections = _raw_sections(text)
    swapped = re.sub(r"(?im)^\s*bootstrap:.*$", "Bootstrap: docker", text, count=1)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / path.name
        copy.write_text(swapped)
        try:
            parser = SingularityParser(str(copy))  # parses here: never call parse() again
        except (NotImplementedError, SystemExit, IndexError, ValueError) as exc:
            msg = f"spython cannot parse {path}: {type(exc).__name__}: {exc}"
            raise ValueError(msg) from exc
    recipe: Any = parser.recipe["spython-base"]
    files = []
    for line in recipe.files:
        parts = line.split()
        files.append((parts[0], parts[-1]))
    # %test becomes install lines `echo "..." >> /tests.sh`; %post is the other install lines
    test: list[str] = []
    post: list[str] = []
    for line in _join_continuations(recipe.install):
        match = re.fullmatch(r'echo "(.*)" >> /tests\.sh', line, flags=re.S)
        if match:
            test.append(match.group(1))
        elif line != "chmod u+x /tests.sh":
            post.append(line)
    labels = {}
    for line in recipe.labels:
        key, _, value = line.partition(" ")
        labels[key] = value.strip()
    return Definition(
        path=path,
        bootstrap=header.get("bootstrap", ""),
        from_=recipe.fromHeader or "",
        sections=sections,
        files=files,
        post=post,
        test=test if recipe.test else [],
        environ=list(recipe.environ),
        labels=labels,
    )


def check_definition(path: Path, flavour: str) -> list[str]:
    """The problems of the definition file of ``pytams-<flavour>`` (empty when it is right)."""
    if flavour not in FLAVOURS:
        msg = f"flavour must be one of {FLAVOURS}, not {flavour!r}"
        raise ValueError(msg)
    try:
        d = parse_definition(path)
    except ValueError as exc:
        return [str(exc)]
    problems = []
    post, test = "\n".join(d.post), "\n".join(d.test)
    if d.bootstrap != "localimage":
        problems.append(f"Bootstrap is {d.bootstrap!r}: must be 'localimage' (no registry here)")
    if d.from_ != "base.sif":
        problems.append(f"From is {d.from_!r}: must be 'base.sif' (made by build.sh)")
    unknown = set(d.sections) - SECTIONS
    if unknown:
        problems.append(f"unknown sections {sorted(unknown)} (Apptainer ignores them)")
    for needed in ("files", "post", "environment", "test", "labels", "runscript"):
        if not any(line.strip() for line in d.sections.get(needed, [])):
            problems.append(f"no %{needed} section")
    if ("wheelhouse", "/opt/wheelhouse") not in d.files:
        problems.append("%files does not copy the wheelhouse to /opt/wheelhouse")
    if not any(src.startswith("examples/brownian") for src, _ in d.files):
        problems.append("%files does not copy examples/brownian (the %test job)")
    installs = [line for line in d.post if "pip install" in line]
    if not installs:
        problems.append("%post installs nothing with pip")
    for line in installs:
        if "--no-index" not in line or "--find-links /opt/wheelhouse" not in line:
            problems.append(f"%post pip install may reach the network: {line!r}")
    if NETWORK.search(post):
        problems.append(f"%post uses the network: {NETWORK.search(post).group(0)!r}")  # type: ignore[union-attr]
    if "$APPTAINER_LABELS" not in post:
        problems.append("%post does not write the package versions to $APPTAINER_LABELS")
    if "rm -rf /opt/wheelhouse" not in post:
        problems.append("%post leaves the wheelhouse in the image")
    if not any("/opt/pytams/venv/bin" in e and e.startswith("PATH=") for e in d.environ):
        problems.append("%environment does not put /opt/pytams/venv/bin on PATH")
    if "pytams run" not in test or "tams.ntrajectories=10" not in test:
        problems.append("%test does not run a short TAMS job (pytams run ... ntrajectories=10)")
    if d.labels.get("org.opencontainers.image.title") != f"pytams-{flavour}":
        problems.append(f"label org.opencontainers.image.title is not pytams-{flavour}")
    if flavour == "core":
        pip_args = " ".join(installs).split()
        targets = [
            a
            for a in pip_args
            if not a.startswith("-")
            and a not in ("/opt/pytams/venv/bin/pip", "pip", "install", "/opt/wheelhouse", "\\")
        ]
        if targets != ["pytams-core"]:
            problems.append(f"the core image must install pytams-core alone, not {targets}")
        for banned in ("dask", "netcdf4", "xarray", "pytams-runners", "pytams-io"):
            if re.search(rf"\b{banned}\b", (post + test).lower()):
                problems.append(f"the core image mentions {banned}")
    else:
        if not any("/opt/wheelhouse/pytams_*.whl" in line for line in installs):
            problems.append("the full image must install every pytams_*.whl of the wheelhouse")
        for module in ("dask_jobqueue", "netCDF4", "pytams.runners", "pytams.io", "pytams.models"):
            if module not in test:
                problems.append(f"the full image's %test does not import {module}")
    return problems
