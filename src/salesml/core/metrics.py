"""Holdout metrics, written once and shared by the tasks.

Classification: ROC-AUC, PR-AUC, Brier, log loss, expected calibration error,
lift in the top decile, and what a follow-up threshold does (share of leads
followed, share of conversions caught, precision). Regression: MAE, RMSE,
Spearman, normalised Gini, top-decile capture and total error.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from salesml.core.calibration import expected_calibration_error

__all__ = ["classification_metrics", "threshold_metrics", "lift_at", "gain_curve", "regression_metrics"]


def lift_at(y_true: np.ndarray, score: np.ndarray, fraction: float = 0.1) -> float:
    """Positive rate among the top ``fraction`` by score divided by the overall rate."""
    y_true = np.asarray(y_true, dtype=float)
    n_top = max(1, int(round(len(y_true) * fraction)))
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    base = y_true.mean()
    return float(y_true[order[:n_top]].mean() / base) if base > 0 else float("nan")


def recall_at(y_true: np.ndarray, score: np.ndarray, fraction: float) -> float:
    """Share of all positives found in the top ``fraction`` by score."""
    y_true = np.asarray(y_true, dtype=float)
    n_top = max(1, int(round(len(y_true) * fraction)))
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    total = y_true.sum()
    return float(y_true[order[:n_top]].sum() / total) if total > 0 else float("nan")


def gain_curve(y_true: np.ndarray, score: np.ndarray, points: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative share of positives captured vs share of rows followed (best first)."""
    y_true = np.asarray(y_true, dtype=float)
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    captured = np.concatenate([[0.0], np.cumsum(y_true[order]) / max(y_true.sum(), 1.0)])
    share = np.linspace(0.0, 1.0, len(captured))
    idx = np.linspace(0, len(captured) - 1, points + 1).round().astype(int)
    return share[idx], captured[idx]


def classification_metrics(y_true: np.ndarray, prob: np.ndarray) -> dict[str, float]:
    y_true = np.asarray(y_true, dtype=int)
    prob = np.clip(np.asarray(prob, dtype=float), 1e-9, 1 - 1e-9)
    return {
        "roc_auc": float(roc_auc_score(y_true, prob)),
        "pr_auc": float(average_precision_score(y_true, prob)),
        "brier": float(brier_score_loss(y_true, prob)),
        "log_loss": float(log_loss(y_true, prob, labels=[0, 1])),
        "ece": expected_calibration_error(y_true, prob),
        "lift_top_decile": lift_at(y_true, prob, 0.1),
        "positive_rate": float(y_true.mean()),
        "mean_predicted": float(prob.mean()),
    }


def threshold_metrics(y_true: np.ndarray, follow: np.ndarray) -> dict[str, float]:
    """What following the flagged rows achieves."""
    y_true = np.asarray(y_true, dtype=float)
    follow = np.asarray(follow, dtype=bool)
    n_followed = int(follow.sum())
    positives = y_true.sum()
    return {
        "followed_share": float(follow.mean()) if len(follow) else float("nan"),
        "conversion_capture": float(y_true[follow].sum() / positives) if positives > 0 else float("nan"),
        "precision_at_threshold": float(y_true[follow].mean()) if n_followed else float("nan"),
        "n_followed": float(n_followed),
    }


def regression_metrics(y_true: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Error and ranking measures for values such as revenue (zeros common)."""
    y_true = np.asarray(y_true, dtype=float)
    pred = np.asarray(pred, dtype=float)
    err = pred - y_true
    total = y_true.sum()
    rho = spearmanr(y_true, pred).statistic if np.std(pred) > 0 and np.std(y_true) > 0 else float("nan")
    return {
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "spearman": float(rho),
        "normalized_gini": normalized_gini(y_true, pred),
        "top_decile_capture": float(_top_share(y_true, pred, 0.1)),
        "total_error": float((pred.sum() - total) / total) if total != 0 else float("nan"),
    }


def _top_share(y_true: np.ndarray, pred: np.ndarray, fraction: float) -> float:
    n_top = max(1, int(round(len(y_true) * fraction)))
    order = np.argsort(-pred, kind="stable")
    total = y_true.sum()
    return y_true[order[:n_top]].sum() / total if total > 0 else float("nan")


def _gini(y_true: np.ndarray, pred: np.ndarray) -> float:
    order = np.argsort(-pred, kind="stable")
    y = y_true[order]
    n = len(y)
    cum = np.cumsum(y) / y.sum()
    return float(cum.sum() / n - (n + 1) / (2 * n))


def normalized_gini(y_true: np.ndarray, pred: np.ndarray) -> float:
    """Gini of the ranking by ``pred`` relative to the perfect ranking (1 = perfect, 0 = random)."""
    y_true = np.asarray(y_true, dtype=float)
    pred = np.asarray(pred, dtype=float)
    if y_true.sum() <= 0:
        return float("nan")
    return _gini(y_true, pred) / _gini(y_true, y_true)


def wape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Weighted absolute percentage error: sum |forecast - actual| / sum |actual| (accuracy = 1 - WAPE)."""
    actual = np.asarray(actual, dtype=float)
    forecast = np.asarray(forecast, dtype=float)
    denom = np.abs(actual).sum()
    return float(np.abs(forecast - actual).sum() / denom) if denom > 0 else float("nan")


def forecast_metrics(actual: np.ndarray, forecast: np.ndarray) -> dict[str, float]:
    """WAPE, accuracy (1 - WAPE), bias (sum of errors / sum |actual|), sMAPE and MAE of forecasts."""
    actual = np.asarray(actual, dtype=float)
    forecast = np.asarray(forecast, dtype=float)
    denom = np.abs(actual).sum()
    scale = np.abs(actual) + np.abs(forecast)
    with np.errstate(divide="ignore", invalid="ignore"):
        smape = np.where(scale > 0, 2.0 * np.abs(forecast - actual) / scale, 0.0)
    w = wape(actual, forecast)
    return {
        "wape": w,
        "accuracy": 1.0 - w,
        "bias": float((forecast - actual).sum() / denom) if denom > 0 else float("nan"),
        "smape": float(smape.mean()) if len(actual) else float("nan"),
        "mae": float(np.abs(forecast - actual).mean()) if len(actual) else float("nan"),
    }


def mase(actual: np.ndarray, forecast: np.ndarray, naive_mae: np.ndarray, series: np.ndarray) -> float:
    """Mean absolute scaled error: each series' MAE over its in-sample seasonal-naive MAE, averaged over series.

    Series whose in-sample naive error is 0 (constant history) are left out.
    """
    _, code = np.unique(np.asarray(series, dtype=object).astype(str), return_inverse=True)
    errors = np.abs(np.asarray(forecast, float) - np.asarray(actual, float))
    count = np.bincount(code)
    per_series = np.bincount(code, weights=errors) / count
    denom = np.zeros(len(count))
    denom[code] = np.asarray(naive_mae, dtype=float)
    ok = denom > 0
    return float(np.mean(per_series[ok] / denom[ok])) if ok.any() else float("nan")


def coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share of actual values inside [lower, upper]."""
    actual = np.asarray(actual, dtype=float)
    inside = (actual >= np.asarray(lower, dtype=float)) & (actual <= np.asarray(upper, dtype=float))
    return float(inside.mean()) if len(actual) else float("nan")


__all__ += ["wape", "forecast_metrics", "mase", "coverage"]
