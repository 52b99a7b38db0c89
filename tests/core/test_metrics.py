from __future__ import annotations

import numpy as np
import pytest

from salesml.core.calibration import Calibrator, expected_calibration_error
from salesml.core.metrics import classification_metrics, lift_at, normalized_gini, regression_metrics, threshold_metrics


def test_lift_and_threshold_metrics_by_hand():
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 1])
    score = np.array([0.9, 0.8, 0.7, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.2])
    # top 20% = the first two rows, both positive: rate 1.0 over base 0.3
    assert lift_at(y, score, 0.2) == pytest.approx(1 / 0.3)
    m = threshold_metrics(y, score >= 0.7)
    assert m == {"followed_share": 0.3, "conversion_capture": pytest.approx(2 / 3), "precision_at_threshold": pytest.approx(2 / 3), "n_followed": 3.0}


def test_ece_is_zero_for_calibrated_bins_and_known_for_a_shift():
    prob = np.repeat([0.1, 0.5], 100)
    y = np.concatenate([np.r_[np.ones(10), np.zeros(90)], np.r_[np.ones(50), np.zeros(50)]])
    assert expected_calibration_error(y, prob, n_bins=2) == pytest.approx(0.0)
    assert expected_calibration_error(y, prob + 0.05, n_bins=2) == pytest.approx(0.05)


def test_classification_metrics_perfect_ranking():
    y = np.array([0, 0, 1, 1])
    m = classification_metrics(y, np.array([0.1, 0.2, 0.8, 0.9]))
    assert m["roc_auc"] == 1.0 and m["pr_auc"] == 1.0
    assert m["brier"] == pytest.approx(np.mean([0.01, 0.04, 0.04, 0.01]))


def test_sigmoid_calibration_recovers_a_known_map():
    rng = np.random.default_rng(0)
    margin = rng.normal(size=50_000)
    y = rng.random(50_000) < 1 / (1 + np.exp(-(2.0 * margin - 1.0)))
    cal = Calibrator.fit(margin, y)
    assert cal.a == pytest.approx(2.0, abs=0.06) and cal.b == pytest.approx(-1.0, abs=0.05)
    again = Calibrator.from_dict(cal.to_dict())
    np.testing.assert_array_equal(again.transform(margin), cal.transform(margin))


def test_isotonic_is_monotone_and_serialisable():
    rng = np.random.default_rng(1)
    margin = rng.normal(size=2_000)
    y = rng.random(2_000) < 1 / (1 + np.exp(-margin))
    cal = Calibrator.fit(margin, y, method="isotonic")
    grid = np.linspace(-3, 3, 50)
    assert np.all(np.diff(cal.transform(grid)) >= 0)
    np.testing.assert_array_equal(Calibrator.from_dict(cal.to_dict()).transform(grid), cal.transform(grid))


def test_unknown_calibration_method():
    with pytest.raises(ValueError, match="The calibration method must be 'sigmoid', 'isotonic', 'none', 'identity' or 'exp'. Got 'platt' instead."):
        Calibrator.fit(np.zeros(3), np.zeros(3), method="platt")


def test_regression_metrics_known_values():
    y = np.array([0.0, 0.0, 10.0, 30.0])
    pred = np.array([1.0, 0.0, 12.0, 25.0])
    m = regression_metrics(y, pred)
    assert m["mae"] == pytest.approx(2.0)
    assert m["rmse"] == pytest.approx(np.sqrt((1 + 0 + 4 + 25) / 4))
    assert m["total_error"] == pytest.approx((38 - 40) / 40)
    assert normalized_gini(y, y) == pytest.approx(1.0)


def test_decile_table_averages_equal_count_bins_and_skips_empty_ones():
    from salesml.core.plots import decile_table

    table = decile_table(np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.4, 0.1, 0.3, 0.2]), n=2)
    np.testing.assert_array_equal(table["decile"], [1, 2])
    np.testing.assert_allclose(table["mean_predicted"], [0.15, 0.35])
    np.testing.assert_allclose(table["mean_actual"], [2.0, 1.0])  # (1 + 3) / 2 and (2 + 0) / 2
    np.testing.assert_array_equal(decile_table(np.zeros(4), np.arange(4.0), n=10)["decile"], [1, 3, 6, 8])
