"""make_sales: series built from known components, aligned with the CRM world."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesml.datasets import (
    PRODUCTS,
    REGIONS,
    SALES_PROMO_DIP,
    SALES_PROMO_LIFT,
    make_sales,
)


@pytest.fixture(scope="module")
def built(crm):
    return make_sales(crm, random_state=1)


def test_components_multiply_to_the_expected_value(built):
    _, truth = built
    product = truth["level"] * truth["trend"] * truth["season"] * truth["promo"] * truth["price_effect"]
    np.testing.assert_allclose(truth["expected_sales"], product, rtol=1e-12)


def test_observed_sales_scatter_around_the_expected_value_as_documented(built):
    sales, truth = built
    seen = sales["sales"].notna().to_numpy()
    ratio = sales["sales"].to_numpy()[seen] / truth["expected_sales"].to_numpy()[seen]
    assert abs(ratio.mean() - 1.0) < 0.01
    assert np.std(np.log(ratio)) == pytest.approx(0.05, abs=0.005)


def test_promotions_follow_the_crm_calendar_with_per_product_lift(crm, built):
    sales, truth = built
    promos = crm.truth["promotions"].assign(month=lambda d: d["month"].dt.to_period("M").dt.start_time)
    joined = sales.merge(promos, left_on=["date", "region"], right_on=["month", "region"], how="left")
    np.testing.assert_allclose(joined["discount_x"], joined["discount_y"].fillna(0.0))
    assert (sales["discount"] > 0).groupby(sales["date"].dt.year).sum().min() > 0
    lift = truth["product"].map(SALES_PROMO_LIFT).to_numpy()
    previous = sales.groupby(["region", "product"])["discount"].shift(1).fillna(0.0).to_numpy()
    expected = 1 + lift * sales["discount"].to_numpy() - SALES_PROMO_DIP * lift * previous
    np.testing.assert_allclose(truth["promo"], expected, rtol=1e-12)


def test_every_region_and_product_with_a_year_of_planned_periods(built):
    sales, _ = built
    assert set(sales["region"]) == set(REGIONS) and set(sales["product"]) == set(PRODUCTS)
    future = sales[sales["sales"].isna()]
    assert future.groupby(["region", "product"]).size().eq(12).all()
    assert future["date"].min() == pd.Timestamp("2026-01-01")
    assert future[["expense", "pipeline"]].isna().all().all()
    assert future[["discount", "price"]].notna().all().all()
    assert (sales["price"] != 1.0).any(), "planned price changes are part of the plan"


def test_levels_come_from_the_crm_orders(crm, built):
    _, truth = built
    tx = crm.transactions
    months = len(pd.period_range(tx["order_date"].min(), tx["order_date"].max(), freq="M"))
    orders = tx.groupby(["region", "product"])["amount"].sum() / months
    level = truth.groupby(["region", "product"])["level"].first()
    ratio = (level / orders.reindex(level.index)).to_numpy()
    assert np.all((ratio > np.exp(-0.4)) & (ratio < np.exp(0.4)))


def test_same_seed_same_frames_and_another_seed_other_noise():
    a, ta = make_sales(random_state=5)
    b, tb = make_sales(random_state=5)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(ta, tb)
    c, _ = make_sales(random_state=6)
    assert not np.allclose(a["sales"].fillna(0), c["sales"].fillna(0))


def test_weekly_items_split_the_cells():
    sales, truth = make_sales(n_series=200, freq="W", start="2024-01-03", end="2025-12-31", future_periods=13, random_state=0)
    assert sales["item"].nunique() == 200
    assert (sales["date"].dt.dayofweek == 0).all()
    assert sales["date"].min() == pd.Timestamp("2024-01-01")
    assert sales.groupby("item")["sales"].apply(lambda s: s.isna().sum()).eq(13).all()
    assert truth.groupby("item")[["region", "product"]].nunique().eq(1).all().all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"freq": "D"}, "freq must be 'M' .months. or 'W' .weeks starting Monday.. Got 'D' instead."),
        ({"n_series": 0}, "n_series must be a positive int. Got 0 instead."),
        ({"noise": -0.1}, "noise must be a non-negative standard deviation. Got -0.1 instead."),
        ({"start": "2025-01-01", "end": "2024-01-01"}, "start must be before end"),
    ],
)
def test_bad_arguments_say_what_was_wrong(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_sales(**kwargs)
