"""The figures a run logs: calibration, lift/gain, score distribution, SHAP summary, tuning history.

Every function returns a matplotlib ``Figure`` (no screen needed, pyplot state untouched)
built from aggregates only: no row of input data, no identifier, is drawn as a
label.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "calibration_plot",
    "gain_plot",
    "score_distribution_plot",
    "shap_summary_plot",
    "tuning_history_plot",
    "decile_table",
    "decile_plot",
    "gain_comparison_plot",
    "value_risk_plot",
]


def _figure(width: float = 6.0, height: float = 4.5):
    """A stand-alone Figure: not registered with pyplot, so it neither changes a notebook's
    backend nor leaks into the user's next ``plt.plot``; notebooks show it with ``display(fig)``."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    return fig, fig.subplots()


def calibration_plot(y_true: np.ndarray, prob: np.ndarray, n_bins: int = 10):
    from salesml.core.calibration import calibration_curve_table, expected_calibration_error

    table = calibration_curve_table(y_true, prob, n_bins)
    fig, ax = _figure()
    top = max(float(table["mean_predicted"].max()), float(table["observed"].max()), 0.05) * 1.05
    ax.plot([0, top], [0, top], ls="--", color="grey", label="perfect calibration")
    ax.plot(table["mean_predicted"], table["observed"], marker="o", label="model (equal-count bins)")
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed rate")
    ax.set_title(f"Calibration on the holdout (ECE {expected_calibration_error(y_true, prob, n_bins):.3f})")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def gain_plot(y_true: np.ndarray, score: np.ndarray, threshold_share: float | None = None):
    from salesml.core.metrics import gain_curve, lift_at

    share, captured = gain_curve(y_true, score)
    fig, ax = _figure()
    ax.plot(share, captured, label=f"model (top-decile lift {lift_at(y_true, score, 0.1):.2f})")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", label="random")
    if threshold_share is not None and threshold_share > 0:
        ax.axvline(threshold_share, color="tab:red", ls=":", label=f"follow-up threshold ({threshold_share:.1%} followed)")
    ax.set_xlabel("share of rows followed (best first)")
    ax.set_ylabel("share of positives caught")
    ax.set_title("Cumulative gain on the holdout")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def score_distribution_plot(score: np.ndarray, y_true: np.ndarray, threshold: float | None = None):
    fig, ax = _figure()
    bins = np.linspace(0, 100, 51)
    y_true = np.asarray(y_true)
    ax.hist(score[y_true == 0], bins=bins, alpha=0.6, label="did not convert", density=True)
    ax.hist(score[y_true == 1], bins=bins, alpha=0.6, label="converted", density=True)
    if threshold is not None:
        ax.axvline(threshold, color="tab:red", ls=":", label=f"default threshold {threshold:g}")
    ax.set_xlabel("score (0-100)")
    ax.set_ylabel("density")
    ax.set_yscale("log")
    ax.set_title("Score distribution on the holdout")
    ax.legend()
    fig.tight_layout()
    return fig


def shap_summary_plot(explanation: Any, max_display: int = 20):
    """SHAP beeswarm of the holdout sample."""
    import matplotlib.pyplot as plt
    import shap

    # shap draws on pyplot's current figure: give it a fresh one and release it from pyplot after.
    fig = plt.figure()
    shap.plots.beeswarm(explanation, max_display=max_display, show=False)
    fig = plt.gcf()
    fig.set_size_inches(8, 0.35 * min(max_display, explanation.values.shape[1]) + 1.5)
    fig.tight_layout()
    plt.close(fig)
    return fig


def tuning_history_plot(values: list[float], maximize: bool, metric: str):
    """Each trial's value (NaN: pruned) and the best so far; ``metric`` labels the y axis as the study
    defines its objective, e.g. ``validation auc`` or ``mean wape over 3 rolling-origin windows``."""
    fig, ax = _figure()
    x = np.arange(len(values))
    vals = np.asarray(values, dtype=float)
    ok = ~np.isnan(vals)
    ax.scatter(x[ok], vals[ok], s=14, label="trial")
    if ok.any():
        filled = np.where(ok, vals, -np.inf if maximize else np.inf)
        best = np.maximum.accumulate(filled) if maximize else np.minimum.accumulate(filled)
        ax.step(x, np.where(np.isfinite(best), best, np.nan), where="post", color="tab:orange", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(metric)
    ax.set_title("Optuna study history (pruned trials omitted)")
    ax.legend()
    fig.tight_layout()
    return fig


def decile_table(y_true: np.ndarray, pred: np.ndarray, n: int = 10) -> dict[str, np.ndarray]:
    """Mean predicted and mean actual value per equal-count decile of the prediction (1 = lowest)."""
    from salesml.core.calibration import calibration_curve_table

    table = calibration_curve_table(y_true, pred, n)
    return {"decile": table["bin"] + 1, "mean_predicted": table["mean_predicted"], "mean_actual": table["observed"]}


def decile_plot(y_true: np.ndarray, predictions: dict[str, np.ndarray], n: int = 10):
    """Predicted vs actual mean value by decile of each model's prediction (the CLV decile chart)."""
    fig, ax = _figure(7.0, 4.5)
    colours = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"]
    for i, (name, pred) in enumerate(predictions.items()):
        table = decile_table(y_true, pred, n)
        colour = colours[i % len(colours)]
        ax.plot(table["decile"], table["mean_actual"], marker="o", color=colour, label=f"{name}: actual")
        ax.plot(table["decile"], table["mean_predicted"], ls="--", color=colour, label=f"{name}: predicted")
    ax.set_xlabel("decile of predicted value (10 = highest)")
    ax.set_ylabel("mean value per customer")
    ax.set_xticks(range(1, n + 1))
    ax.set_title("Predicted vs actual value by decile (holdout)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def gain_comparison_plot(y_true: np.ndarray, predictions: dict[str, np.ndarray]):
    """Cumulative gain of several scores on the same holdout."""
    from salesml.core.metrics import gain_curve, lift_at

    fig, ax = _figure()
    for name, score in predictions.items():
        share, captured = gain_curve(y_true, score)
        ax.plot(share, captured, label=f"{name} (top-decile lift {lift_at(y_true, score, 0.1):.2f})")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", label="random")
    ax.set_xlabel("share of rows (highest score first)")
    ax.set_ylabel("share of positives caught")
    ax.set_title("Cumulative gain on the holdout: model vs baselines")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def value_risk_plot(value: np.ndarray, risk: np.ndarray, *, value_cut: float, risk_cut: float, table: Any = None):
    """Density of customers by value (log scale) and churn risk, with the segment cut-offs.

    Drawn as a hexbin of counts (aggregates only: no single customer is a
    point); ``table`` (the segment table) adds each segment's customers and
    revenue at risk in its quadrant.
    """
    fig, ax = _figure(7.0, 5.0)
    value = np.asarray(value, dtype=float)
    risk = np.asarray(risk, dtype=float)
    floor = max(float(np.nanmin(value[value > 0])) if (value > 0).any() else 1.0, 1e-2)
    x = np.log10(np.maximum(value, floor))
    hb = ax.hexbin(x, risk, gridsize=35, bins="log", mincnt=1, cmap="Blues")
    fig.colorbar(hb, ax=ax, label="customers (log)")
    ax.axvline(np.log10(max(value_cut, floor)), color="tab:red", ls="--")
    ax.axhline(risk_cut, color="tab:red", ls="--")
    ax.set_xlabel("expected revenue over the horizon (log10)")
    ax.set_ylabel("churn probability")
    ax.set_ylim(0, 1)
    if table is not None:
        lo, hi = ax.get_xlim()
        xv = np.log10(max(value_cut, floor))
        spots = {
            "high-value stable": ((xv + hi) / 2, risk_cut / 2),
            "high-value at-risk": ((xv + hi) / 2, (risk_cut + 1) / 2),
            "low-value potential": ((lo + xv) / 2, risk_cut / 2),
            "low-value low-potential": ((lo + xv) / 2, (risk_cut + 1) / 2),
        }
        for _, row in table.iterrows():
            where = spots.get(row["segment"])
            if where is None:
                continue
            ax.text(
                *where,
                f"{row['segment']}\n{int(row['customers']):,} customers\nat risk {row['revenue_at_risk']:,.0f}",
                ha="center", va="center", fontsize=8, bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"},
            )
    ax.set_title("Customers by value and churn risk")
    fig.tight_layout()
    return fig
def forecast_plot(history: Any, forecasts: Any, *, baselines: Any = (), intervals: Any = (0.8, 0.95), title: str = "Backtest at the top level"):
    """Actual history and each window's forecast with its intervals (and the baselines, dashed).

    ``history`` is a Series indexed by period; ``forecasts`` has ``window``,
    ``period``, ``actual``, ``forecast``, the baseline columns and
    ``lower_<pct>``/``upper_<pct>`` columns.
    """
    from salesml.forecasting.conformal import interval_columns

    fig, ax = _figure(9.0, 4.5)
    start = forecasts["period"].min() - (forecasts["period"].max() - forecasts["period"].min())
    shown = history[history.index >= start]
    ax.plot(shown.index, shown.to_numpy(), color="black", lw=1.5, label="actual")
    shades = sorted(intervals, reverse=True)
    for i, (window, g) in enumerate(forecasts.groupby("window", sort=True)):
        g = g.sort_values("period")
        for j, level in enumerate(shades):
            lo, hi = interval_columns(level)
            if lo in g.columns:
                ax.fill_between(g["period"], g[lo], g[hi], color="tab:blue", alpha=0.12 + 0.12 * j,
                                label=f"{level:.0%} interval" if i == 0 else None)
        ax.plot(g["period"], g["forecast"], color="tab:blue", marker="o", ms=3, label="model" if i == 0 else None)
        for k, name in enumerate(baselines):
            ax.plot(g["period"], g[name], ls="--", lw=1, color=f"C{k + 1}", label=name.replace("_", " ") if i == 0 else None)
    ax.set_xlabel("period")
    ax.set_ylabel("value")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


__all__ += ["forecast_plot"]
