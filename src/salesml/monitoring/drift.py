"""Drift: population stability index (PSI) per input column and for the prediction, and the reference profile.

A profile is bin edges and counts, never a row. :func:`reference_profile` is
stored in a model's metadata at training time (the holdout's distribution);
:func:`salesml.monitoring.monitor.monitor` compares current rows with it. The
rules (bins, epsilon, lights) are in :mod:`salesml.monitoring`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from salesml.core.contracts import parse_datetime

__all__ = ["Profile", "psi", "psi_light", "numeric_profile", "categorical_profile", "reference_profile",
           "PSI_EPSILON", "PSI_YELLOW", "PSI_RED", "LIGHTS", "Light"]

PSI_EPSILON = 1e-4
PSI_YELLOW = 0.1
PSI_RED = 0.2
_DECIMALS = 6
MISSING = "(missing)"
OTHER = "(other)"
LIGHTS = ("green", "yellow", "red")
Light = Literal["green", "yellow", "red"]


# --------------------------------------------------------------------- PSI
def psi(reference: Sequence[float] | np.ndarray, current: Sequence[float] | np.ndarray, eps: float = PSI_EPSILON) -> float:
    """Population stability index of two binned distributions (counts or shares, same bins)."""
    r = np.asarray(reference, dtype=float)
    c = np.asarray(current, dtype=float)
    if r.shape != c.shape:
        raise ValueError(f"reference and current must have the same bins. Got {r.shape} and {c.shape} instead.")
    if r.sum() <= 0 or c.sum() <= 0:
        return float("nan")
    r, c = r / r.sum(), c / c.sum()
    used = (r > 0) | (c > 0)
    r, c = np.where(r[used] > 0, r[used], eps), np.where(c[used] > 0, c[used], eps)
    return float(np.sum((c - r) * np.log(c / r)))


def psi_light(value: float, *, yellow: float = PSI_YELLOW, red: float = PSI_RED) -> Light | None:
    """green below ``yellow``, yellow from ``yellow`` up to ``red``, red from ``red`` (PSI rounded to 6 decimals)."""
    if value is None or not math.isfinite(value):
        return None
    v = round(value, _DECIMALS)
    return "red" if v >= red else "yellow" if v >= yellow else "green"


# ---------------------------------------------------------------- profiles
@dataclass
class Profile:
    """A binned distribution (aggregates only): numeric bins by inner ``edges`` or ``categories``, then missing."""

    name: str
    kind: str  # numeric | categorical
    counts: list[int]
    edges: list[float] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    source: str = ""  # what was measured: value, word count, age in days...

    @property
    def labels(self) -> list[str]:
        if self.kind == "categorical":
            return [*self.categories, OTHER, MISSING]
        e = [_short(x) for x in self.edges]
        if not e:
            return ["all", MISSING]
        return [f"<= {e[0]}", *[f"({a}, {b}]" for a, b in zip(e, e[1:])], f"> {e[-1]}", MISSING]

    @property
    def total(self) -> int:
        return int(sum(self.counts))

    def shares(self) -> np.ndarray:
        counts = np.asarray(self.counts, dtype=float)
        return counts / counts.sum() if counts.sum() else counts

    def count(self, values: np.ndarray | pd.Series) -> Profile:
        """The distribution of ``values`` in this profile's bins."""
        if self.kind == "numeric":
            x = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
            missing = np.isnan(x)
            idx = np.searchsorted(np.asarray(self.edges, dtype=float), x[~missing], side="left")
            counts = np.bincount(idx, minlength=len(self.edges) + 1).tolist() + [int(missing.sum())]
        else:
            s = pd.Series(values, dtype=object)
            missing = s.isna().to_numpy()
            codes = pd.Categorical(s.astype("string"), categories=self.categories).codes
            known = np.bincount(codes[codes >= 0], minlength=len(self.categories)).tolist()
            counts = known + [int(((codes < 0) & ~missing).sum()), int(missing.sum())]
        return Profile(self.name, self.kind, [int(c) for c in counts], list(self.edges), list(self.categories), self.source)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Profile:
        return cls(**dict(data))


def _short(x: float) -> str:
    return f"{x:.4g}"


def numeric_profile(name: str, values: Any, *, bins: int = 10, source: str = "value") -> Profile:
    """Bins at the deciles (``bins`` quantiles) of ``values``, right-closed, plus missing."""
    x = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
    finite = x[np.isfinite(x)]
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1])).tolist() if len(finite) else []
    return Profile(name, "numeric", [], [float(e) for e in edges], [], source).count(x)


def categorical_profile(name: str, values: Any, categories: Sequence[str], *, source: str = "category") -> Profile:
    return Profile(name, "categorical", [], [], [str(c) for c in categories], source).count(values)


def _monitored(plan: Any, frame: pd.DataFrame, time_column: str | None) -> tuple[str, Any, list[str], str] | None:
    """(kind, values, categories, source) of one encoder column as monitoring sees it; None when not monitored."""
    from salesml.core.features import _as_str, _to_bool

    if not plan.is_feature or plan.kind == "time" or plan.name not in frame.columns:
        return None
    s = frame[plan.name]
    if plan.kind == "numeric":
        return "numeric", pd.to_numeric(s, errors="coerce"), [], "value"
    if plan.kind == "bool":
        b = _to_bool(s)
        return "categorical", np.where(np.isnan(b), None, np.where(b == 1.0, "true", "false")), ["false", "true"], "value"
    if plan.kind == "categorical":
        return "categorical", _as_str(s), list(plan.categories), "category"
    if plan.kind == "datetime":
        d = parse_datetime(s)
        if time_column and time_column in frame.columns and len(plan.features) > 2:
            ref = parse_datetime(frame[time_column])
            return "numeric", (ref - d).dt.total_seconds() / 86400.0, [], "days before the row's time"
        return "numeric", d.dt.month.astype(float), [], "month"
    if plan.kind == "text":
        text = _as_str(s)
        words = text.fillna("").str.split().str.len().astype(float)
        return "numeric", words.where(text.notna()), [], "number of words"
    return None


def reference_profile(encoder: Any, frame: pd.DataFrame, prediction: np.ndarray, *, bins: int = 10, source: str = "holdout") -> dict[str, Any]:
    """The reference distributions a model carries in its metadata (bin edges and counts only, no rows)."""
    prediction = np.asarray(prediction, dtype=float).ravel()  # several outputs per row (horizons...) pooled
    columns = []
    for plan in getattr(encoder, "columns_", []):
        got = _monitored(plan, frame, encoder.time_column)
        if got is None:
            continue
        kind, values, categories, what = got
        prof = (
            numeric_profile(plan.name, values, bins=bins, source=what)
            if kind == "numeric"
            else categorical_profile(plan.name, values, categories, source=what)
        )
        columns.append(prof.to_dict())
    return {
        "source": source,
        "rows": int(len(frame)),
        "columns": columns,
        "prediction": numeric_profile("prediction", prediction, bins=bins, source="prediction").to_dict(),
        "mean_prediction": float(np.mean(prediction)) if len(prediction) else float("nan"),
    }
