"""The calendar panel: periods, the documented fill rules, breaks, and sales from transactions."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from salesml.forecasting.panel import build_panel, level_shifts, period_start, sales_from_transactions


def table() -> pd.DataFrame:
    """Two series: A (Jan-Jun 2024, no March row, two rows in January) and B (Feb-Apr), plus a plan for Jul-Aug."""
    rows = [
        ("A", "2024-01-05", 10.0, 0.1, 100.0),
        ("A", "2024-01-20", 5.0, 0.3, 110.0),
        ("A", "2024-02-10", 20.0, np.nan, 120.0),
        ("A", "2024-04-01", 30.0, 0.0, np.nan),
        ("A", "2024-05-01", np.nan, 0.0, 140.0),
        ("A", "2024-06-30", 50.0, 0.2, 150.0),
        ("A", "2024-07-01", np.nan, 0.5, np.nan),
        ("B", "2024-02-01", 7.0, 0.0, 1.0),
        ("B", "2024-03-01", 8.0, 0.0, 2.0),
        ("B", "2024-04-01", 9.0, 0.0, 3.0),
        ("B", "2024-08-01", np.nan, 0.1, np.nan),
    ]
    return pd.DataFrame(rows, columns=["key", "date", "sales", "discount", "pipeline"])


def panel(**kwargs):
    return build_panel(table(), time="date", target="sales", keys=["key"], known=["discount"], past=["pipeline"], **kwargs)


def row(p, name: str) -> int:
    return int(np.flatnonzero(p.series["series"] == name)[0])


def test_periods_and_origin():
    p = panel()
    assert list(p.periods) == list(pd.date_range("2024-01-01", "2024-08-01", freq="MS"))
    assert p.origin_date == pd.Timestamp("2024-06-01")
    assert list(p.first) == [0, 1]


def test_rows_in_one_period_are_combined_targets_summed_covariates_averaged():
    p = panel()
    a = row(p, "A")
    assert p.values[a, 0] == 15.0
    assert p.known["discount"][a, 0] == pytest.approx(0.2)
    assert p.past["pipeline"][a, 0] == pytest.approx(105.0)
    assert p.fills["rows_combined"] == 1


def test_gaps_inside_a_series_are_zero_or_the_previous_value_and_nothing_before_it_starts():
    zero, prev = panel(), panel(fill="previous")
    a, b = row(zero, "A"), row(zero, "B")
    np.testing.assert_array_equal(zero.values[a, :6], [15, 20, 0, 30, 0, 50])
    np.testing.assert_array_equal(prev.values[a, :6], [15, 20, 20, 30, 30, 50])
    assert np.isnan(zero.values[b, 0])
    # B's rows stop in April: it has ended there, never counted as zero sales up to the table's origin (June)
    np.testing.assert_array_equal(zero.values[b, 1:4], [7, 8, 9])
    assert np.isnan(zero.values[b, 4:]).all() and list(zero.last) == [5, 3]
    assert np.isnan(zero.values[:, 6:]).all()
    assert zero.fills["target_filled"] == 2 and zero.fills["series_ended_early"] == 1


def test_missing_fill_keeps_gaps_missing_not_zero():
    p = panel(fill="missing")
    a = row(p, "A")
    np.testing.assert_array_equal(p.values[a, :6], [15, 20, np.nan, 30, np.nan, 50])
    assert p.fills["target_missing"] == 2 and p.fills["target_filled"] == 0


def test_known_covariates_carry_forward_in_history_but_the_plan_must_be_given():
    p = panel()
    a, b = row(p, "A"), row(p, "B")
    assert p.known["discount"][a, 1] == pytest.approx(0.2)  # February missing: January's value repeats
    assert p.known["discount"][a, 6] == 0.5  # July: the plan
    assert np.isnan(p.known["discount"][b, 6])  # B has no plan for July
    missing = p.missing_plan(2).set_index("series")
    assert missing.loc["A", "missing_periods"] == 1  # August
    assert "B" not in missing.index  # B ended in April: not forecast from the common origin, so needs no plan
    own = p.missing_plan(3, per_series=True).set_index("series")  # B from its own end: May-July
    assert own.loc["B", "missing_periods"] == 1 and own.loc["A", "missing_periods"] == 2  # B: July; A: Aug, Sep


def test_past_covariates_are_unknown_after_the_origin():
    p = panel()
    a = row(p, "A")
    assert p.past["pipeline"][a, 3] == 120.0  # April missing: March (filled from February) repeats
    assert np.isnan(p.past["pipeline"][:, p.origin + 1 :]).all()


def test_truncate_hides_targets_and_past_covariates_after_an_earlier_origin():
    p = panel().truncate(2)
    assert np.isnan(p.values[:, 3:]).all() and np.isnan(p.past["pipeline"][:, 3:]).all()
    assert not np.isnan(p.known["discount"][0, 3:6]).any()
    with pytest.raises(ValueError, match="origin must be between 0 and 5. Got 9 instead."):
        panel().truncate(9)


def test_weeks_start_on_monday():
    dates = pd.Series(pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-07", "2024-01-08"]))
    assert list(period_start(dates, "W")) == list(pd.to_datetime(["2024-01-01"] * 3 + ["2024-01-08"]))
    with pytest.raises(ValueError, match="freq must be 'M' .months. or 'W' .weeks starting Monday.. Got 'Q' instead."):
        period_start(dates, "Q")


def test_a_declared_break_drops_the_history_before_it_for_matching_series_only():
    p = panel(breaks=[{"date": "2024-04-15", "where": {"key": "A"}}])
    a, b = row(p, "A"), row(p, "B")
    assert p.first[a] == 3 and np.isnan(p.values[a, :3]).all()
    assert p.first[b] == 1


def test_sales_from_transactions_nets_returns_per_period_and_drops_a_partial_last_month(crm):
    tx = crm.transactions
    sales = sales_from_transactions(tx, freq="M")
    month = tx["order_date"].dt.to_period("M").dt.start_time
    expected = tx.groupby([month, tx["region"], tx["product"]])["amount"].sum()
    got = sales.set_index(["date", "region", "product"])["sales"]
    np.testing.assert_allclose(got.to_numpy(), expected.reindex(got.index).to_numpy())
    assert (tx["amount"] < 0).any()  # returns are in there, netted
    cut = tx[tx["order_date"] < "2025-12-16"]
    assert sales_from_transactions(cut)["date"].max() == pd.Timestamp("2025-11-01")
    with pytest.raises(ValueError, match="The transactions table lacks column.s. 'value'"):
        sales_from_transactions(tx, amount="value")


def test_level_shifts_flag_a_recent_step():
    dates = pd.date_range("2022-01-01", "2025-12-01", freq="MS")
    y = 100 + 10 * np.sin(np.arange(len(dates)) * 2 * np.pi / 12)
    stepped = np.where(np.arange(len(dates)) >= len(dates) - 4, 2 * y, y)
    frame = pd.DataFrame({"date": np.tile(dates, 2), "key": np.repeat(["flat", "step"], len(dates)), "sales": np.concatenate([y, stepped])})
    shifts = level_shifts(build_panel(frame, time="date", target="sales", keys=["key"]))
    assert list(shifts["series"]) == ["step"]
    assert shifts["recent_vs_last_year"].iat[0] == pytest.approx(stepped[-6:].sum() / stepped[-18:-12].sum())
    assert shifts["before_vs_last_year"].iat[0] == pytest.approx(1.0)


def test_no_target_at_all_is_refused():
    frame = table().assign(sales=np.nan)
    with pytest.raises(ValueError, match="No row has a value in the target column 'sales'"):
        build_panel(frame, time="date", target="sales", keys=["key"])


def test_fill_counts_are_logged(caplog):
    with caplog.at_level(logging.INFO, logger="salesml.forecasting.panel"):
        panel()
    assert "fill=zero" in caplog.text and "target_filled': 2" in caplog.text


def steps_table() -> pd.DataFrame:
    """Integer periods: A at steps -5..0 (no row at -2), B at -2..0."""
    return pd.DataFrame({"key": ["A"] * 5 + ["B"] * 3, "step": [-5, -4, -3, -1, 0, -2, -1, 0],
                         "sales": [1.0, 2.0, 3.0, 5.0, 6.0, 7.0, 8.0, 9.0]})


def test_a_step_calendar_uses_integer_periods_and_its_given_season():
    p = build_panel(steps_table(), time="step", target="sales", keys=["key"], calendar="steps", season=4)
    assert list(p.periods) == [-5, -4, -3, -2, -1, 0] and p.season == 4 and p.origin_date == 0
    np.testing.assert_array_equal(p.values[row(p, "A")], [1, 2, 3, 0, 5, 6])
    assert list(p.first) == [0, 3]
    assert list(p.extend(3).periods[-3:]) == [1, 2, 3] and list(p.future_periods(2)) == [1, 2]


def test_a_step_calendar_needs_integers_and_a_season():
    bad = steps_table().astype({"step": object})
    bad.loc[2, "step"] = "week 3"
    bad.loc[4, "step"] = 0.5
    with pytest.raises(ValueError, match=r"2 rows have no integer period number in column 'step' \(row 2: 'week 3', row 4: 0.5\)"):
        build_panel(bad, time="step", target="sales", keys=["key"], calendar="steps", season=4)
    with pytest.raises(ValueError, match="A step calendar needs its season length: pass season="):
        build_panel(steps_table(), time="step", target="sales", keys=["key"], calendar="steps")
