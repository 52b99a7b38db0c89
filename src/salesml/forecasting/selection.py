"""Which forecaster to ship: the global LightGBM model, a statistical baseline, or a combination, chosen by backtest.

Candidates: ``model`` (the global LightGBM), each statistical baseline
(:mod:`salesml.forecasting.baselines`), and the mean of the 2 and of the 3
best single candidates (forecast combinations are often more accurate than
any of their members). Every candidate is scored on the same rows: the scored
rolling-origin windows' forecasts of the series every candidate forecast (the
baselines' sample), with the run's ``selection_metric`` (WAPE, MASE or sMAPE;
lower is better). The best is shipped, so the shipped forecaster is never
worse on the backtest than its own best baseline; ties go to the simpler
candidate (a single before a combination, a baseline before the model).

A :class:`Forecaster` is JSON-ready: its members, the metric, every
candidate's score and its own interval state; the forecasting task refits its
statistical members on all the history at forecast time (they are fitted per
series from the history given), and the LightGBM member is the shipped booster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from salesml.core.metrics import forecast_metrics, mase

__all__ = ["SELECTION_METRICS", "Forecaster", "candidate_forecasts", "choose_forecaster", "combine"]

SELECTION_METRICS = ("wape", "mase", "smape")
MODEL = "model"


@dataclass
class Forecaster:
    """The chosen candidate: its members (their forecasts are averaged) and how every candidate scored."""

    members: list[str]
    metric: str
    scores: dict[str, float] = field(default_factory=dict)
    rows: int = 0
    intervals: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.members[0] if len(self.members) == 1 else "mean(" + "+".join(self.members) + ")"

    @property
    def uses_model(self) -> bool:
        return MODEL in self.members

    @property
    def statistical(self) -> list[str]:
        return [m for m in self.members if m != MODEL]

    def to_dict(self) -> dict[str, Any]:
        return {"members": self.members, "metric": self.metric, "scores": self.scores, "rows": self.rows,
                "intervals": self.intervals}

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> Forecaster:
        return cls(list(state["members"]), str(state["metric"]), dict(state.get("scores", {})), int(state.get("rows", 0)),
                   dict(state.get("intervals", {})))


def combine(values: Mapping[str, np.ndarray], members: Sequence[str]) -> np.ndarray:
    """The mean of the members' forecasts."""
    return np.mean(np.stack([np.asarray(values[m], dtype=float) for m in members]), axis=0)


def candidate_forecasts(forecasts: pd.DataFrame, baselines: Sequence[str]) -> dict[str, np.ndarray]:
    """Each single candidate's forecasts on the backtest rows (``forecast`` is the model's; NaN where not run)."""
    out = {MODEL: forecasts["forecast"].to_numpy(dtype=float)}
    for name in baselines:
        out[name] = forecasts[name].to_numpy(dtype=float)
    return out


def _score(metric: str, actual: np.ndarray, forecast: np.ndarray, naive_mae: np.ndarray, series: np.ndarray) -> float:
    if metric == "mase":
        return mase(actual, forecast, naive_mae, series)
    return forecast_metrics(actual, forecast)[metric]


def choose_forecaster(forecasts: pd.DataFrame, baselines: Sequence[str], *, metric: str = "wape") -> tuple[Forecaster, pd.DataFrame]:
    """The best candidate on the backtest forecasts (``actual``, ``forecast``, one column per baseline,
    ``naive_mae``, ``series``) and the table of every candidate's scores, best first."""
    if metric not in SELECTION_METRICS:
        raise ValueError(f"selection_metric must be one of {', '.join(SELECTION_METRICS)}. Got {metric!r} instead.")
    singles = candidate_forecasts(forecasts, baselines)
    rows = np.all([np.isfinite(v) for v in singles.values()], axis=0)
    actual = forecasts["actual"].to_numpy(dtype=float)[rows]
    naive_mae = forecasts["naive_mae"].to_numpy(dtype=float)[rows]
    series = forecasts["series"].to_numpy()[rows]
    values = {name: v[rows] for name, v in singles.items()}

    def score(members: Sequence[str]) -> float:
        value = _score(metric, actual, combine(values, members), naive_mae, series)
        return value if np.isfinite(value) else np.inf

    order = [MODEL, *baselines]  # simplicity order for ties (reversed below: baselines before the model)
    ranked = sorted(order, key=lambda n: (score([n]), -order.index(n)))
    candidates = [[n] for n in order]
    candidates += [sorted(ranked[:k], key=order.index) for k in (2, 3) if len(ranked) >= k]
    table = []
    for members in candidates:
        table.append({"candidate": Forecaster(list(members), metric).name, "members": "+".join(members),
                      metric: score(members), "rows": int(rows.sum())})
    frame = pd.DataFrame(table)
    frame["rank"] = frame[metric].rank(method="first").astype(int)
    best_value = frame[metric].min()
    tied = [m for m, v in zip(candidates, frame[metric]) if v <= best_value]
    best = min(tied, key=lambda m: (len(m), MODEL in m))
    chosen = Forecaster(list(best), metric, {r["candidate"]: float(r[metric]) for r in table}, int(rows.sum()))
    return chosen, frame.sort_values(metric, kind="stable").reset_index(drop=True)
