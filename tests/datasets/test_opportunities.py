"""The built-in opportunities: contract, a stream apart from the other tables, and the known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import salesml
from salesml.datasets.opportunities import OPEN_STAGES, STAGES, true_win_probability


@pytest.fixture(scope="module")
def world() -> salesml.CRMData:
    return salesml.make_crm(3_000, n_customers=800, random_state=11)


def test_other_tables_do_not_depend_on_the_opportunities(world) -> None:
    other = salesml.make_crm(3_000, n_customers=800, n_opportunities=50, random_state=11)
    for name, df in world.tables().items():
        pd.testing.assert_frame_equal(getattr(other, name), df, check_exact=True, obj=name)
    assert len(other.opportunities) == 50 and len(world.opportunities) == 375
    again = salesml.make_crm(3_000, n_customers=800, random_state=11)
    for name, df in world.opportunity_tables().items():
        pd.testing.assert_frame_equal(getattr(again, name), df, check_exact=True, obj=name)


def test_stage_histories_follow_the_contract(world) -> None:
    opp, stages = world.opportunities, world.opportunity_stages
    assert set(stages["stage"]) <= set(STAGES)
    assert opp["opportunity_id"].is_unique and opp["account_id"].isin(world.customers["customer_id"]).all()
    order = {s: i for i, s in enumerate(STAGES)}
    for _, h in stages.groupby("opportunity_id", sort=False):
        codes = h["stage"].map(order).to_numpy()
        assert codes[0] == 0 and h["at"].is_monotonic_increasing
        ends = codes[codes >= 4]
        assert len(ends) <= 1 and (len(ends) == 0 or codes[-1] >= 4)
        assert list(codes[codes < 4]) == list(range(len(codes[codes < 4])))
    last = stages.groupby("opportunity_id")["stage"].last()
    status = opp.set_index("opportunity_id")["status"]
    assert (status[last.index] == last.where(last.isin(["won", "lost"]), "open")).all()
    assert (opp["amount"] > 0).all() and (opp["created_at"] <= opp["expected_close"]).all()


def test_win_rate_matches_the_true_probability(crm) -> None:
    truth = crm.truth["opportunities"].set_index("opportunity_id")
    early = crm.opportunities[crm.opportunities["created_at"] < "2025-01-01"]  # all closed by the end
    assert (early["status"] != "open").all()
    won = (early["status"] == "won").to_numpy()
    p = truth.loc[early["opportunity_id"], "p_win"].to_numpy()
    assert abs(won.mean() - p.mean()) < 0.035  # ~1,650 opportunities: 3.5 standard errors
    assert won[p > np.median(p)].mean() > won[p <= np.median(p)].mean() + 0.15


def test_true_win_probability_within_a_horizon_approaches_the_eventual_one() -> None:
    q = np.array([-1.0, 0.0, 1.0])
    for k in range(len(OPEN_STAGES)):
        stage = np.full(3, k)
        ever = true_win_probability(q, stage)
        short, long_ = true_win_probability(q, stage, 30), true_win_probability(q, stage, 2000)
        assert np.all(short < long_) and np.allclose(long_, ever, atol=1e-6)
        assert np.all(np.diff(ever) > 0)  # better quality wins more
