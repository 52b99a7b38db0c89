"""Customer lifetime value: how much will this customer buy over the next horizon?

Two models side by side on the same snapshots (:mod:`salesml.customers.task`):

* LightGBM on the snapshot features (recency, frequency, monetary value over
  several windows, trends, product and channel mix, activities, attributes),
  with a Tweedie objective (log link: revenue is a rate times a spend, with
  many zeros; the raw score is log revenue, hence calibration ``exp``; its
  reasons are contributions to log revenue);
* the probabilistic baseline BG/NBD + Gamma-Gamma (:mod:`salesml.customers.bgnbd`),
  fitted by maximum likelihood on the customers' histories as of the
  validation cutoff (it reads ``repeat_orders``, ``days_since_first_order``,
  ``days_since_last_order`` and ``mean_repeat_order_value``).

The model with the lower RMSE on the validation window becomes the task's
model (:meth:`CLV.fit_state`); both are reported on the holdout as
``baseline.lightgbm.*`` and ``baseline.bgnbd.*`` next to a naive
``baseline.last_period.*`` (the last 12 months' revenue scaled to the horizon),
and the run's params say which won (``state.winner``) and by how much
(``state.valid_rmse_*``). Model choice and reporting lean on RMSE, rank
measures and total-revenue error: on sparse purchase data MAE rewards
predicting zero for everyone, so it is reported only alongside.

Output per customer: ``expected_revenue`` over the horizon (never negative),
``expected_purchases`` and ``probability_alive`` (BG/NBD), and ``value_tier``:
tiers by share of revenue (default: the customers making the top 50% of
predicted revenue are A, the next 30% B, the next 15% C, the rest D). Tier
thresholds are fixed at training time from the validation-cutoff population,
so a customer's tier does not depend on who else is in the batch.
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
    tiers: dict[str, float] = {"A": 0.5, "B": 0.8, "C": 0.95}
    lowest_tier: str = "D"
    compare_bgnbd: bool = True
    min_buyers: int = 50

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

    # ------------------------------------------------------------ dataset
    def target(self, snapshot: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return snapshot["target_revenue"].to_numpy(dtype=float), np.ones(len(snapshot), dtype=bool)

    def prepared_target(self, label: pd.Series) -> np.ndarray:
        return pd.to_numeric(label, errors="coerce").to_numpy(dtype=float)

    # -------------------------------------------------------------- state
    def _has_rfm(self, frame: pd.DataFrame) -> bool:
        return all(c in frame.columns for c in RFM_COLUMNS)

    def fit_state(
        self, dataset: Dataset, split: TimeSplit, model_predict: Callable[[pd.DataFrame], np.ndarray],
        backtest: BacktestReport | None = None,
    ) -> dict[str, Any]:
        """Fit BG/NBD + Gamma-Gamma on the validation cutoff's histories, pick the better model, fix the tiers."""
        valid = dataset.frame.iloc[np.flatnonzero(split.valid)]
        y_valid = dataset.target[split.valid]
        state: dict[str, Any] = {"horizon_days": self.horizon.days}
        preds = {"lightgbm": np.maximum(model_predict(valid), 0.0)}
        if self.params.compare_bgnbd and self._has_rfm(valid):
            x, rec, T, money = rfm(valid)
            bg = BetaGeoModel(random_state=0).fit(x, rec, T)
            state["bgnbd"] = bg.to_dict()
            if np.isfinite(money).sum() >= 2:
                gg = GammaGammaModel(random_state=0).fit(x, money)
                state["gamma_gamma"] = gg.to_dict()
                preds["bgnbd"] = self._bgnbd_revenue(valid, state)
        rmse = {name: float(np.sqrt(np.mean((p - y_valid) ** 2))) for name, p in preds.items()}
        ranked = sorted(rmse, key=lambda k: (rmse[k], k != "lightgbm"))
        winner = ranked[0]
        state["winner"] = winner
        state["selected_on"] = "validation rmse"
        for name, value in rmse.items():
            state[f"valid_rmse_{name}"] = value
        if len(ranked) > 1 and rmse[ranked[1]] > 0:
            state["valid_rmse_improvement"] = float((rmse[ranked[1]] - rmse[winner]) / rmse[ranked[1]])
        state["tier_thresholds"] = self._tier_thresholds(preds[winner])
        return state

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

    def _bgnbd_parts(
        self, frame: pd.DataFrame, state: Mapping[str, Any] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Expected purchases, probability alive and expected spend per purchase (NaN without a fitted BG/NBD)."""
        state = self.state_ if state is None else state
        n = len(frame)
        if "bgnbd" not in state or not self._has_rfm(frame):
            return np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
        x, rec, T, money = rfm(frame)
        bg = BetaGeoModel.from_dict(state["bgnbd"])
        purchases = bg.expected_purchases(self.horizon.days, x, rec, T)
        alive = bg.probability_alive(x, rec, T)
        spend = (
            GammaGammaModel.from_dict(state["gamma_gamma"]).expected_spend(x, money)
            if "gamma_gamma" in state
            else np.full(n, np.nan)
        )
        return purchases, alive, spend

    def _bgnbd_revenue(self, frame: pd.DataFrame, state: Mapping[str, Any] | None = None) -> np.ndarray:
        purchases, _, spend = self._bgnbd_parts(frame, state)
        return np.nan_to_num(purchases * spend, nan=0.0)

    # ---------------------------------------------------------- predict
    def predict(self, frame: pd.DataFrame, model_pred: np.ndarray) -> np.ndarray:
        if self.state_.get("winner") == "bgnbd":
            return self._bgnbd_revenue(frame)
        return np.maximum(np.asarray(model_pred, dtype=float), 0.0)

    def explained_by_model(self) -> bool:
        return self.state_.get("winner", "lightgbm") == "lightgbm"

    def baselines(
        self, dataset: Dataset, split: TimeSplit, model_predict: Callable[[pd.DataFrame], np.ndarray]
    ) -> dict[str, np.ndarray]:
        test = dataset.frame.iloc[np.flatnonzero(split.test)]
        out = {"lightgbm": np.maximum(model_predict(test), 0.0)}
        if "bgnbd" in self.state_ and "gamma_gamma" in self.state_:
            out["bgnbd"] = self._bgnbd_revenue(test)
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
        value = np.asarray(pred, dtype=float)
        purchases, alive, _ = self._bgnbd_parts(frame)
        return pd.DataFrame(
            {
                "expected_revenue": value,
                "expected_purchases": purchases,
                "probability_alive": alive,
                "value_tier": self.value_tier(value),
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
            "holdout RMSE": round(metrics["test.rmse"], 1),
            "holdout Spearman": round(metrics["test.spearman"], 3),
            "holdout total error": f"{metrics['test.total_error']:+.1%}",
        }
        for name in ("lightgbm", "bgnbd", "last_period"):
            if f"baseline.{name}.rmse" in metrics:
                out[f"{name} RMSE / MAE"] = (
                    f"{metrics[f'baseline.{name}.rmse']:.1f} / {metrics[f'baseline.{name}.mae']:.1f}"
                )
        if scored is not None:
            out["customers scored"] = len(scored)
            out["value tiers"] = {str(k): int(v) for k, v in scored["value_tier"].value_counts().sort_index().items()}
        return out
