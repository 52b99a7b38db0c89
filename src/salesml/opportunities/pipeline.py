"""Pipeline forecast: expected bookings from the open opportunities, with a Bernoulli-sum interval.

Each open opportunity ``i`` books its amount ``a_i`` with probability ``p_i`` (the opportunity-win
model's P(win within the horizon)), independently of the others. Bookings are then a sum of
Bernoullis: mean ``sum p_i a_i``, variance ``sum p_i (1 - p_i) a_i^2``. The interval is the
normal approximation (``z`` for the level) clipped at zero and at the pipeline's total amount;
with few large deals it is rough, and :func:`bookings_quantiles` gives exact quantiles by a seeded
simulation instead.

The forecast covers the pipeline open at the date only: deals created later and booked within the
horizon are not in it (compare with the time-series forecast of the ``forecast`` task for total
revenue). :func:`pipeline_backtest` compares it, date by date, with the bookings that came and with
the CRM's stage-rule forecast (a fixed probability per stage) on rows the model did not train on.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm

from salesml.core.metrics import wape

__all__ = ["bookings_quantiles", "pipeline_backtest", "pipeline_forecast"]


def _interval(p: np.ndarray, a: np.ndarray, level: float) -> tuple[float, float, float]:
    mean = float(np.sum(p * a))
    sd = float(np.sqrt(np.sum(p * (1 - p) * a**2)))
    z = float(norm.ppf(0.5 + level / 2))
    return mean, max(0.0, mean - z * sd), min(float(np.sum(a)), mean + z * sd)


def pipeline_forecast(
    scored: pd.DataFrame,
    *,
    by: Sequence[str] = ("expected_close_month",),
    level: float = 0.9,
    probability: str = "probability",
    amount: str = "amount",
    stage_probability: str | None = None,
) -> pd.DataFrame:
    """Expected bookings per group (default: expected close month) with a ``level`` interval.

    ``scored``: one row per open opportunity with ``probability`` and ``amount`` (and the ``by`` columns;
    the opportunity-win scores joined to the snapshot have them). ``stage_probability``: a column with
    the stage rule's probability, to add the stage-rule forecast beside the model's.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1 (0.9 = a 90% interval). Got {level} instead.")
    missing = [c for c in (probability, amount, *by, *([stage_probability] if stage_probability else [])) if c not in scored.columns]
    if missing:
        raise ValueError(f"pipeline_forecast needs columns {', '.join(missing)}; got {', '.join(map(str, scored.columns))}.")
    pct = round(level * 100)
    rows = []
    for key, part in scored.groupby(list(by), sort=True, dropna=False):
        p = part[probability].to_numpy(dtype=float)
        a = part[amount].to_numpy(dtype=float)
        mean, lo, hi = _interval(p, a, level)
        row = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        row.update({"opportunities": len(part), "pipeline": float(a.sum()), "expected_bookings": mean,
                    f"lower_{pct}": lo, f"upper_{pct}": hi})
        if stage_probability:
            row["stage_rule_bookings"] = float(np.sum(part[stage_probability].to_numpy(dtype=float) * a))
        rows.append(row)
    return pd.DataFrame(rows)


def bookings_quantiles(p: np.ndarray, a: np.ndarray, quantiles: Sequence[float] = (0.05, 0.5, 0.95),
                       draws: int = 20_000, random_state: int = 0) -> np.ndarray:
    """Quantiles of the Bernoulli sum ``sum_i B(p_i) a_i`` by a seeded simulation."""
    rng = np.random.default_rng(random_state)
    p, a = np.asarray(p, dtype=float), np.asarray(a, dtype=float)
    totals = np.zeros(draws)
    for start in range(0, len(p), 256):  # chunks keep memory at draws x 256
        won = rng.random((draws, len(p[start:start + 256]))) < p[start:start + 256]
        totals += won @ a[start:start + 256]
    return np.quantile(totals, quantiles)


def pipeline_backtest(
    dates: pd.Series | np.ndarray,
    amount: np.ndarray,
    probability: np.ndarray,
    won: np.ndarray,
    stage_probability: np.ndarray,
    *,
    level: float = 0.9,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Per snapshot date: forecast (model, stage rule) vs the bookings that came within the horizon.

    Rows are open opportunities at their date, with the model's out-of-sample P(win), the 0/1 outcome
    ``won`` (within the horizon) and the stage rule's probability. Returns the table and WAPE of both
    forecasts over the dates, and how often the model's interval held the actual bookings.
    """
    frame = pd.DataFrame({"date": pd.to_datetime(pd.Series(dates)).to_numpy(), "a": np.asarray(amount, dtype=float),
                          "p": np.asarray(probability, dtype=float), "y": np.asarray(won, dtype=float),
                          "s": np.asarray(stage_probability, dtype=float)})
    rows = []
    for date, part in frame.groupby("date", sort=True):
        mean, lo, hi = _interval(part["p"].to_numpy(), part["a"].to_numpy(), level)
        rows.append({"date": date, "opportunities": len(part), "actual": float((part["y"] * part["a"]).sum()),
                     "forecast": mean, "lower": lo, "upper": hi, "stage_rule": float((part["s"] * part["a"]).sum())})
    table = pd.DataFrame(rows)
    metrics = {
        "wape": wape(table["actual"].to_numpy(), table["forecast"].to_numpy()),
        "wape_stage_rule": wape(table["actual"].to_numpy(), table["stage_rule"].to_numpy()),
        "coverage": float(((table["actual"] >= table["lower"]) & (table["actual"] <= table["upper"])).mean()),
        "dates": float(len(table)),
    }
    return table, metrics
