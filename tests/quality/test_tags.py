from __future__ import annotations

import pandas as pd
import pytest
from scipy.stats import beta

from salesml.quality.tags import DEFAULT_TAGS, auto_tag, load_tags


def _orders(rows):
    return pd.DataFrame(rows, columns=["customer_id", "order_date"]).assign(order_date=lambda d: pd.to_datetime(d["order_date"]))


def test_inactive_rule_by_hand_and_point_in_time():
    orders = _orders([("a", "2025-01-10"), ("a", "2025-11-20"), ("b", "2025-03-01"), ("c", "2026-03-01")])
    tags = [{"name": "inactive_6m", "kind": "inactive", "days": 182}]
    r = auto_tag(["a", "b", "c", "d"], tags=tags, transactions=orders, as_of="2025-12-31")
    ev = r.evidence.set_index("customer_id")["evidence"]
    assert sorted(ev.index) == ["b", "c", "d"]  # c's only order is after as-of: it does not count
    assert ev["b"] == "last order 2025-03-01, 305 days before 2025-12-31"
    assert ev["c"] == "no order up to 2025-12-31"
    assert r.tagged_share == pytest.approx(0.75)
    # changing orders after the as-of date does not change the tags
    later = pd.concat([orders, _orders([("b", "2026-02-01"), ("d", "2026-05-05")])])
    again = auto_tag(["a", "b", "c", "d"], tags=tags, transactions=later, as_of="2025-12-31")
    pd.testing.assert_frame_equal(r.evidence, again.evidence)


def test_score_tags_min_and_top_share():
    scores = pd.DataFrame({"customer_id": list("abcde"), "expected_revenue": [10, 50, 30, 20, 40],
                           "churn_probability": [0.1, 0.3, 0.25, 0.2, 0.9]})
    tags = [{"name": "high_clv", "kind": "score", "column": "expected_revenue", "top_share": 0.4},
            {"name": "churn_risk", "kind": "score", "column": "churn_probability", "min": 0.25}]
    r = auto_tag(list("abcde"), tags=tags, scores=scores)
    got = r.evidence.groupby("tag")["customer_id"].apply(sorted).to_dict()
    assert got == {"high_clv": ["b", "e"], "churn_risk": ["b", "c", "e"]}
    assert r.counts() == {"high_clv": 2, "churn_risk": 3}
    assert r.customers.set_index("customer_id")["tags"].to_dict() == {
        "a": "", "b": "high_clv;churn_risk", "c": "churn_risk", "d": "", "e": "high_clv;churn_risk"}


def test_high_potential_industry_uses_a_credible_interval():
    # software 30/100 converted, retail 12/100, education 3/10 (too few leads): overall 45/210
    leads = pd.DataFrame({
        "industry": ["software"] * 100 + ["retail"] * 100 + ["education"] * 10,
        "converted": [True] * 30 + [False] * 70 + [True] * 12 + [False] * 88 + [True] * 3 + [False] * 7,
    })
    customers = pd.DataFrame({"customer_id": ["s", "r", "e"], "industry": ["software", "retail", "education"]})
    r = auto_tag(["s", "r", "e"], tags=[{"name": "hp", "kind": "industry_conversion", "credible": 0.9}],
                 leads=leads, customer_table=customers)
    lo, hi = beta.ppf([0.05, 0.95], 31, 71)
    assert lo > 45 / 210  # the hand computation: software's interval lies above the overall rate
    assert r.evidence["customer_id"].tolist() == ["s"]
    assert r.evidence["evidence"].iloc[0] == (
        f"industry software: 30.0% of 100 leads converted (90% interval {lo:.1%}-{hi:.1%}) vs 21.4% overall")


def test_price_sensitive_from_promotion_response():
    # 12 active months; promotions in 3 of them. p buys 4 per promotion month and 1 otherwise; q buys 1 every month.
    months = pd.date_range("2025-01-01", periods=12, freq="MS")
    promo = months[[2, 6, 10]]
    rows = []
    for m in months:
        rows += [("p", m + pd.Timedelta(days=d)) for d in range(4 if m in promo else 1)]
        rows += [("q", m + pd.Timedelta(days=3))]
    orders = _orders(rows)
    promotions = pd.DataFrame({"month": promo, "region": "east", "discount": 0.2})
    customers = pd.DataFrame({"customer_id": ["p", "q"], "region": ["east", "east"]})
    r = auto_tag(["p", "q"], tags=[{"name": "price_sensitive", "kind": "price_response"}], transactions=orders,
                 promotions=promotions, customer_table=customers, as_of="2025-12-31")
    assert r.evidence["customer_id"].tolist() == ["p"]
    p0 = 1.2 * 3 / (1.2 * 3 + 9)
    prob = beta.sf(p0, 0.5 + 12, 0.5 + 9)
    assert r.evidence["evidence"].iloc[0] == (
        f"4.00 orders/month in 3 promotion months vs 1.00 in 9 others (lift 4.00, P(lift > 1.2) = {prob:.2f})")


def test_price_sensitive_on_generated_crm_beats_the_base_rate():
    import salesml

    crm = salesml.make_crm(8_000, random_state=2)
    r = auto_tag(crm.customers["customer_id"], tags=[{"name": "ps", "kind": "price_response"}],
                 transactions=crm.transactions, promotions=crm.truth["promotions"], customer_table=crm.customers)
    tagged = set(r.evidence["customer_id"])
    truth = set(crm.customers.loc[crm.customers["price_sensitive"], "customer_id"])
    base = len(truth) / len(crm.customers)
    assert len(tagged) >= 20
    assert len(tagged & truth) / len(tagged) > 2 * base  # measured about 0.7 against a base rate near 0.27


def test_missing_inputs_are_reported_not_silently_skipped():
    r = auto_tag(["a"], tags=None)
    assert set(r.not_evaluated) == {t["name"] for t in DEFAULT_TAGS}
    assert r.not_evaluated["price_sensitive"] == "needs transactions, a promotions calendar and customers' 'region'"
    assert r.tagged_share == 0.0


def test_tag_declarations_are_validated(tmp_path):
    path = tmp_path / "tags.yaml"
    path.write_text("tags:\n  - {name: x, kind: inactive, days: 0}\n  - {name: y, kind: magic}\n")
    with pytest.raises(ValueError, match=r"(?s)Invalid tags in .*tags.yaml.*days: Input should be greater than 0"):
        load_tags(path)
    with pytest.raises(ValueError, match="Tag names must be unique"):
        load_tags([{"name": "x", "kind": "inactive"}, {"name": "x", "kind": "inactive"}])
