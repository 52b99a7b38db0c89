"""Value x risk segments: the configured cut-offs, revenue at risk, what reaches MLflow, and the CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from salesml.cli import app
from salesml.customers.segments import SEGMENTS, log_segments, segment

CLV = pd.DataFrame({"customer_id": ["a", "b", "c", "d", "e", "f"], "expected_revenue": [1000.0, 900.0, 100.0, 50.0, 0.0, 700.0]})
CHURN = pd.DataFrame({"customer_id": ["f", "e", "d", "c", "b", "a", "z"], "probability": [0.6, 0.9, 0.1, 0.7, 0.2, 0.5]  + [0.3]})


def test_assignment_follows_the_configured_cut_offs():
    seg = segment(CLV, CHURN, value_cut=500.0, risk_cut=0.5)
    by_id = seg.customers.set_index("customer_id")
    assert by_id["segment"].astype(str).to_dict() == {
        "a": "high-value at-risk",  # risk exactly at the cut-off counts as at risk
        "b": "high-value stable",
        "c": "low-value low-potential",
        "d": "low-value potential",
        "e": "low-value low-potential",  # no expected revenue is never high-value
        "f": "high-value at-risk",
    }
    np.testing.assert_allclose(by_id["revenue_at_risk"], by_id["expected_revenue"] * by_id["churn_probability"])
    table = seg.table.set_index("segment")
    assert list(table.index) == list(SEGMENTS)
    assert table["customers"].tolist() == [1, 2, 1, 2]
    assert table.loc["high-value at-risk", "revenue_at_risk"] == pytest.approx(1000 * 0.5 + 700 * 0.6)
    assert table["share_of_customers"].sum() == pytest.approx(1.0)
    assert seg.metrics["high_value_revenue_share"] == pytest.approx(2600 / 2750)
    assert seg.metrics["high_value_at_risk_share"] == pytest.approx(2 / 3)
    assert seg.metrics["revenue_at_risk"] == pytest.approx(table["revenue_at_risk"].sum())
    assert seg.metrics["unmatched_churn"] == 1 and seg.metrics["unmatched_clv"] == 0  # "z" has no CLV score


def test_default_value_cut_is_a_quantile_and_risk_cut_is_configurable():
    seg = segment(CLV, CHURN, value_quantile=0.5, risk_cut=0.65)
    assert seg.value_cut == pytest.approx(np.quantile(CLV["expected_revenue"], 0.5))
    high = seg.customers["segment"].astype(str).str.startswith("high")
    assert set(seg.customers.loc[high, "customer_id"]) == {"a", "b", "f"}
    at_risk = seg.customers["segment"].isin(["high-value at-risk", "low-value low-potential"])
    assert set(seg.customers.loc[at_risk, "customer_id"]) == {"c", "e"}


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"risk_cut": 1.5}, ValueError, "risk_cut must be a probability between 0 and 1. Got 1.5 instead."),
        ({"value_quantile": 1.0}, ValueError, r"value_quantile must be in \(0, 1\)"),
        ({"value_column": "clv"}, KeyError, "The CLV scores lack the column 'clv'"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, message):
    with pytest.raises(error, match=message):
        segment(CLV, CHURN, **kwargs)


def test_repeated_ids_and_no_overlap_are_refused():
    with pytest.raises(ValueError, match=r"The CLV scores hold 1 repeated customer ids \(e.g. a\)"):
        segment(pd.concat([CLV, CLV.head(1)]), CHURN)
    with pytest.raises(ValueError, match="No customer id appears in both"):
        segment(CLV, CHURN.assign(customer_id=list("pqrstuv")))


def test_only_aggregates_reach_mlflow(mlflow_store, tmp_path):
    import mlflow

    from salesml.tracking.tracker import MLflowTracker

    seg = segment(CLV, CHURN, value_cut=500.0)
    run_id = log_segments(seg, MLflowTracker("salesml-segments"))
    run = mlflow.MlflowClient().get_run(run_id)
    assert run.data.metrics["segments.high_value_revenue_share"] == pytest.approx(2600 / 2750)
    assert run.data.metrics["segments.high_value_at_risk.customers"] == 2
    table = pd.read_csv(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="segments/segment_table.csv"))
    assert "customer_id" not in table.columns and len(table) == 4
    assert mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="plots/value_risk.png").endswith(".png")
    text = str(run.data.params) + str(run.data.metrics) + table.to_csv()
    assert not any(f"'{i}'" in text or f",{i}," in text for i in CLV["customer_id"])


@pytest.mark.slow
def test_segments_command_scores_a_snapshot_with_both_models(trained_clv, trained_churn, crm, tmp_path):
    from salesml.tasks.churn import Churn

    clv_dir, churn_dir = trained_clv.save(tmp_path / "clv"), trained_churn.save(tmp_path / "churn")
    Churn.builtin_scoring_input(crm).to_parquet(tmp_path / "today.parquet")
    res = CliRunner().invoke(app, ["segments", "--clv-model", str(clv_dir), "--churn-model", str(churn_dir), "--input",
                                   str(tmp_path / "today.parquet"), "--output", str(tmp_path / "segments.csv"), "--no-track"])
    assert res.exit_code == 0, res.output
    for name in SEGMENTS:
        assert name in res.output
    out = pd.read_csv(tmp_path / "segments.csv")
    assert len(out) == len(pd.read_parquet(tmp_path / "today.parquet")) and out["segment"].isin(SEGMENTS).all()
    high = out["segment"].str.startswith("high")
    assert high.mean() == pytest.approx(0.2, abs=0.02)  # the default: the top 20% by expected revenue
