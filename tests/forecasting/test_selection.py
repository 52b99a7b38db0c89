"""Choosing the shipped forecaster by backtest: known answers, ties, combinations, and the rows compared."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesml.forecasting.selection import Forecaster, choose_forecaster


def backtest(actual, model, naive, theta) -> pd.DataFrame:
    n = len(actual)
    return pd.DataFrame({"series": ["a"] * (n // 2) + ["b"] * (n - n // 2), "actual": actual, "forecast": model,
                         "seasonal_naive": naive, "theta": theta, "naive_mae": 1.0})


def test_the_best_candidate_wins_and_every_candidate_is_scored_on_the_same_rows():
    actual = np.array([10.0, 10.0, 10.0, 10.0])
    frame = backtest(actual, [12, 12, 12, 12], [9, 9, 9, 9], [10.5, np.nan, 10.5, 10.5])
    chosen, table = choose_forecaster(frame, ["seasonal_naive", "theta"], metric="wape")
    # the mean of the 2 best (9 and 10.5: 9.75) beats each; the row theta missed is left out for everyone
    assert chosen.members == ["seasonal_naive", "theta"] and chosen.rows == 3
    assert chosen.scores == pytest.approx({"model": 0.2, "seasonal_naive": 0.1, "theta": 0.05,
                                           "mean(seasonal_naive+theta)": 0.025, "mean(model+seasonal_naive+theta)": 0.05})
    frame = backtest(actual, [11, 11, 11, 11], [8, 8, 8, 8], [10.5, 10.5, 10.5, 10.5])
    chosen, table = choose_forecaster(frame, ["seasonal_naive", "theta"], metric="mase")
    assert chosen.scores["mean(model+theta)"] == pytest.approx(0.75)  # the 2 best singles
    assert chosen.name == "mean(model+seasonal_naive+theta)" and chosen.scores[chosen.name] == pytest.approx(1 / 6)
    assert table["candidate"].iat[0] == chosen.name and list(table["rank"]) == sorted(table["rank"])


def test_ties_go_to_the_simpler_candidate_and_the_state_round_trips():
    actual = np.array([10.0, 20.0])
    chosen, _ = choose_forecaster(backtest(actual, [10, 20], [10, 20], [10, 20]), ["seasonal_naive", "theta"])
    assert chosen.members == ["seasonal_naive"]
    again = Forecaster.from_dict(chosen.to_dict())
    assert again == chosen
    with pytest.raises(ValueError, match="selection_metric must be one of wape, mase, smape. Got 'rmse' instead."):
        choose_forecaster(backtest(actual, [10, 20], [10, 20], [10, 20]), ["theta"], metric="rmse")
