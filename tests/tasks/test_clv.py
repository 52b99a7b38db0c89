"""CLV against the generating truth: two models side by side, the better one shipped, tiers, bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.stats import spearmanr
from typer.testing import CliRunner

import salesml
from salesml.customers.bgnbd import BetaGeoModel, GammaGammaModel
from salesml.cli import app
from salesml.core.contracts import DataValidationError
from salesml.core.task import SplitSettings
from salesml.customers import snapshots
from salesml.tasks.clv import CLV, rfm


def true_expected_revenue(crm, frame: pd.DataFrame, months: float = 12.0) -> np.ndarray:
    """Expected revenue in the next ``months`` from the generator's truth: 0 if churned by the cutoff,
    else purchase rate x mean spend x expected active months (constant monthly hazard)."""
    truth = crm.truth["customers"].set_index("customer_id").loc[frame["customer_id"]]
    churned = truth["churned_at"].to_numpy() <= pd.to_datetime(frame["cutoff"]).to_numpy()
    hazard = truth["churn_hazard"].to_numpy()
    active_months = (1.0 - (1.0 - hazard) ** months) / -np.log1p(-hazard)
    return np.where(churned, 0.0, truth["purchase_rate"].to_numpy() * truth["mean_spend"].to_numpy() * active_months)


@pytest.fixture(scope="module")
def holdout(trained_clv, crm):
    frame = trained_clv.task.build_dataset(CLV.builtin_tables(crm)).frame
    return frame.iloc[np.flatnonzero(trained_clv.split.test)]


def test_predictions_track_the_true_expected_revenue(trained_clv, crm, holdout):
    truth = true_expected_revenue(crm, holdout)
    pred = trained_clv.holdout["expected_revenue"].to_numpy()
    rho = spearmanr(pred, truth).statistic
    naive = spearmanr(holdout["revenue_12m"].to_numpy(), truth).statistic
    assert rho >= 0.88, rho
    assert rho > naive + 0.03, (rho, naive)
    assert abs(trained_clv.metrics["test.total_error"]) < 0.1


def test_both_models_are_reported_and_the_better_on_validation_ships(trained_clv):
    m, state = trained_clv.metrics, trained_clv.task.state_
    for model in ("lightgbm", "bgnbd", "hybrid", "last_period"):
        for metric in ("mae", "rmse", "spearman", "total_error", "normalized_gini"):
            assert np.isfinite(m[f"baseline.{model}.{metric}"]), (model, metric)
    candidates = sorted(("lightgbm", "bgnbd", "hybrid"), key=lambda k: state[f"valid_rmse_{k}"])
    winner, runner_up = candidates[:2]
    assert state["winner"] == winner and state["selected_on"] == "validation rmse"
    assert state["valid_rmse_improvement"] == pytest.approx(1 - state[f"valid_rmse_{winner}"] / state[f"valid_rmse_{runner_up}"])
    assert 0.0 <= state["hybrid_weight"] <= 1.0
    assert m["test.rmse"] == pytest.approx(m[f"baseline.{winner}.rmse"])
    if winner == "lightgbm":
        assert m["valid.rmse"] == pytest.approx(state["valid_rmse_lightgbm"])
    # BG/NBD and Gamma-Gamma parameters are plain numbers in the bundle's metadata
    meta = trained_clv.scorer.bundle.metadata["task_state"]
    assert set(meta["bgnbd"]["params"]) == {"r", "alpha", "a", "b"} and meta["gamma_gamma"]["params"]["q"] > 1
    json.dumps(meta)


def test_saved_model_predicts_with_the_winner(trained_clv, holdout, tmp_path):
    loaded = salesml.load_model(trained_clv.save(tmp_path / "clv"))
    assert loaded.task.state_ == trained_clv.task.state_
    frame = holdout.head(200)
    pred = loaded.predict(frame)
    np.testing.assert_array_equal(pred, trained_clv.scorer.predict(frame))
    state = loaded.task.state_
    x, rec, T, money = rfm(frame)
    bg = BetaGeoModel.from_dict(state["bgnbd"])
    gg = GammaGammaModel.from_dict(state["gamma_gamma"])
    bgnbd = bg.expected_purchases(state["horizon_days"], x, rec, T) * gg.expected_spend(x, money)
    lgbm = np.maximum(loaded.predict_model(frame), 0.0)
    w = state["hybrid_weight"]
    np.testing.assert_allclose(pred, {"bgnbd": bgnbd, "lightgbm": lgbm, "hybrid": w * lgbm + (1 - w) * bgnbd}[state["winner"]])
    scored = loaded.score(frame)
    np.testing.assert_allclose(scored["expected_purchases"], bg.expected_purchases(state["horizon_days"], x, rec, T))
    np.testing.assert_allclose(scored["probability_purchase"], bg.probability_of_purchase(state["horizon_days"], x, rec, T))
    # SHAP reasons explain the LightGBM model only: they are given exactly when it is the one used
    assert any(c.startswith("reason_") for c in scored.columns) == (state["winner"] == "lightgbm")


def test_the_other_model_when_it_wins(trained_clv, holdout):
    from salesml.tracking.artifact import ModelBundle
    from salesml.scoring.scorer import Scorer

    bundle = trained_clv.scorer.bundle
    flipped = dict(bundle.metadata["task_state"], winner="lightgbm" if trained_clv.task.state_["winner"] == "bgnbd" else "bgnbd")
    other = Scorer(ModelBundle(bundle.boosters, {**bundle.metadata, "task_state": flipped}))
    frame = holdout.head(50)
    if flipped["winner"] == "lightgbm":
        np.testing.assert_allclose(other.predict(frame), np.maximum(other.predict_model(frame), 0.0))
        reasons = other.score(frame).filter(like="reason_up_").to_numpy().ravel()
        assert any(r.startswith(("last ordered", "revenue in the last", "a customer for")) for r in reasons)
    else:
        assert not other.score(frame).filter(like="reason_").shape[1]


def test_outputs_and_value_tiers(trained_clv, holdout):
    out = trained_clv.scorer.score(holdout, reasons="none")
    assert list(out.columns[:5]) == ["customer_id", "expected_revenue", "expected_purchases", "probability_purchase", "value_tier"]
    assert (out["expected_revenue"] >= 0).all() and (out["expected_purchases"] >= 0).all()
    assert out["probability_purchase"].between(0, 1).all()
    # tier A = the customers who make the top 50% of predicted revenue (thresholds set on the validation cutoff)
    ordered = out.sort_values("expected_revenue", ascending=False)
    share_a = ordered.loc[ordered["value_tier"] == "A", "expected_revenue"].sum() / ordered["expected_revenue"].sum()
    assert 0.35 < share_a < 0.65
    tiers = ordered["value_tier"].to_numpy()
    assert (pd.Series(tiers).map({"A": 0, "B": 1, "C": 2, "D": 3}).diff().dropna() >= 0).all()  # monotone in value
    # a customer's tier does not depend on the batch
    one = trained_clv.scorer.score(holdout.iloc[[7]], reasons="none")
    assert one["value_tier"].iloc[0] == out["value_tier"].iloc[7]
    # the tracked figure: share of actual holdout revenue from predicted tier-A customers
    assert 0.3 < trained_clv.metrics["test.high_value_revenue_share"] < 0.9


def test_bad_input_is_reported_all_at_once(crm):
    tx = crm.transactions.head(3000).copy()
    tx.loc[tx.index[:2], "amount"] = -10.0
    customers = pd.concat([crm.customers.head(5), crm.customers.head(1)])
    task = CLV(params={"returns": "error"})
    with pytest.raises(DataValidationError) as err:
        task.validate({"transactions": tx, "customers": customers})
    checks = {(p.table, p.check) for p in err.value.problems}
    assert checks == {("transactions", "non_positive"), ("customers", "field_uniqueness")}
    assert "set params.returns to 'net'" in str(err.value)


def test_horizon_longer_than_the_data_is_stopped_saying_which_would_work(crm):
    with pytest.raises(DataValidationError, match=r"too short for a training and a validation cutoff with at least 1-month windows before a holdout cutoff followed by a complete 60M window.*Fix: use a horizon of at most \d+ months"):
        CLV(params={"horizon": "60M"}).validate(CLV.builtin_tables(crm))


def test_shipped_bgnbd_is_refitted_on_all_history_up_to_the_holdout_cutoff(trained_clv, holdout):
    state = trained_clv.task.state_
    x, rec, T, money = rfm(holdout)  # every customer's history as of the holdout cutoff (features only)
    assert state["bgnbd_fitted_at"] == str(holdout["cutoff"].max())
    assert state["bgnbd"]["params"] == BetaGeoModel(random_state=0).fit(x, rec, T).params_
    assert state["gamma_gamma"]["params"] == GammaGammaModel(random_state=0).fit(x, money).params_
    assert state["valid_bgnbd_params"] != state["bgnbd"]["params"]  # the model choice used the validation-cutoff fit


def _flip(trained_clv, winner):
    from salesml.scoring.scorer import Scorer
    from salesml.tracking.artifact import ModelBundle

    bundle = trained_clv.scorer.bundle
    return Scorer(ModelBundle(bundle.boosters, {**bundle.metadata, "task_state": dict(bundle.metadata["task_state"], winner=winner)}))


def test_the_hybrid_weight_is_the_best_blend_on_validation_and_its_rmse_is_cross_fitted():
    rng = np.random.default_rng(3)
    truth = rng.gamma(1.0, 100.0, 4000)
    lightgbm, bgnbd = truth * 0.7 + rng.normal(0, 30, 4000), truth * 1.3 + rng.normal(0, 30, 4000)
    w, rmse = CLV._hybrid_weight(truth, lightgbm, bgnbd)
    assert w == pytest.approx(0.5)  # the biases (-30% and +30%) cancel at equal weights
    in_sample = np.sqrt(np.mean((w * lightgbm + (1 - w) * bgnbd - truth) ** 2))
    assert in_sample <= rmse < 1.05 * in_sample  # cross-fitted: never better than the in-sample optimum


def test_any_horizon_at_scoring_time_in_closed_form(trained_clv, holdout):
    frame = holdout.head(300)
    x, rec, T, money = rfm(frame)
    state = trained_clv.task.state_
    bg, gg = BetaGeoModel.from_dict(state["bgnbd"]), GammaGammaModel.from_dict(state["gamma_gamma"])
    bgnbd = _flip(trained_clv, "bgnbd")
    out = bgnbd.with_params(horizon="39W").score(frame, reasons="none")
    np.testing.assert_allclose(out["expected_revenue"], bg.expected_purchases(273.0, x, rec, T) * gg.expected_spend(x, money))
    np.testing.assert_allclose(out["expected_purchases"], bg.expected_purchases(273.0, x, rec, T))
    np.testing.assert_allclose(out["probability_purchase"], bg.probability_of_purchase(273.0, x, rec, T))
    # tiers rank by value at the trained horizon: the same customers, whatever horizon is asked for
    assert out["value_tier"].tolist() == bgnbd.score(frame, reasons="none")["value_tier"].tolist()
    # discounting at 10% a year: each month's expected purchases discounted at its end
    disc = bgnbd.with_params(horizon="12M", discount_rate=0.1).predict(frame)
    grid = np.linspace(0, 12 * 30.436875, 13)
    steps = [bg.expected_purchases(t, x, rec, T) for t in grid[1:]]
    want = sum((s - p) * 1.1 ** -(t / 365.25) for s, p, t in zip(steps, [0.0, *steps[:-1]], grid[1:]))
    np.testing.assert_allclose(disc, want * gg.expected_spend(x, money))
    assert (disc < bgnbd.predict(frame)).all()
    # LightGBM learnt the 12-month window; other horizons follow each customer's BG/NBD purchase curve
    lgbm = _flip(trained_clv, "lightgbm")
    ratio = bg.expected_purchases(273.0, x, rec, T) / bg.expected_purchases(365.2425, x, rec, T)
    np.testing.assert_allclose(lgbm.with_params(horizon="39W").predict(frame), np.maximum(lgbm.predict_model(frame), 0) * ratio)


def test_short_history_trains_on_shorter_windows_and_is_scored_on_the_full_horizon(crm):
    tables = CLV.builtin_tables(crm)
    end = tables["transactions"]["order_date"].max()
    start = end - pd.DateOffset(months=18)
    short = {**tables, "transactions": tables["transactions"][tables["transactions"]["order_date"] > start]}
    short["customers"] = tables["customers"][tables["customers"]["customer_id"].isin(short["transactions"]["customer_id"])]
    short["customers"] = short["customers"].assign(signup_date=short["customers"]["signup_date"].clip(lower=start))
    task = CLV(params={"horizon": "39W", "n_cutoffs": 3})
    task.validate(short)  # no longer refused
    dataset = task.build_dataset(short)
    plan = task.plan_
    assert plan.mode == "short_history" and plan.train_horizon == snapshots.Horizon(3, "M")
    assert plan.holdout + pd.DateOffset(weeks=39) <= snapshots.data_end(short["transactions"])
    assert plan.valid + pd.DateOffset(months=3) <= plan.holdout
    split = task.split(dataset, SplitSettings())
    assert dataset.time[split.test].unique().tolist() == [plan.holdout]
    # holdout targets cover the full 39 weeks; validation targets the 3-month window
    check = snapshots.build(short["transactions"], cutoffs=[plan.holdout, plan.valid], horizon="39W", customers=short["customers"], settings=task.snapshot_settings())
    by_cut = check.groupby("cutoff")["target_revenue"].sum()
    assert dataset.target[split.test].sum() == pytest.approx(by_cut[plan.holdout])
    assert dataset.target[split.valid].sum() < by_cut[plan.valid]


def test_every_customer_is_in_the_scoring_snapshot_and_yyyymmdd_dates_are_read(crm):
    tables = CLV.builtin_tables(crm)
    tx = tables["transactions"]
    extra = pd.DataFrame({"customer_id": ["ZERO-1"], "order_date": [tx["order_date"].max()], "amount": [0.0]})
    tx = pd.concat([tx, extra], ignore_index=True)
    tx = tx.assign(order_date=tx["order_date"].dt.strftime("%Y%m%d").astype(int))
    task = CLV()
    task.validate({**tables, "transactions": tx})
    frame = task.snapshot({**tables, "transactions": tx})
    expected = set(tx["customer_id"].astype(str)) | set(tables["customers"]["customer_id"].astype(str))
    assert set(frame["customer_id"].astype(str)) == expected and frame["customer_id"].is_unique
    assert frame.loc[frame["customer_id"] == "ZERO-1", "orders_total"].tolist() == [0]


def test_params_are_checked():
    with pytest.raises(ValueError, match="tiers must map each tier, best first, to the cumulative share"):
        CLV(params={"tiers": {"A": 0.8, "B": 0.5}})
    with pytest.raises(ValueError, match="The horizon must be a positive length of time such as '12M'"):
        CLV(params={"horizon": "a year"})


runner = CliRunner()


@pytest.mark.slow
def test_train_on_a_users_order_table_then_snapshot_and_score(small_crm, mlflow_store, tmp_path):
    import mlflow

    # a user's export with its own column names, as CSV files
    tx = small_crm.transactions.rename(columns={"customer_id": "Client", "order_date": "OrderDate", "amount": "Total"})
    tx.to_csv(tmp_path / "orders.csv", index=False)
    small_crm.customers.rename(columns={"customer_id": "Client"}).to_csv(tmp_path / "customers.csv", index=False)
    cfg = {
        "task": "clv",
        "data": {"tables": {"transactions": str(tmp_path / "orders.csv"), "customers": str(tmp_path / "customers.csv")}},
        "columns": {"id": "Client", "order_date": "OrderDate", "amount": "Total", "signup": "signup_date"},
        "params": {"horizon": "6M", "n_cutoffs": 4},
        "tuning": {"trials": 2, "search_space": "lightgbm-small"},
    }
    (tmp_path / "clv.yaml").write_text(yaml.safe_dump(cfg))
    res = runner.invoke(app, ["train", "clv", "--config", str(tmp_path / "clv.yaml")])
    assert res.exit_code == 0, res.output
    assert "registered salesml-clv v1 (champion: no champion yet)" in res.output
    assert "baseline.bgnbd.rmse" in res.output and "baseline.lightgbm.rmse" in res.output

    client = mlflow.MlflowClient()
    version = client.get_model_version_by_alias("salesml-clv", "champion")
    run = client.get_run(version.run_id)
    assert run.data.params["state.winner"] in ("lightgbm", "bgnbd", "hybrid")
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert {"plots/clv_deciles.png", "plots/clv_deciles_compared.png", "plots/shap_summary.png"} <= artifacts
    state = json.loads(open(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="task_state.json")).read())
    assert state["winner"] == run.data.params["state.winner"]
    # no customer id anywhere in params or the logged input example
    ids = set(small_crm.customers["customer_id"])
    assert not ids & set(run.data.params.values())
    model_dir = mlflow.artifacts.download_artifacts(artifact_uri="models:/salesml-clv@champion", dst_path=str(tmp_path / "m"))
    example = open(f"{model_dir}/input_example.json").read()
    assert "example-0001" in example and not any(i in example for i in ids)

    res = runner.invoke(app, ["snapshot", "--model", "models:/salesml-clv@champion", "--transactions", str(tmp_path / "orders.csv"),
                              "--customers", str(tmp_path / "customers.csv"), "--output", str(tmp_path / "today.parquet")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["score", "--model", "models:/salesml-clv@champion", "--input", str(tmp_path / "today.parquet"),
                              "--output", str(tmp_path / "scores.csv"), "--reasons", "none"])
    assert res.exit_code == 0, res.output
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert len(scores) == small_crm.customers["customer_id"].nunique()
    assert scores["Client"].is_unique and scores["value_tier"].isin(["A", "B", "C", "D"]).all()
    # the horizon is a scoring setting: the 6-month model values the same customers over 2 years
    res = runner.invoke(app, ["score", "--model", "models:/salesml-clv@champion", "--input", str(tmp_path / "today.parquet"),
                              "--output", str(tmp_path / "scores_2y.csv"), "--reasons", "none", "--horizon", "2Y"])
    assert res.exit_code == 0, res.output
    longer = pd.read_csv(tmp_path / "scores_2y.csv")
    assert (longer["Client"] == scores["Client"]).all() and (longer["value_tier"] == scores["value_tier"]).all()
    assert (longer["expected_revenue"] >= scores["expected_revenue"] - 1e-6).all()
    assert longer["expected_revenue"].sum() > 1.5 * scores["expected_revenue"].sum()


@pytest.mark.slow
def test_a_prepared_customer_table_trains_too(small_crm):
    from salesml.customers import snapshots

    # one row per customer and snapshot date with ready features and a label column, as subscription businesses keep
    cuts = pd.date_range("2023-01-01", "2025-01-01", freq="3MS")
    prepared = snapshots.build(small_crm.transactions, cutoffs=cuts, horizon="12M", customers=small_crm.customers)
    prepared = prepared.rename(columns={"target_revenue": "revenue_next_12m", "cutoff": "as_of"}).drop(columns=["target_orders", "target_previous_revenue"])
    result = salesml.train(
        {"task": "clv", "columns": {"time": "as_of", "label": "revenue_next_12m"}, "params": {"horizon": "12M"}},
        tables={"prepared": prepared}, tracker=salesml.NullTracker(),
    )
    assert result.split.test_start == pd.Timestamp("2025-01-01") and result.split.valid_start == pd.Timestamp("2024-01-01")
    assert result.task.state_["winner"] in ("lightgbm", "bgnbd") and "bgnbd" in result.task.state_
    with pytest.raises(ValueError, match="A prepared table needs its label column named: set columns.label"):
        CLV().validate({"prepared": prepared})
