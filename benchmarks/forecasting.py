"""Forecasting at scale, and against the baselines.

Prints, for 1,000 and 10,000 weekly series x 3 years (built-in generator):
the time to fit (the whole shared flow without tuning or backtest: features,
split, LightGBM, conformal intervals, SHAP summary) and to predict (reconciled
13-week forecasts with intervals from the history), and the peak resident
memory of the process. Then the rolling-origin backtest WAPE of the model and
of each baseline, with the model / baseline ratio, on the built-in monthly
region x product data and on 1,000 weekly series. ``oracle_wape`` is the WAPE
of the generator's expected values on the same rows: the noise floor no
forecaster can beat (items of 10,000 series are small and noisy).

Each measurement runs in a fresh process so the peak memory is its own.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/forecasting.py            # everything
    OMP_WAIT_POLICY=PASSIVE python benchmarks/forecasting.py --sizes 1000 --no-backtest
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _oracle_wape(rows, truth, keys: list[str], actual) -> float:
    import pandas as pd

    from salesml.core.metrics import wape

    index = pd.MultiIndex.from_frame(rows[["period", *keys]].rename(columns={"period": "date"}))
    expected = truth.set_index(["date", *keys])["expected_sales"].reindex(index).to_numpy()
    return round(wape(actual, expected), 4)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def scale_run(n_series: int) -> dict:
    """Fit and predict on ``n_series`` weekly series x 3 years."""
    import salesml
    from salesml.datasets import make_sales
    from salesml.tasks.forecasting import forecast

    sales, truth = make_sales(n_series=n_series, freq="W", start="2023-01-02", end="2025-12-28", future_periods=13, random_state=0)
    start_mb = _peak_mb()
    t0 = time.perf_counter()
    result = salesml.train(
        {"task": "forecast", "params": {"freq": "W", "backtest_windows": 0}, "columns": {"keys": ["region", "product", "item"]}},
        tables={"sales": sales},
        tracker=salesml.NullTracker(),
    )
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = forecast(result.scorer, sales, reasons="none")
    predict_s = time.perf_counter() - t0
    bottom = out[out["level"] == "series"]
    hold = result.holdout
    keys = ["region", "product", "item"]
    return {
        "series": n_series,
        "history_rows": int(sales["sales"].notna().sum()),
        "training_rows": int(result.split.train.sum() + result.split.valid.sum()),
        "fit_s": round(fit_s, 1),
        "predict_s": round(predict_s, 1),
        "forecast_rows": len(out),
        "series_forecast": int(bottom.loc[bottom["status"] == "ok", "series"].nunique()),
        "holdout_wape": round(result.metrics["test.wape"], 4),
        "oracle_wape": _oracle_wape(hold, truth, keys, hold["actual"] * hold["recent_level"]),
        "peak_rss_mb": round(_peak_mb(), 0),
        "data_rss_mb": round(start_mb, 0),
    }


def backtest_run(kind: str) -> dict:
    """Backtest WAPE of the model and each baseline (and the ratios)."""
    import salesml
    from salesml.datasets import make_sales

    if kind == "monthly":
        crm = salesml.make_crm(20_000, random_state=0)
        sales, truth = make_sales(crm)
        keys = ["region", "product"]
        cfg = {"task": "forecast"}
    else:
        sales, truth = make_sales(n_series=1_000, freq="W", start="2023-01-02", end="2025-12-28", future_periods=13, random_state=0)
        keys = ["region", "product", "item"]
        cfg = {"task": "forecast", "params": {"freq": "W", "baseline_max_series": 300}, "columns": {"keys": keys}}
    t0 = time.perf_counter()
    result = salesml.train(cfg, tables={"sales": sales}, tracker=salesml.NullTracker())
    m = result.metrics
    rows = result.backtest.tables["backtest/forecasts.csv"]
    out = {"data": kind, "seconds": round(time.perf_counter() - t0, 1), "model_wape": round(m["backtest.wape"], 4),
           "oracle_wape": _oracle_wape(rows, truth, keys, rows["actual"])}
    for name in ("seasonal_naive", "ets", "theta"):
        if f"backtest.{name}.wape" in m:
            out[f"{name}_wape"] = round(m[f"backtest.{name}.wape"], 4)
            out[f"ratio_vs_{name}"] = round(m[f"backtest.wape_ratio.{name}"], 3)
    out["coverage_80"] = round(m["backtest.coverage_80"], 3)
    out["coverage_95"] = round(m["backtest.coverage_95"], 3)
    return out


def _child(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[1_000, 10_000])
    parser.add_argument("--no-backtest", action="store_true")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, value = args.child
        result = scale_run(int(value)) if kind == "scale" else backtest_run(value)
        print(json.dumps(result))
        return
    print(f"cores: {os.cpu_count()}, SALESML_NUM_THREADS={os.environ.get('SALESML_NUM_THREADS', 'all')}")
    print("\nfit + predict, weekly series x 3 years (13-week horizon)")
    for n in args.sizes:
        print("  ", _child(["scale", str(n)]), flush=True)
    if not args.no_backtest:
        print("\nrolling-origin backtest (4 windows): WAPE and model / baseline ratios")
        for kind in ("monthly", "weekly"):
            print("  ", _child(["backtest", kind]), flush=True)


if __name__ == "__main__":
    main()
