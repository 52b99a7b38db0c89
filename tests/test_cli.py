from __future__ import annotations

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from salesml.cli import app

runner = CliRunner()


def test_generate_writes_the_tables(tmp_path):
    res = runner.invoke(app, ["generate", "--out", str(tmp_path / "crm"), "--seed", "3", "--size", "small", "--format", "parquet"])
    assert res.exit_code == 0, res.output
    leads = pd.read_parquet(tmp_path / "crm" / "leads.parquet")
    assert len(leads) == 20_000 and leads["lead_id"].is_unique


def test_train_then_score_a_csv(mlflow_store, tmp_path):
    leads, _ = __import__("salesml").datasets.make_leads(6_000, random_state=2)
    leads.to_csv(tmp_path / "leads.csv", index=False)
    cfg = {
        "task": "lead-scoring",
        "data": {"tables": {"leads": str(tmp_path / "leads.csv")}},
        "tuning": {"trials": 2, "search_space": "lightgbm-small"},
    }
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(cfg))
    res = runner.invoke(app, ["train", "lead-scoring", "--config", str(tmp_path / "exp.yaml")])
    assert res.exit_code == 0, res.output
    assert "registered salesml-lead-scoring v1 (champion: no champion yet)" in res.output

    new = leads.drop(columns=["converted", "converted_at"]).tail(500)
    new.to_csv(tmp_path / "new.csv", index=False)
    out = tmp_path / "scores.parquet"
    res = runner.invoke(app, ["score", "--model", "models:/salesml-lead-scoring@champion", "--input", str(tmp_path / "new.csv"), "--output", str(out)])
    assert res.exit_code == 0, res.output
    scored = pd.read_parquet(out)
    assert scored["lead_id"].tolist() == new["lead_id"].tolist()
    assert not list(tmp_path.glob(".scores.parquet.salesml/runs/.partial-*"))  # no unfinished run left behind
    assert not list(tmp_path.glob(".*.tmp"))


def test_bad_config_names_the_key(tmp_path):
    (tmp_path / "bad.yaml").write_text("task: lead-scoring\ntuning: {trials: -2}\n")
    res = runner.invoke(app, ["train", "lead-scoring", "--config", str(tmp_path / "bad.yaml")])
    assert res.exit_code != 0
    assert "tuning.trials: Value error, trials must be 0 (no tuning) or a positive int. Got -2 instead." in str(res.exception)


def test_config_for_another_task_is_refused(tmp_path):
    (tmp_path / "x.yaml").write_text("task: lead-scoring\n")
    res = runner.invoke(app, ["train", "churn", "--config", str(tmp_path / "x.yaml")])
    assert res.exit_code != 0 and "configures task 'lead-scoring', not 'churn'" in res.output


@pytest.mark.slow
def test_demo_registers_every_task_and_writes_scores(mlflow_store, tmp_path, monkeypatch):
    from salesml import demo, tasks

    report = demo.run_demo(tmp_path, size="small", trials=2)
    assert set(report.results) == set(tasks.TASKS)
    for name, path in report.scored.items():
        assert path.exists() and len(pd.read_csv(path)) > 0
        assert report.summaries[name]["champion"] is True
    # CLV x churn: today's customers in the four value x risk segments, with revenue at risk
    assert report.segments.table["segment"].tolist() == list(__import__("salesml").segments.SEGMENTS)
    assert report.segments.metrics["revenue_at_risk"] > 0 and (tmp_path / "outputs" / "segments.csv").exists()
    # opportunities: overdue follow-ups and the call list from the four champions
    calls = pd.read_csv(tmp_path / "outputs" / "call_list.csv")
    assert len(calls) == len(report.call_list) > 0 and set(calls["kind"]) <= {"lead", "opportunity", "customer"}
    assert report.alerts is not None and (tmp_path / "outputs" / "alerts.csv").exists()
    # data quality: the cleaned contacts published, the report logged to MLflow (aggregates only)
    assert report.quality["rows"] == len(pd.read_parquet(tmp_path / "outputs" / "quality" / "cleaned.parquet"))
    assert 0 < report.quality["duplicates"]["duplicate_rate"] < 1
    runs = __import__("mlflow").search_runs(experiment_names=["salesml-data-quality"])
    assert len(runs) == 1 and "metrics.quality.duplicate_rate" in runs.columns
