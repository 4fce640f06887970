"""The ``pytams`` command starts fast: no heavy import for ``--help``, a plugin's help, or a run.

Every plugin command registers at each start (``--help`` included), so the module its entry
point names must import nothing heavy at its top; the command's handler imports the heavy code
when it runs. Untimed: each case runs in a fresh interpreter and lists the modules it imported
(benchmarks/bench_start.py measures the CPU). Passes with pytams-core alone too (the
``core-alone`` session): the checks of the plugins' commands skip there.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

from tests.core.models import ROOT

EXAMPLE = ROOT / "examples" / "brownian" / "input.toml"
TINY_RUN = [
    "run",
    str(EXAMPLE),
    "--set",
    "tams.ntrajectories=5",
    "--set",
    "model.barrier=1.5",
    "--quiet",
]

#: heavy third-party packages no start of ``pytams`` (help, a plugin's help, a run) may import
HEAVY = ("scipy", "netCDF4", "xarray", "pandas", "dask", "distributed", "matplotlib")

#: pytams modules a start may import, beyond pytams-core's: the commands' light registration
LIGHT_PLUGIN_MODULES = {"pytams.models", "pytams.models._commands", "pytams.io", "pytams.io.cli"}

#: in a fresh interpreter: main(argv), then the names of the imported modules into a file
SCRIPT = """
import json, sys
from pytams.core.cli import main
try:
    main(json.loads(sys.argv[1]))
except SystemExit:
    pass
with open(sys.argv[2], "w") as out:
    json.dump(sorted(sys.modules), out)
"""


def imported_by(argv: list[str], tmp_path: Path) -> set[str]:
    """The modules a fresh interpreter has imported after ``pytams <argv>``."""
    listing = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(argv), str(listing)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert listing.exists(), done.stderr
    modules: list[str] = json.loads(listing.read_text())
    return set(modules)


def heavy_in(modules: set[str]) -> list[str]:
    """The heavy modules and the plugins' heavy pytams modules among ``modules``."""
    third_party = list({m.split(".")[0] for m in modules} & set(HEAVY))
    plugins = [
        m
        for m in modules
        if m.startswith(("pytams.models", "pytams.io", "pytams.runners"))
        and m not in LIGHT_PLUGIN_MODULES
    ]
    return sorted(third_party + plugins)


def installed(module: str) -> bool:
    try:
        return find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package is missing
        return False


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["--help"], id="help"),
        pytest.param(TINY_RUN, id="tiny-run"),
    ],
)
def test_a_start_imports_nothing_heavy(argv: list[str], tmp_path: Path) -> None:
    modules = imported_by(argv, tmp_path)
    assert "pytams.core.cli" in modules
    assert heavy_in(modules) == []


@pytest.mark.parametrize(
    ("command", "module", "registered_by"),
    [
        ("compare", "pytams.models", "pytams.models._commands"),
        ("inspect", "pytams.io", "pytams.io.cli"),
        ("plot", "pytams.io", "pytams.io.cli"),
    ],
)
def test_a_plugin_command_registers_lightly(
    command: str, module: str, registered_by: str, tmp_path: Path
) -> None:
    if not installed(module):
        pytest.skip(f"{module} is not installed (pytams-core alone)")
    modules = imported_by([command, "--help"], tmp_path)
    assert registered_by in modules  # the command registered: it is not the stub
    assert heavy_in(modules) == []


@pytest.mark.parametrize(
    ("package", "heavy"),
    [
        ("pytams.models", ("scipy", "pytams.models.reference", "pytams.models.brownian")),
        ("pytams.io", ("netCDF4", "xarray", "pytams.io.store", "pytams.io.explore")),
    ],
)
def test_a_plugin_package_imports_lazily(
    package: str, heavy: tuple[str, ...], tmp_path: Path
) -> None:
    """Importing the package (as registering its command does) loads none of its heavy parts."""
    if not installed(package):
        pytest.skip(f"{package} is not installed (pytams-core alone)")
    code = f"import json, sys, {package}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    modules = set(json.loads(done.stdout))
    assert [m for m in heavy if m in modules] == []
