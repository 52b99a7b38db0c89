"""Rolling-origin backtests: refit on the past, forecast the next window, score against what happened.

Window ``k`` has a forecast origin ``c_k``; the last window ends at the last
observed period and earlier windows step back ``step`` periods each (default:
one horizon, so windows do not overlap). Before the ``windows`` scored windows
come ``calibration_windows`` more on the same grid. For every window:

* the model is refitted with the shared flow's fit (a new encoder, booster and
  calibration; the run's hyperparameters and seed) on rows whose **target
  period is before the validation slice**, early-stopped on the validation
  slice (the ``valid_periods`` origins before ``c_k``, targets up to ``c_k``),
  so everything it learns from ends at ``c_k``, before the window;
* it forecasts from every origin it spans (``c_k`` to ``c_k + step - 1``):
  out-of-sample errors that later windows and the shipped model learn their
  conformal intervals from;
* the window's intervals come from the errors of the ``calibration_windows``
  windows before it whose actuals are known at ``c_k`` (refitted models, never
  the rows they were trained or early-stopped on), so the measured coverage is
  out of sample and is that of the method the shipped model uses; only when no
  earlier window exists do they fall back to the window's validation slice
  (``windows.csv`` says which);
* the baselines (:mod:`salesml.forecasting.baselines`) forecast from the history up to ``c_k``;
* the forecasts from ``c_k`` are summed bottom-up (:mod:`salesml.forecasting.reconcile`)
  and scored at every level.

The shipped model's intervals (:attr:`BacktestReport.state`) are
learnt the same way from the latest ``calibration_windows`` windows.

The scored windows then choose the forecaster to ship
(:mod:`salesml.forecasting.selection`): the model, a baseline or a combination,
whichever scores best on the rows every candidate forecast
(``backtest/candidates.csv``); a chosen forecaster other than the model gets its
intervals from its own errors on those windows.

The statistical baselines cost one fit per series and window; beyond
``max_series`` series they run on a seeded sample of series, and the model is
compared with them on that same sample.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from salesml.forecasting.baselines import available_baselines, baseline_forecasts
from salesml.forecasting.conformal import interval_columns
from salesml.core.metrics import coverage, forecast_metrics, mase, wape
from salesml.forecasting.panel import Panel
from salesml.forecasting.reconcile import BOTTOM, bottom_up, hierarchy_levels
from salesml.forecasting.selection import candidate_forecasts, choose_forecaster, combine
from salesml.core.task import BacktestReport, Dataset, FitPredict



class Forecasting(Protocol):
    """What a backtest needs of the forecasting task (kept structural: the task module imports
    this one, never the other way round)."""

    params: Any
    columns: Any
    horizon: int

    def level_intervals(self, *args: Any, **kwargs: Any) -> Any: ...

    def postprocess(self, *args: Any, **kwargs: Any) -> Any: ...

    def interval_state(self, *args: Any, **kwargs: Any) -> Any: ...

logger = logging.getLogger(__name__)

__all__ = ["rolling_origin", "window_origins", "window_masks"]


def window_origins(panel: Panel, *, horizon: int, windows: int, step: int) -> list[int]:
    """Origin indices of the windows, oldest first; the last window ends at the panel's origin."""
    last = panel.origin - horizon
    return [last - (windows - 1 - k) * step for k in range(windows)]


def window_masks(
    o_idx: np.ndarray, p_idx: np.ndarray, c: int, *, valid_periods: int, span: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(train, valid, rows)`` of the window at origin index ``c`` (rows as boolean masks).

    ``valid``: the ``valid_periods`` origins before ``c`` whose targets are known
    at ``c``; ``train``: rows whose target period is before that slice (purged);
    ``rows``: the window's forecasts, from the ``span`` origins ``c .. c + span - 1``.
    """
    valid = (o_idx >= c - valid_periods) & (o_idx < c) & (p_idx <= c)
    train = p_idx < c - valid_periods
    rows = (o_idx >= c) & (o_idx < c + span)
    return train, valid, rows


def _naive_mae(panel: Panel, origin: int) -> np.ndarray:
    """In-sample MAE of the seasonal naive forecast per series up to ``origin`` (the MASE scale)."""
    m = panel.season
    y = panel.values[:, : origin + 1]
    if y.shape[1] <= m:
        diff = np.abs(np.diff(y, axis=1))
    else:
        diff = np.abs(y[:, m:] - y[:, :-m])
    with np.errstate(invalid="ignore"):
        return np.nanmean(np.where(np.isnan(diff), np.nan, diff), axis=1) if diff.shape[1] else np.full(len(y), np.nan)


@dataclass
class _Refit:
    """One refitted window: its origin index and its out-of-sample predictions for every origin it spans."""

    c: int
    rows: np.ndarray  # dataset positions of the spanned rows
    pred: np.ndarray  # relative predictions for them
    train: np.ndarray  # the window's training mask
    valid: np.ndarray  # its validation mask (the fallback for intervals)
    pred_valid: np.ndarray


def rolling_origin(
    task: Forecasting,
    panel: Panel,
    dataset: Dataset,
    fit_predict: FitPredict,
    *,
    windows: int,
    step: int,
    valid_periods: int,
    baselines: Sequence[str],
    max_series: int,
    calibration_windows: int = 4,
    random_state: int = 0,
) -> BacktestReport:
    """Run the backtest; returns metrics, the forecast / per-series / per-level / window tables, a plot,
    and (``state``) the interval state learnt from the latest windows' out-of-sample errors."""
    H = task.horizon
    frame = dataset.frame
    y_rel = dataset.target
    o_idx = panel.periods.get_indexer(pd.Index(frame["origin"]))
    p_idx = panel.periods.get_indexer(pd.Index(frame["period"]))
    position = pd.Index(panel.series["series"])
    names = available_baselines(baselines)
    level_cols = [c for lv in task.params.intervals for c in interval_columns(lv)]
    keys = panel.keys

    refits: list[_Refit] = []
    for c in window_origins(panel, horizon=H, windows=windows + calibration_windows, step=step):
        train, valid, rows = window_masks(o_idx, p_idx, c, valid_periods=valid_periods, span=step)
        if c < 0 or train.sum() < task.params.min_train_rows or not valid.any() or not (rows & (o_idx == c)).any():
            logger.warning(
                "backtest window at %s skipped: %d training rows (at least %d needed), %d validation rows",
                panel.periods[c] if c >= 0 else "before the data", int(train.sum()),
                task.params.min_train_rows, int(valid.sum()),
            )
            continue
        pred_valid, pred_rows = fit_predict(train, valid, rows)
        refits.append(_Refit(c, np.flatnonzero(rows), np.asarray(pred_rows, float), train, valid, np.asarray(pred_valid, float)))
    metric_origins = set(window_origins(panel, horizon=H, windows=windows, step=step))
    scored = [r for r in refits if r.c in metric_origins]
    if not scored:
        raise ValueError(
            f"No backtest window has enough history: each needs {task.params.min_train_rows} training rows before "
            f"its validation slice. Lower params.backtest_windows (now {windows}) or set it to 0 to skip the backtest."
        )

    window_frames, window_rows = [], []
    for k, refit in enumerate(scored):
        c = refit.c
        window_task = type(task)(columns=task.columns, params=task.params)
        earlier = [r for r in refits if r.c < c][-calibration_windows:] if calibration_windows else []
        source, _ = _fit_intervals(window_task, earlier, y_rel, frame, p_idx, cutoff=c, fallback=refit)
        at_origin = o_idx[refit.rows] == c
        positions = refit.rows[at_origin]
        part = frame.iloc[positions]
        out = window_task.postprocess(refit.pred[at_origin], part)
        result = pd.DataFrame(
            {
                "window": k + 1,
                "series": part["series"].to_numpy(),
                **{key: part[key].to_numpy() for key in keys if key != "series"},
                "origin": part["origin"].to_numpy(),
                "period": part["period"].to_numpy(),
                "h": part["h"].to_numpy(),
                "actual": y_rel[positions] * part["recent_level"].to_numpy(),
                "forecast": out["forecast"].to_numpy(),
                **{col: out[col].to_numpy() for col in level_cols},
                "recent_level": part["recent_level"].to_numpy(),
                "nonnegative": out["forecast"].to_numpy() >= 0,
            }
        )
        s_idx = position.get_indexer(result["series"])
        result["naive_mae"] = _naive_mae(panel, c)[s_idx]
        known_at_c = panel.truncate(c)
        unique = np.unique(s_idx)
        sample = unique
        if len(unique) > max_series:
            rng = np.random.default_rng(random_state + k)
            sample = np.sort(rng.choice(unique, size=max_series, replace=False))
        result["in_sample"] = np.isin(s_idx, sample)
        for name in names:
            chosen = unique if name == "seasonal_naive" else sample
            fc = baseline_forecasts(known_at_c, c, H, chosen, [name])[name]
            lookup = np.full((len(panel.series), H), np.nan)
            lookup[chosen] = fc
            result[name] = lookup[s_idx, result["h"].to_numpy() - 1]
        learnt_from = refit.train | refit.valid
        window_rows.append(
            {
                "window": k + 1,
                "origin": panel.periods[c],
                "first_forecast_period": panel.periods[c + 1],
                "last_forecast_period": panel.periods[min(c + H, panel.origin)],
                "train_rows": int(refit.train.sum()),
                "valid_rows": int(refit.valid.sum()),
                "latest_period_learnt_from": frame["period"][learnt_from].max(),
                "latest_origin_learnt_from": frame["origin"][learnt_from].max(),
                "interval_residuals": source,
                "series_forecast": int(len(unique)),
                "wape": wape(result["actual"], result["forecast"]),
            }
        )
        window_frames.append((result, window_task))

    forecasts = pd.concat([f for f, _ in window_frames], ignore_index=True)
    levels = _levels(window_frames, keys, task, names, level_cols)
    shipped = type(task)(columns=task.columns, params=task.params)
    _, state = _fit_intervals(shipped, refits[-calibration_windows:] if calibration_windows else [], y_rel, frame, p_idx,
                              cutoff=panel.origin, fallback=None)
    forecaster, candidates = choose_forecaster(forecasts, names, metric=task.params.selection_metric)
    if task.params.model_choice == "model":
        forecaster.members = ["model"]
    if not forecaster.uses_model or len(forecaster.members) > 1:  # its own out-of-sample errors on the scored windows
        values = candidate_forecasts(forecasts, names)
        chosen = combine(values, forecaster.members)
        ok = np.isfinite(chosen)
        level = forecasts["recent_level"].to_numpy()
        own = type(task)(columns=task.columns, params=task.params)
        forecaster.intervals = own.interval_state((forecasts["actual"].to_numpy() / level)[ok], (chosen / level)[ok],
                                                   forecasts[ok])["intervals"]
    logger.info("forecaster chosen by backtest (%s on %d rows): %s; candidates: %s", forecaster.metric, forecaster.rows,
                forecaster.name, ", ".join(f"{k} {v:.4f}" for k, v in forecaster.scores.items()))
    state = {**(state or {}), "forecaster": forecaster.to_dict()}
    metrics = _metrics(forecasts, levels, names, task.params.intervals)
    for row in candidates.itertuples():
        metrics[f"backtest.candidate.{_metric_key(row.members)}.{forecaster.metric}"] = float(getattr(row, forecaster.metric))
    metrics[f"backtest.shipped.{forecaster.metric}"] = forecaster.scores[forecaster.name]
    return BacktestReport(
        metrics=metrics,
        tables={
            "backtest/candidates.csv": candidates.assign(shipped=candidates["candidate"] == forecaster.name),
            "backtest/windows.csv": pd.DataFrame(window_rows),
            "backtest/forecasts.csv": forecasts.drop(columns=["nonnegative"]),
            "backtest/per_series.csv": _per_series(forecasts, keys, names),
            "backtest/per_level.csv": _per_level(levels, names, task.params.intervals),
        },
        figures={"plots/forecast_vs_actual.png": _figure(panel, levels, names, task.params.intervals)},
        state=state,
    )


def _metric_key(members: str) -> str:
    """A metric-name-safe key for a candidate: ``theta``, ``mean_model_theta``."""
    parts = members.split("+")
    return parts[0] if len(parts) == 1 else "mean_" + "_".join(parts)


def _fit_intervals(
    task: Forecasting, pool: list[_Refit], y_rel: np.ndarray, frame: pd.DataFrame, p_idx: np.ndarray,
    *, cutoff: int, fallback: _Refit | None,
) -> tuple[str, dict[str, Any] | None]:
    """Fit ``task``'s intervals on the out-of-sample errors of ``pool`` whose actuals are known at ``cutoff``.

    Returns where the residuals came from and the fitted state. With no such
    errors, ``fallback``'s validation slice is used (``("", None)`` when there is
    no fallback either: nothing fitted).
    """
    if pool:
        positions = np.concatenate([r.rows for r in pool])
        preds = np.concatenate([r.pred for r in pool])
        known = p_idx[positions] <= cutoff
        if known.any():
            state = task.interval_state(y_rel[positions[known]], preds[known], frame.iloc[positions[known]])
            return f"{len(pool)} earlier windows ({int(known.sum())} rows)", state
    if fallback is None:
        return "", None
    logger.warning("no earlier backtest window to learn intervals from: using the window's validation slice")
    state = task.interval_state(y_rel[fallback.valid], fallback.pred_valid, frame[fallback.valid])
    return f"validation slice ({int(fallback.valid.sum())} rows)", state


def _levels(window_frames: list[tuple[pd.DataFrame, Any]], keys: list[str], task: Forecasting, names: list[str], level_cols: list[str]) -> pd.DataFrame:
    """Every window's forecasts at every level (bottom-up sums), with each level's own intervals."""
    parts = []
    for result, window_task in window_frames:
        values = ["actual", "forecast", "recent_level", *names]
        stacked = bottom_up(
            result.assign(nonnegative=result["nonnegative"].astype(float), children=1.0),
            keys=keys, values=[*values, "nonnegative", "children"], at=["window", "origin", "period", "h"], levels=task.params.levels,
        )
        for col in level_cols:
            stacked[col] = np.nan
        bottom = stacked["level"] == BOTTOM
        stacked.loc[bottom, level_cols] = result[level_cols].to_numpy()
        for name in names:  # a sampled baseline is only summed where every series below was forecast
            if result[name].isna().any():
                stacked.loc[~bottom, name] = np.nan
        for name, _ in hierarchy_levels(keys, task.params.levels):
            rows = stacked["level"] == name
            sub = stacked[rows]
            all_nonneg = (sub["nonnegative"] >= sub["children"]).to_numpy()
            lo_hi = window_task.level_intervals(name, sub["forecast"].to_numpy(), sub["recent_level"].to_numpy(), sub["h"].to_numpy(), all_nonneg)
            for col, arr in lo_hi.items():
                stacked.loc[rows, col] = arr
        parts.append(stacked.drop(columns=["nonnegative", "children"]))
    return pd.concat(parts, ignore_index=True)


def _metrics(forecasts: pd.DataFrame, levels: pd.DataFrame, names: list[str], intervals: Sequence[float]) -> dict[str, float]:
    out: dict[str, float] = {}
    a, f = forecasts["actual"].to_numpy(), forecasts["forecast"].to_numpy()
    for key, value in forecast_metrics(a, f).items():
        out[f"backtest.{key}"] = value
    out["backtest.mase"] = mase(a, f, forecasts["naive_mae"].to_numpy(), forecasts["series"].to_numpy())
    out["backtest.windows"] = float(forecasts["window"].nunique())
    for lv in intervals:
        lo, hi = interval_columns(lv)
        out[f"backtest.coverage_{lo.split('_', 1)[1]}"] = coverage(a, forecasts[lo], forecasts[hi])
    for name in names:
        rows = forecasts[name].notna().to_numpy()
        b = forecasts[name].to_numpy()[rows]
        out[f"backtest.{name}.wape"] = wape(a[rows], b)
        out[f"backtest.{name}.accuracy"] = 1.0 - out[f"backtest.{name}.wape"]
        out[f"backtest.{name}.mase"] = mase(a[rows], b, forecasts["naive_mae"].to_numpy()[rows], forecasts["series"].to_numpy()[rows])
        base = out[f"backtest.{name}.wape"]
        out[f"backtest.wape_ratio.{name}"] = wape(a[rows], f[rows]) / base if base > 0 else float("nan")
    for name in levels["level"].unique():
        if name == BOTTOM:
            continue
        sub = levels[levels["level"] == name]
        out[f"backtest.{name}.model.wape"] = wape(sub["actual"], sub["forecast"])
        out[f"backtest.{name}.model.accuracy"] = 1.0 - out[f"backtest.{name}.model.wape"]
        for lv in intervals:
            lo, hi = interval_columns(lv)
            out[f"backtest.{name}.model.coverage_{lo.split('_', 1)[1]}"] = coverage(sub["actual"], sub[lo], sub[hi])
        if "seasonal_naive" in names:
            out[f"backtest.{name}.seasonal_naive.wape"] = wape(sub["actual"], sub["seasonal_naive"])
    return out


def _baseline_wapes(g: pd.DataFrame, actual: np.ndarray, names: list[str]) -> dict[str, float]:
    """Each baseline's WAPE on the rows of ``g`` it forecast (NaN where it forecast none)."""
    out = {}
    for name in names:
        b = g[name].to_numpy()
        ok = ~np.isnan(b)
        out[f"{name}_wape"] = wape(actual[ok], b[ok]) if ok.any() else np.nan
    return out


def _per_series(forecasts: pd.DataFrame, keys: list[str], names: list[str]) -> pd.DataFrame:
    rows = []
    for series, g in forecasts.groupby("series", sort=True):
        a, f = g["actual"].to_numpy(), g["forecast"].to_numpy()
        row: dict[str, Any] = {"series": series, **{k: g[k].iat[0] for k in keys if k != "series"}, "n": len(g), "actual_total": float(a.sum())}
        row.update({f"model_{k}": v for k, v in forecast_metrics(a, f).items() if k != "mae"})
        row["model_mase"] = mase(a, f, g["naive_mae"].to_numpy(), g["series"].to_numpy())
        row.update(_baseline_wapes(g, a, names))
        rows.append(row)
    return pd.DataFrame(rows)


def _per_level(levels: pd.DataFrame, names: list[str], intervals: Sequence[float]) -> pd.DataFrame:
    rows = []
    for (level, series), g in levels.groupby(["level", "series"], sort=False):
        a = g["actual"].to_numpy()
        row: dict[str, Any] = {"level": level, "series": series, "n": len(g), "actual_total": float(a.sum())}
        row.update({f"model_{k}": v for k, v in forecast_metrics(a, g["forecast"].to_numpy()).items() if k != "mae"})
        for lv in intervals:
            lo, hi = interval_columns(lv)
            row[f"coverage_{lo.split('_', 1)[1]}"] = coverage(a, g[lo], g[hi])
        row.update(_baseline_wapes(g, a, names))
        rows.append(row)
    return pd.DataFrame(rows)


def _figure(panel: Panel, levels: pd.DataFrame, names: list[str], intervals: Sequence[float]):
    from salesml.core.plots import forecast_plot

    history = pd.Series(np.nansum(panel.values[:, : panel.origin + 1], axis=0), index=panel.periods[: panel.origin + 1])
    total = levels[levels["level"] == levels["level"].iloc[0]]
    return forecast_plot(history, total, baselines=[n for n in names if n in total.columns], intervals=intervals)
