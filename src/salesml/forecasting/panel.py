"""Sales series on a regular calendar: periods, gap filling, and sales aggregated from transactions.

A :class:`Panel` holds every series of a sales table as dense ``(series, period)``
arrays on one calendar, which is what the forecasting features, the baselines
and the backtest read. Calendars: ``calendar="dates"`` with frequency ``"M"``
(calendar months, labelled by their first day) or ``"W"`` (weeks Monday to
Sunday, labelled by their Monday); or ``calendar="steps"``: the time column holds
integer period numbers (step -40 ... 0, week 1 ... 156), consecutive integers
are consecutive periods, and the season length is given (``season=12`` for
monthly steps, ``24`` for hours in a day).

Fill rules (applied in this order, and logged with counts):

* Every date is assigned to its period. Several rows of one series in one
  period (daily rows into months, say) are combined: targets summed, covariates
  averaged. The same series and *date* twice is a data error (reported by the
  forecasting task's validation, not silently summed).
* A series runs from its first to its last period with an observed target
  (``first[s]``, ``last[s]``): series may start and end at different periods
  (ragged). The table's **origin** is the last period observed in any series.
  Periods inside a series' life without a row, or with a missing target, are
  filled with 0 (``fill="zero"``: no record means no sale, the default), with
  the previous value (``fill="previous"``) or left missing (``fill="missing"``:
  the features skip them). After a series' last observation nothing is filled:
  a series that stops early has *ended* there (the forecasting task forecasts
  it from its own end or reports it, see ``params.origin``), it is never
  silently counted as zero sales up to the table's origin.
* Known-in-advance covariates (promotions, prices): missing values up to the
  origin repeat the previous value of the series (0 before the first one);
  after the origin nothing is filled: the plan must be given (see
  :meth:`Panel.missing_plan`).
* Past-only covariates: missing values repeat the previous value (0 before the
  first one); after the origin they are unknown and never read.
* Static attributes: the first non-missing value of the series.
* Declared structural breaks (``breaks``): the history of matching series
  before the break date is dropped, so the series restarts at the break.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from salesml.core.contracts import parse_datetime

logger = logging.getLogger(__name__)

__all__ = ["Panel", "build_panel", "period_start", "sales_from_transactions", "level_shifts", "FREQUENCIES", "SERIES_SEPARATOR"]

#: Supported frequencies: name -> (pandas period alias, pandas date-range alias, periods per year).
FREQUENCIES: dict[str, tuple[str, str, int]] = {"M": ("M", "MS", 12), "W": ("W-SUN", "W-MON", 52)}
#: Calendars: ISO dates on a month / week frequency, or integer period numbers.
CALENDARS = ("dates", "steps")
#: Joins key values into a series name ("north/core").
SERIES_SEPARATOR = "/"


def _check_freq(freq: str) -> None:
    if freq not in FREQUENCIES:
        raise ValueError(f"freq must be 'M' (months) or 'W' (weeks starting Monday). Got {freq!r} instead.")


def period_start(dates: pd.Series, freq: str) -> pd.Series:
    """The start of the period each date falls in (month start, or the Monday of its week)."""
    _check_freq(freq)
    parsed = parse_datetime(dates)
    return parsed.dt.to_period(FREQUENCIES[freq][0]).dt.start_time.astype("datetime64[ns]")


def period_steps(values: pd.Series, column: str) -> pd.Series:
    """Integer period numbers from a step column (``ValueError`` naming the bad rows when some are not integers)."""
    num = pd.to_numeric(values, errors="coerce")
    bad = num.isna() | (num.notna() & (num != np.round(num)))
    if bad.any():
        shown = ", ".join(f"row {i}: {values.loc[i]!r}" for i in values.index[bad.to_numpy()][:5])
        raise ValueError(
            f"{int(bad.sum())} rows have no integer period number in column '{column}' ({shown}). With "
            "params.calendar: steps the time column holds whole numbers (step -40 ... 0, week 1 ... 156); "
            "use params.calendar: dates for ISO dates."
        )
    return num.astype(np.int64)


def series_names(frame: pd.DataFrame, keys: Sequence[str]) -> pd.Series:
    """One name per row from its key values, e.g. ``north/core``."""
    if not keys:
        return pd.Series("total", index=frame.index, dtype=object)
    parts = [frame[k].astype("string").fillna("(missing)").astype(object) for k in keys]
    out = parts[0]
    for p in parts[1:]:
        out = out + SERIES_SEPARATOR + p
    return out.astype(object)


@dataclass
class Panel:
    """Series as dense ``(series, period)`` arrays on one calendar.

    ``values`` is NaN before a series starts and after it ends; ``known``
    covariates may extend past the origin (the plan); ``past`` covariates are
    NaN after it. ``first[s]`` / ``last[s]`` are the indices of series ``s``'s
    first and last observed periods (``first`` is ``len(periods)`` when it has
    none up to the origin). ``periods`` are dates, or integers with
    ``calendar="steps"``.
    """

    series: pd.DataFrame
    periods: pd.DatetimeIndex
    values: np.ndarray
    known: dict[str, np.ndarray]
    past: dict[str, np.ndarray]
    first: np.ndarray
    origin: int
    freq: str
    keys: list[str]
    target: str
    fills: dict[str, int] = field(default_factory=dict)
    calendar: str = "dates"
    season_length: int | None = None  # overrides the frequency's (always set with steps)
    last: np.ndarray | None = None  # defaults to the origin for every series

    def __post_init__(self) -> None:
        if self.last is None:
            self.last = np.where(self.first < len(self.periods), self.origin, -1)

    @property
    def n_series(self) -> int:
        return len(self.series)

    @property
    def season(self) -> int:
        return self.season_length or FREQUENCIES[self.freq][2]

    @property
    def steps(self) -> bool:
        return self.calendar == "steps"

    @property
    def origin_date(self) -> Any:
        """The origin's label (a date, or a step number)."""
        return self.periods[self.origin]

    def labels(self, start: int, count: int) -> pd.Index:
        """Labels of the ``count`` periods from index ``start`` (extrapolated past the calendar)."""
        if self.steps:
            return pd.Index(np.arange(count, dtype=np.int64) + int(self.periods[0]) + start)
        alias = FREQUENCIES[self.freq][1]
        return pd.date_range(self.periods[0], periods=start + count, freq=alias)[start:]

    def label(self, t: int) -> Any:
        """The label of period index ``t`` (may be past the calendar)."""
        return self.periods[t] if 0 <= t < len(self.periods) else self.labels(t, 1)[0]

    def show(self, t: int) -> str:
        """Period index ``t`` for messages: ``2024-03-01`` or ``-4``."""
        label = self.label(t)
        return str(label) if self.steps else str(pd.Timestamp(label).date())

    def future_periods(self, horizon: int, origin: int | None = None) -> pd.Index:
        """The ``horizon`` periods after the origin (or after period index ``origin``)."""
        return self.labels((self.origin if origin is None else origin) + 1, horizon)

    def extend(self, horizon: int) -> Panel:
        """The same panel with its calendar reaching at least ``horizon`` periods past the origin."""
        need = self.origin + 1 + horizon - len(self.periods)
        if need <= 0:
            return self
        periods = self.periods.append(self.labels(len(self.periods), need))
        pad = np.full((self.n_series, need), np.nan)
        return Panel(
            series=self.series,
            periods=periods,
            values=np.concatenate([self.values, pad], axis=1),
            known={k: np.concatenate([v, pad], axis=1) for k, v in self.known.items()},
            past={k: np.concatenate([v, pad], axis=1) for k, v in self.past.items()},
            first=np.where(self.first >= len(self.periods), len(periods), self.first),
            origin=self.origin,
            freq=self.freq,
            keys=self.keys,
            target=self.target,
            fills=self.fills,
            calendar=self.calendar,
            season_length=self.season_length,
            last=self.last,
        )

    def missing_plan(self, horizon: int, *, per_series: bool = False) -> pd.DataFrame:
        """Known covariates missing in the ``horizon`` periods after the origin: one row per (series, column).

        With ``per_series``, each series' own ``horizon`` periods after its last observation are checked;
        otherwise those after the common origin, for the series observed there (ended ones are not forecast).
        """
        rows = []
        starts = self.last + 1 if per_series else np.full(self.n_series, self.origin + 1)
        checked = self.last >= 0 if per_series else self.last == self.origin
        idx = starts[:, None] + np.arange(horizon)[None, :]
        for name, arr in self.known.items():
            T = arr.shape[1]
            block = np.where(idx < T, np.take_along_axis(arr, np.clip(idx, 0, T - 1), axis=1), np.nan)
            bad = np.isnan(block)
            for s in np.flatnonzero(bad.any(axis=1) & checked):
                rows.append({"series": self.series["series"].iat[s], "column": name, "missing_periods": int(bad[s].sum())})
        return pd.DataFrame(rows, columns=["series", "column", "missing_periods"])

    def truncate(self, origin: int) -> Panel:
        """The panel as it was known at an earlier origin: targets and past covariates after it hidden."""
        if not 0 <= origin <= self.origin:
            raise ValueError(f"origin must be between 0 and {self.origin}. Got {origin} instead.")
        values = self.values.copy()
        values[:, origin + 1 :] = np.nan
        past = {k: v.copy() for k, v in self.past.items()}
        for v in past.values():
            v[:, origin + 1 :] = np.nan
        first = np.where(self.first > origin, len(self.periods), self.first)
        has = ~np.isnan(values[:, : origin + 1])
        last = np.where(has.any(axis=1), origin - np.argmax(has[:, ::-1], axis=1), -1)
        return Panel(self.series, self.periods, values, self.known, past, first, origin, self.freq, self.keys, self.target,
                     self.fills, self.calendar, self.season_length, last)


def build_panel(
    table: pd.DataFrame,
    *,
    time: str,
    target: str,
    keys: Sequence[str] = (),
    known: Sequence[str] = (),
    past: Sequence[str] = (),
    static: Sequence[str] = (),
    freq: Literal["M", "W"] = "M",
    fill: Literal["zero", "previous", "missing"] = "zero",
    breaks: Sequence[Mapping[str, Any]] = (),
    calendar: Literal["dates", "steps"] = "dates",
    season: int | None = None,
) -> Panel:
    """Put a sales table on a regular calendar (see the module docstring for the fill rules).

    ``breaks`` is a list of ``{"date": ..., "where": {key: value, ...}}``: matching
    series (all series when ``where`` is empty) lose their history before ``date``
    (a step number with ``calendar="steps"``). ``season`` is the season length
    (required with steps; default: 12 months or 52 weeks).
    """
    if calendar not in CALENDARS:
        raise ValueError(f"calendar must be 'dates' or 'steps'. Got {calendar!r} instead.")
    if calendar == "steps" and (season is None or season < 1):
        raise ValueError(
            f"A step calendar needs its season length: pass season= (params.season), e.g. 12 for monthly steps, "
            f"52 for weekly, 24 for hourly, 1 for none. Got {season!r} instead."
        )
    if calendar == "dates":
        _check_freq(freq)
    if fill not in ("zero", "previous", "missing"):
        raise ValueError(f"fill must be 'zero', 'previous' or 'missing'. Got {fill!r} instead.")
    keys = list(keys)
    if calendar == "steps":
        period = period_steps(table[time], time)
    else:
        period = period_start(table[time], freq)
        if period.isna().any():
            raise ValueError(f"{int(period.isna().sum())} rows have no parseable date in column '{time}'.")
    y = pd.to_numeric(table[target], errors="coerce") if target in table.columns else pd.Series(np.nan, index=table.index)
    work = pd.DataFrame({"series": series_names(table, keys).to_numpy(), "period": period.to_numpy(), "y": y.to_numpy(dtype=float)})
    for c in [*known, *past]:
        work[f"k::{c}"] = pd.to_numeric(table[c], errors="coerce").to_numpy(dtype=float)
    by = work.groupby(["series", "period"], sort=True)
    grouped = by[["y"]].sum(min_count=1)
    covariates = [c for c in work.columns if c.startswith("k::")]
    if covariates:
        grouped = grouped.join(by[covariates].mean())
    combined = len(work) - len(grouped)
    observed = grouped["y"].notna()
    if not observed.any():
        raise ValueError(f"No row has a value in the target column '{target}': there is no history to learn from.")

    names = grouped.index.get_level_values("series").unique()
    first_row = table.assign(_series=series_names(table, keys).to_numpy()).drop_duplicates("_series").set_index("_series")
    series = pd.DataFrame({"series": np.asarray(names, dtype=object)})
    for c in [*keys, *static]:
        series[c] = first_row.loc[names, c].to_numpy() if c in keys else _first_valid(table, keys, c).reindex(names).to_numpy()

    all_periods = grouped.index.get_level_values("period")
    if calendar == "steps":
        periods = pd.Index(np.arange(int(all_periods.min()), int(all_periods.max()) + 1, dtype=np.int64))
    else:
        periods = pd.date_range(all_periods.min(), all_periods.max(), freq=FREQUENCIES[freq][1])
    s_code = pd.Index(names).get_indexer(grouped.index.get_level_values("series"))
    t_code = periods.get_indexer(all_periods)
    S, T = len(names), len(periods)

    def dense(col: str) -> np.ndarray:
        out = np.full((S, T), np.nan)
        out[s_code, t_code] = grouped[col].to_numpy(dtype=float)
        return out

    values = dense("y")
    has = ~np.isnan(values)
    origin = int(np.flatnonzero(has.any(axis=0)).max())
    first = np.where(has.any(axis=1), has.argmax(axis=1), T)
    for b in breaks:
        when = int(b["date"]) if calendar == "steps" else pd.Timestamp(period_start(pd.Series([b["date"]]), freq).iat[0])
        match = np.ones(S, dtype=bool)
        for k, v in dict(b.get("where", {})).items():
            match &= series[k].astype(str).to_numpy() == str(v)
        cut = int(np.searchsorted(periods, when))
        drop = match[:, None] & (np.arange(T)[None, :] < cut)
        values[drop] = np.nan
        has = ~np.isnan(values)
        first = np.where(has[:, : origin + 1].any(axis=1), has.argmax(axis=1), T)
        logger.info("break at %s: history before it dropped for %d series", when, int(match.sum()))
    last = np.where(has.any(axis=1), T - 1 - np.argmax(has[:, ::-1], axis=1), -1)
    alive = (np.arange(T)[None, :] >= first[:, None]) & (np.arange(T)[None, :] <= last[:, None])
    gaps = alive & np.isnan(values)
    if fill == "zero":
        values[gaps] = 0.0
    elif fill == "previous":
        values = _ffill(values, upto=origin)
        values[gaps & np.isnan(values)] = 0.0
    values[~alive] = np.nan

    ended = int(((last >= 0) & (last < origin)).sum())
    fills = {"rows_combined": int(combined), "target_filled": int(gaps.sum()) if fill != "missing" else 0,
             "target_missing": int(gaps.sum()) if fill == "missing" else 0, "series_ended_early": ended}
    known_arr: dict[str, np.ndarray] = {}
    for c in known:
        arr = dense(f"k::{c}")
        n_missing = int(np.isnan(arr[:, : origin + 1]).sum())
        hist = np.nan_to_num(_ffill(arr[:, : origin + 1], upto=origin), nan=0.0)
        arr[:, : origin + 1] = hist
        known_arr[c] = arr
        fills[f"{c}_filled"] = n_missing
    past_arr: dict[str, np.ndarray] = {}
    for c in past:
        arr = dense(f"k::{c}")
        fills[f"{c}_filled"] = int(np.isnan(arr[:, : origin + 1]).sum())
        arr = np.nan_to_num(_ffill(arr, upto=origin), nan=0.0)
        arr[:, origin + 1 :] = np.nan
        past_arr[c] = arr
    if any(fills.values()):
        name = f"step (season {season})" if calendar == "steps" else ("monthly" if freq == "M" else "weekly")
        logger.info("sales table on a %s calendar, gaps inside a series' life: fill=%s: %s", name, fill, fills)
    return Panel(series, periods, values, known_arr, past_arr, first, origin, freq, keys, target, fills,
                 calendar, season if calendar == "steps" else None, last)


def _first_valid(table: pd.DataFrame, keys: Sequence[str], column: str) -> pd.Series:
    names = series_names(table, keys)
    return table[column].groupby(names.to_numpy()).first()


def _ffill(arr: np.ndarray, *, upto: int) -> np.ndarray:
    """Forward-fill NaN along periods up to index ``upto`` (later periods untouched)."""
    out = arr.copy()
    head = out[:, : upto + 1]
    idx = np.where(~np.isnan(head), np.arange(head.shape[1])[None, :], 0)
    np.maximum.accumulate(idx, axis=1, out=idx)
    filled = np.take_along_axis(head, idx, axis=1)
    out[:, : upto + 1] = filled
    return out


def sales_from_transactions(
    transactions: pd.DataFrame,
    *,
    freq: Literal["M", "W"] = "M",
    date: str = "order_date",
    amount: str = "amount",
    keys: Sequence[str] = ("region", "product"),
    target: str = "sales",
    complete_only: bool = True,
) -> pd.DataFrame:
    """A sales table from order lines: the sum of ``amount`` per series and period (returns net off).

    Columns: ``date`` (the period start), the key columns, ``target`` (the net
    sum) and ``orders`` (the number of lines; a past-only covariate). Periods
    of a series with no order are absent (:func:`build_panel` fills them with 0).
    With ``complete_only`` the last period is dropped when the data stops before
    its last day (a partial month would look like a collapse in sales).
    """
    _check_freq(freq)
    missing = [c for c in (date, amount, *keys) if c not in transactions.columns]
    if missing:
        raise ValueError(
            f"The transactions table lacks column(s) {', '.join(repr(c) for c in missing)}. "
            "Map the names with date=, amount= and keys=."
        )
    when = parse_datetime(transactions[date])
    if when.isna().any():
        raise ValueError(f"{int(when.isna().sum())} transactions have no parseable date in column '{date}'.")
    value = pd.to_numeric(transactions[amount], errors="coerce")
    if value.isna().any():
        raise ValueError(f"{int(value.isna().sum())} transactions have no numeric amount in column '{amount}'.")
    start = period_start(when, freq)
    frame = pd.DataFrame({"date": start.to_numpy(), **{k: transactions[k].to_numpy() for k in keys}, target: value.to_numpy()})
    out = (
        frame.groupby(["date", *keys], sort=True, dropna=False)[target]
        .agg(["sum", "size"])
        .rename(columns={"sum": target, "size": "orders"})
        .reset_index()
    )
    if complete_only and len(out):
        last = out["date"].max()
        alias = FREQUENCIES[freq][1]
        period_end = pd.date_range(last, periods=2, freq=alias)[1] - pd.Timedelta(days=1)
        if when.max().normalize() < period_end:
            out = out[out["date"] < last]
            logger.info("dropped the incomplete last period starting %s (data ends %s)", last.date(), when.max().date())
    out["orders"] = out["orders"].astype(np.int64)
    return out.reset_index(drop=True)


def level_shifts(panel: Panel, *, window: int | None = None, threshold: float = 0.5) -> pd.DataFrame:
    """Series whose recent level moved sharply against last year: possible structural breaks.

    For each series with two years of history, compares sales over the last
    ``window`` periods (default half a season) with the same periods a year
    earlier, and the ``window`` periods before that likewise; a change of the
    year-on-year ratio by more than ``threshold`` (50%) either way is flagged.
    Returns ``series``, ``recent_vs_last_year``, ``before_vs_last_year``.
    """
    m = panel.season
    w = window or max(3, m // 2)
    o = panel.origin
    rows = []
    if o + 1 < m + 2 * w:
        return pd.DataFrame(columns=["series", "recent_vs_last_year", "before_vs_last_year"])
    y = panel.values

    def block(end: int) -> np.ndarray:
        return y[:, end - w + 1 : end + 1].sum(axis=1)

    recent, recent_ly = block(o), block(o - m)
    before, before_ly = block(o - w), block(o - w - m)
    with np.errstate(divide="ignore", invalid="ignore"):
        r1, r0 = recent / recent_ly, before / before_ly
        ok = (r1 > 0) & (r0 > 0) & np.isfinite(r1) & np.isfinite(r0)
        jump = np.abs(np.log(np.where(ok, r1 / r0, 1.0)))
    for s in np.flatnonzero(ok & (jump > np.log1p(threshold))):
        rows.append({"series": panel.series["series"].iat[s], "recent_vs_last_year": float(r1[s]), "before_vs_last_year": float(r0[s])})
    return pd.DataFrame(rows, columns=["series", "recent_vs_last_year", "before_vs_last_year"])
