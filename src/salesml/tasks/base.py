"""What a task declares; everything else is the shared flow (:mod:`salesml.flow`).

A task supplies only what differs between lead scoring, CLV, churn and
forecasting:

* its input tables and their contract (:meth:`Task.validate`),
* how it builds features and the target as of a point in time
  (:meth:`Task.build_dataset`) and how rows split in time (:meth:`Task.split`),
* its LightGBM objective, early-stopping metric, calibration and default
  search space (class attributes),
* its metrics and primary metric (:meth:`Task.evaluate`), extra plots
  (:meth:`Task.figures`), data-sufficiency rules (:meth:`Task.data_problems`)
  and where observed outcomes are found for monitoring (:meth:`Task.actuals`),
* how predictions become the business output (:meth:`Task.postprocess`).

Adding a task is one module defining a subclass plus one line in
:data:`salesml.tasks.TASKS`; the shared tests pick it up from there.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from salesml.features import TabularEncoder
from salesml.split import TimeSplit, time_split

__all__ = ["Task", "Dataset", "TaskColumns", "TaskParams", "SplitSettings"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TaskColumns(_Strict):
    """Column names of the task's main table (mappable in the experiment YAML)."""

    id: str
    time: str
    label: str | None = None
    exclude: list[str] = []
    allow_personal: list[str] = []


class TaskParams(_Strict):
    """Business settings of a task (thresholds, tiers...). Subclasses add fields."""


class SplitSettings(_Strict):
    test_fraction: float = 0.2
    valid_fraction: float = 0.15


@dataclass
class Dataset:
    """Rows ready for the shared flow.

    ``frame`` holds the raw input columns the encoder reads (the same columns a
    scoring input has), ``target`` the label or value, ``time`` the point in
    time each row is "as of" (used to split), ``key`` the row identifiers.
    """

    frame: pd.DataFrame
    target: np.ndarray
    time: pd.Series
    key: pd.Series


class Task(ABC):
    """Base class of every salesml task. Constructors only store settings."""

    name: ClassVar[str]
    title: ClassVar[str]
    tables: ClassVar[tuple[str, ...]]
    objective: ClassVar[str]
    eval_metric: ClassVar[str]
    primary_metric: ClassVar[str]
    greater_is_better: ClassVar[bool] = True
    calibration: ClassVar[str] = "identity"
    default_search_space: ClassVar[str] = "lightgbm"
    Columns: ClassVar[type[TaskColumns]] = TaskColumns
    Params: ClassVar[type[TaskParams]] = TaskParams

    def __init__(self, columns: Mapping[str, Any] | TaskColumns | None = None, params: Mapping[str, Any] | TaskParams | None = None):
        self.columns = columns if isinstance(columns, self.Columns) else self.Columns.model_validate(dict(columns or {}))
        self.params = params if isinstance(params, self.Params) else self.Params.model_validate(dict(params or {}))

    @property
    def registered_name(self) -> str:
        return f"salesml-{self.name}"

    # ------------------------------------------------------------ training
    @classmethod
    @abstractmethod
    def builtin_tables(cls, crm: Any) -> dict[str, pd.DataFrame]:
        """This task's input tables taken from a built-in :class:`salesml.datasets.CRMData` world.

        The demo and the shared conformance tests train every task through this.
        """

    @classmethod
    def builtin_scoring_input(cls, crm: Any, random_state: int = 0) -> pd.DataFrame | None:
        """Records to score "today" in the built-in world (the demo scores them with the champion)."""
        return None

    def summary(self, metrics: Mapping[str, float], scored: pd.DataFrame | None) -> dict[str, Any]:
        """A few lines for the demo's printout."""
        out: dict[str, Any] = {f"holdout {self.primary_metric}": round(metrics[f"test.{self.primary_metric}"], 4)}
        if scored is not None:
            out["records scored"] = len(scored)
        return out

    @abstractmethod
    def validate(self, tables: Mapping[str, pd.DataFrame]) -> None:
        """Raise :class:`salesml.contracts.DataValidationError` listing every problem."""

    @abstractmethod
    def build_dataset(self, tables: Mapping[str, pd.DataFrame]) -> Dataset:
        """Features (raw columns) and target, each row as of its point in time."""

    def make_encoder(self) -> TabularEncoder:
        c = self.columns
        exclude = [c.id, *([c.label] if c.label else []), *c.exclude]
        return TabularEncoder(time_column=c.time, exclude=exclude, allow_personal=c.allow_personal)

    def split(self, dataset: Dataset, settings: SplitSettings) -> TimeSplit:
        return time_split(dataset.time, test_fraction=settings.test_fraction, valid_fraction=settings.valid_fraction)

    @abstractmethod
    def evaluate(self, y_true: np.ndarray, pred: np.ndarray, output: pd.DataFrame) -> dict[str, float]:
        """Holdout metrics; ``output`` is :meth:`postprocess`'s frame for the same rows."""

    def figures(self, y_true: np.ndarray, pred: np.ndarray, output: pd.DataFrame) -> dict[str, Any]:
        """Extra plots, by artifact path."""
        return {}

    def data_problems(self, y_train: np.ndarray, y_test: np.ndarray) -> list[str]:
        """Reasons the data is too thin to publish a model (empty when it is enough)."""
        return []

    def actuals(self, frame: pd.DataFrame) -> np.ndarray | None:
        """Observed outcomes in a frame being monitored (NaN where not known yet); ``None`` when it has none.

        :func:`salesml.monitoring.monitor` compares them with the predictions
        once outcomes arrive. Default: the label column, as 0/1 for binary
        objectives and as numbers otherwise.
        """
        label = self.columns.label
        if not label or label not in frame.columns:
            return None
        if self.objective == "binary":
            from salesml.contracts import BinaryLabel

            return BinaryLabel(label).encode(frame[label])
        return pd.to_numeric(frame[label], errors="coerce").to_numpy(dtype=float)

    # ------------------------------------------------------------- scoring
    @abstractmethod
    def postprocess(self, pred: np.ndarray, frame: pd.DataFrame) -> pd.DataFrame:
        """Predictions -> the business output (score, grade, tier...), indexed like ``frame``."""

    def reason_templates(self) -> Mapping[str, Any]:
        return getattr(self.params, "reason_templates", {}) or {}

    def to_metadata(self) -> dict[str, Any]:
        return {"task": self.name, "columns": self.columns.model_dump(), "params": self.params.model_dump()}
