"""Splits without time, cross-validated folds, and the refit of the shipped booster on every non-holdout row."""

from __future__ import annotations

import numpy as np
import pytest

import salesml
from salesml.core import flow
from salesml.core.split import NO_TIME_NOTE
from salesml.core.task import SplitSettings
from salesml.tasks.lead_scoring import LeadScoring


@pytest.fixture(scope="module")
def untimed(leads):
    """Leads as many real tables come: no time column, no converted_at."""
    return leads.head(6_000).drop(columns=["created_at", "converted_at"])


@pytest.fixture(scope="module")
def refitted(untimed):
    calls = []
    real = flow.fit_booster

    def recording(X_train, y_train, X_valid, y_valid, **kw):
        calls.append((len(X_train), X_valid is None, kw.get("num_boost_round")))
        return real(X_train, y_train, X_valid, y_valid, **kw)

    flow.fit_booster = recording
    try:
        result = salesml.train(
            {"task": "lead-scoring", "random_state": 0}, tables={"leads": untimed}, tracker=salesml.NullTracker()
        )
    finally:
        flow.fit_booster = real
    return result, calls


def test_a_table_without_time_is_split_stratified_with_a_note(refitted, untimed, caplog):
    result, _ = refitted
    assert result.split.method == "stratified"
    assert result.split.describe()["split.note"] == NO_TIME_NOTE
    y = untimed["converted"].astype(int).to_numpy()
    assert y[result.split.test].mean() == pytest.approx(y.mean(), abs=0.01)
    assert result.scorer.metadata["trained_through"] is None


def test_the_shipped_booster_saw_every_non_holdout_row(refitted):
    result, calls = refitted
    n_rows, without_valid, rounds = calls[-1]  # the last fit is the refit that ships
    assert n_rows == int((result.split.train | result.split.valid).sum()) == result.scorer.metadata["refit"]["rows"]
    assert without_valid and rounds == result.scorer.metadata["refit"]["rounds"] == result.metrics["model.rounds"]
    assert result.scorer.booster.num_trees() == rounds
    assert len(calls) == 6 and all(not c[1] for c in calls[:-1])  # five fold models, each early-stopped
    assert result.metrics["cv.folds"] == 5.0


def test_fold_models_never_score_rows_they_trained_or_stopped_on(untimed):
    task = LeadScoring()
    ds = task.build_dataset({"leads": untimed})
    split = task.split(ds, SplitSettings(random_state=0))
    folds = task.tuning_folds(ds, split)
    assert len(folds) == 5
    for fit, stop, score in folds:
        assert not (score & (fit | stop)).any() and not (fit & stop).any()
        assert not ((fit | stop | score) & split.test).any()


def test_cv_tuning_reports_fold_metrics_and_the_refit_is_reproducible(untimed):
    cfg = {"task": "lead-scoring", "random_state": 0, "split": {"folds": 3}}
    a = salesml.train(cfg, tables={"leads": untimed}, tracker=salesml.NullTracker(), trials=3)
    b = salesml.train(cfg, tables={"leads": untimed}, tracker=salesml.NullTracker(), trials=3)
    assert a.study.user_attrs["objective"] == "mean roc_auc over 3 cross-validation folds"
    done = [t for t in a.study.trials if t.value is not None]
    assert done and all(len(t.user_attrs["fold_scores"]) == 3 for t in done)
    assert all(t.value == pytest.approx(np.mean(t.user_attrs["fold_scores"])) for t in done)
    assert a.scorer.booster.model_to_string() == b.scorer.booster.model_to_string()


def test_a_group_split_keeps_each_group_in_one_part(untimed):
    result = salesml.train(
        {"task": "lead-scoring", "random_state": 0, "split": {"method": "group", "group": "industry"}},
        tables={"leads": untimed}, tracker=salesml.NullTracker(),
    )
    owners = [set(untimed["industry"][m]) for m in (result.split.train | result.split.valid, result.split.test)]
    assert not owners[0] & owners[1]


@pytest.mark.parametrize(
    ("split", "message"),
    [
        ({"method": "group"}, "split.method 'group' needs split.group: the column whose values must stay in one part"),
        ({"method": "group", "group": "acount"}, "split.group 'acount' is not a column of the table."),
        ({"method": "time"}, "split.method is 'time' but the rows have no time (column 'created_at')."),
    ],
)
def test_split_settings_that_cannot_work_say_why(untimed, split, message):
    with pytest.raises(ValueError) as info:
        salesml.train({"task": "lead-scoring", "split": split}, tables={"leads": untimed}, tracker=salesml.NullTracker())
    assert message in str(info.value)


def test_a_misspelt_time_column_is_still_reported_not_taken_for_no_time(leads):
    from salesml.core.contracts import DataValidationError

    with pytest.raises(DataValidationError, match="did you mean 'created'"):
        LeadScoring().validate({"leads": leads.head(200).rename(columns={"created_at": "created"})})
