"""Opportunities with a known generating model: stage history, activities and the true win probability.

Each opportunity belongs to an existing customer (its *account*), an owner (a sales rep), a
product and a region, with an amount, a creation time and an expected close date. It moves
through ``qualify -> needs_analysis -> proposal -> negotiation`` and ends ``won`` or ``lost``
(or is still open at the end of the window).

Generating model (a daily Markov chain, so the true probability at any date is known):

* a latent quality ``q = b0 - 0.45 log(amount / 20k) + owner skill + 0.35 log1p(account orders
  in the 12 months before creation) + product + season (Nov/Dec +0.3, Jul/Aug -0.2) + N(0, 0.35)``;
* in stage ``k`` each day the opportunity leaves the stage with probability
  ``h_k = base_k * exp(0.35 q)`` (good opportunities move faster), and when it leaves it advances
  with probability ``f_k = sigmoid(c_k + q)``, else it is lost. Leaving negotiation forward is a win;
* activities (call, email, meeting, demo) arrive as a Poisson process with daily rate
  ``0.12 exp(0.5 q)`` while the opportunity is open, so activity recency carries information;
* when an open opportunity passes its expected close date the owner pushes it by 30 days: an
  activity of kind ``close_date_pushed`` (value = days pushed) at the old date.

The truth (``p_win``: the probability of eventually winning at creation; ``quality``; the daily
rates) is returned apart; :func:`true_win_probability` gives the exact probability of a win within
a horizon from any stage, for the oracle comparisons in tests and benchmarks.

The generator draws from its own ``np.random.Generator`` (a child seed of ``make_crm``'s), so the
other tables are byte-identical with or without opportunities.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._common import _dt, _id_col, _sigmoid, _str_col, _str_take

__all__ = ["ACTIVITY_KINDS", "OPEN_STAGES", "OWNERS", "STAGES", "STAGE_PROBABILITIES", "true_win_probability"]

OPEN_STAGES: tuple[str, ...] = ("qualify", "needs_analysis", "proposal", "negotiation")
STAGES: tuple[str, ...] = (*OPEN_STAGES, "won", "lost")
#: The CRM's fixed win probability per stage (the "stage rule" baseline of the opportunity-win task).
STAGE_PROBABILITIES: dict[str, float] = {"qualify": 0.10, "needs_analysis": 0.25, "proposal": 0.45, "negotiation": 0.70}
ACTIVITY_KINDS: tuple[str, ...] = ("call", "email", "meeting", "demo")
N_OWNERS = 24
OWNERS: tuple[str, ...] = tuple(f"rep_{i:02d}" for i in range(1, N_OWNERS + 1))

_DAY = 86_400 * 10**9
_BASE_EXIT = np.array([1 / 18, 1 / 24, 1 / 30, 1 / 24])  # daily exit probability per open stage at q = 0
_ADVANCE = np.array([0.6, 1.0, 1.1, 1.6])  # c_k: logit of advancing when leaving stage k at q = 0
_PRODUCT_EFFECT = {"core": 0.0, "addon": 0.35, "services": -0.1, "support": 0.2, "hardware": -0.35}
_MONTH_EFFECT = np.array([0, 0, 0, 0, 0, 0, -0.2, -0.2, 0, 0, 0.3, 0.3])
_ACTIVITY_RATE = 0.12
_PUSH_DAYS = 30


def _rates(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Daily exit probability and advance probability, shape (n, 4)."""
    exit_ = np.clip(_BASE_EXIT[None, :] * np.exp(0.35 * q[:, None]), 0.005, 0.8)
    advance = _sigmoid(_ADVANCE[None, :] + q[:, None])
    return exit_, advance


def true_win_probability(quality: np.ndarray, stage_index: np.ndarray, horizon_days: int | None = None) -> np.ndarray:
    """Exact probability of a win from open stage ``stage_index`` (0-3), within ``horizon_days`` days or ever.

    ``quality`` is the truth's ``quality`` of each opportunity (same length as ``stage_index``).
    """
    q = np.asarray(quality, dtype=float)
    k = np.asarray(stage_index, dtype=int)
    exit_, advance = _rates(q)
    if horizon_days is None:
        fwd = np.where(np.arange(4)[None, :] >= k[:, None], advance, 1.0)
        return fwd.prod(axis=1)
    dist = np.zeros((len(q), 5))  # four open stages + won
    dist[np.arange(len(q)), k] = 1.0
    for _ in range(int(horizon_days)):
        leave = dist[:, :4] * exit_
        new = dist.copy()
        new[:, :4] -= leave
        new[:, 1:5] += leave * advance
        dist = new
    return dist[:, 4]


def _simulate_opportunities(
    n: int,
    customers: pd.DataFrame,
    transactions: pd.DataFrame,
    start_ns: int,
    end_ns: int,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Opportunities, their stage history, their activities and the truth (see the module docstring)."""
    # --- who, what, when
    last = max(end_ns - 30 * _DAY, start_ns + (end_ns - start_ns) // 2)  # leave the last month to run
    created = np.sort(rng.integers(start_ns // 10**9, max(last // 10**9, start_ns // 10**9 + 1), size=n)) * 10**9
    signup = customers["signup_date"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    order = np.argsort(signup, kind="stable")
    signup_sorted = signup[order]
    eligible = np.maximum(np.searchsorted(signup_sorted, created, side="right"), 1)
    account_pos = order[np.minimum((rng.random(n) * eligible).astype(np.int64), len(order) - 1)]
    account = customers["customer_id"].to_numpy(dtype=object)[account_pos]
    region = customers["region"].astype(object).to_numpy()[account_pos]
    owner_code = rng.integers(0, N_OWNERS, size=n)
    skill = rng.normal(0.0, 0.45, size=N_OWNERS)
    products = tuple(_PRODUCT_EFFECT)
    product_code = rng.choice(len(products), size=n, p=[0.4, 0.2, 0.15, 0.15, 0.1])
    amount = np.round(np.exp(rng.normal(np.log(20_000), 0.8, size=n)), -2).clip(500, None)
    cycle = 30 + rng.gamma(3.0, 20.0, size=n)
    expected_close = created + (cycle * 86_400).astype(np.int64) * 10**9

    # --- account history at creation: orders in the 12 months before
    orders_12m = _orders_before(transactions, account, created)
    month = _dt(created).astype("datetime64[M]").astype(np.int64) % 12
    noise = rng.normal(0.0, 0.35, size=n)
    q = (
        -0.6
        - 0.45 * np.log(amount / 20_000)
        + skill[owner_code]
        + 0.35 * np.log1p(orders_12m)
        + np.array([_PRODUCT_EFFECT[p] for p in products])[product_code]
        + _MONTH_EFFECT[month]
        + noise
    )

    # --- stage path: geometric sojourns with competing advance / loss
    exit_, advance = _rates(q)
    t = created.copy()
    alive = np.ones(n, dtype=bool)
    stage_rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = [(np.arange(n), np.zeros(n, dtype=int), created)]
    outcome = np.full(n, -1)  # 4 won, 5 lost, -1 open at the end
    closed = np.full(n, np.iinfo(np.int64).min)
    for k in range(4):
        days = rng.geometric(exit_[:, k])
        jitter = rng.integers(0, 86_400, size=n) * 10**9
        leave_at = t + days.astype(np.int64) * _DAY + jitter
        forward = rng.random(n) < advance[:, k]
        ends = alive & (leave_at < end_ns)
        lost = ends & ~forward
        nxt = ends & forward
        idx = np.flatnonzero(lost)
        stage_rows.append((idx, np.full(len(idx), 5), leave_at[idx]))
        outcome[lost], closed[lost] = 5, leave_at[lost]
        idx = np.flatnonzero(nxt)
        stage_rows.append((idx, np.full(len(idx), k + 1), leave_at[idx]))
        if k == 3:
            outcome[nxt], closed[nxt] = 4, leave_at[nxt]
        alive = nxt
        t = np.where(nxt, leave_at, t)
    stop = np.where(outcome >= 0, closed, end_ns)  # activities and pushes run until close or the window's end

    ids = _id_col("O", n, 6)
    ids_arr = ids.to_numpy(dtype=object)
    sidx = np.concatenate([r[0] for r in stage_rows])
    scode = np.concatenate([r[1] for r in stage_rows])
    sat = np.concatenate([r[2] for r in stage_rows])
    o = np.lexsort((scode, sat, sidx))
    stages = pd.DataFrame(
        {"opportunity_id": _str_col(ids_arr[sidx[o]].astype(str)), "stage": _str_take(STAGES, scode[o]), "at": _dt(sat[o])}
    )

    # --- activities (Poisson while open) and close-date pushes
    life_days = (stop - created) / _DAY
    rate = _ACTIVITY_RATE * np.exp(0.5 * q)
    counts = rng.poisson(rate * life_days)
    aidx = np.repeat(np.arange(n), counts)
    aat = created[aidx] + (rng.random(len(aidx)) * (stop - created)[aidx] / 10**9).astype(np.int64) * 10**9
    akind = rng.integers(0, len(ACTIVITY_KINDS), size=len(aidx))
    avalue = np.ones(len(aidx))
    pidx, pat = [], []
    due = expected_close.copy()
    for _ in range(60):
        push = due < stop
        if not push.any():
            break
        pidx.append(np.flatnonzero(push))
        pat.append(due[push])
        due = np.where(push, due + _PUSH_DAYS * _DAY, due)
    pidx_a = np.concatenate(pidx) if pidx else np.zeros(0, dtype=int)
    pat_a = np.concatenate(pat) if pat else np.zeros(0, dtype=np.int64)
    kinds = (*ACTIVITY_KINDS, "close_date_pushed")
    all_idx = np.concatenate([aidx, pidx_a])
    all_at = np.concatenate([aat, pat_a])
    all_kind = np.concatenate([akind, np.full(len(pidx_a), len(ACTIVITY_KINDS))])
    all_value = np.concatenate([avalue, np.full(len(pidx_a), float(_PUSH_DAYS))])
    o = np.lexsort((all_kind, all_at, all_idx))
    activities = pd.DataFrame(
        {
            "opportunity_id": _str_col(ids_arr[all_idx[o]].astype(str)),
            "at": _dt(all_at[o]),
            "kind": _str_take(kinds, all_kind[o]),
            "value": all_value[o],
        }
    )

    status = np.array(["open", "won", "lost"], dtype=object)[np.where(outcome == 4, 1, np.where(outcome == 5, 2, 0))]
    opportunities = pd.DataFrame(
        {
            "opportunity_id": ids,
            "account_id": _str_col(account.astype(str)),
            "owner": _str_take(OWNERS, owner_code),
            "amount": amount.astype(float),
            "product": _str_take(products, product_code),
            "region": _str_col(region.astype(str)),
            "created_at": _dt(created),
            "expected_close": _dt(expected_close),
            "status": _str_col(status.astype(str)),
            "closed_at": _dt(np.where(outcome >= 0, closed, np.iinfo(np.int64).min)),
        }
    )
    truth = pd.DataFrame(
        {"opportunity_id": ids.copy(), "quality": q, "p_win": true_win_probability(q, np.zeros(n, dtype=int))}
    )
    return opportunities, stages, activities, truth


def _orders_before(transactions: pd.DataFrame, account: np.ndarray, created: np.ndarray) -> np.ndarray:
    """Orders of each account in the 365 days before ``created`` (vectorised with a sorted search)."""
    if len(transactions) == 0:
        return np.zeros(len(account))
    cust = transactions["customer_id"].to_numpy(dtype=object).astype(str)
    when = transactions["order_date"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    codes, uniques = pd.factorize(pd.Index(cust))
    key_tx = codes.astype(np.int64) * (1 << 42) + (when // 10**9 // 60)  # minutes fit in 42 bits for centuries
    key_tx.sort()
    acc_codes = pd.Index(uniques).get_indexer(pd.Index(account.astype(str)))
    out = np.zeros(len(account))
    known = acc_codes >= 0
    base = acc_codes[known].astype(np.int64) * (1 << 42)
    hi = base + created[known] // 10**9 // 60
    lo = base + (created[known] - 365 * _DAY) // 10**9 // 60
    out[known] = np.searchsorted(key_tx, hi, side="left") - np.searchsorted(key_tx, lo, side="left")
    return out
