"""CLV on a real order log: salesml beside a lifetimes-style BG/NBD + Gamma-Gamma on the same customers.

Run: ``OMP_WAIT_POLICY=PASSIVE python benchmarks/real_customer_value.py ORDERS.csv --customer id --date date
--amount sales [--date-format %Y%m%d] [--calibration-end 1997-10-01] [--horizon 39W]``

The classic setting (Fader, Hardie & Lee on CDNOW): learn from the orders before the
calibration end (default: 39 weeks after the first order), predict each customer's spend in the
next ``horizon``. The customers are those first seen before the calibration end; every one of
them is scored, zero-spend ones included.

* **anchor** (what a lifetimes user runs): orders summed per customer and day, frequency = days
  with a purchase after the first, recency and T in days, BG/NBD and Gamma-Gamma
  (:mod:`salesml.customers.bgnbd`, which matches lifetimes on the same summary) fitted on the
  calibration period, expected revenue over the horizon;
* **salesml**: the CLV task trained on the same log with monthly cutoffs ending at the
  calibration end as its holdout cutoff (its short-history plan when the log is short), its
  shipped model and each candidate (LightGBM, BG/NBD, hybrid) on the holdout.

Prints RMSE, normalised Gini, top-10% capture (share of actual revenue in the top 10%
predicted), total error and MAE (alongside only) per model, on the same rows. No data is
written anywhere; nothing here is used by tests.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import pandas as pd

import salesml
from salesml.customers import snapshots
from salesml.customers.bgnbd import BetaGeoModel, GammaGammaModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
from customer_value import _value_metrics  # noqa: E402


def lifetimes_style(orders: pd.DataFrame, calibration_end: pd.Timestamp, horizon_days: float) -> pd.Series:
    """Expected revenue over the horizon per customer first seen before ``calibration_end``."""
    cal = orders[orders["date"] < calibration_end]
    daily = cal.groupby(["customer", cal["date"].dt.normalize()])["amount"].sum().reset_index()
    daily = daily[daily["amount"] > 0]
    first = daily.groupby("customer")["date"].min()
    last = daily.groupby("customer")["date"].max()
    days = daily.groupby("customer").size()
    x = (days - 1).astype(float)
    recency = (last - first).dt.days.astype(float)
    T = ((calibration_end - pd.Timedelta(days=1)).normalize() - first).dt.days.astype(float)
    first_value = daily.sort_values("date").groupby("customer")["amount"].first()
    total = daily.groupby("customer")["amount"].sum()
    monetary = ((total - first_value) / x.where(x > 0)).reindex(x.index)
    bg = BetaGeoModel().fit(x, recency, T)
    gg = GammaGammaModel().fit(x, monetary.fillna(0.0))
    value = bg.expected_purchases(horizon_days, x, recency, T) * gg.expected_spend(x, monetary.to_numpy())
    print(f"anchor BG/NBD {({k: round(v, 4) for k, v in bg.params_.items()})}, Gamma-Gamma {({k: round(v, 3) for k, v in gg.params_.items()})}")
    return pd.Series(np.nan_to_num(value), index=x.index)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("orders", help="order lines (CSV or Parquet)")
    parser.add_argument("--customer", default="customer_id")
    parser.add_argument("--date", default="order_date")
    parser.add_argument("--amount", default="amount")
    parser.add_argument("--order-id", default=None)
    parser.add_argument("--date-format", default=None, help="strftime codes, e.g. %%Y%%m%%d (YYYYMMDD is read by default)")
    parser.add_argument("--calibration-end", default=None, help="holdout cutoff (default: 39 weeks after the first order)")
    parser.add_argument("--horizon", default="39W")
    parser.add_argument("--duplicates", default="keep", choices=["keep", "drop", "error"])
    args = parser.parse_args()

    raw = pd.read_parquet(args.orders) if args.orders.endswith(".parquet") else pd.read_csv(args.orders)
    h = snapshots.parse_horizon(args.horizon)
    dates = snapshots.parse_dates(raw[args.date], args.date_format)
    orders = pd.DataFrame({"customer": raw[args.customer].astype(str), "date": dates, "amount": pd.to_numeric(raw[args.amount])})
    start = orders["date"].min().normalize()
    cal_end = pd.Timestamp(args.calibration_end) if args.calibration_end else start + pd.Timedelta(weeks=39)
    print(f"{len(raw):,} order lines, {orders['customer'].nunique():,} customers, {start:%Y-%m-%d} to {orders['date'].max():%Y-%m-%d}; "
          f"calibration end {cal_end:%Y-%m-%d}, horizon {h}")

    anchor = lifetimes_style(orders, cal_end, h.days)

    columns = {"id": args.customer, "order_date": args.date, "amount": args.amount, "order_id": args.order_id,
               "product": None, "channel": None, "signup": None, "attributes": []}
    # monthly cutoffs from 3 months in (enough customers to learn from) to the calibration end, the holdout
    cutoffs = [c for c in pd.date_range(start + pd.DateOffset(months=3), cal_end, freq="MS") if c < cal_end] + [cal_end]
    params = {"horizon": args.horizon, "cutoffs": [str(c) for c in sorted(set(cutoffs))],
              "duplicates": args.duplicates, "date_format": args.date_format, "as_of": str(orders["date"].max() + pd.Timedelta(days=1))}
    t0 = time.perf_counter()
    result = salesml.train({"task": "clv", "random_state": 0, "columns": columns, "params": params},
                           tables={"transactions": raw}, tracker=salesml.NullTracker())
    task, state = result.task, result.task.state_
    plan = task.plan_
    print(f"salesml trained in {time.perf_counter() - t0:.0f}s: plan {plan.mode}, {len(plan.train)} training cutoffs, valid "
          f"{plan.valid:%Y-%m-%d}, holdout {plan.holdout:%Y-%m-%d}, LightGBM window {plan.train_horizon}; model used {state['winner']}")
    dataset = task.build_dataset({"transactions": raw})
    test = dataset.frame.iloc[np.flatnonzero(result.split.test)]
    y = dataset.target[result.split.test]
    ids = test[args.customer].astype(str).to_numpy()
    preds = {"salesml (shipped)": result.scorer.predict(test), **{f"salesml {k}": v for k, v in task.baselines(dataset, result.split, result.scorer.predict_model).items()}}
    preds["anchor BG/NBD (lifetimes-style)"] = anchor.reindex(ids).fillna(0.0).to_numpy()
    print(f"{len(ids):,} customers scored (anchor covers {anchor.index.isin(ids).sum():,}; buyers in the holdout {int((y > 0).sum()):,})")
    print(f"{'model':<34}{'RMSE':>9}{'Gini':>8}{'top10%':>8}{'total':>8}{'MAE':>10}")
    for name, pred in preds.items():
        m = _value_metrics(y, np.asarray(pred, dtype=float))
        print(f"{name:<34}{m['rmse']:>9,.2f}{m['gini']:>8.3f}{m['top10']:>8.3f}{m['total']:>+8.1%}{m['mae']:>10,.2f}")


if __name__ == "__main__":
    main()
