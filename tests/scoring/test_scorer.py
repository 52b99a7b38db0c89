"""Scorer reason modes: reasons only where asked, and every feature's contribution on request."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesml.scoring.scorer import CONTRIBUTION_PREFIX


@pytest.fixture(scope="module")
def frame(leads):
    return leads.drop(columns=["converted", "converted_at"]).tail(400)


def test_all_adds_every_contribution_and_they_add_up_to_the_margin(trained, frame):
    scorer = trained.scorer
    out = scorer.score(frame, reasons="all")
    contrib = out[[c for c in out.columns if c.startswith(CONTRIBUTION_PREFIX)]]
    assert contrib.shape[1] == len(scorer.encoder.feature_names_) + 1  # features + base value
    margin = scorer.margin(frame)  # the booster's, blended with the linear part when one shipped
    assert np.allclose(contrib.sum(axis=1).to_numpy(), margin, atol=1e-9)
    top = scorer.score(frame, reasons="top")
    pd.testing.assert_frame_equal(out[top.columns], top)


def test_flagged_explains_only_flagged_rows(trained, leads):
    frame = leads.drop(columns=["converted", "converted_at"]).tail(3_000)
    out = trained.scorer.score(frame, reasons="flagged")
    top = trained.scorer.score(frame, reasons="top")
    flagged = out["follow_up"].to_numpy()
    assert 0 < flagged.sum() < len(frame)
    assert (out.loc[~flagged, [c for c in out.columns if c.startswith("reason_")]] == "").all().all()
    pd.testing.assert_frame_equal(out[flagged], top[flagged])


def test_flagged_needs_a_task_that_flags(trained, frame, monkeypatch):
    monkeypatch.setattr(type(trained.scorer.task), "flag_column", None)
    with pytest.raises(ValueError, match="reasons='flagged' explains the rows a task flags, but Lead scoring declares no flag column"):
        trained.scorer.score(frame, reasons="flagged")


def test_empty_frame_keeps_the_output_columns(trained, frame):
    out = trained.scorer.score(frame.head(0), reasons="top")
    assert len(out) == 0 and "reason_up_1" in out.columns and "reason_down_3" in out.columns


def test_threads_do_not_change_scores(trained, frame):
    scorer = trained.scorer
    default = scorer.score(frame, reasons="top")
    scorer.predict_params["num_threads"] = 1
    try:
        pd.testing.assert_frame_equal(scorer.score(frame, reasons="top"), default)
    finally:
        scorer.predict_params.clear()


def test_unknown_mode_is_refused(trained, frame):
    with pytest.raises(ValueError, match="reasons must be one of 'top', 'flagged', 'all', 'none'. Got 'some' instead"):
        trained.scorer.score(frame, reasons="some")


def test_flagged_with_no_flagged_row_has_the_same_columns_and_types(trained, frame):
    out = trained.scorer.score(frame, reasons="flagged")
    top = trained.scorer.score(frame, reasons="top")
    assert not out["follow_up"].any()  # these 400 leads have no follow-up
    assert out.dtypes.to_dict() == top.dtypes.to_dict()
    assert (out["reason_down_1"] == "").all()


def test_scoring_against_a_missing_store_creates_nothing(tmp_path, monkeypatch):
    from salesml.scoring.batch import score_batch

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.csv").write_text("lead_id\nL1\n")
    from salesml import load_model

    for call in (lambda: load_model("models:/salesml-lead-scoring@champion"),
                 lambda: score_batch("models:/salesml-lead-scoring@champion", tmp_path / "in.csv", tmp_path / "o.csv")):
        with pytest.raises(FileNotFoundError, match=r"No MLflow store at .*mlflow.db to load models:/salesml-lead-scoring@champion"):
            call()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]  # no empty mlflow.db, no outputs


def test_atomic_table_writes_get_the_usual_file_mode(tmp_path):
    import os

    import pandas as pd

    from salesml.core.sources import write_table_atomic

    old = os.umask(0o022)
    try:
        path = write_table_atomic(pd.DataFrame({"a": [1]}), tmp_path / "t.csv")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
