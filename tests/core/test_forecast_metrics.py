"""Forecast metrics against hand computations."""

from __future__ import annotations

import numpy as np
import pytest

from salesml.core.metrics import coverage, forecast_metrics, mase, wape


def test_wape_accuracy_bias_and_smape():
    actual = np.array([100.0, 200.0, 0.0, -50.0])
    forecast = np.array([110.0, 180.0, 10.0, -50.0])
    m = forecast_metrics(actual, forecast)
    assert m["wape"] == pytest.approx(40 / 350)
    assert m["accuracy"] == pytest.approx(1 - 40 / 350)
    assert m["bias"] == pytest.approx(0 / 350)
    assert m["smape"] == pytest.approx(np.mean([20 / 210, 40 / 380, 2.0, 0.0]))
    assert np.isnan(wape(np.zeros(3), np.ones(3)))


def test_mase_averages_each_series_scaled_error():
    actual = np.array([10.0, 20.0, 5.0, 5.0])
    forecast = np.array([12.0, 18.0, 5.0, 8.0])
    series = np.array(["a", "a", "b", "b"])
    naive = np.array([4.0, 4.0, 1.5, 1.5])
    assert mase(actual, forecast, naive, series) == pytest.approx(np.mean([2 / 4, 1.5 / 1.5]))
    assert mase(actual, forecast, np.array([0.0, 0.0, 1.5, 1.5]), series) == pytest.approx(1.0)  # a constant history is left out


def test_coverage_counts_the_bounds_as_inside():
    assert coverage(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 0.0, 3.5, 0.0]), np.array([2.0, 1.0, 4.0, 4.0])) == 0.5
