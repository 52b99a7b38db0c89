"""Checks every registered task passes, found through the registry: a new task is covered by adding it there."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import salesml
from salesml.tasks import TASKS
from salesml.core.task import Task


@pytest.fixture(scope="module", params=sorted(TASKS))
def trained_task(request, crm):
    cls = TASKS[request.param]
    tables = cls.builtin_tables(crm)
    result = salesml.train({"task": request.param, "random_state": 0}, tables=tables, tracker=salesml.NullTracker())
    return cls, tables, result


def test_declares_what_the_flow_needs(trained_task):
    cls, _, _ = trained_task
    assert issubclass(cls, Task)
    for attr in ("name", "title", "tables", "objective", "eval_metric", "primary_metric", "calibration"):
        assert getattr(cls, attr), attr
    cls()  # default columns and params are valid


def test_reports_its_primary_metric_on_the_holdout(trained_task):
    cls, _, result = trained_task
    assert np.isfinite(result.metrics[f"test.{cls.primary_metric}"])
    assert result.holdout.index.equals(result.holdout.index.unique())


def test_saved_model_scores_identically(trained_task, tmp_path):
    cls, tables, result = trained_task
    frame = result.task.build_dataset(tables).frame.tail(300)
    again = salesml.load_model(result.save(tmp_path / "m"))
    pd.testing.assert_frame_equal(again.score(frame), result.scorer.score(frame))


def test_row_order_and_batch_size_do_not_change_scores(trained_task):
    cls, tables, result = trained_task
    frame = result.task.build_dataset(tables).frame.tail(400)
    full = result.scorer.score(frame, reasons="none")
    reversed_ = result.scorer.score(frame.iloc[::-1], reasons="none").loc[full.index]
    pd.testing.assert_frame_equal(full, reversed_)
    parts = pd.concat([result.scorer.score(frame.iloc[i : i + 37], reasons="none") for i in range(0, len(frame), 37)])
    pd.testing.assert_frame_equal(full, parts)


def test_postprocess_keeps_the_index(trained_task):
    cls, tables, result = trained_task
    frame = result.task.build_dataset(tables).frame.tail(10)
    out = result.task.postprocess(result.scorer.predict(frame), frame)
    assert out.index.equals(frame.index)


def test_metadata_round_trip(trained_task):
    cls, _, result = trained_task
    meta = result.task.to_metadata()
    rebuilt = cls(columns=meta["columns"], params=meta["params"])
    assert rebuilt.to_metadata() == meta
