"""Customer value benchmarks: snapshot building, CLV and churn quality, BG/NBD fit time.

Run: ``OMP_WAIT_POLICY=PASSIVE python benchmarks/customer_value.py [--quick]``

Prints:

1. time and peak memory (resident memory added during the call, sampled) to build snapshots for
   100,000 customers with 3 years of orders (plus the pre-existing customers'
   earlier history), for one scoring cutoff and for a churn training set
   (12 training + validation + holdout cutoffs);
2. on the built-in data (20,000 leads, seed 0): CLV RMSE / MAE / Spearman of
   LightGBM, BG/NBD + Gamma-Gamma and the naive "last 12 months" baseline, and
   their rank correlation with the true expected revenue; churn ROC-AUC / PR-AUC
   of LightGBM, the logistic regression, the "orders down 20%" rule and an
   oracle that knows the true hazards;
3. BG/NBD and Gamma-Gamma fit times at 100,000 and 1,000,000 simulated customers;
4. the short-history case (``--short``): the built-in data cut to its last 18 months, a
   39-week horizon (about 9 months of orders before the holdout cutoff, the classic
   "learn 39 weeks, predict the next 39" setting): the cutoff plan chosen, then RMSE,
   normalised Gini, top-10% capture, total error (MAE alongside) of the shipped model,
   LightGBM (trained on the shorter window, taken to 39 weeks by each customer's BG/NBD
   curve), BG/NBD + Gamma-Gamma refitted at the holdout cutoff, the same with the
   parameters of the validation cutoff (not refitted), the hybrid ``w * LightGBM + (1 - w) *
   BG/NBD`` and "last 12 months".
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

import salesml
from salesml.customers import snapshots
from salesml.customers.bgnbd import BetaGeoModel, GammaGammaModel, sample_bgnbd, sample_gamma_gamma
from salesml.tasks.churn import Churn
from salesml.tasks.clv import CLV


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def timed(fn, *args, **kwargs):
    """Run ``fn``; return its result, wall time and the peak resident memory it added (GiB, sampled every 20 ms)."""
    import threading

    base = peak = _rss()
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.02):
            peak = max(peak, _rss())

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    seconds = time.perf_counter() - start
    done.set()
    watcher.join()
    peak = max(peak, _rss())
    return out, seconds, (peak - base) / 2**30


def snapshot_benchmark(n_customers: int) -> None:
    print(f"\n== Snapshots: {n_customers:,} customers, orders 2023-2025 (pre-existing customers from 2021) ==")
    t0 = time.perf_counter()
    crm = salesml.make_crm(max(20_000, n_customers // 12), n_customers=n_customers, random_state=0)
    print(
        f"data: {len(crm.customers):,} customers, {len(crm.transactions):,} order lines, {len(crm.activities):,} activities "
        f"(generated in {time.perf_counter() - t0:.0f}s)"
    )
    tables = Churn.builtin_tables(crm)
    end = snapshots.data_end(crm.transactions)
    one, s, gb = timed(snapshots.build, tables["transactions"], cutoffs=[end], customers=tables["customers"], activities=tables["activities"])
    print(f"scoring snapshot (1 cutoff):            {len(one):>9,} rows x {one.shape[1]} cols  {s:6.1f}s  peak {gb:5.2f} GiB")
    task = Churn()
    plan = task.plan(tables)
    many, s, gb = timed(
        snapshots.build, tables["transactions"], cutoffs=plan.all, horizon="3M", customers=tables["customers"],
        activities=tables["activities"], settings=task.snapshot_settings(),
    )
    print(f"churn training set ({len(plan.all)} cutoffs, active): {len(many):>9,} rows x {many.shape[1]} cols  {s:6.1f}s  peak {gb:5.2f} GiB")
    cuts = pd.date_range("2023-01-01", "2025-12-01", freq="MS")
    every, s, gb = timed(snapshots.build, tables["transactions"], cutoffs=cuts, horizon="12M", customers=tables["customers"], activities=tables["activities"])
    print(f"every month 2023-2025 (36 cutoffs, all): {len(every):>9,} rows x {every.shape[1]} cols  {s:6.1f}s  peak {gb:5.2f} GiB")


def quality_benchmark() -> None:
    print("\n== Quality on the built-in data (20,000 leads, seed 0; holdout = latest complete window) ==")
    crm = salesml.make_crm(20_000, random_state=0)
    t0 = time.perf_counter()
    clv = salesml.train({"task": "clv", "random_state": 0}, tables=CLV.builtin_tables(crm), tracker=salesml.NullTracker())
    print(f"CLV (12 months) trained in {time.perf_counter() - t0:.0f}s; model used: {clv.task.state_['winner']} "
          f"(validation RMSE lightgbm {clv.task.state_['valid_rmse_lightgbm']:,.0f}, bgnbd {clv.task.state_['valid_rmse_bgnbd']:,.0f}, "
          f"hybrid {clv.task.state_['valid_rmse_hybrid']:,.0f} at w={clv.task.state_['hybrid_weight']:.2f})")
    ds = clv.task.build_dataset(CLV.builtin_tables(crm))
    test = ds.frame.iloc[np.flatnonzero(clv.split.test)]
    truth = crm.truth["customers"].set_index("customer_id").loc[test["customer_id"]]
    gone = truth["churned_at"].to_numpy() <= test["cutoff"].to_numpy()
    months = (1 - (1 - truth["churn_hazard"]) ** 12) / -np.log1p(-truth["churn_hazard"])
    true_value = np.where(gone, 0.0, truth["purchase_rate"] * truth["mean_spend"] * months)
    preds = clv.task.baselines(ds, clv.split, clv.scorer.predict_model)
    m = clv.metrics
    print(f"{'model':<14}{'RMSE':>10}{'MAE':>10}{'Spearman':>10}{'total err':>11}{'rho(truth)':>12}")
    for name in ("lightgbm", "bgnbd", "hybrid", "last_period"):
        print(
            f"{name:<14}{m[f'baseline.{name}.rmse']:>10,.0f}{m[f'baseline.{name}.mae']:>10,.0f}{m[f'baseline.{name}.spearman']:>10.3f}"
            f"{m[f'baseline.{name}.total_error']:>+11.1%}{spearmanr(preds[name], true_value).statistic:>12.3f}"
        )
    print(f"{'(oracle)':<14}{np.sqrt(np.mean((true_value - ds.target[clv.split.test]) ** 2)):>10,.0f}"
          f"{np.mean(np.abs(true_value - ds.target[clv.split.test])):>10,.0f}")

    t0 = time.perf_counter()
    churn = salesml.train({"task": "churn", "random_state": 0}, tables=Churn.builtin_tables(crm), tracker=salesml.NullTracker())
    print(f"\nChurn (no order in 3 months) trained in {time.perf_counter() - t0:.0f}s")
    ds = churn.task.build_dataset(Churn.builtin_tables(crm))
    test = ds.frame.iloc[np.flatnonzero(churn.split.test)]
    y = ds.target[churn.split.test]
    truth = crm.truth["customers"].set_index("customer_id").loc[test["customer_id"]]
    gone = truth["churned_at"].to_numpy() <= test["cutoff"].to_numpy()
    hazard, rate = truth["churn_hazard"].to_numpy(), truth["purchase_rate"].to_numpy()
    k = np.arange(1, 4)[:, None]
    p_none = ((1 - hazard) ** (k - 1) * hazard * np.exp(-rate * (k - 0.5))).sum(0) + (1 - hazard) ** 3 * np.exp(-rate * 3)
    m = churn.metrics
    print(f"{'model':<22}{'ROC-AUC':>9}{'PR-AUC':>9}{'recall@10%':>12}{'recall@20%':>12}")
    for label, prefix in (("LightGBM", "test."), ("logistic regression", "baseline.logistic_regression."), ("orders down 20% rule", "baseline.orders_down_rule.")):
        print(f"{label:<22}{m[prefix + 'roc_auc']:>9.3f}{m[prefix + 'pr_auc']:>9.3f}{m[prefix + 'recall_top_10pct']:>12.3f}{m[prefix + 'recall_top_20pct']:>12.3f}")
    print(f"{'oracle (true hazards)':<22}{roc_auc_score(y, np.where(gone, 1.0, p_none)):>9.3f}")


def bgnbd_benchmark(sizes: list[int]) -> None:
    print("\n== BG/NBD + Gamma-Gamma fit time (simulated customers, 3 years in days) ==")
    for n in sizes:
        rng = np.random.default_rng(1)
        data = sample_bgnbd(n, r=0.7, alpha=30.0, a=0.2, b=13.0, T=rng.uniform(30, 1095, n), random_state=2)
        _, s_bg, gb = timed(BetaGeoModel().fit, data["frequency"], data["recency"], data["T"])
        fit = BetaGeoModel().fit(data["frequency"], data["recency"], data["T"])
        money = sample_gamma_gamma(data["frequency"], p=0.9, q=2.1, v=1800.0, random_state=3)
        _, s_gg, _ = timed(GammaGammaModel().fit, data["frequency"], money)
        p = fit.params_
        print(
            f"{n:>10,} customers: BG/NBD {s_bg:5.1f}s (peak {gb:.2f} GiB; r={p['r']:.3f} alpha={p['alpha']:.1f} a={p['a']:.3f} b={p['b']:.2f}), "
            f"Gamma-Gamma {s_gg:4.1f}s"
        )


def _value_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """RMSE, normalised Gini, share of actual revenue in the top 10% predicted, total error, MAE."""
    from salesml.core.metrics import regression_metrics

    m = regression_metrics(y, pred)
    top = np.argsort(-pred, kind="stable")[: max(1, len(pred) // 10)]
    return {
        "rmse": m["rmse"], "gini": m["normalized_gini"], "top10": float(y[top].sum() / y.sum()),
        "total": m["total_error"], "mae": m["mae"],
    }


def short_history_benchmark() -> None:
    print("\n== Short history: built-in data (20,000 leads, seed 0) cut to its last 18 months, 39-week horizon ==")
    crm = salesml.make_crm(20_000, random_state=0)
    tables = CLV.builtin_tables(crm)
    tx = tables["transactions"]
    start = tx["order_date"].max() - pd.DateOffset(months=18)
    tx = tx[tx["order_date"] > start]
    customers = tables["customers"][tables["customers"]["customer_id"].isin(tx["customer_id"])]
    customers = customers.assign(signup_date=customers["signup_date"].clip(lower=start))
    acts = tables["activities"][(tables["activities"]["at"] > start) & tables["activities"]["customer_id"].isin(tx["customer_id"])]
    short = {"transactions": tx, "customers": customers, "activities": acts}
    t0 = time.perf_counter()
    res = salesml.train(
        {"task": "clv", "random_state": 0, "params": {"horizon": "39W"}}, tables=short, tracker=salesml.NullTracker()
    )
    task, state = res.task, res.task.state_
    plan = task.plan_
    print(
        f"{len(customers):,} customers, {len(tx):,} order lines from {tx['order_date'].min():%Y-%m-%d}; trained in "
        f"{time.perf_counter() - t0:.0f}s; plan {plan.mode}: train {[f'{c:%Y-%m}' for c in plan.train]}, valid "
        f"{plan.valid:%Y-%m}, holdout {plan.holdout:%Y-%m-%d}; LightGBM window {plan.train_horizon}; model used: {state['winner']} (hybrid w={state['hybrid_weight']:.2f}; "
        f"validation RMSE lightgbm {state['valid_rmse_lightgbm']:,.0f}, bgnbd {state['valid_rmse_bgnbd']:,.0f}, hybrid {state['valid_rmse_hybrid']:,.0f})"
    )
    ds = task.build_dataset(short)
    test = ds.frame.iloc[np.flatnonzero(res.split.test)]
    y = ds.target[res.split.test]
    preds = task.baselines(ds, res.split, res.scorer.predict_model)
    not_refit = dict(state, bgnbd={"params": state["valid_bgnbd_params"]})
    preds["bgnbd (not refitted)"] = task._bgnbd_revenue(test, not_refit, task.horizon.days, 0.0)
    preds = {"shipped": res.scorer.predict(test), **preds}
    print(f"{'model':<22}{'RMSE':>9}{'Gini':>8}{'top10%':>8}{'total':>8}{'MAE':>8}")
    for name, pred in preds.items():
        m = _value_metrics(y, np.asarray(pred, dtype=float))
        print(f"{name:<22}{m['rmse']:>9,.0f}{m['gini']:>8.4f}{m['top10']:>8.3f}{m['total']:>+8.1%}{m['mae']:>8,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k customers and 100k BG/NBD customers only")
    parser.add_argument("--short", action="store_true", help="only the short-history case")
    args = parser.parse_args()
    if args.short:
        short_history_benchmark()
        return
    snapshot_benchmark(10_000 if args.quick else 100_000)
    quality_benchmark()
    bgnbd_benchmark([100_000] if args.quick else [100_000, 1_000_000])
    short_history_benchmark()


if __name__ == "__main__":
    main()
