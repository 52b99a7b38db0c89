"""What a task declares; everything else is the shared flow (:mod:`salesml.core.flow`).

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
* how predictions become the business output (:meth:`Task.postprocess`),
* optionally, an extra evaluation such as a rolling-origin backtest
  (:meth:`Task.backtest`), and folds Optuna tunes on instead of the
  validation slice (:meth:`Task.tuning_folds`, :meth:`Task.tuning_score`).

Optional hooks, whose defaults leave a task's model exactly the fitted
LightGBM model (lead scoring uses none of them):

* :meth:`Task.fit_state` learns extra JSON state after the booster is fitted,
  from the validation rows or from the backtest's out-of-sample predictions
  (e.g. a probabilistic model's parameters, which of two models won, interval
  widths); the flow stores it in the bundle as ``metadata["task_state"]``, and
  the trained task and every loaded model get it back through
  :meth:`Task.load_state` (default: kept as ``task.state_``). This is the one
  way a task carries learnt state beyond the booster.
* :meth:`Task.predict` turns the LightGBM prediction into the task's final
  prediction using that state; :meth:`Task.explained_by_model` says whether
  the booster's SHAP reasons still explain it.
* :meth:`Task.baselines` gives comparison predictions on the holdout; the flow
  evaluates each with :meth:`Task.evaluate`, logs ``baseline.<name>.<metric>``
  and the plots of :meth:`Task.comparison_figures`.
* :attr:`Task.optional_tables` and :meth:`Task.missing_tables` say which input
  tables may be given and which are missing.

Adding a task is one module defining a subclass plus one line in
:data:`salesml.tasks.TASKS`; the shared tests pick it up from there.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping
import logging
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from salesml.core.features import TabularEncoder
from salesml.core.split import NO_TIME_NOTE, TimeSplit, cv_folds, group_split, stratified_split, time_split

__all__ = ["Task", "Dataset", "TaskColumns", "TaskParams", "SplitSettings", "BacktestReport", "FitPredict", "too_few_of_each_class"]


logger = logging.getLogger(__name__)

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TaskColumns(_Strict):
    """Column names of the task's main table (mappable in the experiment YAML)."""

    id: str
    time: str
    label: str | None = None
    exclude: list[str] = []
    #: columns known only after the outcome: never features, whatever ``exclude`` says
    outcome: list[str] = []
    allow_personal: list[str] = []


class TaskParams(_Strict):
    """Business settings of a task (thresholds, tiers...). Subclasses add fields."""


def descending_probabilities(cuts: dict[str, float], *, name: str, first: str, example: str) -> dict[str, float]:
    """Check a ``{label: minimum probability}`` setting (grades, risk tiers) lists its cuts from ``first`` down."""
    values = list(cuts.values())
    if values != sorted(values, reverse=True) or any(not 0 <= c <= 1 for c in values):
        raise ValueError(f"{name} must list minimum probabilities from the {first} down, e.g. {example}. Got {cuts}.")
    return cuts


class SplitSettings(_Strict):
    """The experiment's ``split`` section (:class:`salesml.core.config.SplitConfig`) plus the run's seed."""

    method: Literal["auto", "time", "stratified", "group"] = "auto"
    group: str | None = None
    test_fraction: float = 0.2
    valid_fraction: float = 0.15
    folds: int = 5
    random_state: int = 0


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


#: ``fit_predict(train, valid, rows)``: the flow's fit (encoder, booster, calibration, same
#: parameters and seed) on the ``train`` rows of the dataset, early-stopped on ``valid``;
#: returns its predictions for the ``valid`` rows and for the ``rows`` rows (boolean masks).
FitPredict = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass
class BacktestReport:
    """What :meth:`Task.backtest` hands the flow: metrics, tables and figures by artifact path to log, and
    optionally state learnt out of sample."""

    metrics: dict[str, float] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    #: JSON state learnt from the backtest's out-of-sample predictions (forecasting: interval widths);
    #: :meth:`Task.fit_state` receives the report and may ship it instead of learning from the validation slice.
    state: dict[str, Any] | None = None


def too_few_of_each_class(
    y_train: np.ndarray,
    y_test: np.ndarray,
    *,
    min_positive: int,
    min_negative: int,
    positive: str,
    negative: str,
    rows: str,
) -> list[str]:
    """Data-sufficiency problems of a binary task: too few positives or negatives in training or holdout.

    ``positive``/``negative``/``rows`` word the message, e.g. "converted", "unconverted", "leads".
    """
    problems = []
    for side, y in (("training", y_train), ("holdout", y_test)):
        pos, neg = int(np.sum(y == 1)), int(np.sum(y == 0))
        if pos < min_positive or neg < min_negative:
            problems.append(
                f"the {side} set has {pos} {positive} and {neg} {negative} {rows}; at least "
                f"{min_positive} and {min_negative} are needed"
            )
    return problems


class Task(ABC):
    """Base class of every salesml task. Constructors only store settings."""

    name: ClassVar[str]
    title: ClassVar[str]
    tables: ClassVar[tuple[str, ...]]
    optional_tables: ClassVar[tuple[str, ...]] = ()
    objective: ClassVar[str]
    eval_metric: ClassVar[str]
    primary_metric: ClassVar[str]
    greater_is_better: ClassVar[bool] = True
    calibration: ClassVar[str] = "identity"
    #: With folds (:meth:`tuning_folds`), ship a booster refitted on all non-holdout rows, calibrated out of fold.
    refit: ClassVar[bool] = True
    #: What the tuning folds are called in the study's objective ("mean roc_auc over 5 cross-validation folds").
    folds_name: ClassVar[str] = "cross-validation folds"
    default_search_space: ClassVar[str] = "lightgbm"
    #: The boolean output column of :meth:`postprocess` that marks rows needing action
    #: (lead scoring: ``follow_up``). Scoring with ``reasons="flagged"`` explains only these rows.
    flag_column: ClassVar[str | None] = None
    Columns: ClassVar[type[TaskColumns]] = TaskColumns
    Params: ClassVar[type[TaskParams]] = TaskParams

    def __init__(self, columns: Mapping[str, Any] | TaskColumns | None = None, params: Mapping[str, Any] | TaskParams | None = None):
        self.columns = columns if isinstance(columns, self.Columns) else self.Columns.model_validate(dict(columns or {}))
        self.params = params if isinstance(params, self.Params) else self.Params.model_validate(dict(params or {}))
        #: JSON state from :meth:`fit_state` (set by the flow after fitting, and by the scorer on load).
        self.state_: dict[str, Any] = {}

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

    def missing_tables(self, available: Collection[str]) -> list[str]:
        """Required tables not among ``available`` (default: those of :attr:`tables`)."""
        return [t for t in self.tables if t not in available]

    @abstractmethod
    def validate(self, tables: Mapping[str, pd.DataFrame]) -> None:
        """Raise :class:`salesml.core.contracts.DataValidationError` listing every problem."""

    @abstractmethod
    def build_dataset(self, tables: Mapping[str, pd.DataFrame]) -> Dataset:
        """Features (raw columns) and target, each row as of its point in time."""

    def make_encoder(self) -> TabularEncoder:
        c = self.columns
        # columns that are only known after the outcome are never features, whatever ``exclude`` says
        exclude = [c.id, *([c.label] if c.label else []), *c.exclude, *c.outcome]
        return TabularEncoder(time_column=c.time, exclude=exclude, allow_personal=c.allow_personal)

    def split(self, dataset: Dataset, settings: SplitSettings) -> TimeSplit:
        """Train, validation and holdout rows by ``settings.method`` (:mod:`salesml.core.split`).

        ``auto`` splits by time when the rows have times, else stratified at random (with a warning:
        a random split overstates accuracy when time matters).
        """
        method = settings.method
        has_time = dataset.time is not None and bool(pd.to_datetime(dataset.time).notna().any())
        if method == "auto":
            method = "time" if has_time else "stratified"
            if not has_time:
                logger.warning("the rows have no time: %s", NO_TIME_NOTE)
        common = {
            "test_fraction": settings.test_fraction,
            "valid_fraction": settings.valid_fraction,
            "folds": settings.folds,
            "random_state": settings.random_state,
        }
        if method == "time":
            if not has_time:
                raise ValueError(
                    f"split.method is 'time' but the rows have no time (column {self.columns.time!r}). Name the time "
                    "column in columns.time, or set split.method: stratified."
                )
            return time_split(dataset.time, **common)
        if method == "stratified":
            return stratified_split(dataset.target, **common)
        group = settings.group
        if not group:
            raise ValueError(
                "split.method 'group' needs split.group: the column whose values must stay in one part (e.g. account_id)."
            )
        if group not in dataset.frame.columns:
            raise ValueError(
                f"split.group {group!r} is not a column of the table. Columns: {', '.join(map(str, dataset.frame.columns))}."
            )
        return group_split(dataset.frame[group], dataset.target, **common)

    @abstractmethod
    def evaluate(self, y_true: np.ndarray, pred: np.ndarray, output: pd.DataFrame) -> dict[str, float]:
        """Holdout metrics; ``output`` is :meth:`postprocess`'s frame for the same rows."""

    def figures(self, y_true: np.ndarray, pred: np.ndarray, output: pd.DataFrame) -> dict[str, Any]:
        """Extra plots, by artifact path."""
        return {}

    def comparison_figures(self, y_true: np.ndarray, predictions: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """Plots comparing the model (``"model"``) with the :meth:`baselines` on the holdout, by artifact path."""
        return {}

    def data_problems(self, y_train: np.ndarray, y_test: np.ndarray) -> list[str]:
        """Reasons the data is too thin to publish a model (empty when it is enough)."""
        return []

    def fit_state(
        self,
        dataset: Dataset,
        split: TimeSplit,
        model_predict: Callable[[pd.DataFrame], np.ndarray],
        backtest: BacktestReport | None = None,
    ) -> dict[str, Any]:
        """Extra state learnt after the booster is fitted (default: none).

        ``model_predict`` gives the fitted LightGBM model's calibrated
        prediction for a frame of input rows; ``backtest`` is what
        :meth:`backtest` returned (``None`` when the task has none). The result
        must be plain JSON (it is stored in the bundle's metadata and given to
        :meth:`load_state`, in training and on every load); it must not use the
        holdout's targets (``split.test``).
        """
        return {}

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`fit_state` learnt (the flow calls it after fitting, the scorer on load).

        Default: keep it as :attr:`state_`. Override to rebuild objects from it, calling ``super()``.
        """
        self.state_ = dict(state)

    def baselines(
        self, dataset: Dataset, split: TimeSplit, model_predict: Callable[[pd.DataFrame], np.ndarray]
    ) -> dict[str, np.ndarray]:
        """Comparison predictions for the holdout rows (``split.test``, in order), by name (default: none).

        The flow scores each with :meth:`postprocess` and :meth:`evaluate` and
        logs ``baseline.<name>.<metric>``. :attr:`state_` is already set.
        """
        return {}
    def backtest(self, tables: Mapping[str, pd.DataFrame], dataset: Dataset, fit_predict: FitPredict) -> BacktestReport | None:
        """An extra evaluation beside the holdout, e.g. rolling-origin windows refitted with ``fit_predict``.

        Default: none. Its metrics are logged with the holdout's (and kept in the model's metadata).
        """
        return None

    def tuning_folds(self, dataset: Dataset, split: TimeSplit) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """``(fit, stop, score)`` masks: each fold trains on ``fit``, early-stops on ``stop`` and is scored on ``score``.

        Optuna scores each trial by the mean :meth:`tuning_score` over the folds,
        and, when :attr:`refit` is set, the shipped booster is refitted on every
        non-holdout row with the folds' mean number of rounds and calibrated on
        their out-of-fold predictions. Each fold's rows must lie outside the
        holdout. Default: :func:`salesml.core.split.cv_folds`, K folds cut like
        the split (``split.folds``; none when it is below 2, and then each trial
        is the model early-stopped on the validation slice).
        """
        if split.folds < 2:
            return []
        return cv_folds(split, dataset.target, dataset.time if split.method == "time" else None)

    def tuning_score(self, y_true: np.ndarray, pred: np.ndarray, frame: pd.DataFrame) -> float:
        """The value of one tuning fold (the study maximises it when :attr:`greater_is_better`)."""
        return self.evaluate(y_true, pred, self.postprocess(pred, frame))[self.primary_metric]

    def actuals(self, frame: pd.DataFrame) -> np.ndarray | None:
        """Observed outcomes in a frame being monitored (NaN where not known yet); ``None`` when it has none.

        :func:`salesml.monitoring.monitor.monitor` compares them with the predictions
        once outcomes arrive. Default: the label column, as 0/1 for binary
        objectives and as numbers otherwise.
        """
        label = self.columns.label
        if not label or label not in frame.columns:
            return None
        if self.objective == "binary":
            from salesml.core.contracts import BinaryLabel

            return BinaryLabel(label).encode(frame[label])
        return pd.to_numeric(frame[label], errors="coerce").to_numpy(dtype=float)

    # ------------------------------------------------------------- scoring
    def predict(self, frame: pd.DataFrame, model_pred: np.ndarray) -> np.ndarray:
        """The task's prediction for ``frame`` from the LightGBM model's (default: that one, unchanged)."""
        return model_pred

    def explained_by_model(self) -> bool:
        """Whether the booster's SHAP reasons explain :meth:`predict` (default: yes)."""
        return True

    @abstractmethod
    def postprocess(self, pred: np.ndarray, frame: pd.DataFrame) -> pd.DataFrame:
        """Predictions -> the business output (score, grade, tier...), indexed like ``frame``."""

    @property
    def rowwise(self) -> bool:
        """Whether :meth:`postprocess` treats each row on its own (so chunked scoring gives the same
        output as scoring everything at once). False when an output depends on the whole batch."""
        return True

    def reason_templates(self) -> Mapping[str, Any]:
        return getattr(self.params, "reason_templates", {}) or {}

    def to_metadata(self) -> dict[str, Any]:
        return {"task": self.name, "columns": self.columns.model_dump(), "params": self.params.model_dump()}
