"""Bad input stops training with one report naming every column, problem, rows and fix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import salesml
from salesml.core.contracts import DataValidationError
from salesml.tasks.lead_scoring import LeadScoring


@pytest.fixture()
def base() -> pd.DataFrame:
    leads, _ = salesml.datasets.make_leads(400, random_state=5)
    return leads.copy()


def problems_of(df: pd.DataFrame, **columns) -> DataValidationError:
    with pytest.raises(DataValidationError) as info:
        LeadScoring(columns=columns or None).validate({"leads": df})
    return info.value


def test_clean_table_passes(base):
    LeadScoring().validate({"leads": base})


def test_misspelled_column_is_named_with_a_suggestion(base):
    err = problems_of(base.rename(columns={"created_at": "created"}))
    assert len(err.problems) == 1
    msg = str(err)
    assert "column 'created_at': required column (the time column) is missing" in msg
    assert "did you mean 'created'?" in msg


def test_missing_column_without_close_match_says_how_to_map_it(base):
    err = problems_of(base.drop(columns=["converted", "converted_at"]))
    assert "column 'converted': required column (the label column) is missing" in str(err)
    assert "map its name in the experiment YAML" in str(err)


def test_unparseable_dates_name_the_rows(base):
    df = base.astype({"created_at": "string"})
    df.loc[[3, 7], "created_at"] = ["not a date", "31/31/2024"]
    err = problems_of(df)
    (p,) = err.problems
    assert p.column == "created_at" and p.check == "unparseable date"
    assert p.n_rows == 2
    assert set(p.keys) == {f"lead_id={base.lead_id[3]}", f"lead_id={base.lead_id[7]}"}
    assert "use ISO dates" in str(err)


def test_label_with_other_values_is_reported(base):
    df = base.astype({"converted": object})
    df.loc[0, "converted"] = "maybe"
    err = problems_of(df)
    assert err.problems[0].check == "not binary"
    assert "'maybe'" in str(err) and "encode the label as 0/1" in str(err)


def test_duplicate_ids(base):
    df = base.copy()
    df.loc[10, "lead_id"] = df.loc[11, "lead_id"]
    err = problems_of(df)
    (p,) = err.problems
    assert p.check == "field_uniqueness" and p.n_rows == 2
    assert "1 value appear more than once" in str(err)


def test_empty_table(base):
    err = problems_of(base.iloc[:0])
    assert "[leads] table: the table has no rows" in str(err)


def test_one_class_label(base):
    df = base.assign(converted=False)
    err = problems_of(df)
    assert [p.check for p in err.problems] == ["one_class"]
    assert "every labelled lead is not converted (0); a model needs both outcomes" in str(err)


def test_all_missing_column(base):
    err = problems_of(base.assign(downloads=np.nan))
    (p,) = err.problems
    assert p.column == "downloads" and p.check == "all_missing"


def test_all_problems_in_one_report(base):
    df = base.assign(downloads=np.nan).rename(columns={"converted": "convrted"})
    df.loc[5, "lead_id"] = df.loc[6, "lead_id"]
    err = problems_of(df)
    assert {p.check for p in err.problems} == {"missing", "field_uniqueness", "all_missing"}
    assert str(err).startswith("3 problems found in the input data:")
    assert set(err.to_frame()["column"]) == {"converted", "lead_id", "downloads"}


def test_custom_column_names(base):
    df = base.rename(columns={"lead_id": "id", "created_at": "ts", "converted": "won"})
    LeadScoring(columns={"id": "id", "time": "ts", "label": "won"}).validate({"leads": df})


def test_training_stops_before_anything_is_logged(base):
    with pytest.raises(DataValidationError, match="required column"):
        salesml.train({"task": "lead-scoring"}, tables={"leads": base.drop(columns=["created_at"])}, tracker=salesml.NullTracker())
