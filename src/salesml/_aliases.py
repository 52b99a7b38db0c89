"""Old module paths (``salesml.segments``, ``salesml.spark``, ...) from before the subpackages.

User code and notebooks written against the flat layout keep working: ``import salesml.spark``
or ``from salesml.batch import score_batch`` give the moved module itself (the same object, so
monkeypatching and ``isinstance`` behave). New code imports the new paths.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType

#: old dotted name under ``salesml.`` -> where the module lives now
MOVED: dict[str, str] = {
    "flow": "core.flow",
    "config": "core.config",
    "split": "core.split",
    "features": "core.features",
    "contracts": "core.contracts",
    "boosting": "core.boosting",
    "calibration": "core.calibration",
    "tuning": "core.tuning",
    "explain": "core.explain",
    "metrics": "core.metrics",
    "plots": "core.plots",
    "sources": "core.sources",
    "tasks.base": "core.task",
    "tasks.customer": "customers.task",
    "registry": "tracking.registry",
    "artifact": "tracking.artifact",
    "snapshots": "customers.snapshots",
    "bgnbd": "customers.bgnbd",
    "segments": "customers.segments",
    "panel": "forecasting.panel",
    "forecast_rows": "forecasting.rows",
    "backtest": "forecasting.backtest",
    "baselines": "forecasting.baselines",
    "conformal": "forecasting.conformal",
    "reconcile": "forecasting.reconcile",
    "batch": "scoring.batch",
    "streams": "scoring.streams",
    "spark": "scoring.spark",
    "privacy": "trust.privacy",
    "keys": "trust.keys",
}


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:  # the target ran its own code already
        return None


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec | None:
        old = fullname.removeprefix("salesml.")
        if fullname == old or old not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(f"salesml.{MOVED[old]}"))


def install() -> None:
    """Put the finder on ``sys.meta_path`` once (after the normal finders: real modules win)."""
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.append(_AliasFinder())
