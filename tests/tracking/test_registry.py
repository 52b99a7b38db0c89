"""The publish gate's record on each version, manual promotion through the gate, rollback, and retraining."""

from __future__ import annotations

import json

import mlflow
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import salesml
from salesml.cli import app
from salesml.tracking.registry import CHAMPION, PREVIOUS_CHAMPION, GateRefused, champion_history, promote, rollback

NAME = "salesml-lead-scoring"
runner = CliRunner()


def said(res) -> str:
    """The command's output on one line (the console wraps long lines)."""
    return " ".join(res.output.split())


@pytest.fixture(scope="module")
def registry(tmp_path_factory, crm):
    """v1: a good model (champion); v2: a model whose trees cannot split, refused by the gate."""
    root = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    leads = crm.leads.head(6_000)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.chdir(root)
        good = salesml.train({"task": "lead-scoring"}, tables={"leads": leads})
        worse = salesml.train({"task": "lead-scoring", "model": {"min_data_in_leaf": 100_000}, "split": {"folds": 0}}, tables={"leads": leads})
        yield root, uri, leads, good, worse, mp


def aliases(client) -> dict[str, str]:
    return {k: str(v) for k, v in client.get_registered_model(NAME).aliases.items()}


def test_the_gate_decision_is_recorded_on_every_version(registry):
    _, uri, _, good, worse, _ = registry
    client = mlflow.MlflowClient(uri)
    assert (good.version, good.decision.promoted, worse.version, worse.decision.promoted) == ("1", True, "2", False)
    tags = client.get_model_version(NAME, "2").tags
    assert tags["salesml.gate.promoted"] == "False"
    assert tags["salesml.gate.decision"] == "not promoted; champion stays v1"
    assert float(tags["salesml.gate.candidate"]) == pytest.approx(0.5)
    assert float(tags["salesml.gate.champion"]) == pytest.approx(good.metrics["test.roc_auc"])
    assert tags["salesml.gate.champion_measured_on"] == "candidate holdout"
    assert tags["salesml.gate.rule"].startswith("promote when there is no champion, or when the candidate's roc_auc is >= 0.95 x")
    assert tags["salesml.gate.reason"].startswith("roc_auc 0.5000 < 0.95 x champion")
    assert tags["salesml.gate.decided_at"]
    assert aliases(client) == {CHAMPION: "1"}
    (event,) = champion_history(client, NAME)
    assert (event["action"], event["version"], event["by"], event["reason"]) == ("promoted", "1", "gate", "no champion yet")


def test_promotion_rollback_and_retraining_keep_the_history(registry, tmp_path):
    root, uri, leads, good, _, mp = registry
    client = mlflow.MlflowClient(uri)

    # a version below the gate is refused by `salesml promote` ...
    res = runner.invoke(app, ["promote", "--task", "lead-scoring", "--version", "2"])
    assert res.exit_code == 1
    assert "v2 does not pass the publish gate: roc_auc 0.5000 < 0.95 x champion" in said(res)
    assert aliases(client) == {CHAMPION: "1"}
    with pytest.raises(GateRefused, match="Use --force"):
        promote(client, NAME, "2", metric="roc_auc", greater_is_better=True)

    # ... unless forced, which is recorded
    res = runner.invoke(app, ["promote", "--task", "lead-scoring", "--version", "2", "--force", "--reason", "drill"])
    assert res.exit_code == 0, res.output
    assert aliases(client) == {CHAMPION: "2", PREVIOUS_CHAMPION: "1"}
    tags = client.get_model_version(NAME, "2").tags
    assert (tags["salesml.promotion.forced"], tags["salesml.promotion.reason"], tags["salesml.promoted_by"]) == (
        "True",
        "drill",
        "manual (forced past the gate)",
    )
    assert client.get_model_version(NAME, "1").tags["salesml.replaced_by"] == "2"

    # rollback restores the previous champion in one command, and the champion scores like v1 again
    res = runner.invoke(app, ["rollback", "--task", "lead-scoring", "--reason", "drill over"])
    assert res.exit_code == 0, res.output
    assert "champion rolled back from v2 to v1" in said(res)
    assert aliases(client) == {CHAMPION: "1"}
    assert client.get_model_version(NAME, "2").tags["salesml.rollback_reason"] == "drill over"
    sample = leads.tail(200)
    pd.testing.assert_frame_equal(salesml.load_model(f"models:/{NAME}@champion").score(sample), good.scorer.score(sample))
    with pytest.raises(ValueError, match="has no previous champion to roll back to"):
        rollback(client, NAME)

    # retraining on new data goes through the gate; `--if-needed` skips when monitoring says all is well
    fresh, _ = salesml.datasets.make_leads(6_000, random_state=21)
    fresh.to_csv(tmp_path / "fresh.csv", index=False)
    (tmp_path / "exp.yaml").write_text(
        yaml.safe_dump({"task": "lead-scoring", "data": {"tables": {"leads": str(tmp_path / "fresh.csv")}}})
    )
    (tmp_path / "ok.json").write_text(json.dumps({"retrain": {"recommended": False, "reasons": []}}))
    res = runner.invoke(app, ["retrain", "--config", str(tmp_path / "exp.yaml"), "--if-needed", str(tmp_path / "ok.json")])
    assert res.exit_code == 0 and "retrain not needed" in said(res)
    assert len(client.search_model_versions(f"name = '{NAME}'")) == 2
    (tmp_path / "red.json").write_text(json.dumps({"retrain": {"recommended": True, "reasons": ["feature drift is red for: visits"]}}))
    res = runner.invoke(app, ["retrain", "--config", str(tmp_path / "exp.yaml"), "--if-needed", str(tmp_path / "red.json")])
    assert res.exit_code == 0, res.output
    assert "registered salesml-lead-scoring v3 (champion:" in said(res)
    assert aliases(client) == {CHAMPION: "3", PREVIOUS_CHAMPION: "1"}
    run = client.get_run(client.get_model_version(NAME, "3").run_id)
    assert run.data.tags["salesml.trigger"] == "retrain"
    assert run.data.tags["salesml.retrain_reasons"] == "feature drift is red for: visits"

    # the whole story, oldest first
    history = [(e["action"], e["version"], e["previous"]) for e in champion_history(client, NAME)]
    assert history == [("promoted", "1", None), ("promoted", "2", "1"), ("rolled back", "1", "2"), ("promoted", "3", "1")]
    res = runner.invoke(app, ["history", "--task", "lead-scoring"])
    assert res.exit_code == 0
    assert "v2: not promoted; champion stays v1" in said(res) and "rolled back v1 (was v2) by rollback: drill over" in said(res)
    res = runner.invoke(app, ["rollback", "--task", "lead-scoring"])
    assert res.exit_code == 0 and aliases(client) == {CHAMPION: "1"}


def test_promoting_the_champion_or_a_missing_version_is_an_error(registry):
    _, uri, *_ = registry
    client = mlflow.MlflowClient(uri)
    champion = aliases(client)[CHAMPION]
    res = runner.invoke(app, ["promote", "--task", "lead-scoring", "--version", champion])
    assert res.exit_code == 1 and f"v{champion} is already the champion" in said(res)
    with pytest.raises(mlflow.exceptions.MlflowException):
        promote(client, NAME, "99", metric="roc_auc", greater_is_better=True)
