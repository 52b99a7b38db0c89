"""Point-in-time snapshots: known values, the brute-force reference, leakage properties, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salesml.customers import snapshots
from salesml.core.contracts import DataValidationError

START = pd.Timestamp("2023-01-01")
FAR = "2100-01-01"  # as_of for synthetic logs: nothing is future-dated


def orders(*rows: tuple) -> pd.DataFrame:
    """(customer, date, amount[, product[, order_id]]) rows -> a transactions table."""
    out = []
    for i, row in enumerate(rows):
        cid, when, amount = row[:3]
        product = row[3] if len(row) > 3 else "core"
        oid = row[4] if len(row) > 4 else f"O{i}"
        out.append({"order_id": oid, "customer_id": cid, "order_date": pd.Timestamp(when), "amount": float(amount), "product": product, "channel": "online"})
    return pd.DataFrame(out)


def same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Frames equal up to float rounding and the representation of missing values."""
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)
    for col in a.columns:
        x, y = a[col], b[col]
        if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(x):
            np.testing.assert_allclose(x.to_numpy(float), y.to_numpy(float), rtol=1e-9, atol=1e-6, err_msg=col)
        else:
            xs = x.astype(object).where(x.notna(), None).tolist()
            ys = y.astype(object).where(y.notna(), None).tolist()
            assert xs == ys, col


# --------------------------------------------------------------------------- known values
def test_features_and_targets_of_a_hand_built_customer():
    tx = orders(
        ("A", "2024-01-10", 100), ("A", "2024-03-10", 200, "addon"), ("A", "2024-05-10", 300),
        ("A", "2024-05-20", -50), ("A", "2024-07-01", 400), ("A", "2024-09-15", 80),
        ("B", "2024-04-01", -20), ("C", "2024-02-01", 0),  # a lone credit note; a zero line
    )
    snap = snapshots.build(tx, cutoffs=["2024-06-01"], horizon="3M", settings={"as_of": FAR})
    assert snap["customer_id"].tolist() == ["A", "B", "C"]  # C spent nothing but is a customer
    a = snap.iloc[0]
    assert a["orders_total"] == 3 and a["repeat_orders"] == 2
    assert a["revenue_total"] == pytest.approx(550.0)  # 600 of orders net of the 50 return
    assert a["avg_order_value"] == pytest.approx(200.0)
    assert a["mean_repeat_order_value"] == pytest.approx(250.0)
    assert a["days_since_first_order"] == pytest.approx((pd.Timestamp("2024-06-01") - pd.Timestamp("2024-01-10")).days)
    assert a["days_since_last_order"] == pytest.approx(22.0)
    assert a["mean_days_between_orders"] == pytest.approx(60.5)  # 60 days (leap February) and 61
    assert a["std_days_between_orders"] == pytest.approx(0.5)
    assert a["orders_3m"] == 2 and a["orders_prev_3m"] == 1  # Mar + May vs Jan
    assert a["order_trend_3m"] == pytest.approx(1.0)
    assert not a["orders_down_20pct"]
    assert a["returns_12m"] == 1 and a["returned_amount_12m"] == pytest.approx(50.0)
    assert a["main_product"] == "core" and a["main_product_share"] == pytest.approx(400 / 600) and a["n_products"] == 2
    assert a["target_orders"] == 1 and a["target_revenue"] == pytest.approx(400.0)  # Sep 15 is after Sep 1
    assert a["target_previous_revenue"] == pytest.approx(450.0)  # Mar 10 .. Jun 1: 200 + 300 - 50
    # B only has a credit note: known, no orders, so order features are missing (not zero-filled); C is unknown
    b = snap.iloc[1]
    assert b["orders_total"] == 0 and np.isnan(b["days_since_last_order"]) and np.isnan(b["avg_order_value"])
    assert b["revenue_total"] == pytest.approx(-20.0) and b["tenure_days"] == pytest.approx(61.0)
    c = snap.iloc[2]
    assert c["orders_total"] == 0 and c["revenue_total"] == 0.0 and c["target_revenue"] == 0.0


def test_single_order_customers_and_order_lines():
    tx = orders(("A", "2024-01-10 09:00", 100, "core", "X1"), ("A", "2024-01-10 09:05", 50, "addon", "X1"))
    a = snapshots.build(tx, cutoffs=["2024-02-01"], settings={"as_of": FAR}).iloc[0]
    assert a["orders_total"] == 1  # two lines of one order
    assert a["avg_order_value"] == pytest.approx(150.0)
    assert a["repeat_orders"] == 0  # BG/NBD frequency 0
    assert np.isnan(a["mean_repeat_order_value"]) and np.isnan(a["mean_days_between_orders"])
    assert a["n_products"] == 2 and a["main_product"] == "core"


def test_new_customers_join_later_cutoffs_and_are_never_dropped():
    tx = orders(("A", "2023-01-05", 10), ("B", "2024-03-15", 10))
    customers = pd.DataFrame({"customer_id": ["A", "B", "C"], "signup_date": pd.to_datetime(["2022-12-01", "2024-03-01", "2024-06-01"])})
    snap = snapshots.build(tx, cutoffs=["2024-02-01", "2024-04-01", "2025-01-01"], customers=customers, settings={"as_of": FAR})
    members = snap.groupby("cutoff")["customer_id"].apply(list).to_dict()
    assert members[pd.Timestamp("2024-02-01")] == ["A"]
    assert members[pd.Timestamp("2024-04-01")] == ["A", "B"]  # B signed up 2024-03-01
    assert members[pd.Timestamp("2025-01-01")] == ["A", "B", "C"]  # silent customers stay
    active = snapshots.build(tx, cutoffs=["2025-01-01"], customers=customers, settings={"as_of": FAR, "population": "active"})
    assert active["customer_id"].tolist() == ["B"]  # A's last order is older than 12 months; C never ordered


def test_activities_and_attributes():
    tx = orders(("A", "2024-01-10", 100))
    acts = pd.DataFrame(
        {
            "customer_id": ["A", "A", "A", "A", "A"],
            "at": pd.to_datetime(["2023-01-15", "2024-01-01", "2024-02-01", "2024-02-15", "2024-03-01"]),
            "kind": ["survey", "complaint", "survey", "visit", "survey"],
            "value": [9.0, np.nan, 6.0, np.nan, 2.0],
        }
    )
    cust = pd.DataFrame({"customer_id": ["A"], "industry": ["retail"], "satisfaction": [3.0], "signup_date": [pd.Timestamp("2023-01-01")]})
    a = snapshots.build(tx, cutoffs=["2024-02-20"], activities=acts, customers=cust, settings={"as_of": FAR}).iloc[0]
    assert a["last_survey_score"] == 6.0  # the March survey is after the cutoff
    assert a["mean_survey_score_12m"] == 6.0  # the 2023-01-15 survey is older than 12 months
    assert a["complaints_3m"] == 1 and a["visits_3m"] == 1 and a["surveys_12m"] == 1
    assert a["days_since_last_activity"] == pytest.approx(5.0)
    assert a["industry"] == "retail"
    assert "satisfaction" not in a.index  # a snapshot column of the customers table would leak; not an attribute


# --------------------------------------------------------------------------- random event logs
CUSTOMERS = ["C1", "C2", "C3", "C4", "C5"]
KINDS = ["visit", "call", "ticket", "complaint", "survey", "email"]


@st.composite
def order_rows(draw, lo: int, hi: int, prefix: str):
    n = draw(st.integers(0, 25))
    rows = []
    for i in range(n):
        rows.append(
            {
                "order_id": f"{prefix}{draw(st.integers(0, 40))}" if draw(st.booleans()) else f"{prefix}u{i}",
                "customer_id": draw(st.sampled_from(CUSTOMERS)),
                "order_date": START + pd.Timedelta(seconds=draw(st.integers(lo * 86400, hi * 86400 - 1))),
                "amount": float(draw(st.sampled_from([-80.0, -5.5, 0.0, 12.5, 40.0, 99.99, 250.0, 1000.0]))),
                "product": draw(st.sampled_from(["a", "b", "c"])),
                "channel": draw(st.sampled_from(["x", "y"])),
            }
        )
    return pd.DataFrame(rows, columns=["order_id", "customer_id", "order_date", "amount", "product", "channel"])


@st.composite
def activity_rows(draw, lo: int, hi: int):
    n = draw(st.integers(0, 15))
    rows = []
    for _ in range(n):
        kind = draw(st.sampled_from(KINDS))
        rows.append(
            {
                "customer_id": draw(st.sampled_from(CUSTOMERS)),
                "at": START + pd.Timedelta(seconds=draw(st.integers(lo * 86400, hi * 86400 - 1))),
                "kind": kind,
                "value": float(draw(st.integers(1, 10))) if kind == "survey" and draw(st.booleans()) else np.nan,
            }
        )
    return pd.DataFrame(rows, columns=["customer_id", "at", "kind", "value"])


CUST_TABLE = pd.DataFrame(
    {
        "customer_id": CUSTOMERS,
        "signup_date": [START + pd.Timedelta(days=d) for d in (0, 100, 300, 500, 700)],
        "industry": ["retail", "finance", None, "retail", "software"],
    }
)
FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
QUICK = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    tx=order_rows(0, 730, "O"),
    acts=activity_rows(0, 730),
    cut_days=st.lists(st.integers(30, 700), min_size=1, max_size=3, unique=True),
    returns=st.sampled_from(["net", "drop"]),
    population=st.sampled_from(["all", "active"]),
)
def test_vectorised_builder_matches_the_brute_force_reference(tx, acts, cut_days, returns, population):
    cuts = [START + pd.Timedelta(days=d, hours=7) for d in cut_days]
    kw = dict(
        cutoffs=cuts, horizon="2M", customers=CUST_TABLE, activities=acts,
        settings={"as_of": FAR, "returns": returns, "population": population, "windows": [1, 3, 12]},
    )
    fast = snapshots.build(tx, **kw)
    slow = snapshots.build_reference(tx, **kw)
    if len(slow) == 0:
        assert len(fast) == 0
        return
    same(fast, slow[fast.columns])


@FAST
@given(
    past=order_rows(0, 400, "P"),
    future_a=order_rows(400, 800, "F"),
    future_b=order_rows(400, 800, "G"),
    acts_past=activity_rows(0, 400),
    acts_a=activity_rows(400, 800),
    acts_b=activity_rows(400, 800),
)
def test_changing_adding_or_deleting_events_after_a_cutoff_leaves_its_features_unchanged(
    past, future_a, future_b, acts_past, acts_a, acts_b
):
    # Past events lie strictly before the cutoff (its last second included); the two futures, from the
    # cutoff's own second on, differ arbitrarily: other orders, returns and activities, new customers,
    # none at all, duplicated lines.
    cutoff = START + pd.Timedelta(days=400)
    future_b = pd.concat([future_b, future_b.head(2)], ignore_index=True)
    kw = dict(cutoffs=[cutoff], customers=CUST_TABLE, settings={"as_of": FAR})
    a = snapshots.build(pd.concat([past, future_a], ignore_index=True), activities=pd.concat([acts_past, acts_a]), **kw)
    b = snapshots.build(pd.concat([future_b, past], ignore_index=True), activities=pd.concat([acts_b, acts_past]), **kw)
    pd.testing.assert_frame_equal(a, b, check_dtype=False)  # bit for bit, not just close


@QUICK
@given(tx=order_rows(0, 730, "O"), shuffle_seed=st.integers(0, 1000))
def test_row_order_of_the_input_does_not_matter(tx, shuffle_seed):
    kw = dict(cutoffs=["2024-01-01", "2024-06-01"], horizon="3M", customers=CUST_TABLE, settings={"as_of": FAR})
    a = snapshots.build(tx, **kw)
    b = snapshots.build(tx.sample(frac=1.0, random_state=shuffle_seed), **kw)
    same(a, b)


def test_builtin_data_matches_the_reference(crm):
    ids = crm.customers["customer_id"].sample(25, random_state=0)
    tx = crm.transactions[crm.transactions["customer_id"].isin(ids)]
    acts = crm.activities[crm.activities["customer_id"].isin(ids)]
    cust = crm.customers[crm.customers["customer_id"].isin(ids)]
    kw = dict(cutoffs=["2022-07-01", "2024-03-01", "2025-10-01"], horizon="3M", customers=cust, activities=acts)
    fast = snapshots.build(tx, **kw)
    same(fast, snapshots.build_reference(tx, **kw)[fast.columns])
    assert {"main_product", "visits_3m", "last_survey_score", "industry", "price_sensitive"} <= set(fast.columns)


# --------------------------------------------------------------------------- bad input
def test_returns_policies():
    tx = orders(("A", "2024-01-10", 100), ("A", "2024-02-10", -40), ("A", "2024-03-10", 0))
    net = snapshots.build(tx, cutoffs=["2024-04-01"], settings={"as_of": FAR}).iloc[0]
    drop = snapshots.build(tx, cutoffs=["2024-04-01"], settings={"as_of": FAR, "returns": "drop"}).iloc[0]
    assert net["revenue_total"] == pytest.approx(60.0) and net["orders_total"] == 1
    assert drop["revenue_total"] == pytest.approx(100.0) and "returns_12m" not in drop.index
    with pytest.raises(DataValidationError, match=r"column 'amount': has negative or zero amounts \(returns, credit notes\) \(2 rows: order_id=O1, order_id=O2\)\. Fix: set params.returns to 'net'"):
        snapshots.build(tx, cutoffs=["2024-04-01"], settings={"as_of": FAR, "returns": "error"})


def test_future_dated_orders_are_refused_or_dropped():
    tx = orders(("A", "2024-01-10", 100), ("A", "2031-05-01", 70))
    with pytest.raises(DataValidationError, match=r"has orders dated after 2026-01-01 00:00 \(the extraction time 'as_of'\), latest 2031-05-01 \(1 row: order_id=O1\)\. Fix: correct those dates, set params.as_of"):
        snapshots.build(tx, cutoffs=["2024-04-01"], settings={"as_of": "2026-01-01"})
    kept = snapshots.build(tx, cutoffs=["2024-04-01"], horizon="12M", settings={"as_of": "2026-01-01", "future": "drop"})
    assert kept["orders_total"].tolist() == [1]


def test_duplicate_lines_are_dropped_or_refused():
    tx = orders(("A", "2024-01-10", 100, "core", "X1"), ("A", "2024-01-10", 100, "core", "X1"), ("A", "2024-02-10", 50))
    kept = snapshots.build(tx, cutoffs=["2024-04-01"], settings={"as_of": FAR}).iloc[0]
    assert kept["revenue_total"] == pytest.approx(150.0)
    with pytest.raises(DataValidationError, match=r"has order lines identical in every column \(1 row: order_id=X1\)"):
        snapshots.build(tx, cutoffs=["2024-04-01"], settings={"as_of": FAR, "duplicates": "error"})


def test_unreadable_values_name_every_problem_at_once():
    tx = pd.DataFrame({"order_id": ["O1", "O2", "O3"], "customer_id": ["A", None, "B"], "order_date": ["2024-01-01", "2024-02-01", "yesterday"], "amount": ["10", "x", "3"]})
    with pytest.raises(DataValidationError) as err:
        snapshots.build(tx, cutoffs=["2024-04-01"], settings={"as_of": FAR})
    assert [p.column for p in err.value.problems] == ["customer_id", "order_date", "amount"]
    assert "order_id=O3" in str(err.value)


def test_cutoff_before_any_data():
    tx = orders(("A", "2024-01-10", 100))
    with pytest.raises(DataValidationError, match=r"cutoff 2023-06-01 comes before any data \(the first customer appears on 2024-01-10\)\. Fix: use cutoffs after 2024-01-10"):
        snapshots.build(tx, cutoffs=["2023-06-01", "2024-06-01"], settings={"as_of": FAR})


def test_horizon_longer_than_the_data():
    tx = orders(*[("A", f"2024-{m:02d}-10", 100) for m in range(1, 13)])
    with pytest.raises(DataValidationError, match=r"the data covers 2024-01-10 to 2024-12-10 \(about 11 months\), too short for a training, a validation and a holdout cutoff each followed by a complete 6M window"):
        snapshots.plan_cutoffs(tx, horizon="6M", settings={"as_of": FAR})
    plan = snapshots.plan_cutoffs(tx, horizon="2M", settings={"as_of": FAR})
    assert plan.holdout == pd.Timestamp("2024-10-01") and plan.valid == pd.Timestamp("2024-08-01")


def test_plan_keeps_every_target_window_before_the_next_slice(crm):
    for horizon in ("3M", "12M", "90D", "13W"):
        plan = snapshots.plan_cutoffs(crm.transactions, horizon=horizon, n_train=6)
        h = snapshots.parse_horizon(horizon)
        assert plan.holdout + h.offset <= snapshots.data_end(crm.transactions)
        assert plan.valid + h.offset <= plan.holdout
        assert all(c + h.offset <= plan.valid for c in plan.train) and len(plan.train) == 6


@pytest.mark.parametrize(
    "value, expected",
    [("12M", "12M"), ("12 months", "12M"), ("90D", "90D"), ("13 weeks", "13W"), ("1Y", "12M"), (3, "3M")],
)
def test_horizons(value, expected):
    assert str(snapshots.parse_horizon(value)) == expected


@pytest.mark.parametrize("value", ["0M", "-3M", "soon", "12 fortnights", 0])
def test_bad_horizons_say_what_is_expected(value):
    with pytest.raises(ValueError, match=r"The horizon must be a positive length of time such as '12M'"):
        snapshots.parse_horizon(value)


# --------------------------------------------------------------------------- cutoff semantics, dates, nothing dropped
def test_an_order_dated_on_the_cutoff_day_is_in_the_target_window_not_the_history():
    tx = orders(("A", "2024-01-10", 100), ("A", "2024-03-01", 70), ("A", "2024-03-31", 5), ("A", "2024-04-01", 9))
    row = snapshots.build(tx, cutoffs=["2024-03-01"], horizon="1M", settings={"as_of": FAR}).iloc[0]
    assert row["orders_total"] == 1 and row["revenue_total"] == 100.0  # the order of 1 March is not history
    assert row["target_orders"] == 2 and row["target_revenue"] == 75.0  # [1 March, 1 April): 1 and 31 March
    stamped = orders(("A", "2024-02-29 23:59:59", 100), ("A", "2024-03-01 00:00:00", 70))
    row = snapshots.build(stamped, cutoffs=["2024-03-01"], horizon="1M", settings={"as_of": FAR}).iloc[0]
    assert row["orders_total"] == 1 and row["target_orders"] == 1  # the last second before is history, midnight is not


@st.composite
def dated_orders(draw, lo: int, hi: int, prefix: str):
    """Date-only order lines (midnight) on days [lo, hi) after START."""
    n = draw(st.integers(0, 20))
    rows = [
        {
            "order_id": f"{prefix}{i}",
            "customer_id": draw(st.sampled_from(CUSTOMERS)),
            "order_date": (START + pd.Timedelta(days=draw(st.integers(lo, hi - 1)))).strftime("%Y-%m-%d"),
            "amount": float(draw(st.sampled_from([-5.5, 0.0, 12.5, 99.99, 250.0]))),
            "product": draw(st.sampled_from(["a", "b"])),
        }
        for i in range(n)
    ]
    return pd.DataFrame(rows, columns=["order_id", "customer_id", "order_date", "amount", "product"])


@FAST
@given(
    past=dated_orders(0, 300, "P"), future_a=dated_orders(300, 500, "F"), future_b=dated_orders(300, 500, "G"),
    later=st.lists(st.integers(0, 200), min_size=1, max_size=3),
)
def test_date_only_orders_on_or_after_each_cutoff_day_never_move_its_features(past, future_a, future_b, later):
    # The cutoff is day 300 at midnight; the perturbed events start on that very day (same-day look-ahead)
    cutoff = START + pd.Timedelta(days=300)
    cuts = [cutoff - pd.DateOffset(months=2), cutoff]
    kw = dict(cutoffs=cuts, customers=CUST_TABLE, settings={"as_of": FAR})
    a = snapshots.build(pd.concat([past, future_a], ignore_index=True), **kw)
    b = snapshots.build(pd.concat([future_b, past], ignore_index=True), **kw)
    pd.testing.assert_frame_equal(a, b, check_dtype=False)


@pytest.mark.parametrize(
    "dates, settings",
    [
        ([20240110, 20240305], {}),  # integers as many order logs store them
        (["20240110", "20240305"], {}),
        ([20240110.0, 20240305.0], {}),  # read from a CSV with gaps elsewhere
        (["10/01/2024", "05/03/2024"], {"date_format": "%d/%m/%Y"}),
    ],
)
def test_yyyymmdd_and_explicit_date_formats_are_read(dates, settings):
    tx = pd.DataFrame({"customer_id": ["A", "A"], "order_date": dates, "amount": [10.0, 20.0]})
    row = snapshots.build(tx, cutoffs=["2024-04-01"], settings={"as_of": FAR, **settings}).iloc[0]
    assert row["orders_total"] == 2
    assert row["days_since_first_order"] == (pd.Timestamp("2024-04-01") - pd.Timestamp("2024-01-10")).days
    assert snapshots.data_end(tx, settings) == pd.Timestamp("2024-03-06")


def test_an_unreadable_date_names_the_format_setting():
    tx = pd.DataFrame({"customer_id": ["A", "A"], "order_date": [20240110, 20241399], "amount": [10.0, 20.0]})
    with pytest.raises(DataValidationError, match=r"column 'order_date': has missing or unparseable dates .*params.date_format"):
        snapshots.build(tx, cutoffs=["2024-04-01"], settings={"as_of": FAR})


@pytest.mark.parametrize("policy, orders_total, revenue", [("drop", 2, 150.0), ("keep", 3, 250.0)])
def test_identical_lines_are_dropped_or_kept_as_purchases(policy, orders_total, revenue):
    # no order ids: two identical lines are two purchases of the same value on the same day
    tx = pd.DataFrame({"customer_id": ["A", "A", "A"], "order_date": ["2024-01-10", "2024-01-10", "2024-02-10"], "amount": [100.0, 100.0, 50.0]})
    row = snapshots.build(tx, cutoffs=["2024-04-01"], settings={"as_of": FAR, "duplicates": policy}).iloc[0]
    assert row["orders_total"] == orders_total and row["revenue_total"] == revenue
    with pytest.raises(DataValidationError, match=r"has order lines identical in every column \(1 row"):
        snapshots.build(tx, cutoffs=["2024-04-01"], settings={"as_of": FAR, "duplicates": "error"})


@pytest.mark.parametrize("returns", ["net", "drop"])
def test_customers_with_only_zero_or_ignored_lines_are_kept(returns):
    tx = orders(("A", "2024-01-10", 100), ("Z", "2024-01-12", 0), ("R", "2024-02-01", -30))
    snap = snapshots.build(tx, cutoffs=["2024-04-01"], settings={"as_of": FAR, "returns": returns})
    assert snap["customer_id"].tolist() == ["A", "R", "Z"]
    z = snap.set_index("customer_id").loc["Z"]
    assert z["orders_total"] == 0 and z["revenue_total"] == 0.0 and z["tenure_days"] == 80.0
    assert snap.set_index("customer_id").loc["R", "revenue_total"] == (-30.0 if returns == "net" else 0.0)


def test_a_short_history_plans_shorter_training_windows_or_says_which_horizon_would_work():
    tx = orders(*[("A", f"2024-{m:02d}-10", 100) for m in range(1, 13)])  # 2024-01-10 .. 2024-12-10
    plan = snapshots.plan_cutoffs(tx, horizon="5M", settings={"as_of": FAR}, shorter_training_windows=True)
    assert plan.mode == "short_history" and plan.holdout == pd.Timestamp("2024-07-01")  # + 5M <= 2024-12-11
    assert plan.train_horizon == snapshots.Horizon(1, "M")  # cutoffs from 2024-05-01 (3 months of history)
    assert plan.valid == pd.Timestamp("2024-06-01") and plan.train == (pd.Timestamp("2024-05-01"),)
    assert snapshots.plan_cutoffs(tx, horizon="2M", settings={"as_of": FAR}, shorter_training_windows=True).mode == "standard"
    with pytest.raises(DataValidationError, match=r"before a holdout cutoff followed by a complete 6M window .*Fix: use a horizon of at most 5 months"):
        snapshots.plan_cutoffs(tx, horizon="6M", settings={"as_of": FAR}, shorter_training_windows=True)
