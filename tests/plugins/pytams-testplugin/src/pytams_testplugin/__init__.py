"""A third-party runner and store for pytams, written against `pytams.core`'s exports only."""

from pytams_testplugin.runner import ThreadRunner
from pytams_testplugin.store import PickleDirStore

__all__ = ["PickleDirStore", "ThreadRunner"]
