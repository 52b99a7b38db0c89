"""The flow's optional task hooks (task state, backtest) leave tasks that do not use them unchanged."""

from __future__ import annotations

import json

import numpy as np

from salesml.core.task import Task
from salesml.tasks.lead_scoring import LeadScoring


def test_defaults_learn_nothing_and_backtest_nothing(leads):
    task = LeadScoring()
    assert task.fit_state(None, None, lambda frame: np.zeros(len(frame))) == {}
    assert task.backtest({"leads": leads}, None, lambda *a: (np.zeros(0), np.zeros(0))) is None
    assert Task.load_state(task, {}) is None and task.state_ == {}


def test_lead_scoring_bundle_has_no_task_state_and_no_backtest(trained, tmp_path):
    assert "task_state" not in trained.scorer.metadata
    assert trained.backtest is None
    assert not any(k.startswith("backtest.") for k in trained.metrics)
    written = json.loads((trained.save(tmp_path / "m") / "metadata.json").read_text())
    assert "task_state" not in written


def test_train_runs_the_named_steps_in_order():
    from salesml.core import flow

    assert [s.__name__ for s in flow.PREPARE] == ["validate", "build", "split", "folds", "encode"]
    assert [s.__name__ for s in flow.RUN] == [
        "log_inputs", "tune", "fit", "calibrate", "backtest", "learn_state", "evaluate", "explain", "log_model",
        "register",
    ]


def test_the_trained_task_and_the_loaded_model_get_the_same_state_through_load_state(leads, tmp_path):
    """A task's state goes through JSON and :meth:`Task.load_state` in training and on load alike."""
    import salesml
    from salesml.tasks.lead_scoring import LeadScoring

    seen = []

    class Stateful(LeadScoring):
        def fit_state(self, dataset, split, model_predict, backtest=None):
            return {"valid_rows": int(split.valid.sum()), "mean": np.float64(0.25)}

        def load_state(self, state):
            seen.append(dict(state))
            super().load_state(state)

    from salesml import tasks

    tasks.TASKS[LeadScoring.name], original = Stateful, tasks.TASKS[LeadScoring.name]
    try:
        from salesml.core.flow import train
        from salesml.tracking.tracker import NullTracker

        result = train({"task": "lead-scoring", "random_state": 0}, tables={"leads": leads.head(4000)}, tracker=NullTracker())
        again = salesml.load_model(result.save(tmp_path / "m"))
    finally:
        tasks.TASKS[LeadScoring.name] = original
    assert result.task.state_ == again.task.state_ == {"valid_rows": int(result.split.valid.sum()), "mean": 0.25}
    learnt = [state for state in seen if state]  # the scorer built before the state is learnt gets {}
    assert len(learnt) == 3  # the trained task, the scorer that ships, the loaded copy
    assert all(type(state["mean"]) is float for state in learnt)  # normalised through JSON first
    assert result.scorer.metadata["task_state"] == learnt[0]
