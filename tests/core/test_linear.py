"""The logistic regression blended with the booster: exact additive reasons, JSON round trip, out-of-fold choice."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import salesml
from salesml.core.linear import BLEND_WEIGHTS, LinearModel


def _table(n=3_000, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "a": rng.normal(size=n),
        "b": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
        "c": rng.integers(0, 4, n).astype(float),
    })
    logit = 1.5 * X["a"] - 0.8 * X["b"].fillna(0) + np.array([0.0, 0.5, -0.5, 1.0])[X["c"].astype(int)]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


def test_contributions_add_up_to_the_linear_score_and_survive_json():
    X, y = _table()
    model = LinearModel.fit(X, y, ["c"])
    values, base = model.contributions(X)
    np.testing.assert_allclose(values.sum(axis=1) + base, model.raw(X), rtol=0, atol=1e-10)
    np.testing.assert_allclose(values.mean(axis=0), 0.0, atol=1e-10)  # centred on the training rows
    again = LinearModel.from_dict(json.loads(json.dumps(model.to_dict())))
    np.testing.assert_array_equal(again.raw(X), model.raw(X))
    assert model.coef[0][0] > 1.0 and model.coef[1][0] < -0.5  # recovers the signs and sizes it was made with


def test_unknown_and_missing_categories_score_as_the_reference():
    X, y = _table()
    model = LinearModel.fit(X, y, ["c"])
    probe = X.head(2).assign(c=[np.nan, 17.0])
    ref = X.head(2).assign(c=[np.nan, np.nan])
    np.testing.assert_array_equal(model.raw(probe), model.raw(ref))


@pytest.fixture(scope="module")
def blended(leads):
    """A small untimed lead table where a blend is chosen (the folds' out-of-fold figure decides)."""
    untimed = leads.head(3_000).drop(columns=["created_at", "converted_at"])
    return salesml.train({"task": "lead-scoring", "random_state": 0}, tables={"leads": untimed},
                         tracker=salesml.NullTracker()), untimed


def test_a_shipped_blend_explains_itself_additively(blended, tmp_path):
    result, untimed = blended
    w = result.metrics["model.booster_weight"]
    assert w in BLEND_WEIGHTS
    scorer = salesml.load_model(result.save(tmp_path / "m"))
    rows = untimed.tail(50)
    X = scorer.encoder.transform(rows)
    values, base = scorer.contributions(X)
    np.testing.assert_allclose(values.sum(axis=1) + base, scorer._raw(X, X.to_numpy(np.float64)), atol=1e-8)
    out = scorer.score(rows, reasons="all")
    contrib = out[[c for c in out.columns if c.startswith("contribution__")]].to_numpy(dtype=float)
    np.testing.assert_allclose(contrib.sum(axis=1), scorer._raw(X, X.to_numpy(np.float64)), atol=1e-8)
    assert w < 1.0 and "linear" in scorer.metadata and scorer.linear.weight == w


def test_on_a_table_whose_truth_is_linear_the_folds_give_the_linear_part_most_weight():
    X, y = _table(2_000, 1)
    leads = X.assign(lead_id=[f"r{i}" for i in range(len(X))], converted=y, c=X["c"].map(dict(enumerate("wxyz"))))
    result = salesml.train({"task": "lead-scoring", "random_state": 0}, tables={"leads": leads}, tracker=salesml.NullTracker())
    assert result.metrics["model.booster_weight"] <= 0.5
