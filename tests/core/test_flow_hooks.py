"""The flow's optional task hooks (postprocess state, backtest) leave tasks that do not use them unchanged."""

from __future__ import annotations

import json

import numpy as np

from salesml.core.task import Task
from salesml.tasks.lead_scoring import LeadScoring


def test_defaults_learn_nothing_and_backtest_nothing(leads):
    task = LeadScoring()
    assert task.fit_postprocess(np.zeros(3), np.zeros(3), leads.head(3)) == {}
    assert task.backtest({"leads": leads}, None, lambda *a: (np.zeros(0), np.zeros(0))) is None
    assert Task.load_postprocess_state(task, {}) is None


def test_lead_scoring_bundle_has_no_postprocess_state_and_no_backtest(trained, tmp_path):
    assert "postprocess_state" not in trained.scorer.metadata
    assert trained.backtest is None
    assert not any(k.startswith("backtest.") for k in trained.metrics)
    written = json.loads((trained.save(tmp_path / "m") / "metadata.json").read_text())
    assert "postprocess_state" not in written
