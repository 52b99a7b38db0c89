"""Tests for salesml.datasets: the synthetic CRM world and its known truth."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from salesml.datasets import (
    ACTIVITY_KINDS,
    CHANNELS,
    COMPANY_SIZES,
    INDUSTRIES,
    NEEDS,
    ORDER_CHANNELS,
    PRODUCTS,
    REGIONS,
    SIZES,
    CRMData,
    load_crm,
    make_crm,
    make_leads,
    write_crm,
)

START, END = pd.Timestamp("2023-01-01"), pd.Timestamp("2025-12-31")
WINDOW_END = END + pd.Timedelta(days=1)  # end is inclusive
N_LEADS = 20_000

LEAD_COLUMNS = [
    "lead_id",
    "created_at",
    "channel",
    "industry",
    "company_size",
    "region",
    "stated_need",
    "visits",
    "pages_viewed",
    "pricing_page_views",
    "time_on_site",
    "downloads",
    "email_opens",
    "event_attended",
    "days_since_last_activity",
    "inquiry_text",
    "email",
    "converted",
    "converted_at",
]
CUSTOMER_COLUMNS = [
    "customer_id",
    "lead_id",
    "signup_date",
    "industry",
    "company_size",
    "region",
    "email",
    "phone",
    "price_sensitive",
    "satisfaction",
]
ORDER_COLUMNS = ["order_id", "customer_id", "order_date", "amount", "product", "region", "channel"]
ACTIVITY_COLUMNS = ["customer_id", "at", "kind", "value"]


@pytest.fixture(scope="module")
def crm() -> CRMData:
    return make_crm(N_LEADS, random_state=0)


@pytest.fixture(scope="module")
def small() -> CRMData:
    return make_crm(1_500, n_customers=300, random_state=3)


def _is_str(s: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype)


def _month_index(ts: pd.Series) -> np.ndarray:
    return ts.to_numpy().astype("datetime64[M]").astype(np.int64)


# --------------------------------------------------------------------------- #
# Reproducibility and API shape
# --------------------------------------------------------------------------- #
def test_sizes() -> None:
    assert SIZES == {"small": 20_000, "medium": 100_000, "large": 1_000_000}


def test_same_seed_identical_frames_and_different_seed_differs() -> None:
    a = make_crm(2_000, n_customers=300, random_state=7)
    b = make_crm(2_000, n_customers=300, random_state=7)
    c = make_crm(2_000, n_customers=300, random_state=8)
    for name in ("leads", "customers", "transactions", "activities"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    for name in ("leads", "customers", "promotions"):
        pd.testing.assert_frame_equal(a.truth[name], b.truth[name])
    assert not a.leads["created_at"].equals(c.leads["created_at"])
    assert not a.truth["leads"]["p_convert"].equals(c.truth["leads"]["p_convert"])
    assert len(a.transactions) != len(c.transactions) or not a.transactions.equals(c.transactions)


def test_make_leads_matches_make_crm(small: CRMData) -> None:
    leads, truth = make_leads(1_500, random_state=3)
    pd.testing.assert_frame_equal(leads, small.leads)
    pd.testing.assert_frame_equal(truth, small.truth["leads"])


def test_tables_and_truth_keys(crm: CRMData) -> None:
    tables = crm.tables()
    assert list(tables) == ["leads", "customers", "transactions", "activities"]
    assert tables["leads"] is crm.leads
    assert set(crm.truth) == {"leads", "customers", "promotions", "opportunities"}
    assert "rows" in repr(crm) and len(repr(crm)) < 300


def test_columns_and_dtypes(crm: CRMData) -> None:
    assert list(crm.leads.columns) == LEAD_COLUMNS
    assert list(crm.customers.columns) == CUSTOMER_COLUMNS
    assert list(crm.transactions.columns) == ORDER_COLUMNS
    assert list(crm.activities.columns) == ACTIVITY_COLUMNS
    assert list(crm.truth["leads"].columns) == ["lead_id", "p_convert"]
    assert list(crm.truth["customers"].columns) == [
        "customer_id",
        "purchase_rate",
        "mean_spend",
        "churn_hazard",
        "churned_at",
    ]
    assert list(crm.truth["promotions"].columns) == ["month", "region", "discount"]
    dt = np.dtype("datetime64[ns]")
    for df, col in [
        (crm.leads, "created_at"),
        (crm.leads, "converted_at"),
        (crm.customers, "signup_date"),
        (crm.transactions, "order_date"),
        (crm.activities, "at"),
        (crm.truth["customers"], "churned_at"),
        (crm.truth["promotions"], "month"),
    ]:
        assert df[col].dtype == dt, col
    for col in ("lead_id", "channel", "industry", "company_size", "region", "stated_need", "inquiry_text", "email"):
        assert _is_str(crm.leads[col]), col
    for col in ("visits", "pages_viewed", "pricing_page_views", "downloads", "email_opens", "days_since_last_activity"):
        assert crm.leads[col].dtype == np.int64, col
    for col in ("event_attended", "converted"):
        assert crm.leads[col].dtype == bool
    assert crm.leads["time_on_site"].dtype == np.float64
    assert crm.customers["price_sensitive"].dtype == bool
    assert crm.transactions["amount"].dtype == np.float64
    assert all(_is_str(crm.transactions[c]) for c in ("order_id", "customer_id", "product", "region", "channel"))


# --------------------------------------------------------------------------- #
# Leads
# --------------------------------------------------------------------------- #
def test_lead_basics(crm: CRMData) -> None:
    leads = crm.leads
    assert len(leads) == N_LEADS
    assert leads["lead_id"].is_unique
    assert leads["lead_id"].str.fullmatch(r"L\d{7}").all()
    assert leads["created_at"].is_monotonic_increasing
    assert leads["created_at"].min() >= START and leads["created_at"].max() < WINDOW_END
    assert leads["channel"].isin(CHANNELS).all()
    assert leads["region"].isin(REGIONS).all()
    assert leads["stated_need"].isin(NEEDS).all()
    assert leads["industry"].dropna().isin(INDUSTRIES).all()
    assert leads["company_size"].dropna().isin(COMPANY_SIZES).all()
    for col, (lo, hi) in {
        "industry": (0.02, 0.04),
        "company_size": (0.02, 0.04),
        "time_on_site": (0.03, 0.05),
        "inquiry_text": (0.12, 0.18),
    }.items():
        assert lo < leads[col].isna().mean() < hi, col
    assert (leads["pages_viewed"] >= leads["visits"]).all()
    assert (leads["pricing_page_views"] <= leads["pages_viewed"]).all()
    assert leads["days_since_last_activity"].between(0, 120).all()
    assert (leads["time_on_site"].dropna() >= 0).all()
    assert (leads.loc[leads["visits"] == 0, "time_on_site"].dropna() == 0).all()


def test_lead_volume_has_trend_and_summer_dip(crm: CRMData) -> None:
    created = crm.leads["created_at"]
    per_year = created.dt.year.value_counts().sort_index()
    assert per_year.is_monotonic_increasing
    by_month = created.dt.month.value_counts()
    assert by_month[[7, 8]].mean() < 0.9 * by_month[[3, 4, 5, 9, 10]].mean()
    late_dec = created[(created.dt.month == 12) & (created.dt.day >= 20)]
    early_dec = created[(created.dt.month == 12) & (created.dt.day < 12)]
    assert len(late_dec) < len(early_dec)


def test_custom_window_end_inclusive_and_timezone() -> None:
    data = make_crm(500, n_customers=50, start="2024-06-01T02:00:00+02:00", end="2024-06-30", random_state=1)
    start, stop = pd.Timestamp("2024-06-01 00:00"), pd.Timestamp("2024-07-01")
    created = data.leads["created_at"]
    assert created.dt.tz is None
    assert created.min() >= start and created.max() < stop
    assert (created >= pd.Timestamp("2024-06-30")).any()  # the end day is included
    assert data.transactions["order_date"].max() < stop
    assert data.activities["at"].max() < stop
    assert data.customers["signup_date"].min() >= start - pd.DateOffset(years=2)


def test_emails_use_reserved_domains(crm: CRMData) -> None:
    emails = crm.leads["email"]
    assert emails.str.fullmatch(r"[a-z]+\.\d{4}@example\.(com|org|net)").all()
    assert emails.nunique() > 0.999 * len(emails)


def test_inquiry_text_length(crm: CRMData) -> None:
    words = crm.leads["inquiry_text"].dropna().str.split().str.len()
    assert words.min() >= 3 and words.max() <= 15


def test_conversion_rate_and_dates(crm: CRMData) -> None:
    leads = crm.leads
    assert 0.065 <= leads["converted"].mean() <= 0.095
    assert (leads["converted_at"].notna() == leads["converted"]).all()
    conv = leads[leads["converted"]]
    delay = conv["converted_at"] - conv["created_at"]
    assert (delay > pd.Timedelta(0)).all()
    assert (delay <= pd.Timedelta(days=120)).all()
    assert (conv["converted_at"] < WINDOW_END).all()
    assert (delay >= pd.Timedelta(days=3)).mean() > 0.97  # only leads near the end are squeezed


def test_truth_probability_matches_labels(crm: CRMData) -> None:
    truth = crm.truth["leads"]
    assert truth["lead_id"].equals(crm.leads["lead_id"])
    p = truth["p_convert"].to_numpy()
    y = crm.leads["converted"].to_numpy()
    assert ((p > 0) & (p < 1)).all()
    assert abs(p.mean() - 0.08) < 0.002  # intercept calibrated on the mean
    auc = roc_auc_score(y, p)
    assert 0.83 <= auc <= 0.92, auc
    # a small hot segment exists, so the business threshold "score >= 80" follows somebody
    assert 0.003 < (p >= 0.8).mean() < 0.03
    # calibration: observed rate per decile of p close to the mean p there
    deciles = pd.qcut(p, 10, labels=False)
    observed = pd.Series(y).groupby(deciles).mean()
    expected = pd.Series(p).groupby(deciles).mean()
    assert (observed - expected).abs().max() < 0.04


def test_keyword_effects_have_the_true_direction(crm: CRMData) -> None:
    text = crm.leads["inquiry_text"].fillna("").str.lower()
    y = crm.leads["converted"]

    def rate(word: str) -> float:
        mask = text.str.contains(word, regex=False)
        assert mask.sum() > 200, word
        return float(y[mask].mean())

    assert rate("pricing") > 1.5 * rate("student")
    positive = [rate(w) for w in ("pricing", "quote", "demo", "budget approved")]
    negative = [rate(w) for w in ("student", "job", "just browsing", "free")]
    assert min(positive) > y.mean() > max(negative)


def test_channel_and_behaviour_effects(crm: CRMData) -> None:
    by_channel = crm.leads.groupby("channel")["converted"].mean()
    assert min(by_channel["referral"], by_channel["event"]) > by_channel["web"] > by_channel["cold_outbound"]
    leads = crm.leads
    hot = leads["pricing_page_views"] >= 3
    assert leads.loc[hot, "converted"].mean() > 2 * leads.loc[leads["pricing_page_views"] == 0, "converted"].mean()
    fresh = leads["days_since_last_activity"] <= 7
    assert leads.loc[fresh, "converted"].mean() > leads.loc[~fresh, "converted"].mean()


# --------------------------------------------------------------------------- #
# Customers
# --------------------------------------------------------------------------- #
def test_customers_are_converted_leads_plus_preexisting(crm: CRMData) -> None:
    customers, leads = crm.customers, crm.leads
    converted = leads[leads["converted"]]
    linked = customers.dropna(subset=["lead_id"])
    assert linked["lead_id"].is_unique
    assert set(linked["lead_id"]) == set(converted["lead_id"])
    n_pre = customers["lead_id"].isna().sum()
    assert n_pre == max(2000, N_LEADS // 4)
    assert len(customers) == len(converted) + n_pre
    merged = linked.merge(converted, on="lead_id", suffixes=("", "_lead"))
    assert (merged["signup_date"] == merged["converted_at"]).all()
    for col in ("industry", "company_size", "region", "email"):
        assert merged[col].fillna("?").equals(merged[f"{col}_lead"].fillna("?")), col
    pre = customers[customers["lead_id"].isna()]
    assert pre["signup_date"].min() >= START - pd.DateOffset(years=2)
    assert pre["signup_date"].max() < START
    assert 5_000 <= len(customers) <= 7_000


def test_customer_ids_contacts_and_tags(crm: CRMData) -> None:
    customers = crm.customers
    assert customers["customer_id"].is_unique and customers["customer_id"].is_monotonic_increasing
    assert customers["customer_id"].str.fullmatch(r"C\d{7}").all()
    assert customers["phone"].str.fullmatch(r"\+1-555-01\d{2}-\d{4}").all()
    assert customers["phone"].is_unique
    assert customers["region"].isin(REGIONS).all()
    assert 0.1 < customers["price_sensitive"].mean() < 0.5
    sat = customers["satisfaction"]
    assert sat.dropna().between(1, 10).all() and 0 < sat.isna().mean() < 0.4
    truth = crm.truth["customers"]
    assert truth["customer_id"].equals(customers["customer_id"])
    assert (truth["purchase_rate"] > 0).all() and (truth["mean_spend"] > 0).all()
    assert truth["churn_hazard"].between(0, 1, inclusive="neither").all()


def test_churn_share_and_dates(crm: CRMData) -> None:
    truth = crm.truth["customers"]
    churned = truth["churned_at"]
    assert 0.25 <= churned.notna().mean() <= 0.40
    assert (churned.dropna() < WINDOW_END).all()
    assert (churned.dropna().to_numpy() > crm.customers.loc[churned.notna(), "signup_date"].to_numpy()).all()
    # higher hazard -> more churned
    high = truth["churn_hazard"] > truth["churn_hazard"].median()
    assert churned[high].notna().mean() > churned[~high].notna().mean()


def test_complainers_churn_more(crm: CRMData) -> None:
    complainers = crm.activities.loc[crm.activities["kind"] == "complaint", "customer_id"].unique()
    churned = crm.truth["customers"].set_index("customer_id")["churned_at"].notna()
    is_complainer = churned.index.isin(complainers)
    assert churned[is_complainer].mean() > churned[~is_complainer].mean() + 0.05


def test_low_satisfaction_churns_more(crm: CRMData) -> None:
    sat = crm.customers["satisfaction"]
    churned = crm.truth["customers"]["churned_at"].notna()
    assert churned[sat <= 5].mean() > churned[sat >= 8].mean()


# --------------------------------------------------------------------------- #
# Transactions
# --------------------------------------------------------------------------- #
def test_transaction_volume_and_keys(crm: CRMData) -> None:
    tx = crm.transactions
    assert 100_000 <= len(tx) <= 300_000
    assert tx["order_id"].is_unique
    assert tx["order_id"].str.fullmatch(r"O\d{9}").all()
    assert tx["order_date"].is_monotonic_increasing
    assert tx["customer_id"].isin(crm.customers["customer_id"]).all()
    assert tx["product"].isin(PRODUCTS).all() and tx["channel"].isin(ORDER_CHANNELS).all()
    region = crm.customers.set_index("customer_id")["region"]
    assert tx["region"].equals(tx["customer_id"].map(region).rename("region"))
    returns = tx["amount"] < 0
    assert 0.005 < returns.mean() < 0.015
    assert (tx["amount"] != 0).all()


def test_orders_only_while_alive(crm: CRMData) -> None:
    tx = crm.transactions.merge(crm.customers[["customer_id", "signup_date"]], on="customer_id")
    tx = tx.merge(crm.truth["customers"][["customer_id", "churned_at"]], on="customer_id")
    assert (tx["order_date"] >= tx["signup_date"]).all()
    assert (tx["order_date"] < WINDOW_END).all()
    dead = tx["churned_at"].notna()
    assert (tx.loc[dead, "order_date"] < tx.loc[dead, "churned_at"]).all()


def test_returns_reference_earlier_orders(crm: CRMData) -> None:
    tx = crm.transactions
    first = tx.groupby("customer_id")["order_date"].transform("min")
    returns = tx[tx["amount"] < 0]
    assert (returns["order_date"] > first[returns.index]).all()
    biggest = tx[tx["amount"] > 0].groupby("customer_id")["amount"].max()
    assert (-returns["amount"] <= returns["customer_id"].map(biggest)).all()


def test_orders_decline_before_churn(crm: CRMData) -> None:
    churned = crm.truth["customers"].dropna(subset=["churned_at"])
    tx = crm.transactions[crm.transactions["amount"] > 0]
    tx = tx.merge(churned[["customer_id", "churned_at"]], on="customer_id")
    before = tx["churned_at"] - tx["order_date"]
    last3 = (before <= pd.Timedelta(days=91)).sum()
    prev3 = ((before > pd.Timedelta(days=91)) & (before <= pd.Timedelta(days=182))).sum()
    assert last3 < 0.8 * prev3


def test_orders_follow_truth(crm: CRMData) -> None:
    truth = crm.truth["customers"].set_index("customer_id")
    customers = crm.customers.set_index("customer_id")
    stop = truth["churned_at"].fillna(WINDOW_END)
    months = (stop - customers["signup_date"]).dt.total_seconds() / (86_400 * 30.44)
    sales = crm.transactions[crm.transactions["amount"] > 0]
    n_orders = sales.groupby("customer_id").size().reindex(truth.index, fill_value=0)
    long = months > 12
    rate = n_orders[long] / months[long]
    assert rate.corr(truth.loc[long, "purchase_rate"], method="spearman") > 0.6
    avg = sales.groupby("customer_id")["amount"].mean()
    many = n_orders[n_orders >= 10].index
    assert avg[many].corr(truth.loc[many, "mean_spend"], method="spearman") > 0.7
    assert 0.8 < sales["amount"].sum() / (n_orders * truth["mean_spend"]).sum() < 1.1


def test_seasonality_q4_high_summer_low(crm: CRMData) -> None:
    tx = crm.transactions
    tx = tx[(tx["order_date"] >= START) & (tx["amount"] > 0)]
    by_month = tx.groupby(tx["order_date"].dt.month).size()
    assert by_month[[11, 12]].mean() > by_month[[7, 8]].mean() * 1.3


def test_promotions_lift_price_sensitive_customers(crm: CRMData) -> None:
    promos = crm.truth["promotions"]
    assert promos["region"].isin(REGIONS).all()
    assert promos["discount"].between(0.05, 0.5).all()
    assert (promos["month"].dt.day == 1).all()
    per_year = promos.groupby([promos["month"].dt.year, "region"]).size()
    assert per_year.between(2, 3).all()
    tx = crm.transactions[crm.transactions["amount"] > 0]
    tx = tx.merge(crm.customers[["customer_id", "price_sensitive"]], on="customer_id")
    key = pd.MultiIndex.from_arrays([_month_index(promos["month"]), promos["region"]])
    in_promo = pd.MultiIndex.from_arrays([_month_index(tx["order_date"]), tx["region"]]).isin(key)
    share_ps = in_promo[tx["price_sensitive"].to_numpy()].mean()
    share_other = in_promo[~tx["price_sensitive"].to_numpy()].mean()
    assert share_ps > 1.2 * share_other


# --------------------------------------------------------------------------- #
# Activities
# --------------------------------------------------------------------------- #
def test_activities(crm: CRMData) -> None:
    acts = crm.activities
    assert acts["at"].is_monotonic_increasing
    assert acts["kind"].isin(ACTIVITY_KINDS).all()
    assert set(acts["kind"]) == set(ACTIVITY_KINDS)
    survey = acts["kind"] == "survey"
    assert acts.loc[survey, "value"].between(1, 10).all()
    assert acts.loc[~survey, "value"].isna().all()
    merged = acts.merge(crm.customers[["customer_id", "signup_date"]], on="customer_id")
    merged = merged.merge(crm.truth["customers"][["customer_id", "churned_at"]], on="customer_id")
    assert (merged["at"] >= merged["signup_date"]).all()
    assert (merged["at"] < merged["churned_at"].fillna(WINDOW_END)).all()
    last_survey = acts[survey].groupby("customer_id")["value"].last()
    sat = crm.customers.set_index("customer_id")["satisfaction"]
    pd.testing.assert_series_equal(
        sat.dropna().sort_index(), last_survey.sort_index(), check_names=False, check_index_type=False
    )


def test_tickets_more_frequent_for_large_customers(crm: CRMData) -> None:
    tickets = crm.activities[crm.activities["kind"] == "ticket"].groupby("customer_id").size()
    customers = crm.customers.set_index("customer_id")
    stop = crm.truth["customers"].set_index("customer_id")["churned_at"].fillna(WINDOW_END)
    months = (stop - customers["signup_date"]).dt.days / 30.44
    rate = tickets.reindex(customers.index, fill_value=0) / months
    size = customers["company_size"]
    assert rate[size == "1000+"].mean() > 2 * rate[size == "1-10"].mean()


def test_activity_declines_before_churn(crm: CRMData) -> None:
    churned = crm.truth["customers"].dropna(subset=["churned_at"])
    acts = crm.activities[crm.activities["kind"].isin(["visit", "call"])]
    acts = acts.merge(churned[["customer_id", "churned_at"]], on="customer_id")
    before = acts["churned_at"] - acts["at"]
    last3 = (before <= pd.Timedelta(days=91)).sum()
    prev3 = ((before > pd.Timedelta(days=91)) & (before <= pd.Timedelta(days=182))).sum()
    assert last3 < 0.8 * prev3


# --------------------------------------------------------------------------- #
# Writing and loading
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_write_load_round_trip(small: CRMData, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "crm"
    paths = write_crm(small, out, fmt=fmt)  # creates the folder
    names = [
        "leads", "customers", "transactions", "activities", "opportunities", "opportunity_stages", "opportunity_activities",
        "truth_leads", "truth_customers", "truth_promotions", "truth_opportunities",
    ]
    assert [p.name for p in paths] == [f"{n}.{fmt}" for n in names]
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{n}.{fmt}" for n in names)  # no temp files left
    loaded = load_crm(out)
    for name, df in {**small.tables(), **small.opportunity_tables()}.items():
        pd.testing.assert_frame_equal(getattr(loaded, name), df, obj=name, check_exact=True)
    assert set(loaded.truth) == set(small.truth)
    for name, df in small.truth.items():
        pd.testing.assert_frame_equal(loaded.truth[name], df, obj=f"truth[{name}]", check_exact=True)
    assert loaded.leads["created_at"].dtype == np.dtype("datetime64[ns]")
    assert loaded.leads["converted_at"].dtype == np.dtype("datetime64[ns]")
    assert loaded.transactions["order_date"].dtype == np.dtype("datetime64[ns]")
    # writing again replaces the files in place
    write_crm(small, out, fmt=fmt)
    assert len(list(out.iterdir())) == len(names)


def test_load_without_truth_and_format_detection(small: CRMData, tmp_path: Path) -> None:
    write_crm(small, tmp_path, fmt="csv")
    for p in tmp_path.glob("truth_*"):
        p.unlink()
    loaded = load_crm(str(tmp_path))
    assert loaded.truth == {}
    pd.testing.assert_frame_equal(loaded.customers, small.customers)
    write_crm(small, tmp_path, fmt="parquet")
    with pytest.raises(ValueError, match="both leads.csv and leads.parquet"):
        load_crm(tmp_path)
    pd.testing.assert_frame_equal(load_crm(tmp_path, fmt="parquet").leads, small.leads)


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_crm(tmp_path / "nope")
    with pytest.raises(ValueError, match="no leads.csv or leads.parquet"):
        load_crm(tmp_path)
    (tmp_path / "leads.csv").write_text("lead_id\nL0000001\n")
    with pytest.raises(FileNotFoundError, match="customers.csv"):
        load_crm(tmp_path)


# --------------------------------------------------------------------------- #
# Argument checks
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_leads": -3}, "n_leads must be a positive int. Got -3 instead."),
        ({"n_leads": 0}, "n_leads must be a positive int. Got 0 instead."),
        ({"n_leads": 2.5}, "n_leads must be a positive int. Got 2.5 instead."),
        ({"n_leads": True}, "n_leads must be a positive int. Got True instead."),
        ({"n_customers": -1}, "n_customers must be a non-negative int. Got -1 instead."),
        (
            {"start": "2025-01-01", "end": "2024-01-01"},
            "start must be before end. Got start='2025-01-01', end='2024-01-01'.",
        ),
        ({"start": "2024-01-01", "end": "2024-01-01"}, "start must be before end."),
        ({"start": "soon"}, "start must be a date like '2023-01-01'. Got 'soon' instead."),
        ({"random_state": "seed"}, "random_state must be a non-negative int or None. Got 'seed' instead."),
    ],
)
def test_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        make_crm(**{"n_leads": 10, **kwargs})


def test_bad_arguments_make_leads() -> None:
    with pytest.raises(ValueError, match=re.escape("n_leads must be a positive int. Got -3 instead.")):
        make_leads(-3)


def test_bad_format(small: CRMData, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=re.escape("fmt must be 'csv' or 'parquet'. Got 'xlsx' instead.")):
        write_crm(small, tmp_path, fmt="xlsx")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(TypeError, match="CRMData"):
        write_crm({"leads": small.leads}, tmp_path)  # type: ignore[arg-type]
