"""Value x risk segments: CLV and churn scores place every customer in one of four groups.

=========================  ==========================  =====================================
segment                    rule                        what the business does
=========================  ==========================  =====================================
high-value stable          value >= cut, risk < cut    keep them happy
high-value at-risk         value >= cut, risk >= cut   retention plan: where the money goes
low-value potential        value < cut, risk < cut     grow them
low-value low-potential    value < cut, risk >= cut    serve cheaply
=========================  ==========================  =====================================

*Value* is the CLV model's ``expected_revenue`` over its horizon, *risk* the
churn model's ``probability``. The value cut-off is an amount (``value_cut``)
or, by default, the 80th percentile of the scored customers' expected revenue
(``value_quantile=0.8``: the top 20% are high-value); the risk cut-off is a
churn probability, by default 0.25, the churn task's "medium" risk tier: with
the default churn definition (no order in the next 3 months) frequent buyers,
who are most of the high-value customers, rarely reach 0.5, so a lower bar
is what singles out the high-value customers worth a retention call. Revenue
at risk = expected revenue x churn probability.

:func:`segment` joins the two score tables on the customer id and returns a
:class:`Segmentation`: one row per customer, a segment table (aggregates
only), headline figures (among them the share of expected revenue coming
from high-value customers, the mission's "50% of revenue" yardstick) and a
value x risk plot. :func:`log_segments` sends the aggregates and the plot to
MLflow; customer ids never leave the per-customer frame.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

__all__ = ["SEGMENTS", "Segmentation", "segment", "score_segments", "log_segments"]

SEGMENTS: tuple[str, ...] = ("high-value stable", "high-value at-risk", "low-value potential", "low-value low-potential")


@dataclass
class Segmentation:
    """The result of :func:`segment`."""

    customers: pd.DataFrame
    table: pd.DataFrame
    metrics: dict[str, float]
    value_cut: float
    risk_cut: float
    settings: dict[str, Any] = field(default_factory=dict)

    def figure(self):
        """The value x risk plot (a density of customers, no individual points)."""
        from salesml.core.plots import value_risk_plot

        return value_risk_plot(
            self.customers["expected_revenue"].to_numpy(), self.customers["churn_probability"].to_numpy(),
            value_cut=self.value_cut, risk_cut=self.risk_cut, table=self.table,
        )


def _scores(frame: pd.DataFrame, id_column: str, column: str, what: str) -> pd.Series:
    for needed in (id_column, column):
        if needed not in frame.columns:
            raise KeyError(
                f"The {what} scores lack the column '{needed}'. Pass the output of the {what} model's score() "
                f"or name the columns with id_column= / {'value' if what == 'CLV' else 'risk'}_column=."
            )
    dup = frame[id_column].duplicated()
    if dup.any():
        shown = ", ".join(map(str, frame.loc[dup, id_column].head(3)))
        raise ValueError(f"The {what} scores hold {int(dup.sum())} repeated customer ids (e.g. {shown}); score each customer once.")
    values = pd.to_numeric(frame[column], errors="coerce")
    if values.isna().any():
        raise ValueError(f"The {what} scores have {int(values.isna().sum())} missing values in '{column}'.")
    return pd.Series(values.to_numpy(dtype=float), index=frame[id_column].to_numpy(), name=column)


def segment(
    clv_scores: pd.DataFrame,
    churn_scores: pd.DataFrame,
    *,
    id_column: str = "customer_id",
    value_column: str = "expected_revenue",
    risk_column: str = "probability",
    value_cut: float | None = None,
    value_quantile: float = 0.8,
    risk_cut: float = 0.25,
) -> Segmentation:
    """Place each customer scored by both models in a value x risk segment.

    Customers present in only one of the two tables are left out and counted
    in ``metrics["unmatched_clv"]`` / ``["unmatched_churn"]`` (and logged): the
    churn model scores active customers only, CLV every known customer.
    """
    if not 0.0 < value_quantile < 1.0:
        raise ValueError(f"value_quantile must be in (0, 1), e.g. 0.8 for the top 20%. Got {value_quantile!r} instead.")
    if not 0.0 <= risk_cut <= 1.0:
        raise ValueError(f"risk_cut must be a probability between 0 and 1. Got {risk_cut!r} instead.")
    if value_cut is not None and value_cut < 0:
        raise ValueError(f"value_cut must be an amount >= 0. Got {value_cut!r} instead.")
    value = _scores(clv_scores, id_column, value_column, "CLV")
    risk = _scores(churn_scores, id_column, risk_column, "churn")
    common = value.index.intersection(risk.index, sort=False)
    unmatched_clv, unmatched_churn = len(value) - len(common), len(risk) - len(common)
    if unmatched_clv or unmatched_churn:
        logger.info(
            "segments cover %d customers scored by both models; %d only had a CLV score, %d only a churn score",
            len(common), unmatched_clv, unmatched_churn,
        )
    if len(common) == 0:
        raise ValueError(f"No customer id appears in both the CLV and the churn scores (column '{id_column}').")
    v = value.loc[common].to_numpy()
    r = np.clip(risk.loc[common].to_numpy(), 0.0, 1.0)
    cut = float(np.quantile(v, value_quantile)) if value_cut is None else float(value_cut)
    high = (v >= cut) & (v > 0)
    at_risk = r >= risk_cut
    names = np.select(
        [high & ~at_risk, high & at_risk, ~high & ~at_risk], [SEGMENTS[0], SEGMENTS[1], SEGMENTS[2]], SEGMENTS[3]
    )
    customers = pd.DataFrame(
        {
            id_column: common.to_numpy(),
            "expected_revenue": v,
            "churn_probability": r,
            "revenue_at_risk": v * r,
            "segment": pd.Categorical(names, categories=list(SEGMENTS)),
        }
    )
    grouped = customers.groupby("segment", observed=False)
    table = pd.DataFrame(
        {
            "customers": grouped.size(),
            "expected_revenue": grouped["expected_revenue"].sum(),
            "revenue_at_risk": grouped["revenue_at_risk"].sum(),
            "mean_churn_probability": grouped["churn_probability"].mean(),
        }
    ).reindex(list(SEGMENTS))
    table["customers"] = table["customers"].fillna(0).astype(int)
    table[["expected_revenue", "revenue_at_risk"]] = table[["expected_revenue", "revenue_at_risk"]].fillna(0.0)
    total_value, total_risk, n = float(v.sum()), float((v * r).sum()), len(v)
    table["share_of_customers"] = table["customers"] / n
    table["share_of_revenue"] = table["expected_revenue"] / total_value if total_value > 0 else np.nan
    table["share_of_revenue_at_risk"] = table["revenue_at_risk"] / total_risk if total_risk > 0 else np.nan
    table = table.reset_index().rename(columns={"index": "segment"})
    metrics = {
        "customers": float(n),
        "expected_revenue": total_value,
        "revenue_at_risk": total_risk,
        "high_value_revenue_share": float(v[high].sum() / total_value) if total_value > 0 else float("nan"),
        "high_value_share_of_customers": float(high.mean()),
        "high_value_at_risk_share": float(at_risk[high].mean()) if high.any() else float("nan"),
        "high_value_at_risk_revenue_at_risk": float((v * r)[high & at_risk].sum()),
        "unmatched_clv": float(unmatched_clv),
        "unmatched_churn": float(unmatched_churn),
        "value_cut": cut,
        "risk_cut": float(risk_cut),
    }
    settings = {"value_cut": value_cut, "value_quantile": value_quantile, "risk_cut": risk_cut}
    return Segmentation(customers, table, metrics, cut, float(risk_cut), settings)


def score_segments(
    clv_model: Any, churn_model: Any, frame: pd.DataFrame, **kwargs: Any
) -> Segmentation:
    """Score ``frame`` (a customer snapshot) with both models, then :func:`segment` it."""
    id_column = kwargs.pop("id_column", clv_model.key_column)
    clv = clv_model.score(frame, reasons="none")
    churn = churn_model.score(frame, reasons="none")
    return segment(clv, churn, id_column=id_column, **kwargs)


def log_segments(seg: Segmentation, tracker: Any, *, run_name: str = "segments", tags: Mapping[str, str] | None = None) -> str | None:
    """Log the segment table, the value x risk plot and the headline figures (aggregates only) as one run."""
    with tracker.run(run_name, tags={"salesml.task": "segments", **dict(tags or {})}) as run_id:
        tracker.log_params({f"segments.{k}": v for k, v in seg.settings.items()})
        tracker.log_metrics({f"segments.{k}": v for k, v in seg.metrics.items() if np.isfinite(v)})
        for _, row in seg.table.iterrows():
            key = str(row["segment"]).replace(" ", "_").replace("-", "_")
            tracker.log_metrics(
                {
                    f"segments.{key}.customers": float(row["customers"]),
                    f"segments.{key}.revenue_at_risk": float(row["revenue_at_risk"]),
                }
            )
        tracker.log_table(seg.table, "segments/segment_table.csv")
        tracker.log_figure(seg.figure(), "plots/value_risk.png")
    return run_id
