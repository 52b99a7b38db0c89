from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from salesml.core.features import MissingColumnsError, TabularEncoder, looks_personal


@pytest.fixture()
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 400
    return pd.DataFrame(
        {
            "lead_id": [f"L{i:05d}" for i in range(n)],
            "created_at": pd.date_range("2024-01-01", periods=n, freq="6h"),
            "visits": rng.integers(0, 20, n),
            "opted_in": rng.choice(["yes", "no"], n),
            "channel": rng.choice(["web", "event", "referral"], n),
            "last_call": pd.date_range("2023-12-01", periods=n, freq="6h").astype(str),
            "note": rng.choice(["please send a pricing quote", "asking for a demo next week", "just browsing the site"], n),
            "contact_email": [f"p{i}@example.com" for i in range(n)],
            "crm_handle": [f"h-{i}-x" for i in range(n)],
            "won": rng.integers(0, 2, n),
        }
    )


def fitted(frame: pd.DataFrame) -> TabularEncoder:
    return TabularEncoder(time_column="created_at", exclude=["lead_id", "won"], min_token_count=5).fit(frame)


def test_columns_are_typed_automatically(frame):
    enc = fitted(frame)
    kinds = {p.name: p.kind for p in enc.columns_}
    assert kinds == {
        "created_at": "time",
        "visits": "numeric",
        "opted_in": "bool",
        "channel": "categorical",
        "last_call": "datetime",
        "note": "text",
        "contact_email": "dropped",
        "crm_handle": "dropped",
    }
    assert enc.dropped_["contact_email"] == "its name suggests personal data"
    assert enc.dropped_["crm_handle"] == "nearly every value is different (an identifier?)"
    assert "note__has__pricing" in enc.feature_names_ and "note__has__demo" in enc.feature_names_


def test_personal_content_is_dropped_even_with_a_harmless_name(frame):
    enc = TabularEncoder(exclude=["lead_id", "won"]).fit(frame.rename(columns={"contact_email": "info"}))
    assert enc.dropped_["info"] == "its values look like e-mail addresses"


@pytest.mark.parametrize(
    "name, personal",
    [("email", True), ("contact_email", True), ("phoneNumber", True), ("first_name", True), ("email_opens", False), ("phone_calls", False), ("company_size", False)],
)
def test_personal_column_names(name, personal):
    assert looks_personal(name) is personal


def test_datetime_parts_and_age(frame):
    enc = fitted(frame)
    X = enc.transform(frame)
    assert X["created_at__month"].iloc[0] == 1 and X["created_at__weekday"].iloc[0] == 0  # 2024-01-01 was a Monday
    assert X["last_call__days_before"].iloc[0] == pytest.approx(31.0)


def test_unseen_category_is_missing_not_an_error(frame):
    enc = fitted(frame)
    X = enc.transform(frame.assign(channel="carrier pigeon"))
    assert X["channel"].isna().all()


def test_missing_column_is_named(frame):
    enc = fitted(frame)
    with pytest.raises(MissingColumnsError, match="The input lacks column 'visits' that the model was trained with"):
        enc.transform(frame.drop(columns=["visits"]))


def test_json_round_trip_transforms_identically(frame):
    enc = fitted(frame)
    again = TabularEncoder.from_dict(json.loads(json.dumps(enc.to_dict())))
    pd.testing.assert_frame_equal(enc.transform(frame), again.transform(frame))


def test_row_issues_name_row_column_and_reason(frame):
    enc = fitted(frame)
    bad = frame.astype({"visits": object, "last_call": object})
    bad.loc[3, "visits"] = "twelve"
    bad.loc[8, "last_call"] = "yesterday"
    issues = enc.row_issues(bad)
    assert sorted(map(tuple, issues[["row", "column", "reason"]].to_numpy().tolist())) == [
        (3, "visits", "not_a_number"),
        (8, "last_call", "not_a_date"),
    ]


def test_rare_tokens_never_become_features():
    texts = ["call me back about pricing please"] * 30 + ["I am Zebulon Quartermaine, call me"]
    enc = TabularEncoder(min_token_count=20).fit(pd.DataFrame({"msg": texts}))
    assert not any("zebulon" in f for f in enc.feature_names_)
    assert "msg__has__pricing" in enc.feature_names_


def test_describe_phrases(frame):
    enc = fitted(frame)
    templates = {"visits": "visited the site {value} times", "opted_in": {"true": "opted in", "false": "did not opt in"}}
    assert enc.describe("visits", 6.0, templates) == "visited the site 6 times"
    assert enc.describe("visits", np.nan, templates) == "visits is unknown"
    assert enc.describe("opted_in", 0.0, templates) == "did not opt in"
    code = float(enc.plan_of("channel").categories.index("event"))
    assert enc.describe("channel", code) == "channel is event"
    assert enc.describe("note__has__demo", 1.0) == 'note mentions "demo"'
    assert enc.describe("created_at__weekday", 0.0) == "created on a Monday"


def test_scoring_contract_is_learnt_from_training_rows(frame):
    train = frame.copy()
    train.loc[::7, "channel"] = None
    enc = fitted(train)
    plans = {p.name: p for p in enc.columns_}
    assert (plans["visits"].nullable, plans["visits"].minimum) == (False, 0.0)
    assert plans["channel"].nullable is True
    bad = frame.head(6).astype({"visits": object}).copy()
    bad.loc[0, "visits"] = None          # never missing in training: LightGBM would read it as 0
    bad.loc[1, "visits"] = -4            # training counts were never negative
    bad.loc[2, "visits"] = float("inf")
    bad.loc[3, "channel"] = None         # missing values were seen in training: fine
    bad.loc[4, "channel"] = "carrier pigeon"  # unseen category: scored, not an issue
    issues = enc.row_issues(bad)
    assert issues[["row", "column", "reason"]].values.tolist() == [
        [0, "visits", "missing_value"],
        [2, "visits", "not_finite"],
        [1, "visits", "out_of_range"],
    ]


def test_models_saved_before_the_contract_existed_stay_permissive(frame):
    data = fitted(frame).to_dict()
    for plan in data["columns"]:
        plan.pop("nullable"), plan.pop("minimum")
    old = TabularEncoder.from_dict(data)
    bad = frame.head(2).astype({"visits": object})
    bad.loc[0, "visits"] = None
    bad.loc[1, "visits"] = -4
    assert old.row_issues(bad).empty


def test_rare_category_values_never_leave_the_encoder():
    """A surname in a harmlessly named column (19 rows) must not reach the model's metadata,
    its input example or a monitoring profile; a value in 20 rows is a real category."""
    from salesml.monitoring.monitor import reference_profile

    rng = np.random.default_rng(0)
    team = rng.choice(["north", "south", "east", "west"], 2_000).astype(object)
    team[:19] = "Quartermaine"
    team[100:120] = "central"
    frame = pd.DataFrame({"team": team, "visits": rng.integers(0, 9, 2_000)})
    enc = TabularEncoder().fit(frame)
    assert enc.plan_of("team").categories == ["central", "east", "north", "south", "west"]
    assert "Quartermaine" not in json.dumps(enc.to_dict())
    assert "Quartermaine" not in json.dumps(enc.example_row(), default=str)
    assert np.isnan(enc.transform(frame.head(19))["team"]).all()  # folded into "new or unknown"
    profile = reference_profile(enc, frame, np.zeros(len(frame)))
    assert "Quartermaine" not in json.dumps(profile, default=str)


def test_text_in_a_number_column_stops_training_unless_allowed():
    rng = np.random.default_rng(0)
    visits = rng.integers(0, 9, 1_000).astype(str).astype(object)
    visits[:20] = "many"  # 2% of the rows
    visits[20:25] = ""  # empty is missing, not text
    pages = rng.integers(0, 9, 1_000).astype(str).astype(object)
    pages[:12] = "n/a?"
    frame = pd.DataFrame({"visits": visits, "pages": pages, "channel": rng.choice(["web", "event"], 1_000)})
    with pytest.raises(ValueError, match=r"Text in number columns of the training data: 'visits' has 20 of 1,000 values "
                                         r"that are not numbers \(e.g. 'many'\); 'pages' has 12 of 1,000 .*allow_non_numeric"):
        TabularEncoder().fit(frame)
    enc = TabularEncoder(allow_non_numeric=["visits", "pages"]).fit(frame)
    assert enc.plan_of("visits").kind == "numeric"
    assert np.isnan(enc.transform(frame.head(20))["visits"]).all()
