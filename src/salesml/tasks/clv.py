"""Customer lifetime value: how much will this customer buy over the next horizon?

Two models side by side on the same snapshots (:mod:`salesml.customers.task`):

* LightGBM on the snapshot features (recency, frequency, monetary value over
  several windows, trends, product and channel mix, activities, attributes),
  with a Tweedie objective (log link: revenue is a rate times a spend, with
  many zeros; the raw score is log revenue, hence calibration ``exp``; its
  reasons are contributions to log revenue);
* the probabilistic baseline BG/NBD + Gamma-Gamma (:mod:`salesml.customers.bgnbd`;
  it reads ``repeat_orders``, ``days_since_first_order``, ``days_since_last_order`` and
  ``mean_repeat_order_value``).

A third candidate, the **hybrid** ``w * LightGBM + (1 - w) * BG/NBD``, takes ``w`` (steps of
0.05) from the validation window, its RMSE there cross-fitted over two halves of the customers.
The candidate with the lowest validation RMSE becomes the task's model (:meth:`CLV.fit_state`,
ties to LightGBM, then BG/NBD), BG/NBD being fitted for that on the histories as of the
validation cutoff; the shipped BG/NBD and Gamma-Gamma parameters are then **refitted** on the
histories as of the holdout cutoff (all history up to the latest cutoff with a complete
window). Both models are reported on the holdout as ``baseline.lightgbm.*`` and
``baseline.bgnbd.*`` (and ``baseline.hybrid.*``) next to a naive ``baseline.last_period.*`` (the last 12 months' revenue
scaled to the horizon), and the run's params say which won (``state.winner``) and by how much
(``state.valid_rmse_*``). Model choice and reporting lean on RMSE, rank measures and
total-revenue error: on sparse purchase data MAE rewards predicting zero for everyone, so it
is reported only alongside.

**Any horizon at scoring time**: ``scorer.with_params(horizon="39W").score(frame)``.
BG/NBD + Gamma-Gamma answer any horizon in closed form; LightGBM learnt one window (the
trained horizon, or a shorter one on a short history) and is taken to the horizon asked for by
each customer's own BG/NBD purchase curve (the ratio of expected purchases). Optional
``discount_rate`` (yearly) discounts each future month's purchases, as CLV practice expects.

**Short histories**: when the data cannot hold a training, a validation and a holdout cutoff
each followed by a full horizon (18 months of orders and a 39-week horizon), training and
validation cutoffs use the longest shorter window that fits before the holdout, which keeps
its full horizon (``state.cutoff_plan = short_history``, ``state.model_horizon``, logged).

Output per customer: ``expected_revenue`` over the horizon (never negative),
``expected_purchases`` and ``probability_purchase`` (BG/NBD: the probability of at least one
purchase in the horizon; BG/NBD's "probability alive" is not shipped: it is 1 for every
customer without a repeat purchase, however long ago they bought) and ``value_tier``: tiers by
share of revenue (default: the customers making the top 50% of predicted revenue are A, the
next 30% B, the next 15% C, the rest D). Tier thresholds are fixed at training time from the
validation-cutoff population at the trained horizon, so a customer's tier depends neither on
who else is in the batch nor on the horizon asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import field_validator

from salesml.customers.bgnbd import BetaGeoModel, GammaGammaModel
from salesml.core.metrics import regression_metrics
from salesml.core.split import TimeSplit
from salesml.core.task import BacktestReport, Dataset, TaskParams
from salesml.customers.task import CustomerParams, CustomerTask

__all__ = ["CLV", "CLVParams", "RFM_COLUMNS"]

#: Snapshot columns BG/NBD and Gamma-Gamma read: repeat purchases x, age T, recency, mean repeat value.
RFM_COLUMNS = ("repeat_orders", "days_since_first_order", "days_since_last_order", "mean_repeat_order_value")


class CLVParams(CustomerParams):
    horizon: str = "12M"
    #: Yearly rate each future purchase is discounted at (0.1 = 10% a year); 0 = no discounting.
    discount_rate: float = 0.0
    tiers: dict[str, float] = {"A": 0.5, "B": 0.8, "C": 0.95}
    lowest_tier: str = "D"
    compare_bgnbd: bool = True
    min_buyers: int = 50

    @field_validator("discount_rate")
    @classmethod
    def _rate(cls, v: float) -> float:
        if not 0 <= v < 10:
            raise ValueError(f"discount_rate must be a yearly rate such as 0.1 (10% a year), at least 0. Got {v} instead.")
        return v

    @field_validator("tiers")
    @classmethod
    def _tiers(cls, v: dict[str, float]) -> dict[str, float]:
        shares = list(v.values())
        if shares != sorted(shares) or any(not 0 < s <= 1 for s in shares):
            raise ValueError(
                "tiers must map each tier, best first, to the cumulative share of revenue it reaches, "
                f"increasing within (0, 1], e.g. {{A: 0.5, B: 0.8, C: 0.95}}. Got {v}."
            )
        return v


def rfm(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x, recency, T, monetary)`` in days for BG/NBD from snapshot columns.

    Customers without an order yet count as if their first purchase were at
    signup (x = 0, T = tenure); single-order customers have x = 0 and get the
    Gamma-Gamma population mean spend. Inconsistent values are clipped into
    range rather than refused (a scoring batch is never stopped by one row).
    """
    x = pd.to_numeric(frame["repeat_orders"], errors="coerce").to_numpy(dtype=float)
    T = pd.to_numeric(frame["days_since_first_order"], errors="coerce").to_numpy(dtype=float)
    last = pd.to_numeric(frame["days_since_last_order"], errors="coerce").to_numpy(dtype=float)
    money = pd.to_numeric(frame["mean_repeat_order_value"], errors="coerce").to_numpy(dtype=float)
    tenure = (
        pd.to_numeric(frame["tenure_days"], errors="coerce").to_numpy(dtype=float)
        if "tenure_days" in frame.columns
        else np.zeros(len(frame))
    )
    no_orders = ~np.isfinite(T)
    T = np.where(no_orders, np.nan_to_num(tenure, nan=0.0), T)
    T = np.maximum(T, 0.0)
    x = np.where(np.isfinite(x) & ~no_orders, np.floor(np.maximum(x, 0.0)), 0.0)
    recency = np.clip(np.where(np.isfinite(last), T - last, 0.0), 0.0, T)
    x = np.where((x > 0) & (recency <= 0), 0.0, x)
    recency = np.where(x > 0, recency, 0.0)
    money = np.where((x > 0) & np.isfinite(money) & (money > 0), money, np.nan)
    return x, recency, T, money


class CLV(CustomerTask):
    """Expected revenue per customer over a horizon; LightGBM vs BG/NBD + Gamma-Gamma, the better one wins."""

    name = "clv"
    title = "Customer lifetime value"
    objective = "tweedie"
    eval_metric = "rmse"
    primary_metric = "rmse"
    greater_is_better = False
    calibration = "exp"
    #: fit_state picks BG/NBD or LightGBM on the validation rows, so the shipped booster must not train on them.
    refit = False
    default_search_space = "lightgbm"
    Params: ClassVar[type[TaskParams]] = CLVParams
    params: CLVParams
    rescales_horizon = True

    # ------------------------------------------------------------ dataset
    def target(self, snapshot: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return snapshot["target_revenue"].to_numpy(dtype=float), np.ones(len(snapshot), dtype=bool)

    def prepared_target(self, label: pd.Series) -> np.ndarray:
        return pd.to_numeric(label, errors="coerce").to_numpy(dtype=float)

    # -------------------------------------------------------------- state
    def _has_rfm(self, frame: pd.DataFrame) -> bool:
        return all(c in frame.columns for c in RFM_COLUMNS)

    @staticmethod
    def _fit_bgnbd(frame: pd.DataFrame) -> dict[str, Any]:
        """BG/NBD (+ Gamma-Gamma when at least two customers repeat) on the histories of ``frame``'s rows."""
        x, rec, T, money = rfm(frame)
        out: dict[str, Any] = {"bgnbd": BetaGeoModel(random_state=0).fit(x, rec, T).to_dict()}
        if np.isfinite(money).sum() >= 2:
            out["gamma_gamma"] = GammaGammaModel(random_state=0).fit(x, money).to_dict()
        return out

    def fit_state(
        self, dataset: Dataset, split: TimeSplit, model_predict: Callable[[pd.DataFrame], np.ndarray],
        backtest: BacktestReport | None = None,
    ) -> dict[str, Any]:
        """Pick the better model on the validation cutoff, then refit BG/NBD + Gamma-Gamma on all history.

        The choice compares LightGBM with BG/NBD + Gamma-Gamma fitted on the histories as of the
        validation cutoff, on the validation window. The shipped BG/NBD and Gamma-Gamma parameters
        are then refitted on the histories as of the holdout cutoff, the latest cutoff whose window
        the data completes (features only: no holdout target is read). Tier thresholds are fixed on
        the validation population at the trained horizon.
        """
        valid = dataset.frame.iloc[np.flatnonzero(split.valid)]
        y_valid = dataset.target[split.valid]
        plan = self.plan_
        window = plan.train_horizon if plan is not None and plan.train_horizon is not None else self.horizon
        state: dict[str, Any] = {
            "horizon": str(self.horizon),
            "horizon_days": self.horizon.days,
            "model_horizon": str(window),
            "model_horizon_days": window.days,
            "cutoff_plan": plan.mode if plan is not None else "given",
        }
        preds = {"lightgbm": np.maximum(model_predict(valid), 0.0)}
        if self.params.compare_bgnbd and self._has_rfm(valid):
            at_valid = self._fit_bgnbd(valid)
            if "gamma_gamma" in at_valid:
                preds["bgnbd"] = self._bgnbd_revenue(valid, at_valid, window.days, 0.0)
            test = dataset.frame.iloc[np.flatnonzero(split.test)]
            state.update(self._fit_bgnbd(test if len(test) else valid))
            state["bgnbd_fitted_at"] = str(pd.Timestamp(dataset.time[split.test].max() if len(test) else dataset.time[split.valid].max()))
            state["valid_bgnbd_params"] = at_valid["bgnbd"]["params"]
        rmse = {name: float(np.sqrt(np.mean((p - y_valid) ** 2))) for name, p in preds.items()}
        if "bgnbd" in preds:
            weight, rmse["hybrid"] = self._hybrid_weight(y_valid, preds["lightgbm"], preds["bgnbd"])
            state["hybrid_weight"] = weight
            preds["hybrid"] = weight * preds["lightgbm"] + (1.0 - weight) * preds["bgnbd"]
        ranked = sorted(rmse, key=lambda k: (rmse[k], ["lightgbm", "bgnbd", "hybrid"].index(k)))
        winner = ranked[0]
        state["winner"] = winner
        state["selected_on"] = "validation rmse"
        for name, value in rmse.items():
            state[f"valid_rmse_{name}"] = value
        if len(ranked) > 1 and rmse[ranked[1]] > 0:
            state["valid_rmse_improvement"] = float((rmse[ranked[1]] - rmse[winner]) / rmse[ranked[1]])
        at_horizon = preds[winner] * self._rescale(valid, state, window.days, self.horizon.days, 0.0)
        state["tier_thresholds"] = self._tier_thresholds(at_horizon)
        return state

    @staticmethod
    def _hybrid_weight(y: np.ndarray, lightgbm: np.ndarray, bgnbd: np.ndarray) -> tuple[float, float]:
        """The weight of LightGBM in ``w * LightGBM + (1 - w) * BG/NBD`` and the blend's honest RMSE.

        ``w`` is the grid value (steps of 0.05) with the lowest RMSE on the validation window. The
        RMSE the blend competes with is cross-fitted: the customers are split in two halves (seeded),
        ``w`` is chosen on each half and scored on the other, so the blend cannot win the model
        choice merely by having been tuned on the rows it is judged on.
        """
        grid = np.linspace(0.0, 1.0, 21)

        def best(rows: np.ndarray) -> float:
            errors = [np.mean((w * lightgbm[rows] + (1.0 - w) * bgnbd[rows] - y[rows]) ** 2) for w in grid]
            return float(grid[int(np.argmin(errors))])

        half = np.random.default_rng(0).permutation(len(y)) % 2 == 0
        squared = np.empty(len(y))
        for fit_on in (half, ~half):
            w = best(fit_on)
            squared[~fit_on] = (w * lightgbm[~fit_on] + (1.0 - w) * bgnbd[~fit_on] - y[~fit_on]) ** 2
        return best(np.ones(len(y), dtype=bool)), float(np.sqrt(squared.mean()))

    def _tier_thresholds(self, pred: np.ndarray) -> dict[str, float]:
        """Minimum predicted revenue per tier: the top customers reaching each cumulative revenue share."""
        values = np.sort(np.asarray(pred, dtype=float))[::-1]
        total = values.sum()
        out: dict[str, float] = {}
        if total <= 0 or len(values) == 0:
            return {name: float("inf") for name in self.params.tiers}
        share = np.cumsum(values) / total
        for name, cum in self.params.tiers.items():
            idx = min(int(np.searchsorted(share, cum - 1e-12, side="left")), len(values) - 1)
            out[name] = float(values[idx])
        return out

    # ------------------------------------------------------------ horizons
    @staticmethod
    def _purchases(frame: pd.DataFrame, state: Mapping[str, Any], days: float, rate: float) -> np.ndarray | None:
        """BG/NBD expected (discounted) purchases over ``days`` per row; ``None`` without a fitted BG/NBD."""
        if "bgnbd" not in state or not all(c in frame.columns for c in RFM_COLUMNS):
            return None
        x, rec, T, _ = rfm(frame)
        return BetaGeoModel.from_dict(state["bgnbd"]).discounted_purchases(days, x, rec, T, annual_rate=rate)

    def _rescale(self, frame: pd.DataFrame, state: Mapping[str, Any], from_days: float, to_days: float, rate: float) -> np.ndarray:
        """Per-row factor taking revenue over ``from_days`` (undiscounted) to ``to_days`` at ``rate``.

        BG/NBD's own curve of expected purchases gives each customer's factor (spend per purchase
        cancels out); without a fitted BG/NBD, the ratio of the lengths (and the discount at mid-window).
        """
        if from_days == to_days and rate == 0.0:
            return np.ones(len(frame))
        to = self._purchases(frame, state, to_days, rate)
        base = self._purchases(frame, state, from_days, 0.0)
        if to is None or base is None:
            return np.full(len(frame), to_days / from_days * (1.0 + rate) ** -(to_days / 2 / 365.25))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(base > 0, to / np.where(base > 0, base, 1.0), to_days / from_days)

    def _bgnbd_revenue(self, frame: pd.DataFrame, state: Mapping[str, Any], days: float, rate: float) -> np.ndarray:
        purchases = self._purchases(frame, state, days, rate)
        if purchases is None or "gamma_gamma" not in state:
            return np.zeros(len(frame))
        x, _, _, money = rfm(frame)
        spend = GammaGammaModel.from_dict(state["gamma_gamma"]).expected_spend(x, money)
        return np.nan_to_num(purchases * spend, nan=0.0)

    def _model_days(self) -> float:
        return float(self.state_.get("model_horizon_days", self.state_.get("horizon_days", self.horizon.days)))

    def _lightgbm(self, frame: pd.DataFrame, model_pred: np.ndarray) -> np.ndarray:
        """LightGBM's prediction (for its training window) taken to the horizon asked for."""
        pred = np.maximum(np.asarray(model_pred, dtype=float), 0.0)
        return pred * self._rescale(frame, self.state_, self._model_days(), self.horizon.days, self.params.discount_rate)

    # ---------------------------------------------------------- predict
    def predict(self, frame: pd.DataFrame, model_pred: np.ndarray) -> np.ndarray:
        """Expected revenue over ``params.horizon`` (set at scoring time with ``scorer.with_params(horizon=...)``).

        BG/NBD + Gamma-Gamma answer any horizon in closed form; LightGBM learnt one window and is
        taken to other horizons by each customer's BG/NBD purchase curve. ``discount_rate``
        discounts each future month's purchases.
        """
        winner = self.state_.get("winner")
        if winner == "bgnbd":
            return self._bgnbd_revenue(frame, self.state_, self.horizon.days, self.params.discount_rate)
        if winner == "hybrid":
            return self._hybrid(frame, model_pred)
        return self._lightgbm(frame, model_pred)

    def _hybrid(self, frame: pd.DataFrame, model_pred: np.ndarray) -> np.ndarray:
        """``w * LightGBM + (1 - w) * BG/NBD`` at the horizon asked for (``w`` from :meth:`_hybrid_weight`)."""
        w = float(self.state_["hybrid_weight"])
        bgnbd = self._bgnbd_revenue(frame, self.state_, self.horizon.days, self.params.discount_rate)
        return w * self._lightgbm(frame, model_pred) + (1.0 - w) * bgnbd

    def explained_by_model(self) -> bool:
        return self.state_.get("winner", "lightgbm") == "lightgbm"

    def baselines(
        self, dataset: Dataset, split: TimeSplit, model_predict: Callable[[pd.DataFrame], np.ndarray]
    ) -> dict[str, np.ndarray]:
        test = dataset.frame.iloc[np.flatnonzero(split.test)]
        out = {"lightgbm": self._lightgbm(test, model_predict(test))}
        if "bgnbd" in self.state_ and "gamma_gamma" in self.state_:
            out["bgnbd"] = self._bgnbd_revenue(test, self.state_, self.horizon.days, self.params.discount_rate)
            if "hybrid_weight" in self.state_:
                out["hybrid"] = self._hybrid(test, model_predict(test))
        if "revenue_12m" in test.columns:
            last = pd.to_numeric(test["revenue_12m"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
            out["last_period"] = np.maximum(last, 0.0) * self.horizon.days / (12 * 30.436875)
        return out

    # ----------------------------------------------------------- output
    def value_tier(self, pred: np.ndarray) -> np.ndarray:
        thresholds = self.state_.get("tier_thresholds") or {}
        tiers = np.full(len(pred), self.params.lowest_tier, dtype=object)
        for name in reversed(list(self.params.tiers)):
            cut = thresholds.get(name)
            if cut is not None and np.isfinite(cut):
                tiers[np.asarray(pred, dtype=float) >= cut] = name
        return tiers

    def postprocess(self, pred: np.ndarray, frame: pd.DataFrame) -> pd.DataFrame:
        """Expected revenue, BG/NBD's expected purchases and P(a purchase) over the horizon, and the tier.

        The tier ranks customers by their value at the trained horizon whatever horizon is asked for,
        so the same thresholds apply.
        """
        value = np.asarray(pred, dtype=float)
        n, days = len(frame), self.horizon.days
        purchases = self._purchases(frame, self.state_, days, 0.0)
        buys = np.full(n, np.nan)
        if purchases is not None:
            x, rec, T, _ = rfm(frame)
            buys = BetaGeoModel.from_dict(self.state_["bgnbd"]).probability_of_purchase(days, x, rec, T)
        trained = float(self.state_.get("horizon_days", days))
        tier_value = value / self._rescale(frame, self.state_, trained, days, self.params.discount_rate)
        return pd.DataFrame(
            {
                "expected_revenue": value,
                "expected_purchases": purchases if purchases is not None else np.full(n, np.nan),
                "probability_purchase": buys,
                "value_tier": self.value_tier(tier_value),
            },
            index=frame.index,
        )

    # ---------------------------------------------------------- metrics
    def evaluate(self, y_true: np.ndarray, pred: np.ndarray, output: pd.DataFrame) -> dict[str, float]:
        metrics = regression_metrics(y_true, pred)
        y = np.asarray(y_true, dtype=float)
        top = self.params.tiers and next(iter(self.params.tiers))
        high = output["value_tier"].to_numpy() == top
        metrics["high_value_share_of_customers"] = float(high.mean()) if len(high) else float("nan")
        metrics["high_value_revenue_share"] = float(y[high].sum() / y.sum()) if y.sum() > 0 else float("nan")
        metrics["actual_total"] = float(y.sum())
        metrics["predicted_total"] = float(np.sum(pred))
        return metrics

    def figures(self, y_true: np.ndarray, pred: np.ndarray, output: pd.DataFrame) -> dict[str, Any]:
        from salesml.core import plots

        return {"plots/clv_deciles.png": plots.decile_plot(y_true, {"model": pred})}

    def comparison_figures(self, y_true: np.ndarray, predictions: Mapping[str, np.ndarray]) -> dict[str, Any]:
        from salesml.core import plots

        return {"plots/clv_deciles_compared.png": plots.decile_plot(y_true, predictions)}

    def data_problems(self, y_train: np.ndarray, y_test: np.ndarray) -> list[str]:
        problems = []
        for side, y in (("training", y_train), ("holdout", y_test)):
            buyers = int(np.sum(np.asarray(y) > 0))
            if buyers < self.params.min_buyers:
                problems.append(
                    f"the {side} set has {buyers} customers who bought in their target window; at least "
                    f"{self.params.min_buyers} are needed"
                )
        return problems

    def summary(self, metrics: Mapping[str, float], scored: pd.DataFrame | None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model used": self.state_.get("winner", "lightgbm"),
            "cutoff plan": f"{self.state_.get('cutoff_plan', 'standard')} (trained on {self.state_.get('model_horizon', self.horizon)} windows)",
            "holdout RMSE": round(metrics["test.rmse"], 1),
            "holdout Spearman": round(metrics["test.spearman"], 3),
            "holdout total error": f"{metrics['test.total_error']:+.1%}",
        }
        for name in ("lightgbm", "bgnbd", "hybrid", "last_period"):
            if f"baseline.{name}.rmse" in metrics:
                out[f"{name} RMSE / MAE"] = (
                    f"{metrics[f'baseline.{name}.rmse']:.1f} / {metrics[f'baseline.{name}.mae']:.1f}"
                )
        if scored is not None:
            out["customers scored"] = len(scored)
            out["value tiers"] = {str(k): int(v) for k, v in scored["value_tier"].value_counts().sort_index().items()}
        return out
