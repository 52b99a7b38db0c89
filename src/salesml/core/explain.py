"""Why a model scored what it scored: SHAP values and readable reasons.

* :func:`contributions` gives exact TreeSHAP values (path-dependent) from
  LightGBM's own ``pred_contrib``; they equal ``shap.TreeExplainer``'s values
  (a test checks it) and need no SHAP import at scoring time.
* :func:`shap_explanation` uses the ``shap`` library for the plots logged at
  training time.
* :func:`reasons` turns a row's contributions into the top positive and
  negative phrases ("visited the pricing page 6 times").

Contributions are in the model's raw (log-odds) space; calibration is monotone,
so a positive contribution always pushes the score up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from salesml.core.features import TabularEncoder

__all__ = ["contributions", "shap_explanation", "reasons", "mean_abs_importance"]


def contributions(booster: Any, X: pd.DataFrame, **predict_params: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per-row, per-feature SHAP values and the base value, in raw-score space.

    Returns ``(values, base)`` with ``values.shape == (n_rows, n_features)`` and
    ``values.sum(axis=1) + base`` equal to the raw prediction. ``predict_params``
    go to ``Booster.predict`` (e.g. ``num_threads``).
    """
    if len(X) == 0:
        return np.zeros((0, X.shape[1])), np.zeros(0)
    out = booster.predict(X.to_numpy(dtype=np.float64), pred_contrib=True, **predict_params)
    out = np.asarray(out)
    return out[:, :-1], out[:, -1]


def shap_explanation(booster: Any, X: pd.DataFrame, feature_names: list[str] | None = None) -> Any:
    """A ``shap.Explanation`` from ``shap.TreeExplainer`` (tree-path-dependent, exact)."""
    try:
        import shap
    except ImportError as err:  # pragma: no cover - shap is a core dependency
        raise ImportError("shap is needed for explanations: pip install shap") from err
    explainer = shap.TreeExplainer(booster, feature_perturbation="tree_path_dependent")
    values = explainer(X.to_numpy(dtype=np.float64))
    values.feature_names = feature_names or list(X.columns)
    return values


def mean_abs_importance(values: np.ndarray, feature_names: list[str]) -> pd.DataFrame:
    """Features ranked by mean |SHAP| (the global importance users read first)."""
    imp = np.abs(values).mean(axis=0)
    table = pd.DataFrame({"feature": feature_names, "mean_abs_shap": imp})
    return table.sort_values("mean_abs_shap", ascending=False, kind="stable").reset_index(drop=True)


def reasons(
    values: np.ndarray,
    X: pd.DataFrame,
    encoder: TabularEncoder,
    *,
    n: int = 3,
    templates: Mapping[str, Any] | None = None,
    min_abs: float = 1e-6,
) -> pd.DataFrame:
    """Top ``n`` positive and negative reasons per row as phrases.

    Columns ``reason_up_1..n`` (pushing the prediction up) and
    ``reason_down_1..n`` (pulling it down); empty strings where a row has
    fewer such features. Contributions smaller than ``min_abs`` are ignored.
    """
    names = list(X.columns)
    raw = X.to_numpy(dtype=np.float64)
    n_rows, n_feat = values.shape
    k = min(n, n_feat)
    order_up = np.argsort(-values, axis=1, kind="stable")[:, :k]
    order_down = np.argsort(values, axis=1, kind="stable")[:, :k]
    phrase_cache: dict[tuple[int, float], str] = {}

    def phrase(j: int, value: float) -> str:
        key = (j, value if not np.isnan(value) else -1e308)
        text = phrase_cache.get(key)
        if text is None:
            text = encoder.describe(names[j], float(value), templates)
            phrase_cache[key] = text
        return text

    out: dict[str, list[str]] = {}
    rows = np.arange(n_rows)
    for direction, order, sign in (("up", order_up, 1.0), ("down", order_down, -1.0)):
        for rank in range(n):
            col: list[str] = [""] * n_rows
            if rank < k:
                idx = order[:, rank]
                contrib = values[rows, idx] * sign
                vals = raw[rows, idx]
                for i in np.flatnonzero(contrib > min_abs):
                    col[i] = phrase(int(idx[i]), vals[i])
            out[f"reason_{direction}_{rank + 1}"] = col
    return pd.DataFrame(out, index=X.index)
