"""Direct multi-step rows: what is known at a forecast origin, and the value ``h`` periods later.

One row per (series, origin, step ``h``). Everything in a row is known at the
origin: lags and rolling statistics of the target up to the origin, past-only
covariates *at* the origin, the calendar of the target period, the planned
known-in-advance covariates *of the target period*, and the series keys and
attributes. The target is the value in period ``origin + h``. One global
LightGBM model learns every step at once (``h`` is a feature).

Target transform: values are divided by the series' **recent level** (mean
absolute value over the last season up to the origin), so one model serves
series of any size and follows trends; the level itself is a feature and the
forecast is ``prediction x level``. Absolute values keep returns (negative
sales) usable, and a series with no sales yet has level 1.

Column names (``<y>`` is the target's name, e.g. ``sales``):

==============================  =====================================================
``series``, keys, attributes    who (keys and attributes are features)
``origin``, ``period``, ``h``   when: the origin, the target period and the step
``recent_level``                mean |y| over the last season (the scale)
``<y>_lag_<j>``                 y at origin - j + 1, relative to the level
``<y>_mean_<w>``                mean y over the last w periods, relative
``<y>_last_year``               y in the target period's season position, in the
                                latest season at or before the origin (a year
                                earlier for h <= season, two for h <= 2 seasons...),
                                relative (weekly: the mean of the 3 weeks around it
                                that are at or before the origin)
``<y>_two_years_ago``           the same one season before that
``<y>_growth``                  last season's sum / the season before's
``<y>_volatility``              std of y over the last season, relative
``zero_share``, ``negative_share``  share of zero / negative periods in the last season
``history_periods``             periods of history up to the origin
``target_month`` (``target_week``)  calendar of the target period (dates)
``season_position``             the target period's step modulo the season (steps)
``<k>``, ``<k>_previous``,      known covariate in the target period, the period
``<k>_last_year``,              before it, a year before it, and the change
``<k>_vs_last_year``            against a year before (a difference)
``<p>_at_origin``, ``<p>_relative``  past-only covariate at the origin, and
                                relative to its mean over the last season
==============================  =====================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from salesml.forecasting.panel import Panel

__all__ = ["ID_COLUMNS", "RowSpec", "build_rows", "feature_columns"]

#: Columns of a row that say who and when, not features.
ID_COLUMNS = ("series", "origin", "period")


@dataclass(frozen=True)
class RowSpec:
    """How rows are built (resolved from the forecasting task's params)."""

    horizon: int
    season: int
    n_lags: int
    windows: tuple[int, ...]
    min_history: int
    target: str
    known: tuple[str, ...] = ()
    past: tuple[str, ...] = ()
    static: tuple[str, ...] = ()
    weekly: bool = False
    steps: bool = False


def feature_columns(spec: RowSpec, keys: Sequence[str]) -> list[str]:
    """Every generated column name (used to detect clashes with the user's columns)."""
    y = spec.target
    names = ["h", "recent_level", *[f"{y}_lag_{j}" for j in range(1, spec.n_lags + 1)]]
    names += [f"{y}_mean_{w}" for w in spec.windows]
    names += [f"{y}_last_year", f"{y}_two_years_ago", f"{y}_growth", f"{y}_volatility"]
    names += ["zero_share", "negative_share", "history_periods"]
    names += ["season_position"] if spec.steps else ["target_month", *(["target_week"] if spec.weekly else [])]
    for k in spec.known:
        names += [k, f"{k}_previous", f"{k}_last_year", f"{k}_vs_last_year"]
    for p in spec.past:
        names += [f"{p}_at_origin", f"{p}_relative"]
    return names


def _window(cum: np.ndarray, end: np.ndarray, width: int) -> np.ndarray:
    """Sum over periods (end - width, end] from a cumulative sum with a leading zero column."""
    hi = np.clip(end + 1, 0, cum.shape[1] - 1)
    lo = np.clip(hi - width, 0, None)
    rows = np.arange(cum.shape[0])[:, None]
    return cum[rows, hi] - cum[rows, lo]


def _take(arr: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``arr[s, idx[s, j]]`` with NaN where the index is outside the calendar."""
    T = arr.shape[1]
    ok = (idx >= 0) & (idx < T)
    rows = np.arange(arr.shape[0])[:, None]
    out = arr[rows, np.clip(idx, 0, T - 1)]
    return np.where(ok, out, np.nan)


def _seasonal(Y: np.ndarray, src: int, origin: int, *, weekly: bool) -> np.ndarray:
    """``Y[:, src]`` (weekly: the mean of the 3 weeks around it), never reading a period after ``origin``."""
    offsets = (-1, 0, 1) if weekly else (0,)
    cols = [src + d for d in offsets if src + d <= origin]
    if not cols:
        return np.full(Y.shape[0], np.nan)
    around = np.stack([_take(Y, np.full((Y.shape[0], 1), c))[:, 0] for c in cols], axis=1)
    seen = ~np.isnan(around)
    return np.where(seen.any(axis=1), np.nansum(around, axis=1) / np.maximum(seen.sum(axis=1), 1), np.nan)


def build_rows(
    panel: Panel,
    spec: RowSpec,
    origins: Sequence[int],
    *,
    with_target: bool,
    steps: Sequence[int] | None = None,
    only: np.ndarray | None = None,
) -> tuple[pd.DataFrame, np.ndarray | None, pd.DataFrame]:
    """Rows for every eligible series at each origin (period index) and step.

    A series is eligible at an origin when it has at least ``min_history``
    periods of history there and has not ended before it; the others are
    returned in the third frame (``series``, ``origin``, ``reason``). ``only``
    (a boolean mask over series) restricts the rows to some series (the others
    are neither built nor refused). With ``with_target``, rows whose target
    period is not observed are left out and the relative target is returned;
    otherwise targets are ``None``.
    """
    steps = list(steps) if steps is not None else list(range(1, spec.horizon + 1))
    m = spec.season
    Y = panel.values
    S = Y.shape[0]
    obs = ~np.isnan(Y)
    y0 = np.where(obs, Y, 0.0)

    def cum(a: np.ndarray) -> np.ndarray:
        return np.concatenate([np.zeros((S, 1)), np.cumsum(a, axis=1)], axis=1)

    c_y, c_abs, c_sq, c_n = cum(y0), cum(np.abs(y0)), cum(y0 * y0), cum(obs.astype(float))
    c_zero, c_neg = cum((obs & (y0 == 0)).astype(float)), cum((y0 < 0).astype(float))
    past_cum = {p: (cum(np.nan_to_num(v)), cum((~np.isnan(v)).astype(float))) for p, v in panel.past.items() if p in spec.past}

    parts: dict[str, list[np.ndarray]] = {}
    targets, refused = [], []
    keys_frame = panel.series

    def add(name: str, values: np.ndarray) -> None:
        parts.setdefault(name, []).append(values)

    for o in origins:
        o = int(o)
        end = np.full((S, 1), o)
        history = (o - panel.first + 1).clip(min=0)
        ended = panel.last < o
        eligible = (history >= spec.min_history) & ~ended
        wanted = np.ones(S, dtype=bool) if only is None else only
        for s in np.flatnonzero(~eligible & wanted):
            if history[s] == 0:
                reason = "no history before the forecast origin (the series starts later: cold start)"
            elif ended[s]:
                reason = (f"the series ended at {panel.show(int(panel.last[s]))}, {o - int(panel.last[s])} period(s) before "
                          "the origin (not counted as zero sales); forecast it from its own end with "
                          "params.origin: per_series, or add rows with 0 if it sold nothing since")
            else:
                reason = f"only {int(history[s])} period(s) of history at the origin; at least {spec.min_history} are needed"
            refused.append({"series": keys_frame["series"].iat[s], "origin": panel.periods[o], "reason": reason})
        eligible &= wanted
        if not eligible.any():
            continue
        n_season = _window(c_n, end, m)[:, 0]
        n_all = c_n[:, o + 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            level = _window(c_abs, end, m)[:, 0] / n_season
            level = np.where(np.isfinite(level) & (level > 0), level, c_abs[:, o + 1] / n_all)
            level = np.where(np.isfinite(level) & (level > 0), level, 1.0)
            per_origin: dict[str, np.ndarray] = {"recent_level": level}
            for j in range(1, spec.n_lags + 1):
                per_origin[f"{spec.target}_lag_{j}"] = _take(Y, end - j + 1)[:, 0] / level
            for w in spec.windows:
                per_origin[f"{spec.target}_mean_{w}"] = _window(c_y, end, w)[:, 0] / _window(c_n, end, w)[:, 0] / level
            last, before = _window(c_y, end, m)[:, 0], _window(c_y, end - m, m)[:, 0]
            full_before = _window(c_n, end - m, m)[:, 0] >= m
            per_origin[f"{spec.target}_growth"] = np.where(full_before & (before > 0), last / before, np.nan)
            mean = _window(c_y, end, m)[:, 0] / n_season
            var = _window(c_sq, end, m)[:, 0] / n_season - mean**2
            per_origin[f"{spec.target}_volatility"] = np.sqrt(np.maximum(var, 0.0)) / level
            per_origin["zero_share"] = _window(c_zero, end, m)[:, 0] / n_season
            per_origin["negative_share"] = _window(c_neg, end, m)[:, 0] / n_season
            per_origin["history_periods"] = history.astype(float)
            for p, (cs, cn) in past_cum.items():
                at = panel.past[p][:, o]
                per_origin[f"{p}_at_origin"] = at
                per_origin[f"{p}_relative"] = at / (_window(cs, end, m)[:, 0] / _window(cn, end, m)[:, 0])

        sel = np.flatnonzero(eligible)
        for h in steps:
            t = o + h
            if with_target and t > panel.origin:
                continue
            if with_target:
                y_t = _take(Y, np.full((S, 1), t))[:, 0]
                keep = sel[~np.isnan(y_t[sel])]
            else:
                keep = sel
            if len(keep) == 0:
                continue
            Yk = Y[keep]
            # the same season position, the latest season at or before the origin (h > season reaches back further)
            back = m * max(1, -(-h // m))
            ly = _seasonal(Yk, t - back, o, weekly=spec.weekly)
            two = _seasonal(Yk, t - back - m, o, weekly=False)
            lk = level[keep]
            period = panel.label(t)
            n = len(keep)
            add("_s", keep)
            if panel.steps:
                add("origin", np.full(n, int(panel.periods[o]), dtype=np.int64))
                add("period", np.full(n, int(period), dtype=np.int64))
            else:
                period = pd.Timestamp(period)
                add("origin", np.full(n, panel.periods[o].to_datetime64()))
                add("period", np.full(n, period.to_datetime64()))
            add("h", np.full(n, h, dtype=np.int64))
            if spec.steps:
                add("season_position", np.full(n, float(int(period) % m)))
            else:
                add("target_month", np.full(n, float(period.month)))
            if spec.weekly:
                add("target_week", np.full(n, float(period.isocalendar().week)))
            for name, arr in per_origin.items():
                add(name, arr[keep])
            add(f"{spec.target}_last_year", ly / lk)
            add(f"{spec.target}_two_years_ago", two / lk)
            tgt = np.full((len(keep), 1), t)
            for k in spec.known:
                arr = panel.known[k][keep]
                now, ago = _take(arr, tgt)[:, 0], _take(arr, tgt - m)[:, 0]
                add(k, now)
                add(f"{k}_previous", _take(arr, tgt - 1)[:, 0])
                add(f"{k}_last_year", ago)
                add(f"{k}_vs_last_year", now - ago)
            if with_target:
                targets.append(y_t[keep] / lk)

    ids = [c for c in [*panel.keys, *spec.static] if c != "series"]
    columns = ["series", *ids, "origin", "period", *feature_columns(spec, panel.keys)]
    if parts:
        idx = np.concatenate(parts.pop("_s"))
        data: dict[str, Any] = {"series": keys_frame["series"].take(idx).reset_index(drop=True)}
        for c in ids:
            data[c] = keys_frame[c].take(idx).reset_index(drop=True)
        for name, arrays in parts.items():
            data[name] = np.concatenate(arrays)
        frame = pd.DataFrame(data)
        frame = frame[[c for c in columns if c in frame.columns]]
        for c in ("origin", "period"):
            frame[c] = frame[c].astype("int64" if panel.steps else "datetime64[ns]")
    else:
        frame = pd.DataFrame(columns=columns)
    target = np.concatenate(targets) if with_target and targets else (np.array([], dtype=float) if with_target else None)
    return frame, target, pd.DataFrame(refused, columns=["series", "origin", "reason"])

