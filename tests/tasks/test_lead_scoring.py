"""Lead scoring against the known generating model, and its business outputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import salesml
from salesml.core.explain import contributions, shap_explanation
from salesml.tasks.lead_scoring import LeadScoring


@pytest.fixture(scope="module")
def large():
    """50k leads: enough for the model to come within 0.02 of the oracle."""
    crm = salesml.make_crm(50_000, random_state=11)
    result = salesml.train({"task": "lead-scoring"}, tables={"leads": crm.leads}, tracker=salesml.NullTracker())
    return crm, result


def test_auc_close_to_the_oracle_and_well_calibrated(large):
    crm, result = large
    test = crm.leads.iloc[np.flatnonzero(result.split.test)]
    truth = crm.truth["leads"].set_index("lead_id")["p_convert"]
    oracle = roc_auc_score(test["converted"].astype(int), truth.loc[test["lead_id"]].to_numpy())
    assert result.metrics["test.roc_auc"] >= oracle - 0.02, (result.metrics["test.roc_auc"], oracle)
    assert result.metrics["test.ece"] < 0.02
    assert abs(result.metrics["test.mean_predicted"] - result.metrics["test.positive_rate"]) < 0.015


def test_split_is_time_ordered(trained, leads):
    t = leads["created_at"]
    assert t[trained.split.train].max() < t[trained.split.valid].min()
    assert t[trained.split.valid].max() < t[trained.split.test].min()


def test_same_data_and_seed_give_the_same_model(trained, leads):
    again = salesml.train({"task": "lead-scoring", "random_state": 0}, tables={"leads": leads}, tracker=salesml.NullTracker())
    assert again.scorer.booster.model_to_string() == trained.scorer.booster.model_to_string()
    assert again.metrics == trained.metrics


def test_shap_values_add_up_to_the_margin_and_match_the_shap_library(trained, leads):
    scorer = trained.scorer
    X = scorer.encoder.transform(leads.tail(300))
    values, base = contributions(scorer.booster, X)
    margin = scorer.booster.predict(X.to_numpy(np.float64), raw_score=True)
    np.testing.assert_allclose(values.sum(axis=1) + base, margin, rtol=1e-9, atol=1e-9)
    explanation = shap_explanation(scorer.booster, X)
    np.testing.assert_allclose(np.asarray(explanation.values), values, atol=1e-6)


def test_score_outputs(trained, leads):
    out = trained.scorer.score(leads.tail(1_000))
    assert list(out.columns[:6]) == ["lead_id", "probability", "score", "grade", "threshold", "follow_up"]
    assert out["score"].between(0, 100).all()
    np.testing.assert_array_equal(out["score"], np.rint(out["probability"] * 100).astype(int))
    expected_grade = np.select([out.score >= 80, out.score >= 50, out.score >= 20], ["A", "B", "C"], "D")
    np.testing.assert_array_equal(out["grade"], expected_grade)
    np.testing.assert_array_equal(out["follow_up"], out["score"] >= 80)
    assert out.index.equals(leads.tail(1_000).index)


def test_reasons_are_readable_phrases(trained, leads):
    out = trained.scorer.score(leads.tail(500))
    reasons = out.filter(like="reason_").to_numpy().ravel()
    assert not any("__" in r or "f_" in r for r in reasons)
    assert any(r.startswith("visited the pricing page") for r in reasons)
    # a lead's top upward reason pushes its margin up: the highest-scored lead has one
    top = out.sort_values("probability").iloc[-1]
    assert top["reason_up_1"] != ""


def test_row_order_does_not_change_scores(trained, leads):
    sample = leads.sample(2_000, random_state=4)
    a = trained.scorer.score(sample, reasons="none").set_index("lead_id").sort_index()
    b = trained.scorer.score(sample.iloc[::-1], reasons="none").set_index("lead_id").sort_index()
    pd.testing.assert_frame_equal(a, b)


def test_missing_feature_column_is_named_and_unseen_category_is_scored(trained, leads):
    sample = leads.head(50)
    with pytest.raises(salesml.MissingColumnsError, match="'pricing_page_views'"):
        trained.scorer.score(sample.drop(columns=["pricing_page_views"]))
    out = trained.scorer.score(sample.assign(channel="tiktok"))
    assert out["probability"].notna().all()
    assert (out.filter(like="reason_") == "came in through tiktok").sum().sum() == 0


def test_score_one_matches_batch(trained, leads):
    record = leads.iloc[123].to_dict()
    one = trained.scorer.score_one(record)
    batch = trained.scorer.score(leads.iloc[[123]]).iloc[0]
    assert one["probability"] == pytest.approx(batch["probability"])
    assert one["reason_up_1"] == batch["reason_up_1"]


def test_segment_thresholds_and_capacity():
    frame = pd.DataFrame({"industry": ["software", "retail", None, "software"]})
    prob = np.array([0.72, 0.72, 0.9, 0.5])
    out = LeadScoring(params={"threshold": 80, "segment_thresholds": {"industry": {"software": 70}}}).postprocess(prob, frame)
    assert out["threshold"].tolist() == [70, 80, 80, 70]
    assert out["follow_up"].tolist() == [True, False, True, False]
    capped = LeadScoring(params={"capacity": 2}).postprocess(prob, frame)
    assert capped["follow_up"].tolist() == [True, False, True, False]


def test_threshold_metrics_follow_the_flags(trained):
    h = trained.holdout
    followed = h["follow_up"]
    assert trained.metrics["test.followed_share"] == pytest.approx(followed.mean())
    if followed.any():
        assert trained.metrics["test.precision_at_threshold"] == pytest.approx(h.loc[followed, "actual"].mean())


@pytest.mark.parametrize(
    "params, message",
    [
        ({"threshold": 120}, "threshold must be a score between 0 and 100. Got 120.0 instead."),
        ({"capacity": 0}, "capacity must be a positive number of leads. Got 0 instead."),
        ({"grades": {"A": 50, "B": 80}}, "grades must list minimum scores from the best grade down"),
    ],
)
def test_bad_params(params, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        LeadScoring(params=params)


def test_user_table_with_own_column_names(leads):
    df = leads.rename(columns={"lead_id": "LeadId", "created_at": "CreatedDate", "converted": "IsConverted"})
    df = df.drop(columns=["converted_at"]).head(8_000)
    cfg = {"task": "lead-scoring", "columns": {"id": "LeadId", "time": "CreatedDate", "label": "IsConverted", "exclude": []}}
    result = salesml.train(cfg, tables={"leads": df}, tracker=salesml.NullTracker())
    assert result.metrics["test.roc_auc"] > 0.7
    assert "LeadId" in result.scorer.score(df.head(5)).columns


def test_with_params_changes_rules_not_probabilities(trained, leads):
    sample = leads.tail(500)
    lenient = trained.scorer.with_params(threshold=10, grades={"A": 30, "B": 10, "C": 5})
    a, b = trained.scorer.score(sample, reasons="none"), lenient.score(sample, reasons="none")
    np.testing.assert_array_equal(a["probability"], b["probability"])
    np.testing.assert_array_equal(b["follow_up"], b["score"] >= 10)
    assert b["follow_up"].sum() > a["follow_up"].sum()
    with pytest.raises(ValueError, match="threshold must be a score between 0 and 100"):
        trained.scorer.with_params(threshold=-1)


def test_holdout_carries_the_key(trained, leads):
    assert trained.holdout["lead_id"].tolist() == leads.loc[trained.holdout.index, "lead_id"].tolist()


def test_singular_phrases(trained):
    enc = trained.scorer.encoder
    templates = trained.task.reason_templates()
    assert enc.describe("pricing_page_views", 1.0, templates) == "visited the pricing page 1 time"
    assert enc.describe("pricing_page_views", 2.0, templates) == "visited the pricing page 2 times"


def test_setting_exclude_never_lets_the_outcome_date_in(leads):
    """columns.exclude adds to what is excluded; converted_at (known only after the outcome) stays out."""
    task = salesml.get_task("lead-scoring")(columns={"exclude": ["email_opens"]})
    encoder = task.make_encoder().fit(leads.head(2_000))
    assert "converted_at" not in encoder.required_columns and "email_opens" not in encoder.required_columns
