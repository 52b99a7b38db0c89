"""salesml forecasting on real public series, beside seasonal naive, ETS and Theta on the same test periods.

Sets (read from ``../shared/data/dev/forecast/``, never copied into the repository):

* ``m1_monthly``: 617 M1 monthly series of different lengths, aligned at their end (step 0); official horizon 18.
* ``tourism_monthly``: 366 Tourism monthly series; official horizon 24.
* ``bikeshare_hourly``: one year of hourly Washington bike rentals with weather; the last 4 weeks are the test,
  forecast day by day (origin each midnight, 24 hours ahead, the model trained once before the test; the
  weather of the forecast hours is given as known-in-advance covariates, as in the ISLP regression setting;
  every other midnight, 14 origins, to bound the run time).

salesml runs as a user would: ``params.calendar: steps``, ``season`` 12 (hourly: 168, a week), the official
horizon, ``selection_metric: mase`` (what this benchmark reports), ``min_history`` one season so short series
are learnt from, and a small holdout (``split.test_fraction: 0.05``) so the shipped model trains on recent
origins. The baselines are salesml's statsmodels wrappers (:mod:`salesml.forecasting.baselines`: seasonal
naive, damped additive Holt-Winters ETS, Theta), fitted per series on the whole training history.

Metrics over all test points: sMAPE (%, 200|f - a| / (|a| + |f|)), MASE (per series, scaled by the in-sample
seasonal naive MAE, then averaged over series) and WAPE; and the wall time of each method.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/real_forecasting.py                # every set
    OMP_WAIT_POLICY=PASSIVE python benchmarks/real_forecasting.py --sets m1_monthly
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "dev" / "forecast"
if not DATA.exists():
    DATA = Path("/work/shared/data/dev/forecast")
BASELINES = ["seasonal_naive", "ets", "theta"]


def scores(test: pd.DataFrame, forecast: np.ndarray, scale: pd.Series) -> dict[str, float]:
    """sMAPE (%), MASE and WAPE of ``forecast`` against ``test['value']`` (``scale``: naive MAE per series)."""
    a, f = test["value"].to_numpy(float), np.asarray(forecast, float)
    denom = np.abs(a) + np.abs(f)
    smape = np.where(denom > 0, 200.0 * np.abs(f - a) / np.where(denom > 0, denom, 1.0), 0.0)
    err = pd.Series(np.abs(f - a)).groupby(test["series_id"].to_numpy()).mean()
    mase = (err / scale.reindex(err.index)).replace([np.inf, -np.inf], np.nan).dropna().mean()
    return {"smape": float(smape.mean()), "mase": float(mase), "wape": float(np.abs(f - a).sum() / np.abs(a).sum())}


def naive_scale(train: pd.DataFrame, m: int) -> pd.Series:
    """In-sample MAE of the seasonal naive forecast per series (the MASE denominator)."""
    def one(g: pd.DataFrame) -> float:
        y = g.sort_values("step")["value"].to_numpy(float)
        return float(np.nanmean(np.abs(y[m:] - y[:-m]))) if len(y) > m else float(np.nanmean(np.abs(np.diff(y))))
    return train.groupby("series_id").apply(one, include_groups=False)


def baselines_at(history: pd.DataFrame, season: int, horizon: int, origin: int) -> tuple[dict[str, pd.DataFrame], dict[str, float]]:
    """Each baseline's forecasts of steps ``origin + 1 .. origin + horizon`` from the history, and its wall time."""
    from salesml.forecasting.baselines import baseline_forecasts
    from salesml.forecasting.panel import build_panel

    panel = build_panel(history, time="step", target="value", keys=["series_id"], calendar="steps", season=season)
    o = int(panel.periods.get_loc(origin))
    series = np.arange(panel.n_series)
    out, took = {}, {}
    for name in BASELINES:
        t0 = time.perf_counter()
        fc = baseline_forecasts(panel, o, horizon, series, [name])[name]
        took[name] = time.perf_counter() - t0
        out[name] = pd.DataFrame({"series_id": np.repeat(panel.series["series"].to_numpy(), horizon),
                                  "step": np.tile(np.arange(origin + 1, origin + 1 + horizon), panel.n_series),
                                  name: fc.ravel()})
    return out, took


def train_salesml(history: pd.DataFrame, season: int, horizon: int, known: list[str], extra: dict | None = None):
    import salesml

    cfg = {
        "task": "forecast",
        "random_state": 0,
        "columns": {"keys": ["series_id"], "time": "step", "label": "value", "known": known, "past": []},
        "params": {"calendar": "steps", "season": season, "horizon": horizon, "min_history": season,
                   "selection_metric": "mase", "baselines": BASELINES, **(extra or {})},
        "split": {"test_fraction": 0.05, "valid_fraction": 0.1},
        "tracking": {"shap_rows": 200},
    }
    return salesml.train(cfg, tables={"sales": history}, tracker=salesml.NullTracker())


def competition(name: str) -> dict:
    from salesml.tasks.forecasting import forecast

    data = pd.read_csv(DATA / f"{name}.csv")
    H = int(data["horizon"].iat[0])
    train, test = data[data["step"] <= 0], data[data["step"] > 0].sort_values(["series_id", "step"])
    history = train[["series_id", "step", "value"]]
    scale = naive_scale(history, 12)
    rows = {}
    t0 = time.perf_counter()
    # long series (Tourism: ~275 months x 366 series x 24 steps) thin the training origins to 600k rows
    thin = {"max_rows": 600_000} if name == "tourism_monthly" else {}
    result = train_salesml(history, 12, H, [], {"backtest_windows": 3, "backtest_step": 6, "calibration_windows": 2, **thin})
    out = forecast(result.scorer, history, reasons="none")
    took = time.perf_counter() - t0
    low = out[out["level"] == "series"].rename(columns={"period": "step"})
    merged = test.merge(low[["series_id", "step", "forecast", "status"]], on=["series_id", "step"], how="left")
    chosen = result.scorer.metadata["task_state"]["forecaster"]
    rows["salesml"] = {**scores(merged, merged["forecast"].fillna(0.0), scale), "seconds": took,
                       "not_forecast": int(merged["forecast"].isna().sum())}
    base, base_took = baselines_at(history, 12, H, 0)
    for b in BASELINES:
        m = test.merge(base[b], on=["series_id", "step"], how="left")
        rows[b] = {**scores(m, m[b], scale), "seconds": base_took[b]}
    lgbm = _model_only(result, history, test, scale)
    rows["salesml LightGBM alone"] = lgbm
    by_h = merged.assign(h=merged["step"])
    early, late = by_h["h"] <= 12, by_h["h"] > 12
    extra = {"shipped": chosen["members"], "backtest scores (mase)": {k: round(v, 3) for k, v in chosen["scores"].items()},
             "salesml smape h1-12": scores(merged[early], merged.loc[early, "forecast"], scale)["smape"],
             "salesml smape h13+": scores(merged[late], merged.loc[late, "forecast"], scale)["smape"]}
    return {"set": name, "horizon": H, "series": int(test["series_id"].nunique()), "rows": rows, "extra": extra}


def _model_only(result, history: pd.DataFrame, test: pd.DataFrame, scale: pd.Series) -> dict:
    """The LightGBM member on its own (what the run would ship with ``model_choice: model``)."""
    from salesml.tasks.forecasting import forecast

    task = result.scorer.task
    saved = task.forecaster_
    task.forecaster_ = None
    try:
        out = forecast(result.scorer, history, reasons="none")
    finally:
        task.forecaster_ = saved
    low = out[out["level"] == "series"].rename(columns={"period": "step"})
    m = test.merge(low[["series_id", "step", "forecast"]], on=["series_id", "step"], how="left")
    return scores(m, m["forecast"].fillna(0.0), scale)


def bikeshare() -> dict:
    from salesml.tasks.forecasting import forecast

    raw = pd.read_csv(DATA / "bikeshare_hourly.csv")
    frame = pd.DataFrame({"series_id": "bikes", "step": (raw["day"] - 1) * 24 + raw["hr"], "value": raw["bikers"].astype(float)})
    weather = ["temp", "atemp", "hum", "windspeed", "workingday", "holiday"]
    for c in weather:
        frame[c] = raw[c].astype(float)
    frame["weather"] = raw["weathersit"].astype("category").cat.codes.astype(float)
    known = [*weather, "weather"]
    observed = frame[["series_id", "step", "value"]]
    # 115 hours have no record: on a full hourly grid their rentals are missing (fill: zero counts them as 0 in the
    # history) and their weather repeats the hour before, so every forecast hour has its covariates
    grid = pd.DataFrame({"step": np.arange(int(frame["step"].min()), int(frame["step"].max()) + 1)})
    frame = grid.merge(frame, on="step", how="left").assign(series_id="bikes")
    frame[known] = frame[known].ffill()
    last = int(frame["step"].max())
    test_start = last - 28 * 24 + 1
    history = frame[frame["step"] < test_start]
    m, H = 168, 24
    scale = naive_scale(history[["series_id", "step", "value"]], m)
    t0 = time.perf_counter()
    result = train_salesml(history, m, H, known, {"backtest_windows": 2, "backtest_step": 24 * 7, "calibration_windows": 1,
                                                  "backtest_valid_periods": 24 * 7})
    fit_s = time.perf_counter() - t0
    model_parts, base_parts, took = [], {b: [] for b in BASELINES}, dict.fromkeys(BASELINES, 0.0)
    t0 = time.perf_counter()
    for origin in range(test_start - 1, last - H + 1, 48):  # every other midnight (14 origins), to bound the time
        seen = frame[frame["step"] <= origin]
        plan = frame[(frame["step"] > origin) & (frame["step"] <= origin + H)].assign(value=np.nan)
        out = forecast(result.scorer, pd.concat([seen, plan], ignore_index=True), reasons="none")
        model_parts.append(out[out["level"] == "series"].rename(columns={"period": "step"})[["series_id", "step", "forecast"]])
        b, t = baselines_at(seen[["series_id", "step", "value"]], m, H, origin)
        for name in BASELINES:
            base_parts[name].append(b[name])
            took[name] += t[name]
    took_model = fit_s + time.perf_counter() - t0 - sum(took.values())
    test = observed[observed["step"] >= test_start]  # scored on the hours with a record
    rows = {}
    fc = pd.concat(model_parts)
    merged = test.merge(fc, on=["series_id", "step"], how="inner")
    rows["salesml"] = {**scores(merged, merged["forecast"], scale), "seconds": took_model}
    for name in BASELINES:
        bm = merged[["series_id", "step", "value"]].merge(pd.concat(base_parts[name]), on=["series_id", "step"], how="left")
        rows[name] = {**scores(bm, bm[name], scale), "seconds": took[name]}
    chosen = result.scorer.metadata["task_state"]["forecaster"]
    return {"set": "bikeshare_hourly", "horizon": H, "series": 1, "rows": rows,
            "extra": {"shipped": chosen["members"], "test hours": len(merged), "origins": len(model_parts),
                      "backtest scores (mase)": {k: round(v, 3) for k, v in chosen["scores"].items()}}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["m1_monthly", "tourism_monthly", "bikeshare_hourly"])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for name in args.sets:
        report = bikeshare() if name == "bikeshare_hourly" else competition(name)
        print(f"\n== {report['set']}: {report['series']} series, horizon {report['horizon']}")
        print(f"{'method':<24}{'sMAPE %':>9}{'MASE':>8}{'WAPE':>8}{'seconds':>9}")
        for method, r in report["rows"].items():
            secs = f"{r['seconds']:9.1f}" if "seconds" in r else " " * 9
            print(f"{method:<24}{r['smape']:9.2f}{r['mase']:8.3f}{r['wape']:8.3f}{secs}")
        for k, v in report["extra"].items():
            print(f"  {k}: {v}")


if __name__ == "__main__":
    main()
