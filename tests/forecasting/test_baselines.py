"""The baselines: seasonal naive by definition, ETS and Theta on a clean seasonal series."""

from __future__ import annotations

import logging
import sys

import numpy as np
import pandas as pd
import pytest

from salesml.forecasting.baselines import available_baselines, baseline_forecasts, seasonal_naive
from salesml.forecasting.panel import build_panel


def panel(y: np.ndarray, freq: str = "M"):
    dates = pd.date_range("2020-01-01", periods=len(y), freq="MS" if freq == "M" else "W-MON")
    return build_panel(pd.DataFrame({"k": "a", "date": dates, "sales": y}), time="date", target="sales", keys=["k"], freq=freq)


def test_seasonal_naive_repeats_the_same_period_a_season_earlier():
    y = np.arange(30, dtype=float)
    p = panel(y)
    np.testing.assert_array_equal(seasonal_naive(p, 23, 3, np.array([0])), [[12.0, 13.0, 14.0]])
    np.testing.assert_array_equal(seasonal_naive(p, 5, 2, np.array([0])), [[5.0, 5.0]])  # younger than a season: last value


def test_ets_and_theta_forecast_a_clean_trend_and_season_closely():
    t = np.arange(60)
    y = 100 + 0.8 * t + 20 * np.sin(2 * np.pi * t / 12)
    p = panel(y)
    truth = y[48:51]
    out = baseline_forecasts(p, 47, 3, np.array([0]), ["seasonal_naive", "ets", "theta"])
    for name in ("ets", "theta"):
        wape = np.abs(out[name][0] - truth).sum() / truth.sum()
        assert wape < 0.02, (name, wape)
    assert np.abs(out["seasonal_naive"][0] - truth).sum() / truth.sum() > 0.05  # misses the trend


def test_without_statsmodels_only_the_seasonal_naive_baseline_runs(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "statsmodels", None)  # what `import statsmodels` sees when it is not installed
    with caplog.at_level(logging.WARNING, logger="salesml.forecasting.baselines"):
        assert available_baselines(["seasonal_naive", "ets", "theta"]) == ["seasonal_naive"]
    assert "pip install 'salesml[forecast]'" in caplog.text


def test_unknown_baselines_are_named():
    with pytest.raises(ValueError, match=r"Unknown baseline\(s\) \['arima'\]. Known: seasonal_naive, ets, theta."):
        available_baselines(["arima"])
