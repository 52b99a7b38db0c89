"""Split-conformal prediction intervals, stored as a few numbers in JSON.

Held-out residuals (``actual - prediction`` on rows the model was not fitted
on) give, per forecast step ``h``, the empirical quantiles that bound the
error: an interval at level ``L`` is ``[prediction + q_lo, prediction + q_hi]``
with ``q_lo`` the ``(1 - L) / 2`` and ``q_hi`` the ``(1 + L) / 2`` quantile,
each taken one order statistic further out (the split-conformal finite-sample
correction: rank ``ceil((n + 1) p)``). Signed quantiles keep a skewed or biased
error honest on each side. Steps with fewer than ``min_per_step`` residuals
(default 40, the fewest for which a 95% bound is not simply the largest error
seen) share the quantiles of all steps pooled. With fewer than ``2 / (1 - L) - 1``
residuals in all, the level-``L`` interval is the range of the errors seen (so
the 80% and 95% intervals coincide below 19 residuals).

With fewer than ``symmetric_below`` residuals (default 0: never), a table is
symmetric instead: ``+-`` the conformal quantile of the absolute errors, which
spends every residual on one width rather than a few on each tail and does not
bet on the sign of a bias seen in a handful of windows.

Residuals may be in any unit; the forecasting task uses errors relative to
each series' recent level, so one table serves series of every size.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["ConformalIntervals", "interval_columns"]


def interval_columns(level: float) -> tuple[str, str]:
    """Output column names of an interval level: ``lower_80``, ``upper_80``."""
    pct = f"{level * 100:g}".replace(".", "_")
    return f"lower_{pct}", f"upper_{pct}"


def _order_stat(sorted_values: np.ndarray, p: float, upper: bool) -> float:
    n = len(sorted_values)
    if upper:
        rank = int(np.ceil((n + 1) * p - 1e-9))  # 1-based; the tolerance absorbs float error in 1 - level
        return float(sorted_values[min(rank, n) - 1])
    rank = int(np.floor((n + 1) * p + 1e-9))
    return float(sorted_values[max(rank, 1) - 1])


@dataclass
class ConformalIntervals:
    """Quantiles of held-out residuals per step and level: ``table[step][level] = (q_lo, q_hi)``."""

    levels: tuple[float, ...] = (0.8, 0.95)
    table: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def fit(
        cls,
        residuals: np.ndarray,
        steps: np.ndarray,
        levels: Sequence[float] = (0.8, 0.95),
        *,
        min_per_step: int = 40,
        symmetric_below: int = 0,
    ) -> ConformalIntervals:
        residuals = np.asarray(residuals, dtype=float)
        steps = np.asarray(steps)
        for level in levels:
            if not 0.0 < float(level) < 1.0:
                raise ValueError(f"Interval levels must be between 0 and 1, e.g. 0.8. Got {level!r} instead.")
        ok = np.isfinite(residuals)
        residuals, steps = residuals[ok], steps[ok]
        if len(residuals) == 0:
            raise ValueError("Conformal intervals need held-out residuals; got none (is the validation slice empty?).")
        groups: dict[str, np.ndarray] = {"all": np.sort(residuals)}
        for h in np.unique(steps):
            r = residuals[steps == h]
            if len(r) >= min_per_step:
                groups[str(int(h))] = np.sort(r)
        table: dict[str, dict[str, tuple[float, float]]] = {}
        for key, r in groups.items():
            table[key] = {}
            size = np.sort(np.abs(r)) if len(r) < symmetric_below else None
            for level in levels:
                alpha = 1.0 - float(level)
                if size is not None:  # both tails' errors estimate one width: steadier on few residuals
                    q = _order_stat(size, float(level), True)
                    table[key][f"{float(level):g}"] = (-q, q)
                else:
                    table[key][f"{float(level):g}"] = (_order_stat(r, alpha / 2, False), _order_stat(r, 1 - alpha / 2, True))
        smallest = min(len(r) for r in groups.values())
        if smallest + 1 < 2 / (1 - max(levels)):
            logger.info(
                "only %d held-out residuals for some step: the %g%% interval is bounded by the largest error seen",
                smallest, 100 * max(levels),
            )
        return cls(tuple(float(x) for x in levels), table, {k: int(len(v)) for k, v in groups.items()})

    def offsets(self, steps: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
        """``(q_lo, q_hi)`` arrays for each row's step (steps without their own table use the pooled one)."""
        key = f"{float(level):g}"
        if not self.table or key not in self.table["all"]:
            raise ValueError(f"No {level:g} interval was fitted. Fitted levels: {list(self.levels)}.")
        steps = np.asarray(steps)
        lo = np.empty(len(steps))
        hi = np.empty(len(steps))
        pooled = self.table["all"][key]
        for h in np.unique(steps):
            q = self.table.get(str(int(h)), {}).get(key, pooled)
            mask = steps == h
            lo[mask], hi[mask] = q
        return lo, hi

    def to_dict(self) -> dict[str, Any]:
        return {
            "levels": list(self.levels),
            "table": {k: {lv: list(q) for lv, q in v.items()} for k, v in self.table.items()},
            "counts": dict(self.counts),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConformalIntervals:
        return cls(
            tuple(float(x) for x in data["levels"]),
            {k: {lv: (float(q[0]), float(q[1])) for lv, q in v.items()} for k, v in data["table"].items()},
            {k: int(v) for k, v in data.get("counts", {}).items()},
        )
