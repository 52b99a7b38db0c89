"""Probability calibration that lives in JSON.

A calibrator maps a classifier's raw margin (log-odds) to a probability that
means what it says: of 100 leads scored 0.3, about 30 convert. It is fitted on
the validation slice (never the rows the trees were grown on, never the
holdout) and stored as a few numbers, so the model artifact needs no pickle.

* ``sigmoid`` (Platt scaling, the default): ``p = 1 / (1 + exp(-(a * margin + b)))``.
  Strictly monotone, so it keeps the ranking (ROC-AUC unchanged).
* ``isotonic``: a non-decreasing step function, interpolated; needs more data.
* ``none``: the booster's own probability; ``identity``: regression values pass through;
  ``exp``: regression with a log link (LightGBM's poisson, tweedie, gamma), whose raw score is log(value).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

__all__ = ["Calibrator", "calibration_curve_table", "expected_calibration_error"]


@dataclass
class Calibrator:
    """Fitted mapping from raw margin to calibrated probability."""

    method: str = "sigmoid"
    a: float = 1.0
    b: float = 0.0
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()

    @classmethod
    def fit(cls, margin: np.ndarray, y_true: np.ndarray, method: str = "sigmoid") -> Calibrator:
        margin = np.asarray(margin, dtype=float)
        y_true = np.asarray(y_true, dtype=float)
        if method == "sigmoid":
            lr = LogisticRegression(C=1e6, solver="lbfgs", max_iter=1000)
            lr.fit(margin.reshape(-1, 1), y_true)
            return cls("sigmoid", a=float(lr.coef_[0, 0]), b=float(lr.intercept_[0]))
        if method == "isotonic":
            iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(margin, y_true)
            return cls("isotonic", x=tuple(map(float, iso.X_thresholds_)), y=tuple(map(float, iso.y_thresholds_)))
        if method in ("none", "identity", "exp"):
            return cls(method)
        raise ValueError(
            f"The calibration method must be 'sigmoid', 'isotonic', 'none', 'identity' or 'exp'. Got {method!r} instead."
        )

    def transform(self, margin: np.ndarray) -> np.ndarray:
        margin = np.asarray(margin, dtype=float)
        if self.method == "sigmoid":
            return 1.0 / (1.0 + np.exp(-(self.a * margin + self.b)))
        if self.method == "isotonic":
            return np.interp(margin, np.asarray(self.x), np.asarray(self.y))
        if self.method == "identity":  # regression: the raw prediction is the value
            return margin
        if self.method == "exp":  # log-link regression: the raw prediction is log(value)
            return np.exp(margin)
        return 1.0 / (1.0 + np.exp(-margin))

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "a": self.a, "b": self.b, "x": list(self.x), "y": list(self.y)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibrator:
        return cls(data["method"], float(data["a"]), float(data["b"]), tuple(data["x"]), tuple(data["y"]))


def _bins(prob: np.ndarray, n_bins: int) -> np.ndarray:
    """Equal-count bins: with rare positives, equal-width bins leave most bins empty."""
    order = np.argsort(prob, kind="stable")
    bins = np.empty(len(prob), dtype=int)
    bins[order] = np.minimum((np.arange(len(prob)) * n_bins) // max(len(prob), 1), n_bins - 1)
    return bins


def calibration_curve_table(y_true: np.ndarray, prob: np.ndarray, n_bins: int = 10) -> dict[str, np.ndarray]:
    """Mean predicted vs observed value in equal-count bins of the prediction (empty bins left out).

    ``bin`` numbers the bins kept from 0 (lowest predictions); works for any
    numeric prediction, not only probabilities.
    """
    y_true = np.asarray(y_true, dtype=float)
    prob = np.asarray(prob, dtype=float)
    bins = _bins(prob, n_bins)
    counts = np.bincount(bins, minlength=n_bins)
    keep = counts > 0
    mean_pred = np.bincount(bins, weights=prob, minlength=n_bins)[keep] / counts[keep]
    observed = np.bincount(bins, weights=y_true, minlength=n_bins)[keep] / counts[keep]
    return {"bin": np.arange(n_bins)[keep], "mean_predicted": mean_pred, "observed": observed, "count": counts[keep]}


def expected_calibration_error(y_true: np.ndarray, prob: np.ndarray, n_bins: int = 10) -> float:
    """Count-weighted mean |observed - predicted| over equal-count bins."""
    table = calibration_curve_table(y_true, prob, n_bins)
    w = table["count"] / table["count"].sum()
    return float(np.sum(w * np.abs(table["observed"] - table["mean_predicted"])))
