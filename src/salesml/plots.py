"""The figures a run logs: calibration, lift/gain, score distribution, SHAP summary, tuning history.

Every function returns a matplotlib ``Figure`` (no screen needed, pyplot state untouched)
built from aggregates only: no row of input data, no identifier, is drawn as a
label.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["calibration_plot", "gain_plot", "score_distribution_plot", "shap_summary_plot", "tuning_history_plot"]


def _figure(width: float = 6.0, height: float = 4.5):
    """A stand-alone Figure: not registered with pyplot, so it neither changes a notebook's
    backend nor leaks into the user's next ``plt.plot``; notebooks show it with ``display(fig)``."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    return fig, fig.subplots()


def calibration_plot(y_true: np.ndarray, prob: np.ndarray, n_bins: int = 10):
    from salesml.calibration import calibration_curve_table, expected_calibration_error

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
    from salesml.metrics import gain_curve, lift_at

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
    ax.set_ylabel(f"validation {metric}")
    ax.set_title("Optuna study history (pruned trials omitted)")
    ax.legend()
    fig.tight_layout()
    return fig
