"""In the core-alone venv: pytams-core brings numpy and tqdm (tomli < 3.11), nothing else."""

from __future__ import annotations

import sys
from importlib.metadata import distributions, requires

ALLOWED = {"pytams-core", "numpy", "tqdm", "tomli", "pip", "setuptools", "wheel", "colorama"}


def main() -> int:
    names = sorted({(d.metadata["Name"] or "").lower().replace("_", "-") for d in distributions()})
    extra = [n for n in names if n not in ALLOWED]
    print("installed:", ", ".join(names))
    print("pytams-core requires:", requires("pytams-core"))
    if extra:
        print(f"unexpected packages came with pytams-core: {extra}", file=sys.stderr)
        return 1
    for needed in ("numpy", "tqdm", "pytams-core"):
        if needed not in names:
            print(f"{needed} missing", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
