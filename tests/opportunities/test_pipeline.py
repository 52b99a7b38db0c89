"""Pipeline forecast: the Bernoulli-sum mean and interval, groups, and a backtest against the stage rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesml.opportunities.pipeline import (
    bookings_quantiles,
    pipeline_backtest,
    pipeline_forecast,
)


def test_mean_and_interval_of_a_bernoulli_sum():
    scored = pd.DataFrame({"expected_close_month": ["2025-01"] * 400 + ["2025-02"] * 2,
                           "probability": [0.3] * 400 + [0.5, 0.5], "amount": [1000.0] * 400 + [100.0, 100.0]})
    out = pipeline_forecast(scored).set_index("expected_close_month")
    jan, feb = out.loc["2025-01"], out.loc["2025-02"]
    sd = np.sqrt(400 * 0.3 * 0.7) * 1000
    assert jan["expected_bookings"] == pytest.approx(120_000)
    assert jan["lower_90"] == pytest.approx(120_000 - 1.644854 * sd, rel=1e-6)
    assert jan["upper_90"] == pytest.approx(120_000 + 1.644854 * sd, rel=1e-6)
    assert (feb["expected_bookings"], feb["lower_90"], feb["upper_90"], feb["opportunities"]) == (100.0, 0.0, 200.0, 2)
    # the interval holds ~90% of simulated outcomes
    rng = np.random.default_rng(1)
    sims = (rng.random((4000, 400)) < 0.3).sum(axis=1) * 1000.0
    inside = np.mean((sims >= jan["lower_90"]) & (sims <= jan["upper_90"]))
    assert 0.87 < inside < 0.93
    q = bookings_quantiles(np.full(400, 0.3), np.full(400, 1000.0), (0.05, 0.95))
    assert q[0] == pytest.approx(jan["lower_90"], rel=0.02) and q[1] == pytest.approx(jan["upper_90"], rel=0.02)
    with pytest.raises(ValueError, match="pipeline_forecast needs columns region"):
        pipeline_forecast(scored, by=["region"])


def test_backtest_on_the_holdout_compares_with_the_stage_rule(world):
    _, result = world
    task = result.task
    frame = task.build_dataset(task_tables(world)).frame.loc[result.holdout.index]
    table, metrics = pipeline_backtest(
        frame["snapshot_date"], frame["amount"].to_numpy(), result.holdout["probability"].to_numpy(),
        result.holdout["actual"].to_numpy(), task.stage_rule(frame),
    )
    assert metrics["dates"] >= 5 and len(table) == metrics["dates"]
    np.testing.assert_allclose(table["actual"].sum(), (frame["amount"] * result.holdout["actual"]).sum())
    # Not a win over the stage rule yet. On the 20k world the model's WAPE is 0.19 vs 0.11 for the stage rule
    # (seed 3; even the true probabilities give 0.15: a few big deals decide a date) and 0.07 vs 0.15 (seed 0).
    assert 0 < metrics["wape"] < 0.4 and 0 < metrics["wape_stage_rule"] < 0.4, metrics
    assert metrics["coverage"] >= 0.6, metrics


def task_tables(world):
    crm, result = world
    return type(result.task).builtin_tables(crm)
