"""Real MLflow: runs, nested trials, plots, the pyfunc model, the registry and its gate."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

import salesml
from salesml.tracking.registry import gate


@pytest.fixture()
def tracked(mlflow_store, crm):
    leads = crm.leads.head(10_000)
    result = salesml.train({"task": "lead-scoring", "tuning": {"trials": 3, "search_space": "lightgbm-small"}}, tables={"leads": leads})
    return leads, result


def test_run_has_metrics_plots_trials_and_a_registered_champion(tracked):
    leads, result = tracked
    client = mlflow.MlflowClient()
    run = client.get_run(result.run_id)
    assert run.data.metrics["test.roc_auc"] == pytest.approx(result.metrics["test.roc_auc"])
    assert run.data.params["task"] == "lead-scoring"
    artifacts = {f.path for f in client.list_artifacts(result.run_id, "plots")}
    assert artifacts == {
        "plots/calibration_curve.png",
        "plots/lift_gain.png",
        "plots/score_distribution.png",
        "plots/shap_summary.png",
        "plots/tuning_history.png",
    }
    children = client.search_runs([run.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{result.run_id}'")
    assert len(children) == 3 and all("learning_rate" in c.data.params for c in children)
    version = client.get_model_version_by_alias("salesml-lead-scoring", "champion")
    assert str(version.version) == result.version == "1"
    assert version.tags["salesml.gate.reason"] == "no champion yet"


def test_registry_model_scores_like_the_in_memory_one(tracked):
    leads, result = tracked
    scorer = salesml.load_model("models:/salesml-lead-scoring@champion")
    sample = leads.sample(300, random_state=2)
    pd.testing.assert_frame_equal(scorer.score(sample), result.scorer.score(sample))
    served = mlflow.pyfunc.load_model("models:/salesml-lead-scoring@champion").predict(sample)
    np.testing.assert_allclose(served["probability"].to_numpy(), result.scorer.predict(sample))


def test_model_artifact_has_no_pickle_and_no_personal_data(tracked, tmp_path):
    leads, result = tracked
    local = Path(mlflow.artifacts.download_artifacts(result.model_uri, dst_path=str(tmp_path / "m")))
    files = [p for p in local.rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix in {".pkl", ".pickle", ".joblib"}]
    assert not [p for p in files if p.read_bytes()[:2] in (b"\x80\x04", b"\x80\x05")]
    text = "\n".join(p.read_text("utf-8", errors="ignore") for p in files)
    for value in list(leads["email"].dropna().head(200)) + list(leads["lead_id"].head(200)):
        assert value not in text
    example = json.loads((local / "input_example.json").read_text())
    assert "example-0001" in json.dumps(example)


def test_gate_keeps_the_champion_when_the_candidate_is_worse(tracked):
    leads, _ = tracked
    # trees that cannot split and no cross-validation (so no linear blend): a constant score, AUC 0.5
    worse = salesml.train(
        {"task": "lead-scoring", "model": {"min_data_in_leaf": 100_000}, "split": {"folds": 0}}, tables={"leads": leads}
    )
    assert worse.version == "2" and not worse.decision.promoted
    assert worse.decision.champion_measured_on == "candidate holdout"
    client = mlflow.MlflowClient()
    assert str(client.get_model_version_by_alias("salesml-lead-scoring", "champion").version) == "1"
    assert client.get_model_version("salesml-lead-scoring", "2").tags["salesml.gate.promoted"] == "False"


def test_too_little_data_is_not_registered(mlflow_store):
    leads, _ = salesml.datasets.make_leads(1_500, random_state=1)
    result = salesml.train({"task": "lead-scoring"}, tables={"leads": leads})
    assert result.version is None
    assert "holdout set has" in result.not_registered_because[0]
    with pytest.raises(mlflow.exceptions.MlflowException):
        mlflow.MlflowClient().get_registered_model("salesml-lead-scoring")


@pytest.mark.parametrize(
    "candidate, champion, greater, promoted",
    [(0.80, 0.84, True, True), (0.79, 0.84, True, False), (105.0, 100.0, False, True), (106.0, 100.0, False, False)],
)
def test_gate_rule(candidate, champion, greater, promoted):
    assert gate(metric="m", candidate=candidate, champion=champion, greater_is_better=greater).promoted is promoted


def test_a_champion_from_another_table_is_not_silently_compared(mlflow_store):
    """The gate compares on the candidate's holdout; a champion that cannot be scored there is not beaten by a
    figure from other data, and the candidate waits for an explicit promotion."""
    first = salesml.train({"task": "lead-scoring", "random_state": 0}, tables={"leads": _leads_without([])})
    assert first.decision.promoted
    other = _leads_without(["visits", "pages_viewed", "inquiry_text"], seed=1)  # the champion reads these
    second = salesml.train({"task": "lead-scoring", "random_state": 0}, tables={"leads": other})
    assert not second.decision.promoted and second.decision.champion is None
    assert second.decision.reason.startswith("not comparable: champion v1 cannot be scored on this candidate's holdout")
    assert "salesml promote --version N --force" in second.decision.reason
    client = mlflow.MlflowClient()
    assert str(client.get_model_version_by_alias("salesml-lead-scoring", "champion").version) == "1"


def test_a_study_on_new_data_does_not_reuse_old_trials_unless_named(mlflow_store, tmp_path):
    storage = str(tmp_path / "optuna.journal")
    cfg = {"task": "lead-scoring", "random_state": 0, "split": {"folds": 2}, "tuning": {"storage": storage}}
    a = salesml.train(cfg, tables={"leads": _leads_without([], seed=0)}, tracker=salesml.NullTracker(), trials=2)
    b = salesml.train(cfg, tables={"leads": _leads_without([], seed=1)}, tracker=salesml.NullTracker(), trials=2)
    assert a.study.study_name != b.study.study_name and len(b.study.trials) == 2
    named = {**cfg, "tuning": {"storage": storage, "study_name": "leads-weekly"}}
    salesml.train(named, tables={"leads": _leads_without([], seed=0)}, tracker=salesml.NullTracker(), trials=2)
    c = salesml.train(named, tables={"leads": _leads_without([], seed=1)}, tracker=salesml.NullTracker(), trials=2)
    assert c.study.study_name == "leads-weekly" and len(c.study.trials) == 4  # resumed because it was named


def _leads_without(columns, n=3_000, seed=0):
    leads, _ = salesml.datasets.make_leads(n, random_state=seed)
    return leads.drop(columns=columns)
