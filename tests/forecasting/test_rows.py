"""Direct multi-step rows: values against hand computations, and nothing after the origin inside a row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesml.forecasting.panel import build_panel
from salesml.forecasting.rows import RowSpec, build_rows, feature_columns

DATES = pd.date_range("2022-01-01", "2024-12-01", freq="MS")  # 36 months
SPEC = RowSpec(horizon=3, season=12, n_lags=3, windows=(3,), min_history=6, target="sales", known=("discount",), past=("pipeline",))


def table(shift_after: int | None = None, factor: float = 1.0) -> pd.DataFrame:
    """Series A = 1, 2, ..., 36 (+ 3 planned months); B starts in month 30 (7 months of history)."""
    t = np.arange(1, len(DATES) + 4, dtype=float)
    dates = pd.date_range(DATES[0], periods=len(t), freq="MS")
    a = pd.DataFrame({"key": "A", "date": dates, "sales": np.where(t <= 36, t, np.nan), "discount": (t % 5 == 0) * 0.1, "pipeline": np.where(t <= 36, 10 * t, np.nan)})
    b = a.iloc[29:].assign(key="B", sales=lambda d: d["sales"] * 2, pipeline=lambda d: d["pipeline"] * 2)
    frame = pd.concat([a, b], ignore_index=True)
    if shift_after is not None:
        later = frame["date"] > DATES[shift_after]
        frame.loc[later, ["sales", "pipeline"]] *= factor
    return frame


def panel(frame: pd.DataFrame | None = None):
    return build_panel(table() if frame is None else frame, time="date", target="sales", keys=["key"], known=["discount"], past=["pipeline"])


def test_features_and_target_match_a_hand_computation():
    p = panel()
    origin = 23  # Dec 2023, y = 24
    frame, target, _ = build_rows(p, SPEC, [origin], with_target=True)
    a = frame[frame["series"] == "A"].set_index("h")
    level = np.mean(np.arange(13, 25))  # |y| over the last 12 months
    assert a.loc[1, "recent_level"] == pytest.approx(level)
    assert a.loc[1, "sales_lag_1"] == pytest.approx(24 / level)
    assert a.loc[1, "sales_lag_3"] == pytest.approx(22 / level)
    assert a.loc[1, "sales_mean_3"] == pytest.approx(23 / level)
    assert a.loc[2, "sales_last_year"] == pytest.approx(14 / level)  # Feb 2024 -> Feb 2023
    assert a.loc[2, "sales_two_years_ago"] == pytest.approx(2 / level)
    assert a.loc[1, "sales_growth"] == pytest.approx(np.sum(np.arange(13, 25)) / np.sum(np.arange(1, 13)))
    assert a.loc[3, "target_month"] == 3 and a.loc[3, "period"] == pd.Timestamp("2024-03-01")
    assert a.loc[1, "discount"] == 0.1 and a.loc[1, "discount_previous"] == 0.0  # month 25 is a promotion
    assert a.loc[1, "discount_vs_last_year"] == pytest.approx(0.1 - 0.0)
    assert a.loc[1, "pipeline_at_origin"] == 240.0
    assert a.loc[1, "pipeline_relative"] == pytest.approx(240.0 / (10 * level))
    rows = np.flatnonzero(frame["series"] == "A")
    np.testing.assert_allclose(target[rows], np.array([25, 26, 27]) / level)


def test_short_and_cold_start_series_are_refused_with_reasons():
    p = panel()
    _, _, refused = build_rows(p, SPEC, [28, 33], with_target=False)
    reasons = dict(zip(zip(refused["series"], refused["origin"]), refused["reason"]))
    assert reasons[("B", DATES[28])] == "no history before the forecast origin (the series starts later: cold start)"
    assert reasons[("B", DATES[33])] == "only 5 period(s) of history at the origin; at least 6 are needed"
    frame, _, refused = build_rows(p, SPEC, [35], with_target=False)
    assert set(frame["series"]) == {"A", "B"} and refused.empty


def test_rows_needing_an_unseen_target_are_left_out_when_training():
    p = panel()
    frame, target, _ = build_rows(p, SPEC, [34, 35], with_target=True)
    assert list(frame.loc[frame["series"] == "A", "h"]) == [1]  # origin 34 (h=1 -> 35); origin 35 has nothing yet
    frame, target, _ = build_rows(p.extend(3), SPEC, [35], with_target=False)
    assert target is None and list(frame.loc[frame["series"] == "A", "period"]) == list(pd.date_range("2025-01-01", periods=3, freq="MS"))


@settings(max_examples=15, deadline=None)
@given(origin=st.integers(min_value=12, max_value=32), factor=st.sampled_from([0.0, -3.0, 7.5]))
def test_nothing_after_the_origin_changes_a_row(origin, factor):
    """Sales and past-only covariates after the origin may be anything: the row stays the same."""
    before, _, _ = build_rows(panel(), SPEC, [origin], with_target=False)
    after, _, _ = build_rows(panel(table(shift_after=origin, factor=factor)), SPEC, [origin], with_target=False)
    pd.testing.assert_frame_equal(before, after)


def test_a_known_covariate_of_the_target_period_is_read_from_the_plan():
    frame = table()
    frame.loc[(frame["key"] == "A") & (frame["date"] == "2025-02-01"), "discount"] = 0.35
    rows, _, _ = build_rows(panel(frame).extend(3), SPEC, [35], with_target=False)
    a = rows[rows["series"] == "A"].set_index("h")
    assert a.loc[2, "discount"] == 0.35 and a.loc[3, "discount_previous"] == 0.35


def test_all_zero_history_has_level_one_and_weekly_last_year_averages_three_weeks():
    dates = pd.date_range("2023-01-02", periods=120, freq="W-MON")
    y = np.arange(120, dtype=float)
    frame = pd.DataFrame({"key": np.repeat(["zero", "ramp"], 120), "date": np.tile(dates, 2), "sales": np.concatenate([np.zeros(120), y])})
    p = build_panel(frame, time="date", target="sales", keys=["key"], freq="W")
    spec = RowSpec(horizon=13, season=52, n_lags=2, windows=(4,), min_history=26, target="sales", weekly=True)
    rows, _, _ = build_rows(p, spec, [100], with_target=False, steps=[1])
    by = rows.set_index("series")
    assert by.loc["zero", "recent_level"] == 1.0 and by.loc["zero", "zero_share"] == 1.0
    level = np.mean(y[49:101])
    assert by.loc["ramp", "sales_last_year"] == pytest.approx(np.mean(y[48:51]) / level)
    assert by.loc["ramp", "target_week"] == float(dates[101].isocalendar().week)


# ------------------------------------------------ point in time, every feature family, horizons beyond a season
def long_table(freq: str, periods: int, seed: int = 0) -> pd.DataFrame:
    """Three series of different starts with a known and a past-only covariate, on a monthly or weekly calendar."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2015-01-05", periods=periods, freq="MS" if freq == "M" else "W-MON")
    parts = []
    for i, (name, start) in enumerate([("A", 0), ("B", 7), ("C", 20)]):
        n = periods - start
        parts.append(pd.DataFrame({
            "key": name, "date": dates[start:], "sales": 100 + 10 * i + rng.gamma(2.0, 10.0, n),
            "discount": rng.choice([0.0, 0.1, 0.2], n), "pipeline": rng.gamma(3.0, 5.0, n),
        }))
    return pd.concat(parts, ignore_index=True)


def perturbed_after(frame: pd.DataFrame, origin_date: pd.Timestamp, seed: int) -> pd.DataFrame:
    """Every target and past-only value after the origin replaced by noise (the plan, a known covariate, kept)."""
    out = frame.copy()
    later = out["date"] > origin_date
    rng = np.random.default_rng(seed)
    out.loc[later, "sales"] = rng.normal(0.0, 1e4, int(later.sum()))
    out.loc[later, "pipeline"] = rng.normal(0.0, 1e3, int(later.sum()))
    return out


CASES = {  # horizons longer than two seasons, so last_year and two_years_ago both reach past the origin when wrong
    "monthly": (RowSpec(horizon=30, season=12, n_lags=4, windows=(3, 6), min_history=6, target="sales",
                        known=("discount",), past=("pipeline",)), "M", 90),
    "weekly": (RowSpec(horizon=110, season=52, n_lags=3, windows=(4, 13), min_history=8, target="sales",
                       known=("discount",), past=("pipeline",), weekly=True), "W", 300),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_no_feature_family_reads_a_value_after_the_origin(case):
    spec, freq, periods = CASES[case]
    base = long_table(freq, periods)
    kwargs = {"time": "date", "target": "sales", "keys": ["key"], "known": ["discount"], "past": ["pipeline"], "freq": freq}
    full = build_panel(base, **kwargs)
    m = spec.season
    for k, origin in enumerate([2 * m + 3, 2 * m + m // 2, periods - spec.horizon - 1]):
        rows, _, _ = build_rows(full, spec, [origin], with_target=False)
        checked = set(feature_columns(spec, ["key"]))
        assert checked <= set(rows.columns)  # every family is in the comparison below
        late = (rows["h"] > 2 * m) & (rows["series"] == "A")  # A starts first: its sources exist
        assert rows.loc[late, "sales_last_year"].notna().all() and rows.loc[late, "sales_two_years_ago"].notna().all()
        noisy = build_panel(perturbed_after(base, full.periods[origin], seed=k), **kwargs)
        again, _, _ = build_rows(noisy, spec, [origin], with_target=False)
        pd.testing.assert_frame_equal(rows, again)
        hidden, _, _ = build_rows(full.truncate(origin), spec, [origin], with_target=False)  # the future removed
        pd.testing.assert_frame_equal(rows, hidden)


def test_last_year_beyond_a_season_is_the_latest_season_before_the_origin():
    p = build_panel(long_table("M", 90), time="date", target="sales", keys=["key"], freq="M")
    spec = RowSpec(horizon=30, season=12, n_lags=1, windows=(3,), min_history=6, target="sales")
    origin = 40
    rows, _, _ = build_rows(p, spec, [origin], with_target=False)
    a = rows[rows["series"] == "A"].set_index("h")
    y, level = p.values[0], a.loc[1, "recent_level"]
    for h, src in ((1, origin + 1 - 12), (12, origin), (13, origin + 13 - 24), (25, origin + 25 - 36)):
        assert a.loc[h, "sales_last_year"] * level == pytest.approx(y[src]), h
        assert a.loc[h, "sales_two_years_ago"] * level == pytest.approx(y[src - 12]), h
