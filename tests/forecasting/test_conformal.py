"""Split-conformal intervals: coverage on exchangeable errors, the finite-sample rank, JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from salesml.forecasting.conformal import ConformalIntervals, interval_columns


def test_coverage_is_nominal_on_new_errors_from_the_same_distribution():
    rng = np.random.default_rng(0)
    steps = np.repeat([1, 2, 3], 4_000)
    scale = np.array([0.0, 1.0, 2.0, 3.0])
    fitted = ConformalIntervals.fit(rng.standard_t(4, len(steps)) * scale[steps] + 0.3, steps)
    new_steps = np.repeat([1, 2, 3], 20_000)
    new = rng.standard_t(4, len(new_steps)) * scale[new_steps] + 0.3
    for level in (0.8, 0.95):
        lo, hi = fitted.offsets(new_steps, level)
        covered = (new >= lo) & (new <= hi)
        assert covered.mean() == pytest.approx(level, abs=0.012)
        for h in (1, 2, 3):  # per step, not only on average
            assert covered[new_steps == h].mean() == pytest.approx(level, abs=0.02)


def test_bounds_use_the_split_conformal_rank():
    residuals = np.arange(1.0, 20.0)  # n = 19
    fitted = ConformalIntervals.fit(residuals, np.ones(19), levels=[0.8, 0.9])
    # 90%: upper rank ceil(20 * 0.95) = 19, lower rank floor(20 * 0.05) = 1
    assert "1" not in fitted.table  # fewer than 20 residuals: the pooled table serves the step
    assert fitted.table["all"]["0.9"] == (1.0, 19.0)
    # 80%: upper rank ceil(20 * 0.9) = 18, lower rank floor(20 * 0.1) = 2
    assert fitted.table["all"]["0.8"] == (2.0, 18.0)


def test_steps_with_few_residuals_share_the_pooled_quantiles():
    rng = np.random.default_rng(1)
    residuals = np.concatenate([rng.normal(0, 1, 200), rng.normal(0, 5, 5)])
    steps = np.concatenate([np.ones(200), np.full(5, 2)])
    fitted = ConformalIntervals.fit(residuals, steps)
    assert "2" not in fitted.table and fitted.counts == {"all": 205, "1": 200}
    lo, hi = fitted.offsets(np.array([2, 7]), 0.8)
    assert (lo[0], hi[0]) == fitted.table["all"]["0.8"] == (lo[1], hi[1])


def test_json_round_trip_gives_identical_intervals():
    rng = np.random.default_rng(2)
    steps = np.repeat([1, 2], 100)
    fitted = ConformalIntervals.fit(rng.normal(size=200), steps, levels=[0.5, 0.9])
    again = ConformalIntervals.from_dict(json.loads(json.dumps(fitted.to_dict())))
    for level in (0.5, 0.9):
        np.testing.assert_array_equal(np.stack(again.offsets(steps, level)), np.stack(fitted.offsets(steps, level)))


def test_errors_say_what_was_wrong():
    with pytest.raises(ValueError, match="Interval levels must be between 0 and 1, e.g. 0.8. Got 95 instead."):
        ConformalIntervals.fit(np.zeros(10), np.ones(10), levels=[95])
    with pytest.raises(ValueError, match="Conformal intervals need held-out residuals; got none"):
        ConformalIntervals.fit(np.array([np.nan]), np.ones(1))
    fitted = ConformalIntervals.fit(np.zeros(30), np.ones(30))
    with pytest.raises(ValueError, match=r"No 0.5 interval was fitted. Fitted levels: \[0.8, 0.95\]."):
        fitted.offsets(np.ones(1), 0.5)
    assert interval_columns(0.8) == ("lower_80", "upper_80") and interval_columns(0.975) == ("lower_97_5", "upper_97_5")


def test_few_residuals_give_a_symmetric_interval_from_the_absolute_errors():
    residuals = np.array([-4.0, -1.0, 0.5, 2.0, 3.0, 6.0, 7.0, 8.0, 9.0])  # n = 9, biased upwards
    fitted = ConformalIntervals.fit(residuals, np.ones(9), levels=[0.8], symmetric_below=10)
    # |r| sorted: 0.5 1 2 3 4 6 7 8 9; 80%: rank ceil(10 * 0.8) = 8 -> 8.0
    assert fitted.table["all"]["0.8"] == (-8.0, 8.0)
    signed = ConformalIntervals.fit(residuals, np.ones(9), levels=[0.8], symmetric_below=9)  # 9 is not below 9
    assert signed.table["all"]["0.8"] == (-4.0, 9.0)
