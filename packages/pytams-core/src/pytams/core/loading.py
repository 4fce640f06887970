"""Find a model class from ``"module:Class"`` or ``"path/to/file.py:Class"``."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytams.core.compat import is_model_class
from pytams.core.errors import ConfigError


def load_model_class(reference: str) -> type[Any]:
    """Import the model class named by ``reference``.

    Raises:
        ConfigError: When the module, the file or the class cannot be found, or the class is
            not a model class.
    """
    module_name, sep, class_name = reference.rpartition(":")
    if not sep or not module_name or not class_name:
        msg = f"model {reference!r}: expected 'package.module:Class' or 'path/to/file.py:Class'"
        raise ConfigError(msg)
    if module_name.endswith(".py"):
        module = _import_file(Path(module_name), reference)
    else:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            msg = (
                f"model {reference!r}: cannot import module {module_name!r} ({exc}); "
                "install the package that provides it or give a file: 'path/file.py:Class'"
            )
            raise ConfigError(msg) from exc
    cls = getattr(module, class_name, None)
    if cls is None:
        msg = f"model {reference!r}: {module_name} has no attribute {class_name!r}"
        raise ConfigError(msg)
    if not is_model_class(cls):
        msg = (
            f"model {reference!r} is not a model class: subclass "
            "pytams.core.ForwardModel (or pyTAMS's pytams.fmodel.ForwardModelBaseClass)"
        )
        raise ConfigError(msg)
    return cls  # type: ignore[no-any-return]


# one file import at a time: the threads of a dask worker load a model file concurrently, and
# a thread must not find the module of another thread's import before its body has run
_FILE_IMPORT = threading.RLock()


def _import_file(path: Path, reference: str) -> Any:
    path = path.expanduser().resolve()
    if not path.is_file():
        msg = f"model {reference!r}: no such file {path}"
        raise ConfigError(msg)
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    name = f"pytams_user_{path.stem}_{digest}"
    with _FILE_IMPORT:
        if name in sys.modules:
            return sys.modules[name]
        return _exec_file(name, path, reference)


def _exec_file(name: str, path: Path, reference: str) -> Any:
    """Import ``path`` as the module ``name`` (the caller holds ``_FILE_IMPORT``)."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover
        msg = f"model {reference!r}: cannot load {path} as a Python module"
        raise ConfigError(msg)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(path.parent))  # a model file may import its neighbours
    try:
        spec.loader.exec_module(module)
    except Exception:
        del sys.modules[name]
        raise
    return module


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A model class together with the reference it was loaded from.

    Pickles as its reference when it has one, so workers in other processes re-import the
    class (also one loaded from a file) instead of needing it importable by name.
    """

    cls: type[Any]
    reference: str | None = None
    #: the learned score the class is wrapped with (`pytams.core.learned.ScoreUse`), if any
    score: Any = None

    def __reduce__(self) -> tuple[Any, ...]:
        if self.score is not None:  # re-wrap the re-imported class in the worker
            base = ModelSpec(self.cls.__pytams_base__, self.reference)
            return (_spec_with_score, (base, self.score))
        if self.reference is None:
            return (ModelSpec, (self.cls, None))
        return (_spec_from_reference, (self.reference,))

    @property
    def name(self) -> str:
        """The model's qualified name."""
        return self.reference or f"{self.cls.__module__}:{self.cls.__qualname__}"

    def with_score(self, config: Any) -> ModelSpec:
        """This spec, its class wrapped when ``[trajectory] score`` names a learned score."""
        if config.trajectory.score is None:
            return self
        from pytams.core.learned import wrap_spec

        return wrap_spec(self, config)

    def score_metadata(self) -> dict[str, Any]:
        """The run metadata's record of the score used: ``{"score": {...}}`` or nothing."""
        if self.score is None:
            return {}
        from pytams.core.learned import score_record

        return {"score": score_record(self.score)}


def _spec_from_reference(reference: str) -> ModelSpec:
    return ModelSpec(load_model_class(reference), reference)


def _spec_with_score(spec: ModelSpec, score: Any) -> ModelSpec:
    from pytams.core.learned import with_use

    return with_use(spec, score)
