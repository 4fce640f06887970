"""Names a package exports but imports on first use, so that importing it stays cheap."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from importlib import import_module
from typing import Any


def lazy_exports(
    package: str, modules: Mapping[str, str], public: Iterable[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module-level ``__getattr__`` and ``__dir__`` of a package with lazy names (PEP 562).

    Args:
        package: The package's ``__name__``.
        modules: Each lazy name and the submodule that defines it.
        public: The package's ``__all__``.

    Example:
        ``__getattr__, __dir__ = lazy_exports(__name__, {"Store": "store"}, __all__)``
    """
    names = tuple(public)

    def attribute(name: str) -> Any:
        module = modules.get(name)
        if module is None:
            msg = f"module {package!r} has no attribute {name!r}"
            raise AttributeError(msg)
        value = getattr(import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)  # imported once
        return value

    def listing() -> list[str]:
        return sorted({*vars(sys.modules[package]), *names})

    return attribute, listing
