"""A regularised logistic regression on the encoder's features, blended with the booster when it helps.

Small and near-linear tables (a few thousand rows, effects that add up) are where a plain
logistic regression beats gradient boosting. For binary tasks the flow fits one
:class:`LinearModel` per cross-validation fold beside the fold's booster and picks the blend
weight ``w`` of the booster (1, 0.75, 0.5 or 0.25) with the best out-of-fold score; the shipped
raw score is ``w * booster + (1 - w) * linear`` (in log-odds), calibrated as usual.

The linear part is stored as JSON (no pickle). Its reasons are exact and additive: feature
``j``'s contribution is its terms minus their mean on the training rows, so the contributions
plus the base value equal the linear score, and blended contributions (``w`` times the booster's
SHAP values plus ``1 - w`` times these) still add up to the shipped raw score.

Design of the features: a number is imputed with its training median, standardised, clipped to
``[-5, 5]`` and given a missing-value indicator; a categorical code is one-hot over the codes seen
in training (unknown and missing share the all-zero reference). At most
:data:`MAX_FIT_ROWS` rows (a seeded sample) are used to fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["LinearModel", "BLEND_WEIGHTS", "MAX_FIT_ROWS"]

#: Booster weights tried for the blend (1 = the booster alone), best out-of-fold score wins, ties to the larger.
BLEND_WEIGHTS = (1.0, 0.75, 0.5, 0.25)
MAX_FIT_ROWS = 200_000
_CLIP = 5.0


@dataclass
class LinearModel:
    """L2-regularised logistic regression over encoded features (JSON-serialisable)."""

    features: list[str]
    kinds: list[str]
    center: list[float]
    scale: list[float]
    codes: list[list[float]]
    coef: list[list[float]]
    intercept: float
    mean_contribution: list[float]
    weight: float = 1.0  # the booster's weight in the blend (set by the flow)

    # -------------------------------------------------------------- fit
    @classmethod
    def fit(
        cls, X: pd.DataFrame, y: np.ndarray, categorical: Sequence[str], *, C: float = 1.0, random_state: int = 0
    ) -> LinearModel:
        from sklearn.linear_model import LogisticRegression

        y = np.asarray(y, dtype=float)
        if len(X) > MAX_FIT_ROWS:
            keep = np.sort(np.random.default_rng(random_state).choice(len(X), MAX_FIT_ROWS, replace=False))
            X, y = X.iloc[keep], y[keep]
        cats = set(categorical)
        features, kinds, center, scale, codes = [], [], [], [], []
        for name in X.columns:
            values = X[name].to_numpy(dtype=np.float64)
            known = values[~np.isnan(values)]
            features.append(str(name))
            if name in cats:
                kinds.append("categorical")
                codes.append(sorted(float(c) for c in np.unique(known)))
                center.append(0.0)
                scale.append(1.0)
            else:
                kinds.append("numeric")
                codes.append([])
                med = float(np.median(known)) if len(known) else 0.0
                sd = float(np.std(known)) if len(known) else 0.0
                center.append(med)
                scale.append(sd if sd > 0 else 1.0)
        model = cls(features, kinds, center, scale, codes, coef=[], intercept=0.0, mean_contribution=[])
        design, spans = model._design(X)
        lr = LogisticRegression(C=C, max_iter=1000, solver="lbfgs")
        lr.fit(design, y)
        w = lr.coef_[0]
        model.coef = [[float(v) for v in w[a:b]] for a, b in spans]
        model.intercept = float(lr.intercept_[0])
        parts = model._parts(design, spans)
        model.mean_contribution = [float(v) for v in parts.mean(axis=0)]
        return model

    # ---------------------------------------------------------- predict
    def _design(self, X: pd.DataFrame) -> tuple[np.ndarray, list[tuple[int, int]]]:
        blocks, spans, at = [], [], 0
        for j, name in enumerate(self.features):
            values = X[name].to_numpy(dtype=np.float64)
            missing = np.isnan(values)
            if self.kinds[j] == "categorical":
                levels = np.asarray(self.codes[j], dtype=np.float64)
                block = (values[:, None] == levels[None, :]).astype(np.float64)
            else:
                z = np.clip((np.where(missing, self.center[j], values) - self.center[j]) / self.scale[j], -_CLIP, _CLIP)
                block = np.column_stack([z, missing.astype(np.float64)])
            blocks.append(block)
            spans.append((at, at + block.shape[1]))
            at += block.shape[1]
        design = np.hstack(blocks) if blocks else np.zeros((len(X), 0))
        return design, spans

    def _parts(self, design: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
        out = np.zeros((design.shape[0], len(spans)))
        for j, (a, b) in enumerate(spans):
            if b > a:
                out[:, j] = design[:, a:b] @ np.asarray(self.coef[j], dtype=np.float64)
        return out

    def raw(self, X: pd.DataFrame) -> np.ndarray:
        """Log-odds for each row."""
        design, spans = self._design(X)
        return self.intercept + self._parts(design, spans).sum(axis=1)

    def contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(values, base)``: per-feature contributions (centred on the training mean) that add up with ``base``
        to :meth:`raw`."""
        design, spans = self._design(X)
        parts = self._parts(design, spans) - np.asarray(self.mean_contribution)
        base = np.full(len(X), self.intercept + float(np.sum(self.mean_contribution)))
        return parts, base

    # ------------------------------------------------------------- JSON
    def to_dict(self) -> dict[str, Any]:
        return {
            "features": self.features, "kinds": self.kinds, "center": self.center, "scale": self.scale,
            "codes": self.codes, "coef": self.coef, "intercept": self.intercept,
            "mean_contribution": self.mean_contribution, "weight": self.weight,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LinearModel:
        return cls(
            list(d["features"]), list(d["kinds"]), [float(v) for v in d["center"]], [float(v) for v in d["scale"]],
            [list(c) for c in d["codes"]], [list(c) for c in d["coef"]], float(d["intercept"]),
            [float(v) for v in d["mean_contribution"]], float(d.get("weight", 1.0)),
        )
