"""Churn: will this customer stop buying in the next horizon?

The label, per customer and monthly cutoff (:mod:`salesml.customers.task`):

* ``definition: no_purchase`` (default): no order in ``(cutoff, cutoff + horizon]``
  (default horizon 3 months);
* ``definition: spend_drop``: net revenue in the window falls by at least
  ``spend_drop`` (default 50%) against the same length of time before the
  cutoff (only customers who spent something before count).

Only customers with an order in the ``active_within`` (default 12 months)
before a cutoff are scored: a customer silent for longer has already gone.

LightGBM with sigmoid calibration, compared on the holdout with two baselines,
logged as ``baseline.<name>.<metric>``: the business rule "orders down >= 20%
over 3 months" (``orders_down_20pct``, also a feature) and a logistic
regression on the numeric features and the one-hot categorical ones. Output per customer: ``probability``,
``risk_tier`` (default: high >= 0.5, medium >= 0.25, else low) and, from the
shared scorer, the top reasons. Metrics: ROC-AUC, PR-AUC, Brier, lift in the
top decile and recall in the top 10% / 20%.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import field_validator

from salesml.core.contracts import BinaryLabel
from salesml.core.metrics import classification_metrics, recall_at
from salesml.core.split import TimeSplit
from salesml.core.task import Dataset, TaskParams, descending_probabilities, too_few_of_each_class
from salesml.customers.task import CustomerParams, CustomerTask

__all__ = ["Churn", "ChurnParams"]


class ChurnParams(CustomerParams):
    horizon: str = "3M"
    population: Literal["all", "active"] = "active"
    definition: Literal["no_purchase", "spend_drop"] = "no_purchase"
    spend_drop: float = 0.5
    risk_tiers: dict[str, float] = {"high": 0.5, "medium": 0.25}
    lowest_risk_tier: str = "low"
    min_churned: int = 40
    min_retained: int = 40

    @field_validator("spend_drop")
    @classmethod
    def _drop(cls, v: float) -> float:
        if not 0 < v < 1:
            raise ValueError(f"spend_drop must be a fraction between 0 and 1 (0.5 = spend halves). Got {v} instead.")
        return v

    @field_validator("risk_tiers")
    @classmethod
    def _tiers(cls, v: dict[str, float]) -> dict[str, float]:
        return descending_probabilities(v, name="risk_tiers", first="riskiest tier", example="high: 0.5, medium: 0.25")


class Churn(CustomerTask):
    """Calibrated probability that an active customer stops buying, with risk tiers and reasons."""

    name = "churn"
    title = "Churn"
    objective = "binary"
    eval_metric = "auc"
    primary_metric = "roc_auc"
    greater_is_better = True
    calibration = "sigmoid"
    default_search_space = "lightgbm"
    Params: ClassVar[type[TaskParams]] = ChurnParams
    params: ChurnParams

    # ------------------------------------------------------------ dataset
    def target(self, snapshot: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        if self.params.definition == "no_purchase":
            return (snapshot["target_orders"].to_numpy() == 0).astype(int), np.ones(len(snapshot), dtype=bool)
        before = snapshot["target_previous_revenue"].to_numpy(dtype=float)
        after = snapshot["target_revenue"].to_numpy(dtype=float)
        return (after <= (1.0 - self.params.spend_drop) * before).astype(int), before > 0

    def prepared_target(self, label: pd.Series) -> np.ndarray:
        return BinaryLabel(str(self.columns.label)).encode(label).astype(int)

    # ---------------------------------------------------------- baselines
    def baselines(
        self, dataset: Dataset, split: TimeSplit, model_predict: Callable[[pd.DataFrame], np.ndarray]
    ) -> dict[str, np.ndarray]:
        """The "orders down >= 20% over 3 months" rule and a logistic regression on every feature.

        The logistic regression reads the numeric and boolean features (median-imputed, standardised)
        and the categorical ones one-hot encoded (missing values as their own level, levels unseen in
        training ignored), as a fair linear baseline should.
        """
        test = dataset.frame.iloc[np.flatnonzero(split.test)]
        out: dict[str, np.ndarray] = {}
        if "orders_down_20pct" in test.columns:
            out["orders_down_rule"] = test["orders_down_20pct"].astype(float).to_numpy()
        logit = self._logistic_baseline(dataset.frame, split, dataset.target[split.train])
        if logit is not None:
            out["logistic_regression"] = logit
        return out

    def _logistic_baseline(self, frame: pd.DataFrame, split: TimeSplit, y_train: np.ndarray) -> np.ndarray | None:
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        features = [c for c in frame.columns if c not in (self.columns.id, self.columns.time, *self.columns.exclude)]
        numeric = [
            c for c in features if pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c])
        ]
        categorical = [c for c in features if c not in numeric and not pd.api.types.is_datetime64_any_dtype(frame[c])]
        if not (numeric or categorical) or len(np.unique(y_train)) != 2:
            return None

        def table(rows: np.ndarray) -> pd.DataFrame:
            part = frame.iloc[np.flatnonzero(rows)]
            cats = part[categorical].astype("string").fillna("(missing)").astype(object)
            return pd.concat([part[numeric].astype(float), cats], axis=1)

        columns = ColumnTransformer(
            [
                ("numeric", make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler()), numeric),
                ("categorical", OneHotEncoder(handle_unknown="ignore", min_frequency=5), categorical),
            ]
        )
        logit = make_pipeline(columns, LogisticRegression(max_iter=2000, random_state=0))
        logit.fit(table(split.train), y_train)
        return logit.predict_proba(table(split.test))[:, 1]

    # ----------------------------------------------------------- output
    def risk_tier(self, prob: np.ndarray) -> np.ndarray:
        tiers = np.full(len(prob), self.params.lowest_risk_tier, dtype=object)
        for name, cut in sorted(self.params.risk_tiers.items(), key=lambda kv: kv[1]):
            tiers[np.asarray(prob) >= cut] = name
        return tiers

    def postprocess(self, pred: np.ndarray, frame: pd.DataFrame) -> pd.DataFrame:
        prob = np.asarray(pred, dtype=float)
        return pd.DataFrame({"probability": prob, "risk_tier": self.risk_tier(prob)}, index=frame.index)

    # ---------------------------------------------------------- metrics
    def evaluate(self, y_true: np.ndarray, pred: np.ndarray, output: pd.DataFrame) -> dict[str, float]:
        metrics = classification_metrics(y_true, pred)
        metrics["recall_top_10pct"] = recall_at(y_true, pred, 0.1)
        metrics["recall_top_20pct"] = recall_at(y_true, pred, 0.2)
        top = next(iter(self.params.risk_tiers), None)
        if top is not None:
            flagged = output["risk_tier"].to_numpy() == top
            metrics["high_risk_share"] = float(flagged.mean()) if len(flagged) else float("nan")
            metrics["high_risk_precision"] = float(np.mean(np.asarray(y_true)[flagged])) if flagged.any() else float("nan")
        return metrics

    def figures(self, y_true: np.ndarray, pred: np.ndarray, output: pd.DataFrame) -> dict[str, Any]:
        from salesml.core import plots

        return {
            "plots/calibration_curve.png": plots.calibration_plot(y_true, pred),
            "plots/lift_gain.png": plots.gain_plot(y_true, pred),
        }

    def comparison_figures(self, y_true: np.ndarray, predictions: Mapping[str, np.ndarray]) -> dict[str, Any]:
        from salesml.core import plots

        return {"plots/gain_vs_baselines.png": plots.gain_comparison_plot(y_true, predictions)}

    def data_problems(self, y_train: np.ndarray, y_test: np.ndarray) -> list[str]:
        return too_few_of_each_class(
            y_train, y_test, min_positive=self.params.min_churned, min_negative=self.params.min_retained,
            positive="churned", negative="retained", rows="customers",
        )

    def summary(self, metrics: Mapping[str, float], scored: pd.DataFrame | None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "holdout ROC-AUC": round(metrics["test.roc_auc"], 3),
            "holdout PR-AUC": round(metrics["test.pr_auc"], 3),
            "recall in top 10% / 20%": f"{metrics['test.recall_top_10pct']:.2f} / {metrics['test.recall_top_20pct']:.2f}",
        }
        for name in ("orders_down_rule", "logistic_regression"):
            if f"baseline.{name}.roc_auc" in metrics:
                out[f"{name} ROC-AUC"] = round(metrics[f"baseline.{name}.roc_auc"], 3)
        if scored is not None:
            out["customers scored"] = len(scored)
            out["risk tiers"] = {str(k): int(v) for k, v in scored["risk_tier"].value_counts().sort_index().items()}
        return out
