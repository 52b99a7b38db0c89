"""Sales forecasting: how much will each region / product sell over the next 3 months?

One global LightGBM model over every series forecasts the whole horizon
directly (one row per series, forecast origin and step; see
:mod:`salesml.forecasting.rows`), trained by the shared flow with
``time = origin``. The split is purged: a training row's *target* period is
before the validation slice, and a validation row's before the holdout; the
validation slice (several origins, every step) early-stops the shipped model.

Optuna scores each trial on the backtest objective: the mean WAPE of
``tuning_windows`` rolling-origin windows whose targets all precede the holdout,
each refitted (purged, early-stopped on its own validation slice) with the
trial's parameters (:meth:`Forecasting.tuning_folds`). The rolling-origin
backtest (:mod:`salesml.forecasting.backtest`) then reports accuracy on later windows
against the baselines.

Output per series and future period: the point forecast, conformal intervals
(default 80% and 95%; :mod:`salesml.forecasting.conformal`, fitted on the out-of-sample
errors, relative to each series' recent level, of the latest
``calibration_windows`` refitted backtest windows; on the validation slice when
there is no backtest), the recent level and the value a year earlier.
:func:`forecast` adds every upper level of the hierarchy as bottom-up sums
(:mod:`salesml.forecasting.reconcile`), each with its own interval.

What ships: the backtest's scored windows compare the model with the baselines
and their combinations (:mod:`salesml.forecasting.selection`) by
``params.selection_metric``; :func:`forecast` uses the winner (its statistical
members fitted on each series' whole history), unless ``params.model_choice: model``.

Calendars: ISO dates (``params.calendar: dates``, monthly or weekly) or integer
steps (``steps``, with ``params.season`` and ``params.horizon``). Series may start
and end at different periods: ``params.origin: common`` forecasts from the table's
last period and reports series that ended earlier; ``per_series`` forecasts each
series from its own last observation.

Hard cases:

* **short series** (fewer than ``min_history`` periods at the origin) are not
  learnt from there and get the seasonal naive forecast, with the reason in
  ``status``; **cold starts** (no history before the origin) are refused per
  series, with the reason, in the output and in the training log;
* **intermittent series** (many zeros) are forecast by the same model, with
  the share of zero periods as a feature; the level falls back to the whole
  history's mean, then to 1, when the last season is all zero;
* **negative values** (returns) are allowed: levels use absolute values, and
  forecasts are clipped at 0 only for series with no negative value in their last season;
* **structural breaks**: declare them (``params.breaks``) to drop the history
  before the break; sharp recent level shifts that are not declared are
  reported as a warning (:func:`salesml.forecasting.panel.level_shifts`);
* **many series**: features are vectorised over series; when
  series x origins x steps exceed ``max_rows``, training origins are thinned
  evenly (the latest is always kept) and the statistical baselines run on a
  sample of ``baseline_max_series`` series.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, field_validator

from salesml.forecasting.conformal import ConformalIntervals, interval_columns
from salesml.core.contracts import ColumnRule, DataValidationError, Problem, parse_datetime, validate_table
from salesml.forecasting.rows import RowSpec, build_rows, feature_columns
from salesml.core.metrics import coverage, forecast_metrics, wape
from salesml.forecasting.panel import FREQUENCIES, Panel, build_panel, level_shifts, period_start, sales_from_transactions, series_names
from salesml.forecasting.reconcile import BOTTOM, aggregate, bottom_up, hierarchy_levels
from salesml.forecasting.selection import Forecaster
from salesml.core.split import TimeSplit, time_split
from salesml.core.task import BacktestReport, Dataset, FitPredict, SplitSettings, Task, TaskColumns, TaskParams

logger = logging.getLogger(__name__)

#: Interval tables learnt from fewer residuals than this are symmetric (see :mod:`salesml.forecasting.conformal`):
#: an upper level such as the total has one residual per window, origin and step.
SYMMETRIC_BELOW = 40

__all__ = ["Forecasting", "ForecastColumns", "ForecastParams", "Break", "forecast"]


class ForecastColumns(TaskColumns):
    """Columns of the sales table.

    ``id`` names the series column of the output (built from ``keys`` as
    ``north/core``); ``label`` is the target (``sales``,
    or ``expense`` for a sales-expense model). ``known`` covariates are known in
    advance (planned promotions, list prices, holidays) and must be given for the
    forecast periods; ``past`` covariates are only known up to the origin;
    ``static`` are per-series attributes. With ``params.input: transactions``
    the table holds order lines and ``amount`` is summed per period.
    """

    id: str = "series"
    time: str = "date"
    label: str | None = "sales"
    keys: list[str] = ["region", "product"]
    known: list[str] = ["discount", "price"]
    past: list[str] = ["pipeline"]
    static: list[str] = []
    amount: str = "amount"


class Break(BaseModel):
    """A declared structural break: matching series forget their history before ``date``."""

    model_config = ConfigDict(extra="forbid")
    date: str
    where: dict[str, str] = {}


class ForecastParams(TaskParams):
    calendar: Literal["dates", "steps"] = "dates"  # steps: the time column holds integer period numbers
    freq: Literal["M", "W"] = "M"  # with dates
    season: int | None = None  # season length in periods; default 12 (M) / 52 (W); required with steps
    horizon: int | None = None  # steps; default 3 months or 13 weeks (with steps: required)
    origin: Literal["common", "per_series"] = "common"  # forecast from the table's last period, or each series' own
    input: Literal["sales", "transactions"] = "sales"
    fill: Literal["zero", "previous", "missing"] = "zero"  # gaps inside a series' life (never after its end)
    min_history: int | None = None  # periods at the origin; default 2 x horizon
    n_lags: int | None = None  # default 6 (monthly) / 8 (weekly)
    windows: list[int] | None = None  # rolling means; default [3, 6] / [4, 13, 26]
    max_rows: int = 2_000_000
    intervals: list[float] = [0.8, 0.95]
    levels: list[list[str]] | None = None  # hierarchy levels; default total + each key
    backtest_windows: int = 4
    calibration_windows: int = 4  # rolling windows whose out-of-sample errors set the intervals (0: validation slice)
    tuning_windows: int = 3  # rolling windows before the holdout that Optuna scores trials on (0: validation slice)
    backtest_step: int | None = None  # default: the horizon
    backtest_valid_periods: int | None = None  # default: max(2 x horizon, half a season)
    baselines: list[str] = ["seasonal_naive", "ets", "theta"]
    model_choice: Literal["backtest", "model"] = "backtest"  # ship the backtest's best candidate, or always the model
    selection_metric: Literal["wape", "mase", "smape"] = "wape"
    baseline_max_series: int = 500
    breaks: list[Break] = []
    break_threshold: float = 0.5
    min_train_rows: int = 200

    @field_validator("horizon", "min_history", "n_lags", "backtest_step", "backtest_valid_periods", "season")
    @classmethod
    def _positive(cls, v: int | None) -> int | None:
        if v is not None and v < 1:
            raise ValueError(f"must be a positive number of periods. Got {v} instead.")
        return v

    @field_validator("backtest_windows", "calibration_windows", "tuning_windows")
    @classmethod
    def _windows(cls, v: int) -> int:
        if v < 0:
            raise ValueError(f"must be 0 (none) or a positive number of windows. Got {v} instead.")
        return v

    @field_validator("intervals")
    @classmethod
    def _levels(cls, v: list[float]) -> list[float]:
        bad = [x for x in v if not 0 < x < 1]
        if bad:
            raise ValueError(f"interval levels must be between 0 and 1, e.g. [0.8, 0.95]. Got {bad}.")
        return sorted(set(v))


class Forecasting(Task):
    """Global LightGBM direct multi-step forecasts with conformal intervals, backtests and bottom-up totals."""

    name = "forecast"
    title = "Sales forecasting"
    tables = ("sales",)
    objective = "regression"
    eval_metric = "l1"
    primary_metric = "wape"  # minimised like the early-stopping l1, so Optuna's direction agrees; accuracy = 1 - WAPE
    greater_is_better = False
    calibration = "identity"
    #: The tuning folds are rolling-origin windows; the shipped model is not refitted on them (the backtest is).
    refit = False
    folds_name = "rolling-origin windows"
    default_search_space = "lightgbm"
    Columns = ForecastColumns
    Params = ForecastParams
    columns: ForecastColumns
    params: ForecastParams

    # ------------------------------------------------------------ settings
    @property
    def steps(self) -> bool:
        return self.params.calendar == "steps"

    @property
    def season(self) -> int:
        if self.params.season:
            return self.params.season
        if self.steps:
            raise ValueError("params.calendar: steps needs params.season, the season length in periods "
                             "(e.g. 12 for monthly steps, 52 weekly, 24 hourly, 1 for none).")
        return FREQUENCIES[self.params.freq][2]

    @property
    def horizon(self) -> int:
        if self.params.horizon:
            return self.params.horizon
        if self.steps:
            raise ValueError("params.calendar: steps needs params.horizon, the number of periods to forecast.")
        return 3 if self.params.freq == "M" else 13

    def _unit(self) -> str:
        return "periods" if self.steps else ("months" if self.params.freq == "M" else "weeks")

    def _time(self, values: Any) -> pd.Series:
        """Origins / periods as the split orders them: dates, or step ``k`` as day ``k`` after 1970-01-01."""
        values = pd.Series(np.asarray(values))
        return pd.to_datetime(values, unit="D") if self.steps else parse_datetime(values)

    @property
    def target(self) -> str:
        return str(self.columns.label)

    def spec(self) -> RowSpec:
        p, weekly = self.params, self.params.freq == "W" and not self.steps
        return RowSpec(
            horizon=self.horizon,
            season=self.season,
            n_lags=p.n_lags or (8 if weekly else 6),
            windows=tuple(p.windows or ([4, 13, 26] if weekly else [3, 6])),
            min_history=p.min_history or 2 * self.horizon,
            target=self.target,
            known=tuple(self.columns.known),
            past=tuple(self.columns.past),
            static=tuple(self.columns.static),
            weekly=weekly,
            steps=self.steps,
        )

    # ------------------------------------------------------------ training
    @classmethod
    def builtin_tables(cls, crm: Any) -> dict[str, pd.DataFrame]:
        from salesml.datasets import make_sales

        sales, _ = make_sales(crm)
        return {"sales": sales}

    @classmethod
    def builtin_scoring_input(cls, crm: Any, random_state: int = 0) -> pd.DataFrame:
        """The rows to forecast the next horizon from the end of the built-in history."""
        task = cls()
        frame, _, _ = task.forecast_rows(task.make_panel(cls.builtin_tables(crm)))
        return frame

    def summary(self, metrics: Mapping[str, float], scored: pd.DataFrame | None) -> dict[str, Any]:
        out: dict[str, Any] = {"holdout accuracy (1 - WAPE)": round(metrics["test.accuracy"], 3)}
        chosen = getattr(self, "forecaster_", None)
        if chosen is not None:
            out["shipped forecaster (by backtest)"] = f"{chosen.name} ({chosen.metric} {chosen.scores[chosen.name]:.3f})"
        if "backtest.accuracy" in metrics:
            out["backtest accuracy"] = round(metrics["backtest.accuracy"], 3)
            for name in self.params.baselines:
                if f"backtest.{name}.accuracy" in metrics:
                    out[f"  vs {name.replace('_', ' ')}"] = round(metrics[f"backtest.{name}.accuracy"], 3)
            for lv in self.params.intervals:
                suffix = interval_columns(lv)[0].split("_", 1)[1]
                if f"backtest.coverage_{suffix}" in metrics:
                    out[f"{lv:.0%} interval coverage"] = round(metrics[f"backtest.coverage_{suffix}"], 3)
                if f"backtest.total.model.coverage_{suffix}" in metrics:  # few points: a window is one draw
                    out[f"  {lv:.0%} on the total ({metrics['backtest.windows'] * self.horizon:.0f} periods)"] = round(
                        metrics[f"backtest.total.model.coverage_{suffix}"], 3)
        if scored is not None and len(scored):
            total = scored.groupby("period")["forecast"].sum()
            out["next periods, total"] = {str(k if self.steps else pd.Timestamp(k).date()): round(float(v)) for k, v in total.items()}
        return out

    def _rules(self) -> list[ColumnRule]:
        c = self.columns
        if self.params.input == "transactions":
            return [
                ColumnRule(c.time, "datetime", nullable=False, role="order date column"),
                ColumnRule(c.amount, "number", nullable=False, role="amount column"),
                *[ColumnRule(k, "any", nullable=False, role="series key") for k in c.keys],
            ]
        return [
            ColumnRule(c.time, "number" if self.steps else "datetime", nullable=False,
                       role="time column (integer period numbers)" if self.steps else "time column"),
            ColumnRule(self.target, "number", nullable=True, role="target column"),
            *[ColumnRule(k, "any", nullable=False, role="series key") for k in c.keys],
            *[ColumnRule(k, "number", nullable=True, role="known-in-advance covariate") for k in c.known],
            *[ColumnRule(k, "number", nullable=True, role="past-only covariate") for k in c.past],
            *[ColumnRule(k, "any", nullable=True, role="series attribute") for k in c.static],
        ]

    def validate(self, tables: Mapping[str, pd.DataFrame]) -> None:
        if "sales" not in tables:
            raise ValueError(f"Forecasting needs a 'sales' table. Got tables: {sorted(tables)}.")
        if self.steps and self.params.input == "transactions":
            raise ValueError("params.input: transactions needs dated order lines: use params.calendar: dates.")
        _ = self.season, self.horizon  # a step calendar without them fails here, with the fix
        checks = [self._name_clashes]
        if self.params.input == "sales":
            checks += [self._duplicates, self._has_history]
        validate_table(tables["sales"], table="sales", rules=self._rules(), extra_checks=checks)

    def _name_clashes(self, sales: pd.DataFrame) -> list[Problem]:
        c = self.columns
        generated = (set(feature_columns(self.spec(), c.keys)) | {"origin", "period"}) - set(c.known)
        if len(c.keys) != 1:  # a lone key may itself be the series column; with several, the name is taken
            generated |= {c.id, "series"}
        clash = sorted({*c.keys, *c.static, *c.past} & generated)
        return [
            Problem("sales", name, "name_clash", f"the name '{name}' is used by a generated forecasting column",
                    "rename the column in your table, or map another name in the experiment YAML")
            for name in clash
        ]

    def _duplicates(self, sales: pd.DataFrame) -> list[Problem]:
        c = self.columns
        cols = [c.time, *c.keys]
        if any(x not in sales.columns for x in cols) or not len(sales):
            return []
        dup = sales.duplicated(cols, keep=False)
        if not dup.any():
            return []
        idx = sales.index[dup.to_numpy()]
        names = series_names(sales.loc[idx], c.keys)
        keys = tuple(f"{n} @ {d}" for n, d in zip(names[:5], sales.loc[idx[:5], c.time]))
        return [Problem("sales", c.time, "duplicate_rows", "the same series and date appear more than once",
                        "keep one row per series and date (sum or drop the duplicates in the export)", keys, int(dup.sum()))]

    def _has_history(self, sales: pd.DataFrame) -> list[Problem]:
        c = self.columns
        if c.time not in sales.columns or self.target not in sales.columns or not len(sales):
            return []
        observed = pd.to_numeric(sales[self.target], errors="coerce").notna()
        if self.steps:
            when = pd.to_numeric(sales.loc[observed, c.time], errors="coerce")
        else:
            when = period_start(sales.loc[observed, c.time], self.params.freq)
        names = series_names(sales.loc[observed], [k for k in c.keys if k in sales.columns])
        spans = pd.DataFrame({"s": names.to_numpy(), "t": when.to_numpy()}).dropna().groupby("s")["t"].nunique()
        need = self.spec().min_history + self.horizon + 2
        longest = int(spans.max()) if len(spans) else 0
        if longest < need:  # per series: series shorter than this are refused one by one, with their reason
            return [Problem("sales", self.target, "too_short",
                            f"the longest series has {longest} {self._unit()} with sales; at least {need} are needed "
                            f"(history of {self.spec().min_history} + horizon of {self.horizon} + 2)",
                            "provide a longer history, or lower params.min_history / params.horizon")]
        return []

    def make_panel(self, tables: Mapping[str, pd.DataFrame]) -> Panel:
        """The sales table (or transactions, aggregated) on a regular calendar."""
        c, p = self.columns, self.params
        sales = tables["sales"]
        known, past = list(c.known), list(c.past)
        if p.input == "transactions":
            sales = sales_from_transactions(sales, freq=p.freq, date=c.time, amount=c.amount, keys=c.keys, target=self.target)
            sales = sales.rename(columns={"date": c.time})
            known, past = [], [x for x in past if x in sales.columns]
        return build_panel(
            sales, time=c.time, target=self.target, keys=c.keys, known=known, past=past, static=c.static,
            freq=p.freq, fill=p.fill, breaks=[b.model_dump() for b in p.breaks],
            calendar=p.calendar, season=self.season if self.steps else None,
        )

    def _training_origins(self, panel: Panel) -> np.ndarray:
        spec = self.spec()
        start = max(int(panel.first.min()) + spec.min_history - 1, 0)
        origins = np.arange(start, panel.origin)
        per_origin = panel.n_series * spec.horizon
        stride = max(1, math.ceil(len(origins) * per_origin / self.params.max_rows))
        if stride == 1:
            return origins
        logger.info("%d series: training on every %d-th origin to stay under %d rows", panel.n_series, stride, self.params.max_rows)
        kept = origins[::-1][::stride][::-1]
        if self.params.backtest_windows:  # the backtest forecasts from its windows' origins: keep them
            from salesml.forecasting.backtest import window_origins

            windows = window_origins(panel, horizon=self.horizon, windows=self.params.backtest_windows + self.params.calibration_windows,
                                     step=self._window_step)
            kept = np.union1d(kept, [c for c in windows if c >= start])
        return kept

    def build_dataset(self, tables: Mapping[str, pd.DataFrame]) -> Dataset:
        panel = self.make_panel(tables)
        shifts = level_shifts(panel, threshold=self.params.break_threshold)
        if len(shifts):
            shown = ", ".join(f"{r.series} ({r.recent_vs_last_year:.2f}x last year, {r.before_vs_last_year:.2f}x before)" for r in shifts.head(5).itertuples())
            logger.warning(
                "%d series changed level sharply against last year, possible structural breaks: %s%s. If a change is "
                "lasting, declare it under params.breaks so the model learns from the new level only.",
                len(shifts), shown, f" +{len(shifts) - 5} more" if len(shifts) > 5 else "",
            )
        origins = self._training_origins(panel)
        frame, target, refused = build_rows(panel, self.spec(), origins, with_target=True)
        short = refused[refused["origin"] == panel.periods[origins[-1]]] if len(origins) else refused
        if len(short):
            logger.warning("%d series lack history at the last training origin and are not learnt from there: %s", len(short),
                           "; ".join(f"{r.series}: {r.reason}" for r in short.head(5).itertuples()))
        if len(frame) == 0:
            raise ValueError("No series has enough history to learn from: lower params.min_history or provide more history.")
        frame = frame.rename(columns={"series": self.columns.id}) if self.columns.id != "series" else frame
        return Dataset(frame=frame, target=target, time=frame["origin"], key=frame[self.columns.id])

    def make_encoder(self):
        from salesml.core.features import TabularEncoder

        c = self.columns
        exclude = [c.id, "series", "origin", "period", *c.exclude]
        return TabularEncoder(time_column=None, exclude=exclude, allow_personal=c.allow_personal)

    def split(self, dataset: Dataset, settings: SplitSettings) -> TimeSplit:
        """Time-ordered on the origin, purged so that no training target reaches into the validation slice
        and no validation target into the holdout."""
        base = time_split(self._time(dataset.time), test_fraction=settings.test_fraction, valid_fraction=settings.valid_fraction)
        period = self._time(dataset.frame["period"]).to_numpy()
        train = base.train & (period < np.datetime64(base.valid_start))
        valid = base.valid & (period < np.datetime64(base.test_start))
        for side, mask in (("training", train), ("validation", valid)):
            if not mask.any():
                raise ValueError(f"The purged time split left the {side} set empty: provide a longer history.")
        return TimeSplit(train, valid, base.test, base.valid_start, base.test_start)

    def evaluate(self, y_true: np.ndarray, pred: np.ndarray, output: pd.DataFrame) -> dict[str, float]:
        actual = np.asarray(y_true, dtype=float) * output["recent_level"].to_numpy()
        f = output["forecast"].to_numpy()
        out = forecast_metrics(actual, f)
        for lv in self.params.intervals:
            lo, hi = interval_columns(lv)
            out[f"coverage_{lo.split('_', 1)[1]}"] = coverage(actual, output[lo], output[hi])
        naive = output["same_period_last_year"].to_numpy()
        ok = ~np.isnan(naive)
        if ok.any():
            out["seasonal_naive.wape"] = wape(actual[ok], naive[ok])
            naive_wape = out["seasonal_naive.wape"]
            out["wape_ratio.seasonal_naive"] = wape(actual[ok], f[ok]) / naive_wape if naive_wape > 0 else float("nan")
        frame = output.assign(actual=actual)
        keys = [k for k in self.columns.keys if k in frame.columns]
        if len(keys) == len(self.columns.keys) and "origin" in frame.columns:
            for name, by in hierarchy_levels(keys, self.params.levels):
                agg = aggregate(frame, by, ["actual", "forecast"], ["origin", "h"])
                out[f"{name}.wape"] = wape(agg["actual"], agg["forecast"])
        return out

    def figures(self, y_true: np.ndarray, pred: np.ndarray, output: pd.DataFrame) -> dict[str, Any]:
        from salesml.core.plots import forecast_plot

        if "period" not in output.columns:
            return {}
        actual = np.asarray(y_true, dtype=float) * output["recent_level"].to_numpy()
        frame = output.assign(actual=actual)
        last = frame["origin"].max()
        fc = frame[frame["origin"] == last].groupby("period")[["forecast", "actual"]].sum().reset_index()
        fc["window"] = 1
        history = frame[frame["h"] == 1].groupby("period")["actual"].sum()
        return {"plots/holdout_forecast_vs_actual.png": forecast_plot(history, fc, intervals=(), title="Holdout: total, last origin")}

    def data_problems(self, y_train: np.ndarray, y_test: np.ndarray) -> list[str]:
        problems = []
        if len(y_train) < self.params.min_train_rows:
            problems.append(f"the training set has {len(y_train)} rows (series x origins x steps); at least {self.params.min_train_rows} are needed")
        if len(y_test) < self.horizon:
            problems.append(f"the holdout has {len(y_test)} rows; at least one full horizon ({self.horizon}) is needed")
        return problems

    def backtest(self, tables: Mapping[str, pd.DataFrame], dataset: Dataset, fit_predict: FitPredict) -> BacktestReport | None:
        if self.params.backtest_windows == 0:
            return None
        from salesml.forecasting.backtest import rolling_origin

        p = self.params
        frame = dataset.frame.rename(columns={self.columns.id: "series"}) if self.columns.id != "series" else dataset.frame
        data = Dataset(frame, dataset.target, dataset.time, dataset.key)
        return rolling_origin(
            self, self.make_panel(tables), data, fit_predict,
            windows=p.backtest_windows,
            step=self._window_step,
            valid_periods=self._window_valid_periods,
            baselines=p.baselines,
            max_series=p.baseline_max_series,
            calibration_windows=p.calibration_windows,
        )

    @property
    def _window_step(self) -> int:
        return self.params.backtest_step or self.horizon

    @property
    def _window_valid_periods(self) -> int:
        return self.params.backtest_valid_periods or max(2 * self.horizon, self.season // 2)

    def tuning_folds(self, dataset: Dataset, split: TimeSplit) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """The ``tuning_windows`` latest backtest-grid windows whose forecasts end before the holdout.

        Same masks as the backtest's windows (purged training rows, validation
        slice for early stopping, the forecasts from every origin the window
        spans); every target they touch is at or before the holdout's first
        origin, so tuning never sees a holdout target, and their origins precede
        the backtest's scored windows when the holdout spans them (the default split does).
        """
        from salesml.forecasting.backtest import window_masks

        if self.params.tuning_windows == 0:
            return []
        frame = dataset.frame
        if self.steps:
            origin, period = pd.Index(frame["origin"]), pd.Index(frame["period"])
            calendar = pd.Index(np.arange(origin.min(), period.max() + 1))
            test_start: Any = (pd.Timestamp(split.test_start) - pd.Timestamp(0)).days  # the split read step k as day k
        else:
            origin, period = pd.DatetimeIndex(frame["origin"]), pd.DatetimeIndex(frame["period"])
            calendar = pd.date_range(origin.min(), period.max(), freq=FREQUENCIES[self.params.freq][1])
            test_start = split.test_start
        o_idx, p_idx = calendar.get_indexer(origin), calendar.get_indexer(period)
        end = calendar.get_indexer([test_start])[0]  # the holdout's first origin
        H, step = self.horizon, self._window_step
        last = len(calendar) - 1 - H
        candidates = [c for c in range(last, -1, -step) if c + H <= end]
        folds = []
        for c in candidates:
            train, valid, rows = window_masks(o_idx, p_idx, c, valid_periods=self._window_valid_periods, span=step)
            rows &= p_idx <= end  # every origin up to the next window (thinned origins still leave some), targets before the holdout
            if train.sum() >= self.params.min_train_rows and valid.any() and rows.any():
                folds.append((train, valid, rows))
            if len(folds) == self.params.tuning_windows:
                break
        if not folds:
            logger.warning("no rolling window before the holdout has %d training rows: Optuna tunes on the validation slice",
                           self.params.min_train_rows)
        return folds[::-1]

    def tuning_score(self, y_true: np.ndarray, pred: np.ndarray, frame: pd.DataFrame) -> float:
        """WAPE of the window's forecasts (what the backtest reports), in sales units."""
        forecast, level, _ = self._point(pred, frame)
        return wape(np.asarray(y_true, dtype=float) * level, forecast)

    # ------------------------------------------------------------- scoring
    def _point(self, pred: np.ndarray, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        level = frame["recent_level"].to_numpy(dtype=float)
        nonneg = np.nan_to_num(frame["negative_share"].to_numpy(dtype=float), nan=0.0) == 0 if "negative_share" in frame.columns else np.ones(len(frame), bool)
        forecast = np.asarray(pred, dtype=float) * level
        return np.where(nonneg, np.maximum(forecast, 0.0), forecast), level, nonneg

    def fit_state(
        self,
        dataset: Dataset,
        split: TimeSplit,
        model_predict: Callable[[pd.DataFrame], np.ndarray],
        backtest: BacktestReport | None = None,
    ) -> dict[str, Any]:
        """The shipped model's intervals: learnt out of sample by the backtest when it ran, else on the validation
        slice."""
        if backtest is not None and backtest.state is not None:
            return backtest.state
        valid = dataset.frame.iloc[np.flatnonzero(split.valid)]
        return self.interval_state(dataset.target[split.valid], model_predict(valid), valid)

    def load_state(self, state: Mapping[str, Any]) -> None:
        super().load_state(state)
        self.intervals_ = {k: ConformalIntervals.from_dict(v) for k, v in state.get("intervals", {}).items()}
        self.forecaster_ = Forecaster.from_dict(state["forecaster"]) if "forecaster" in state else None
        self.forecaster_intervals_ = {k: ConformalIntervals.from_dict(v) for k, v in
                                      (self.forecaster_.intervals if self.forecaster_ else {}).items()}

    def interval_state(self, y_valid: np.ndarray, pred_valid: np.ndarray, frame_valid: pd.DataFrame) -> dict[str, Any]:
        """Conformal intervals from held-out errors (earlier backtest windows, or the validation slice): per series
        (relative to its level) and per upper level. Sets them on the task and returns them as JSON state."""
        levels = self.params.intervals
        forecast, level, _ = self._point(pred_valid, frame_valid)
        rel = np.asarray(y_valid, dtype=float) - forecast / level
        h = frame_valid["h"].to_numpy()
        intervals = {BOTTOM: ConformalIntervals.fit(rel, h, levels, symmetric_below=SYMMETRIC_BELOW)}
        keys = [k for k in self.columns.keys if k in frame_valid.columns]
        if len(keys) == len(self.columns.keys) and "origin" in frame_valid.columns:
            work = frame_valid[[*keys, "origin", "h"]].assign(
                actual=np.asarray(y_valid, dtype=float) * level, forecast=forecast, recent_level=level
            )
            for name, by in hierarchy_levels(keys, self.params.levels):
                agg = aggregate(work, by, ["actual", "forecast", "recent_level"], ["origin", "h"])
                resid = (agg["actual"] - agg["forecast"]) / agg["recent_level"]
                intervals[name] = ConformalIntervals.fit(resid.to_numpy(), agg["h"].to_numpy(), levels, symmetric_below=SYMMETRIC_BELOW)
        self.intervals_ = intervals
        return {"intervals": {k: v.to_dict() for k, v in intervals.items()}}

    def level_intervals(self, level_name: str, forecast: np.ndarray, level_sum: np.ndarray, h: np.ndarray, nonnegative: np.ndarray,
                        intervals: Mapping[str, ConformalIntervals] | None = None) -> dict[str, np.ndarray]:
        """Interval columns for rows of one hierarchy level (their own conformal widths, scaled by the summed level;
        ``intervals`` defaults to the model's)."""
        fitted = (getattr(self, "intervals_", {}) if intervals is None else intervals).get(level_name)
        out = {}
        for lv in self.params.intervals:
            lo_col, hi_col = interval_columns(lv)
            if fitted is None:
                out[lo_col] = out[hi_col] = np.full(len(forecast), np.nan)
                continue
            lo, hi = fitted.offsets(h, lv)
            lower, upper = forecast + lo * level_sum, forecast + hi * level_sum
            out[lo_col] = np.where(nonnegative, np.maximum(lower, 0.0), lower)
            out[hi_col] = np.where(nonnegative, np.maximum(upper, 0.0), upper)
        return out

    def postprocess(self, pred: np.ndarray, frame: pd.DataFrame) -> pd.DataFrame:
        forecast, level, nonneg = self._point(pred, frame)
        h = frame["h"].to_numpy()
        out: dict[str, Any] = {c: frame[c].to_numpy() for c in [*self.columns.keys, "origin", "period"] if c in frame.columns}
        out["h"] = h
        out["forecast"] = forecast
        out.update(self.level_intervals(BOTTOM, forecast, level, h, nonneg))
        out["recent_level"] = level
        last_year = f"{self.target}_last_year"
        out["same_period_last_year"] = frame[last_year].to_numpy(dtype=float) * level if last_year in frame.columns else np.nan
        return pd.DataFrame(out, index=frame.index)

    def shipped_intervals(self) -> Mapping[str, ConformalIntervals] | None:
        """The shipped forecaster's interval tables (``None``: the model's)."""
        chosen = getattr(self, "forecaster_", None)
        return None if chosen is None or chosen.members == ["model"] else self.forecaster_intervals_

    def apply_forecaster(self, chosen: Forecaster, panel: Panel, frame: pd.DataFrame, bottom: pd.DataFrame) -> pd.DataFrame:
        """Replace the model's forecasts of ``bottom`` by the chosen forecaster's: its statistical members are
        fitted on each series' whole history up to the row's origin, then averaged with the model's when it is a member."""
        from salesml.forecasting.baselines import baseline_forecasts
        from salesml.forecasting.selection import combine

        H = int(frame["h"].max())
        s_idx = pd.Index(panel.series["series"]).get_indexer(frame[self.columns.id])
        o_idx = panel.periods.get_indexer(pd.Index(frame["origin"]))
        h = frame["h"].to_numpy()
        values: dict[str, np.ndarray] = {"model": bottom["forecast"].to_numpy(dtype=float)}
        for name in chosen.statistical:
            values[name] = np.full(len(frame), np.nan)
        for o in np.unique(o_idx):
            at = o_idx == o
            series = np.unique(s_idx[at])
            fc = baseline_forecasts(panel.truncate(int(o)), int(o), H, series, chosen.statistical)
            pos = np.searchsorted(series, s_idx[at])
            for name in chosen.statistical:
                values[name][at] = fc[name][pos, h[at] - 1]
        forecast = combine(values, chosen.members)
        nonneg = np.nan_to_num(frame["negative_share"].to_numpy(dtype=float), nan=0.0) == 0
        forecast = np.where(nonneg, np.maximum(forecast, 0.0), forecast)
        out = bottom.copy()
        out["forecast"] = forecast
        level = frame["recent_level"].to_numpy(dtype=float)
        for col, arr in self.level_intervals(BOTTOM, forecast, level, h, nonneg, self.forecaster_intervals_).items():
            out[col] = arr
        return out

    def forecast_rows(self, panel: Panel, horizon: int | None = None) -> tuple[pd.DataFrame, np.ndarray | None, pd.DataFrame]:
        """Rows to forecast the next ``horizon`` periods from the panel's origin, or (``params.origin:
        per_series``) from each series' own last observation."""
        H = horizon or self.horizon
        wide = panel.extend(H)
        if self.params.origin == "per_series":
            parts = [build_rows(wide, self.spec(), [int(end)], with_target=False, steps=range(1, H + 1), only=panel.last == end)
                     for end in np.unique(panel.last[panel.last >= 0])]
            frame = pd.concat([f for f, _, _ in parts], ignore_index=True)
            refused = pd.concat([r for _, _, r in parts], ignore_index=True)
        else:
            frame, _, refused = build_rows(wide, self.spec(), [panel.origin], with_target=False, steps=range(1, H + 1))
        if self.columns.id != "series":
            frame = frame.rename(columns={"series": self.columns.id})
        return frame, None, refused

    def reason_templates(self) -> Mapping[str, Any]:
        y = self.target
        t: dict[str, Any] = {
            "h": "{value} period(s) ahead",
            "recent_level": f"recent {y} level is {{value}}",
            f"{y}_lag_1": f"{y} in the last period was {{value}}x the recent level",
            f"{y}_last_year": f"{y} in the same period last year was {{value}}x the recent level",
            f"{y}_two_years_ago": f"{y} in the same period two years ago was {{value}}x the recent level",
            f"{y}_growth": f"{y} over the last year was {{value}}x the year before",
            f"{y}_volatility": f"{y} varies by {{value}}x the level from period to period",
            "target_month": "forecast month is {value}",
            "target_week": "forecast week is {value}",
            "zero_share": "share of periods without sales is {value}",
        }
        for j in range(2, self.spec().n_lags + 1):
            t[f"{y}_lag_{j}"] = f"{y} {j} periods back was {{value}}x the recent level"
        for w in self.spec().windows:
            t[f"{y}_mean_{w}"] = f"{y} over the last {w} periods averaged {{value}}x the recent level"
        for k in self.columns.known:
            t[k] = f"{k} in the forecast period is {{value}}"
            t[f"{k}_previous"] = f"{k} in the period before is {{value}}"
            t[f"{k}_last_year"] = f"{k} a year before the forecast period was {{value}}"
            t[f"{k}_vs_last_year"] = f"{k} is {{value}} higher than a year before"
        for p in self.columns.past:
            t[f"{p}_at_origin"] = f"{p} now is {{value}}"
            t[f"{p}_relative"] = f"{p} now is {{value}}x its recent average"
        return t


def forecast(
    model: Any,
    sales: pd.DataFrame,
    *,
    horizon: int | None = None,
    reasons: Literal["top", "none"] = "top",
) -> pd.DataFrame:
    """Forecast the next ``horizon`` periods after the end of ``sales`` with a trained forecast model.

    ``model`` is a :class:`~salesml.scoring.scorer.Scorer` or anything
    :func:`salesml.load_model` accepts. ``sales`` is the history in the
    training table's layout; the known-in-advance covariates of the forecast
    periods come from rows dated after the last sales (their target left empty).

    Returns one row per level, series and period: ``level`` (``total``, each
    upper level, ``series``), ``series``, the keys, ``origin``, ``period``,
    ``h``, ``forecast``, the interval columns, ``status`` (``ok`` or why a
    series was not forecast) and, for bottom series, the top reasons. Upper
    levels are bottom-up sums, so they add up exactly.
    """
    from salesml.scoring.scorer import Scorer, load_model

    scorer = model if isinstance(model, Scorer) else load_model(model)
    task = scorer.task
    if not isinstance(task, Forecasting):
        raise ValueError(f"This is a {task.name!r} model; forecasts need a model trained with task 'forecast'.")
    H = horizon or task.horizon
    if not 1 <= H <= task.horizon:
        raise ValueError(
            f"The model forecasts 1 to {task.horizon} periods ahead. Got horizon={horizon} instead; "
            f"retrain with params.horizon: {horizon} for a longer horizon."
        )
    tables = {"sales": sales}
    task.validate(tables)
    panel = task.make_panel(tables).extend(H)
    if task.params.input == "sales":
        missing = panel.missing_plan(H, per_series=task.params.origin == "per_series")
        if len(missing):
            periods = panel.future_periods(H)
            problems = [
                Problem("sales", col, "missing_plan",
                        f"the known-in-advance covariate has no value for some of the {H} periods after the last sales "
                        f"({_show(periods[0])} to {_show(periods[-1])})",
                        f"add rows dated {_show(periods[0])} to {_show(periods[-1])} with the planned {col} and an empty {task.target}",
                        tuple(g["series"].head(5)), len(g))
                for col, g in missing.groupby("column", sort=True)
            ]
            raise DataValidationError(problems)
    frame, _, refused = task.forecast_rows(panel, H)
    c = task.columns
    chosen = getattr(task, "forecaster_", None)
    if len(frame):
        scored = scorer.score(frame, reasons=reasons if chosen is None or chosen.uses_model else "none")
        bottom = scored.drop(columns=[c.id]).assign(series=frame[c.id].to_numpy())
        if chosen is not None and chosen.members != ["model"]:
            bottom = task.apply_forecaster(chosen, panel, frame, bottom)
    else:
        bottom = pd.DataFrame(columns=["series", *c.keys, "origin", "period", "h", "forecast", "recent_level", "negative_share"])
    zero = np.nan_to_num(frame["zero_share"].to_numpy(dtype=float)) if len(frame) else np.array([])
    bottom["status"] = np.where(zero >= 0.5, [f"ok; intermittent: {z:.0%} of the last season without sales" for z in zero], "ok")
    bottom["nonnegative"] = (np.nan_to_num(frame["negative_share"].to_numpy(dtype=float)) == 0).astype(float) if len(frame) else []
    level_cols = [col for lv in task.params.intervals for col in interval_columns(lv)]
    short = refused["reason"].str.startswith("only ") if len(refused) else pd.Series([], dtype=bool)
    if short.any():  # too short for the model: the seasonal naive forecast (the last value within the first season)
        bottom = pd.concat([bottom, _short_series_forecasts(panel, refused[short], H, c.keys)], ignore_index=True)
        refused = refused[~short]
    stacked = bottom_up(
        bottom.assign(children=1.0), keys=c.keys, values=["forecast", "recent_level", "nonnegative", "children"],
        at=["origin", "period", "h"], levels=task.params.levels,
    )
    upper = stacked[stacked["level"] != BOTTOM].copy()
    for name, _ in hierarchy_levels(c.keys, task.params.levels):
        rows = (upper["level"] == name).to_numpy()
        sub = upper[rows]
        cols = task.level_intervals(name, sub["forecast"].to_numpy(), sub["recent_level"].to_numpy(), sub["h"].to_numpy(),
                                    (sub["nonnegative"] >= sub["children"]).to_numpy(), task.shipped_intervals())
        for col, arr in cols.items():
            upper.loc[rows, col] = arr
    upper["status"] = "ok" if not len(refused) else f"ok; excludes {refused['series'].nunique()} series not forecast"
    upper = upper.drop(columns=["recent_level", "nonnegative", "children"])
    bottom = bottom.drop(columns=["nonnegative"]).assign(level=BOTTOM)
    parts = [upper, bottom]
    if len(refused):
        info = panel.series.set_index("series")
        rows = []
        for r in refused.itertuples():
            for h, period in enumerate(panel.future_periods(H, panel.periods.get_loc(r.origin)), start=1):
                rows.append({"level": BOTTOM, "series": r.series, **{k: info.at[r.series, k] for k in c.keys},
                             "origin": r.origin, "period": period, "h": h, "forecast": np.nan,
                             "status": f"not forecast: {r.reason}"})
        parts.append(pd.DataFrame(rows))
    out = pd.concat([p for p in parts if len(p)], ignore_index=True)
    first = ["level", "series", *c.keys, "origin", "period", "h", "forecast", *level_cols, "status"]
    rest = [col for col in out.columns if col not in first and col not in ("recent_level",)]
    out = out[[*first, *[col for col in rest if col != "same_period_last_year"]]]
    return out.rename(columns={"series": c.id}) if c.id != "series" else out


def _show(label: Any) -> str:
    """A period label for messages: the date of a period start, or a step number."""
    return str(label.date()) if isinstance(label, pd.Timestamp) else str(label)


def _short_series_forecasts(panel: Panel, short: pd.DataFrame, H: int, keys: list[str]) -> pd.DataFrame:
    """Seasonal naive forecasts for series with too little history for the model, with the reason in the status."""
    from salesml.forecasting.baselines import seasonal_naive

    s_idx = pd.Index(panel.series["series"]).get_indexer(short["series"])
    o_idx = panel.periods.get_indexer(pd.Index(short["origin"]))
    info = panel.series.set_index("series")
    rows = []
    for s, o, reason in zip(s_idx, o_idx, short["reason"]):
        fc = seasonal_naive(panel, int(o), H, np.array([s]))[0]
        recent = panel.values[s, max(0, o - panel.season + 1): o + 1]
        level = float(np.nanmean(np.abs(recent))) if np.isfinite(recent).any() else 1.0
        nonneg = float(not (recent < 0).any())
        name = panel.series["series"].iat[s]
        for h, period in enumerate(panel.future_periods(H, int(o)), start=1):
            rows.append({"series": name, **{k: info.at[name, k] for k in keys}, "origin": panel.periods[o], "period": period,
                         "h": h, "forecast": max(fc[h - 1], 0.0) if nonneg else fc[h - 1], "recent_level": level or 1.0,
                         "nonnegative": nonneg, "status": f"ok; seasonal naive: {reason} for the model"})
    return pd.DataFrame(rows)
