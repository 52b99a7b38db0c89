"""Rolling-origin backtests: each window learns only from before it, and reports every level."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesml.core.flow import _refitter
from salesml.tasks.forecasting import Forecasting

FAST = {"baselines": ["seasonal_naive"], "backtest_windows": 3}
QUICK = {"learning_rate": 0.1}  # LightGBM parameters of the refits


@pytest.fixture(scope="module")
def setup(crm):
    task = Forecasting(params=FAST)
    tables = Forecasting.builtin_tables(crm)
    task.validate(tables)
    return task, tables, task.build_dataset(tables)


@pytest.fixture(scope="module")
def report(setup):
    task, tables, dataset = setup
    calls = []
    real = _refitter(task, dataset, QUICK, 0)

    def recording(train, valid, rows):
        calls.append((train.copy(), valid.copy(), rows.copy()))
        return real(train, valid, rows)

    return task.backtest(tables, dataset, recording), calls


def test_each_window_learns_only_from_periods_before_it(setup, report):
    _, _, dataset = setup
    result, calls = report
    period, origin = dataset.frame["period"].to_numpy(), dataset.frame["origin"].to_numpy()
    assert len(calls) == 3 + 4  # the scored windows and, before them, the default 4 calibration windows
    starts = []
    for train, valid, rows in calls:
        window_origin = origin[rows].min()
        assert len(np.unique(origin[rows])) == 3  # forecasts from every origin up to the next window (step = horizon)
        assert period[train | valid].max() <= window_origin < period[rows].min()
        assert origin[valid].max() < window_origin
        assert period[train].max() < origin[valid].min()  # purged: no training target inside the validation slice
        starts.append(window_origin)
    assert (np.diff(np.array(starts, dtype="datetime64[ns]")).astype("timedelta64[D]").astype(int) > 27).all()
    windows = result.tables["backtest/windows.csv"]
    assert (windows["interval_residuals"] == "4 earlier windows (825 rows)").all()
    assert (windows["latest_period_learnt_from"] <= windows["origin"]).all()
    assert (windows["first_forecast_period"] > windows["origin"]).all()
    assert windows["origin"].is_monotonic_increasing and windows["origin"].is_unique


def test_sales_after_a_window_do_not_change_its_forecasts(setup, report):
    task, tables, _ = setup
    before = report[0].tables["backtest/forecasts.csv"]
    first = before.loc[before["window"] == 1, "origin"].iat[0]
    sales = tables["sales"].copy()
    later = sales["date"] > first
    sales.loc[later, ["sales", "pipeline"]] *= 1.7
    changed = {"sales": sales}
    dataset = task.build_dataset(changed)
    after = task.backtest(changed, dataset, _refitter(task, dataset, QUICK, 0)).tables["backtest/forecasts.csv"]
    cols = ["forecast", "lower_80", "upper_80", "lower_95", "upper_95", "seasonal_naive"]
    w1, w1_after = before[before["window"] == 1], after[after["window"] == 1]
    pd.testing.assert_frame_equal(w1[cols].reset_index(drop=True), w1_after[cols].reset_index(drop=True))
    np.testing.assert_allclose(w1_after["actual"].to_numpy(), 1.7 * w1["actual"].to_numpy())
    last = before["window"].max()
    assert not np.allclose(before.loc[before["window"] == last, "forecast"], after.loc[after["window"] == last, "forecast"])


def test_report_has_every_metric_level_and_table(report):
    result, _ = report
    m = result.metrics
    for key in ("backtest.wape", "backtest.accuracy", "backtest.mase", "backtest.smape", "backtest.bias",
                "backtest.coverage_80", "backtest.coverage_95", "backtest.seasonal_naive.wape",
                "backtest.wape_ratio.seasonal_naive", "backtest.total.model.wape", "backtest.region.model.wape",
                "backtest.product.model.coverage_80"):
        assert np.isfinite(m[key]), key
    assert m["backtest.accuracy"] == pytest.approx(1 - m["backtest.wape"])
    assert m["backtest.windows"] == 3
    per_level = result.tables["backtest/per_level.csv"]
    assert set(per_level["level"]) == {"total", "region", "product", "series"}
    assert len(result.tables["backtest/per_series.csv"]) == 25
    forecasts = result.tables["backtest/forecasts.csv"]
    assert len(forecasts) == 3 * 25 * 3
    assert (forecasts["lower_95"] <= forecasts["lower_80"]).all() and (forecasts["upper_80"] <= forecasts["upper_95"]).all()
    assert "plots/forecast_vs_actual.png" in result.figures


def test_too_little_history_for_any_window_is_refused(setup):
    task, tables, dataset = setup
    greedy = Forecasting(params={**FAST, "min_train_rows": 10**7})
    with pytest.raises(ValueError, match="No backtest window has enough history: each needs 10000000 training rows"):
        greedy.backtest(tables, dataset, _refitter(greedy, dataset, QUICK, 0))
