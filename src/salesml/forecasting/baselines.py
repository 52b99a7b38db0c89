"""Statistical baselines the forecasting model must beat, run only inside backtests (never stored).

* ``seasonal_naive``: the value of the same period one season earlier (12
  months / 52 weeks); the last value when the series is younger than a season.
* ``ets``: Holt-Winters exponential smoothing with an additive damped trend
  and additive seasonality (``statsmodels``), fitted per series (least
  squares, heuristic start); without two full seasons of history, no seasonality.
* ``theta``: the Theta method (Assimakopoulos & Nikolopoulos 2000; ``statsmodels``),
  on seasonally adjusted data when the series is positive and seasonal.

``ets`` and ``theta`` need statsmodels (``pip install 'salesml[forecast]'``);
without it they are skipped with a warning. A series on which a statistical
fit fails gets its seasonal naive forecast instead, and the count is logged.
statsmodels was chosen over statsforecast because statsforecast pins
pandas < 3, which would leak into every user's environment.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence

import numpy as np

from salesml.forecasting.panel import Panel

logger = logging.getLogger(__name__)

__all__ = ["BASELINES", "baseline_forecasts", "seasonal_naive", "available_baselines"]

BASELINES = ("seasonal_naive", "ets", "theta")


def available_baselines(names: Sequence[str]) -> list[str]:
    """``names`` minus the statistical ones when statsmodels is missing (with a warning)."""
    unknown = [n for n in names if n not in BASELINES]
    if unknown:
        raise ValueError(f"Unknown baseline(s) {unknown}. Known: {', '.join(BASELINES)}.")
    wanted = list(dict.fromkeys(names))
    if any(n in ("ets", "theta") for n in wanted):
        try:
            import statsmodels  # noqa: F401
        except ImportError:
            logger.warning(
                "statsmodels is needed for the ETS and Theta baselines: pip install 'salesml[forecast]'. "
                "Reporting the seasonal naive baseline only."
            )
            wanted = [n for n in wanted if n not in ("ets", "theta")]
    return wanted


def seasonal_naive(panel: Panel, origin: int, horizon: int, series: np.ndarray) -> np.ndarray:
    """``(len(series), horizon)`` forecasts: the value one season before each target period."""
    m = panel.season
    Y = panel.values[series]
    out = np.empty((len(series), horizon))
    last = np.array([_last_value(Y[i, : origin + 1]) for i in range(len(series))])
    for h in range(1, horizon + 1):
        src = origin + h - m
        while src > origin:  # horizons beyond a season reuse the latest season
            src -= m
        col = Y[:, src] if src >= 0 else np.full(len(series), np.nan)
        out[:, h - 1] = np.where(np.isnan(col), last, col)
    return out


def _last_value(y: np.ndarray) -> float:
    ok = np.flatnonzero(~np.isnan(y))
    return float(y[ok[-1]]) if len(ok) else 0.0


def baseline_forecasts(
    panel: Panel, origin: int, horizon: int, series: np.ndarray, names: Sequence[str]
) -> dict[str, np.ndarray]:
    """Each baseline's ``(len(series), horizon)`` forecasts from the history up to ``origin``."""
    out: dict[str, np.ndarray] = {}
    naive = seasonal_naive(panel, origin, horizon, series)
    for name in names:
        if name == "seasonal_naive":
            out[name] = naive
        else:
            out[name] = _statistical(panel, origin, horizon, series, name, naive)
    return out


def _statistical(panel: Panel, origin: int, horizon: int, series: np.ndarray, name: str, fallback: np.ndarray) -> np.ndarray:
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    m = panel.season
    out = fallback.copy()
    failed = 0
    for i, s in enumerate(series):
        y = panel.values[s, : origin + 1]
        y = y[~np.isnan(y)]
        if len(y) < 4 or np.all(y == y[0]):
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                warnings.simplefilter("ignore", RuntimeWarning)
                warnings.simplefilter("ignore", UserWarning)
                out[i] = _fit_one(y, m, horizon, name)
        except (ValueError, np.linalg.LinAlgError, FloatingPointError):
            failed += 1
    if failed:
        logger.info("%s baseline failed on %d of %d series; their seasonal naive forecast stands in", name, failed, len(series))
    return out


def _fit_one(y: np.ndarray, m: int, horizon: int, name: str) -> np.ndarray:
    seasonal = len(y) >= 2 * m
    if name == "ets":
        from statsmodels.tsa.holtwinters import ExponentialSmoothing

        model = ExponentialSmoothing(
            y,
            trend="add",
            damped_trend=True,
            seasonal="add" if seasonal else None,
            seasonal_periods=m if seasonal else None,
            # the heuristic start (two full seasons) is ~4x faster than a brute-force search and as accurate here
            initialization_method="heuristic" if seasonal else "estimated",
        )
        forecast = model.fit(use_brute=False).forecast(horizon)
    else:
        from statsmodels.tsa.forecasting.theta import ThetaModel

        model = ThetaModel(y, period=m, deseasonalize=seasonal and bool(np.all(y > 0)), method="auto")
        forecast = model.fit().forecast(horizon)
    forecast = np.asarray(forecast, dtype=float)
    if not np.all(np.isfinite(forecast)):
        raise ValueError("non-finite forecast")
    return forecast
