"""Bottom-up reconciliation: every level is exactly the sum of the bottom series below it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesml.forecasting.reconcile import BOTTOM, TOTAL, aggregate, bottom_up, hierarchy_levels


@pytest.fixture()
def bottom() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    regions, products, periods = ["north", "south", "east"], ["core", "addon"], pd.date_range("2026-01-01", periods=3, freq="MS")
    rows = [(r, p, t, h) for r in regions for p in products for h, t in enumerate(periods, start=1)]
    frame = pd.DataFrame(rows, columns=["region", "product", "period", "h"])
    frame["series"] = frame["region"] + "/" + frame["product"]
    frame["forecast"] = rng.lognormal(10, 1, len(frame)) * rng.choice([1, -1], len(frame), p=[0.9, 0.1])
    return frame


def summing_matrix(series: pd.DataFrame, by: list[str]) -> tuple[np.ndarray, list[str]]:
    """S with one row per group of ``by`` and one column per bottom series (1 where the series belongs)."""
    labels = sorted(series.groupby(by).groups) if by else [TOTAL]
    S = np.zeros((len(labels), len(series)))
    for i, label in enumerate(labels):
        key = label if isinstance(label, tuple) else (label,)
        S[i] = np.all([series[b].to_numpy() == k for b, k in zip(by, key)], axis=0) if by else 1.0
    return S, ["/".join(k) if isinstance(k, tuple) else k for k in labels]


def test_every_upper_level_equals_the_summing_matrix_times_the_bottom_forecasts(bottom):
    stacked = bottom_up(bottom, keys=["region", "product"], values=["forecast"], at=["period", "h"])
    assert list(dict.fromkeys(stacked["level"])) == [TOTAL, "region", "product", BOTTOM]
    series = bottom.drop_duplicates("series")[["series", "region", "product"]].reset_index(drop=True)
    for level, by in ((TOTAL, []), ("region", ["region"]), ("product", ["product"])):
        S, labels = summing_matrix(series, by)
        for period, g in bottom.groupby("period"):
            y = g.set_index("series").loc[series["series"], "forecast"].to_numpy()
            upper = stacked[(stacked["level"] == level) & (stacked["period"] == period)].set_index("series")["forecast"]
            np.testing.assert_allclose(upper.loc[labels].to_numpy(), S @ y, rtol=1e-13, atol=0)


def test_bottom_rows_pass_through_unchanged(bottom):
    stacked = bottom_up(bottom, keys=["region", "product"], values=["forecast"], at=["period", "h"])
    low = stacked[stacked["level"] == BOTTOM].reset_index(drop=True)
    np.testing.assert_array_equal(low["forecast"].to_numpy(), bottom["forecast"].to_numpy())


def test_levels_default_to_the_total_and_each_key_and_can_be_chosen():
    assert hierarchy_levels(["region", "product"]) == [(TOTAL, ()), ("region", ("region",)), ("product", ("product",))]
    assert hierarchy_levels(["region"]) == [(TOTAL, ())]
    assert hierarchy_levels(["region", "product", "item"], [[], ["region", "product"], ["region", "product", "item"]]) == [
        (TOTAL, ()),
        ("region+product", ("region", "product")),
    ]
    with pytest.raises(ValueError, match=r"Hierarchy level \['channel'\] uses \['channel'\], which are not series keys \['region'\]."):
        hierarchy_levels(["region"], [["channel"]])


def test_aggregate_names_groups_like_series(bottom):
    agg = aggregate(bottom, ["region", "product"], ["forecast"], ["h"])
    assert set(agg["series"]) == set(bottom["series"])
    assert aggregate(bottom, [], ["forecast"], ["h"])["series"].eq(TOTAL).all()
