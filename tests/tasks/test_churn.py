"""Churn against the oracle from the true hazards, its baselines, tiers, reasons and label definitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import salesml
from salesml.tasks.churn import Churn


def oracle_no_purchase(crm, frame: pd.DataFrame, months: int = 3) -> np.ndarray:
    """P(no order in the next ``months``) from the generator's truth: 1 if churned by the cutoff, else
    sum over the month k of churn of P(churn in k) x P(no Poisson order before it) + P(survive) x P(no order)."""
    truth = crm.truth["customers"].set_index("customer_id").loc[frame["customer_id"]]
    churned = truth["churned_at"].to_numpy() <= pd.to_datetime(frame["cutoff"]).to_numpy()
    hazard, rate = truth["churn_hazard"].to_numpy(), truth["purchase_rate"].to_numpy()
    k = np.arange(1, months + 1)[:, None]
    survive = 1.0 - hazard
    p = (survive ** (k - 1) * hazard * np.exp(-rate * (k - 0.5))).sum(axis=0) + survive**months * np.exp(-rate * months)
    return np.where(churned, 1.0, p)


@pytest.fixture(scope="module")
def holdout(trained_churn, crm):
    frame = trained_churn.task.build_dataset(Churn.builtin_tables(crm)).frame
    return frame.iloc[np.flatnonzero(trained_churn.split.test)]


def test_auc_close_to_the_oracle_and_above_the_baselines(trained_churn, crm, holdout):
    y = trained_churn.holdout["actual"].to_numpy()
    oracle = roc_auc_score(y, oracle_no_purchase(crm, holdout))
    m = trained_churn.metrics
    assert m["test.roc_auc"] >= oracle - 0.035, (m["test.roc_auc"], oracle)
    assert m["test.roc_auc"] > m["baseline.logistic_regression.roc_auc"] > m["baseline.orders_down_rule.roc_auc"]
    assert m["test.recall_top_20pct"] > m["baseline.orders_down_rule.recall_top_20pct"]
    assert m["test.lift_top_decile"] > 2.5


def test_probabilities_are_calibrated(trained_churn):
    m = trained_churn.metrics
    assert m["test.ece"] < 0.04
    assert abs(m["test.mean_predicted"] - m["test.positive_rate"]) < 0.04


def test_rule_baseline_is_the_flag_and_only_active_customers_are_scored(trained_churn, holdout):
    flag = holdout["orders_down_20pct"].to_numpy()
    y = trained_churn.holdout["actual"].to_numpy()
    assert trained_churn.metrics["baseline.orders_down_rule.positive_rate"] == pytest.approx(y.mean())
    assert trained_churn.metrics["baseline.orders_down_rule.mean_predicted"] == pytest.approx(flag.mean())
    assert (holdout["orders_12m"] > 0).all()  # population: an order in the 12 months before the cutoff


def test_split_uses_whole_cutoffs_and_windows_end_before_the_next_slice(trained_churn, crm):
    ds = trained_churn.task.build_dataset(Churn.builtin_tables(crm))
    s = trained_churn.split
    t = pd.to_datetime(ds.time)
    assert t[s.test].nunique() == 1 and t[s.valid].nunique() == 1
    assert t[s.train].max() + pd.DateOffset(months=3) <= t[s.valid].min()
    assert t[s.valid].max() + pd.DateOffset(months=3) <= t[s.test].min()
    assert t[s.train].nunique() == 12


def test_outputs_tiers_and_reasons(trained_churn, holdout):
    out = trained_churn.scorer.score(holdout.head(600))
    assert list(out.columns[:3]) == ["customer_id", "probability", "risk_tier"]
    expected = np.select([out["probability"] >= 0.5, out["probability"] >= 0.25], ["high", "medium"], "low")
    np.testing.assert_array_equal(out["risk_tier"], expected)
    reasons = out.filter(like="reason_").to_numpy().ravel()
    assert not any("__" in r for r in reasons)
    riskiest = out.sort_values("probability").iloc[-1]
    assert riskiest["reason_up_1"] != ""
    assert any(r.startswith(("last ordered", "orders every", "last contact")) for r in reasons)


def test_spend_drop_definition():
    snap = pd.DataFrame(
        {
            "target_previous_revenue": [100.0, 100.0, 100.0, 0.0, -5.0],
            "target_revenue": [49.0, 50.0, 51.0, 0.0, 10.0],
            "target_orders": [1, 1, 1, 0, 1],
        }
    )
    label, keep = Churn(params={"definition": "spend_drop", "spend_drop": 0.5}).target(snap)
    assert label.tolist() == [1, 1, 0, 1, 0] and keep.tolist() == [True, True, True, False, False]
    label, keep = Churn().target(snap)
    assert label.tolist() == [0, 0, 0, 1, 0] and keep.all()
    with pytest.raises(ValueError, match="spend_drop must be a fraction between 0 and 1"):
        Churn(params={"definition": "spend_drop", "spend_drop": 30})


def test_logistic_baseline_reads_categorical_features_one_hot():
    # churn is decided by the region alone (a string column), plus a numeric column that is noise
    from salesml.core.split import TimeSplit
    from salesml.core.task import Dataset

    rng = np.random.default_rng(0)
    n = 1200
    region = rng.choice(["north", "south", "east", None], n)
    frame = pd.DataFrame(
        {"customer_id": np.arange(n).astype(str), "cutoff": pd.Timestamp("2025-01-01"), "region": region, "noise": rng.normal(size=n)}
    )
    y = np.isin(region, ["north", None]).astype(int)
    train = np.arange(n) < 800
    split = TimeSplit(train, np.zeros(n, dtype=bool), ~train, pd.NaT, pd.NaT)
    base = Churn().baselines(Dataset(frame, y, frame["cutoff"], frame["customer_id"]), split, lambda f: np.zeros(len(f)))
    assert roc_auc_score(y[~train], base["logistic_regression"]) > 0.99  # numeric-only would be at chance


@pytest.mark.slow
def test_tracked_run_registers_and_the_champion_scores_today(small_crm, mlflow_store):
    import mlflow

    tables = Churn.builtin_tables(small_crm)
    result = salesml.train({"task": "churn"}, tables=tables)
    assert result.version == "1" and result.decision.promoted
    client = mlflow.MlflowClient()
    run = client.get_run(result.run_id)
    assert "baseline.logistic_regression.roc_auc" in run.data.metrics and "baseline.orders_down_rule.pr_auc" in run.data.metrics
    plots = {a.path for a in client.list_artifacts(result.run_id, "plots")}
    assert {"plots/gain_vs_baselines.png", "plots/calibration_curve.png", "plots/shap_summary.png"} <= plots
    champion = salesml.load_model("models:/salesml-churn@champion")
    today = Churn.builtin_scoring_input(small_crm)
    scored = champion.score(today)
    assert len(scored) == len(today) and scored["customer_id"].is_unique
    assert (today["cutoff"] == pd.Timestamp("2026-01-01")).all()
