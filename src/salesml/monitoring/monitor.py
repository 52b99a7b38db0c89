"""Monitoring a deployed model: drift, outcomes, KPIs as traffic lights, alerts, retrain trigger.

``salesml monitor --model URI --current PATH [--reference PATH]`` (or
:func:`monitor`) compares the rows a model scores now with the rows it was
judged on, and writes an HTML report (plots embedded) and a JSON summary,
logged to MLflow as a monitoring run. Everything reported is an aggregate:
bin counts, rates, metrics; never a row.

**Reference.** By default the distribution of the model's *holdout* rows,
stored in the model's metadata at training time (:func:`reference_profile`:
bin edges and counts per input column and for the prediction). The holdout is
the latest data before deployment, the rows the published metrics were
measured on, and its predictions are out-of-sample (in-sample training scores
are overconfident and would show drift that is not there). ``--reference``
replaces it with another table.

**Feature drift: PSI.** Population stability index per input column,
``PSI = sum_i (c_i - r_i) * ln(c_i / r_i)`` over bins, with ``r_i`` and ``c_i``
the reference and current shares of bin ``i``; a share of 0 is replaced by
``1e-4`` (:data:`PSI_EPSILON`), bins empty on both sides are skipped.
Numeric columns (and text word counts, date ages) use up to 10 bins at the
reference's deciles, right-closed, plus a bin for missing values; categorical
and boolean columns one bin per category the model knows, one for other
values and one for missing. Lights, after rounding PSI to 6 decimals:
**green** < 0.1 <= **yellow** < 0.2 <= **red**. The calendar position of the
row's own time column is not monitored: it always moves.

**Score drift.** The same PSI on the model's prediction (deciles of the
reference predictions), and the mean prediction then and now.

**Outcomes.** When the current rows carry the label (:meth:`Task.actuals`:
for lead scoring ``converted``), the predicted and observed rates on the rows
with a known outcome, and the task's own metrics there, published as KPIs
``model.<metric>`` (e.g. ``model.positive_rate``, the conversion rate, and
``model.precision_at_threshold``).

**KPIs and traffic lights.** KPI values come from a table of period KPIs
(``--kpis``: columns ``period, kpi, value``, or ``period`` plus one column per
KPI) and from the outcomes above. Each KPI with a target gets an
*attainment*: ``actual / target`` when higher is better, ``target / actual``
when lower is better (churn: 5 % target, 6.25 % actual -> 0.80), rounded to 6
decimals. **red** when attainment < 0.80, **yellow** when 0.80 <= attainment
<= 0.90, **green** when attainment > 0.90 ("red below 80 % of target, yellow
80-90 %, green above 90 %"). A lower-is-better KPI at 0 is green; a
lower-is-better KPI with target 0 is green at 0 and red above.

**Alerts** on the period table, per KPI: ``rises_in_a_row: n`` fires at a period
when the KPI rose (strictly) in each of the last ``n`` steps (the churn rule:
2); ``falls_in_a_row: n`` likewise; ``max_change: r`` fires when
``|value / previous - 1| > r`` after rounding to 6 decimals (the demand rule:
0.10 month on month; exactly 10 % does not fire). Alerts at the latest period
are *active*; earlier ones are listed as history.

**Retrain trigger** (:class:`RetrainSettings`), evaluated and reported: retrain
when (a) any feature or the score drifts **red**, or (b) the primary metric on
current outcomes is worse than at training (the holdout figure in the model)
by more than ``metric_drop`` (relative, default 5 %), or (c) the model's data
ends more than ``max_age_days`` (default 180) before the monitoring date
(``--as-of``, default the latest time in the current rows, else today).
``salesml retrain --config ... [--if-needed summary.json]`` then trains on
new data and passes the result through the publish gate.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from salesml.core.contracts import parse_datetime
from salesml.monitoring.drift import _DECIMALS, LIGHTS, Profile, _monitored, psi, psi_light, reference_profile
from salesml.monitoring.kpis import attainment, kpi_alerts, kpi_light, load_kpis
from salesml.monitoring.report import MonitoringReport, _figures, log_report
from salesml.monitoring.settings import KpiSettings, MonitorSettings, RetrainSettings, load_settings

logger = logging.getLogger(__name__)

#: ``monitor`` and the names it is built from (each defined in its own module of :mod:`salesml.monitoring`).
__all__ = [
    "Profile",
    "MonitorSettings",
    "KpiSettings",
    "RetrainSettings",
    "MonitoringReport",
    "psi",
    "psi_light",
    "attainment",
    "kpi_light",
    "kpi_alerts",
    "reference_profile",
    "monitor",
    "load_settings",
    "load_kpis",
    "log_report",
]


def _finite(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def monitor(
    scorer: Any,
    current: pd.DataFrame,
    *,
    reference: pd.DataFrame | None = None,
    kpis: pd.DataFrame | str | Path | None = None,
    settings: MonitorSettings | Mapping[str, Any] | str | Path | None = None,
    as_of: str | pd.Timestamp | None = None,
    model_uri: str | None = None,
    plots: bool = True,
) -> MonitoringReport:
    """Drift, outcomes, KPI lights, alerts and the retrain decision for ``scorer`` on ``current`` rows.

    ``scorer`` is a loaded model (:func:`salesml.load_model`); ``reference``
    replaces the distribution stored in the model; ``kpis`` is a period KPI
    table (see :func:`load_kpis`); ``settings`` holds targets, alert rules and
    the retrain rule (:class:`MonitorSettings`).
    """
    cfg = load_settings(settings)
    task, meta, encoder = scorer.task, scorer.metadata, scorer.encoder
    if len(current) == 0:
        raise ValueError("The current table has no rows; nothing to monitor.")
    if reference is not None:
        ref = reference_profile(encoder, reference, scorer.predict(reference), bins=cfg.drift.bins, source="--reference table")
    elif meta.get("monitoring_reference"):
        ref = meta["monitoring_reference"]
    else:
        raise ValueError(
            "This model carries no reference distribution (it was trained before salesml stored one). "
            "Pass --reference with a table like the one it was trained on."
        )
    prediction = np.asarray(scorer.predict(current), dtype=float)
    pooled = prediction.ravel()

    # feature and score drift
    features, ref_profiles, cur_profiles = [], {}, {}
    plans = {p.name: p for p in encoder.columns_}
    for data in ref["columns"]:
        rp = Profile.from_dict(data)
        plan = plans.get(rp.name)
        got = _monitored(plan, current, encoder.time_column) if plan is not None else None
        if got is None:
            features.append({"column": rp.name, "kind": rp.kind, "psi": None, "light": None, "note": "not in the current table"})
            continue
        cp = rp.count(got[1])
        value = psi(rp.counts, cp.counts)
        moved = int(np.argmax(np.abs(cp.shares() - rp.shares())))
        features.append(
            {
                "column": rp.name,
                "kind": rp.kind,
                "measured": rp.source,
                "psi": round(value, _DECIMALS),
                "light": psi_light(value, yellow=cfg.drift.yellow, red=cfg.drift.red),
                "largest_move": {"bin": rp.labels[moved], "reference_share": float(rp.shares()[moved]), "current_share": float(cp.shares()[moved])},
                "current_missing_share": float(cp.counts[-1] / max(cp.total, 1)),
            }
        )
        ref_profiles[rp.name], cur_profiles[rp.name] = rp, cp
    features.sort(key=lambda f: -(f["psi"] if f["psi"] is not None else -1))
    rpred = Profile.from_dict(ref["prediction"])
    cpred = rpred.count(pooled)
    score_psi = psi(rpred.counts, cpred.counts)
    score = {
        "psi": round(score_psi, _DECIMALS),
        "light": psi_light(score_psi, yellow=cfg.drift.yellow, red=cfg.drift.red),
        "reference_mean": _finite(ref.get("mean_prediction")),
        "current_mean": float(pooled.mean()),
    }

    # outcomes
    outcomes, model_kpis = _outcomes(task, meta, current, prediction)

    # KPIs: latest period values from the table, then the model's own KPIs on current outcomes
    table = load_kpis(kpis) if kpis is not None else pd.DataFrame(columns=["period", "kpi", "value"])
    latest: dict[str, tuple[str, float]] = {}
    for name, group in table.groupby("kpi", sort=False):
        latest[str(name)] = (str(group["period"].iloc[-1]), float(group["value"].iloc[-1]))
    for name, value in model_kpis.items():
        latest[name] = ("current rows", value)
    kpi_rows = []
    for name, rule in cfg.kpis.items():
        if rule.target is None:
            continue
        if name not in latest:
            kpi_rows.append({"kpi": name, "title": rule.title or name, "target": rule.target, "direction": rule.direction, "value": None, "light": None, "note": "no value"})
            continue
        period, value = latest[name]
        a = attainment(value, rule.target, rule.direction)
        kpi_rows.append(
            {
                "kpi": name,
                "title": rule.title or name,
                "period": period,
                "value": value,
                "target": rule.target,
                "direction": rule.direction,
                "attainment": a if math.isfinite(a) else None,
                "light": kpi_light(a, red_below=cfg.lights.red_below, green_above=cfg.lights.green_above),
            }
        )
    alerts = kpi_alerts(table, cfg.kpis)

    # retrain rule
    as_of_ts = _as_of(as_of, current, task)
    retrain = _retrain_decision(cfg.retrain, features, score, outcomes, meta, as_of_ts, cfg.drift.red)

    lights = [f["light"] for f in features] + [score["light"]] + [k["light"] for k in kpi_rows]
    worst = max((LIGHTS.index(x) for x in lights if x), default=0)
    summary = {
        "model": {
            "uri": model_uri or meta.get("source_uri"),
            "task": task.name,
            "trained_through": meta.get("trained_through"),
            "primary_metric": task.primary_metric,
            "holdout_" + task.primary_metric: _finite(meta.get("metrics", {}).get(f"test.{task.primary_metric}")),
        },
        "as_of": str(as_of_ts.date()),
        "rows": {"current": int(len(current)), "reference": int(ref.get("rows", 0)), "reference_source": ref.get("source", "")},
        "overall": LIGHTS[worst],
        "thresholds": {
            "psi": {"yellow_from": cfg.drift.yellow, "red_from": cfg.drift.red},
            "kpi_attainment": {"red_below": cfg.lights.red_below, "green_above": cfg.lights.green_above},
        },
        "drift": {
            "features": features,
            "score": score,
            "n_red": sum(f["light"] == "red" for f in features),
            "n_yellow": sum(f["light"] == "yellow" for f in features),
        },
        "outcomes": outcomes,
        "kpis": kpi_rows,
        "alerts": alerts,
        "active_alerts": [a for a in alerts if a["active"]],
        "retrain": retrain,
    }
    if len(current) < 500:
        summary["note"] = f"Only {len(current)} current rows: PSI is noisy below a few hundred rows per column."
    report = MonitoringReport(_clean(summary))
    if plots:
        report.figures = _figures(features, ref_profiles, cur_profiles, rpred, cpred, table, cfg, alerts)
    return report


def _clean(obj: Any) -> Any:
    """JSON-safe: NaN and infinities become null."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _outcomes(task: Any, meta: Mapping[str, Any], current: pd.DataFrame, prediction: np.ndarray) -> tuple[dict[str, Any] | None, dict[str, float]]:
    actual = task.actuals(current)
    if actual is None:
        return None, {}
    actual = np.asarray(actual, dtype=float)
    known = ~np.isnan(actual)
    n = int(known.sum())
    if n == 0:
        return {"rows_with_outcome": 0}, {}
    frame = current.iloc[np.flatnonzero(known)]
    y, p = actual[known], prediction[known]
    out: dict[str, Any] = {
        "rows_with_outcome": n,
        "mean_predicted": float(p.mean()),
        "mean_actual": float(y.mean()),
        "predicted_over_actual": float(p.mean() / y.mean()) if y.mean() else None,
    }
    try:
        metrics = {k: float(v) for k, v in task.evaluate(y, p, task.postprocess(p, frame)).items()}
    except ValueError as err:  # e.g. one class only among the rows with an outcome so far
        metrics = {}
        out["metrics_error"] = str(err).split("\n")[0]
    out["metrics"] = metrics
    primary = task.primary_metric
    reference = _finite(meta.get("metrics", {}).get(f"test.{primary}"))
    now = _finite(metrics.get(primary))
    if reference is not None and now is not None:
        change = (now - reference) / abs(reference) if reference else 0.0
        worse = -change if task.greater_is_better else change
        out["primary"] = {"metric": primary, "reference": reference, "current": now, "relative_change": round(change, _DECIMALS), "relative_worsening": round(worse, _DECIMALS)}
    kpis = {f"model.{k}": v for k, v in metrics.items() if math.isfinite(v)}
    return out, kpis


def _as_of(as_of: Any, current: pd.DataFrame, task: Any) -> pd.Timestamp:
    if as_of is not None:
        ts = pd.Timestamp(as_of)
        return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo else ts
    time = task.columns.time
    if time and time in current.columns:
        latest = parse_datetime(current[time]).max()
        if pd.notna(latest):
            return pd.Timestamp(latest)
    return pd.Timestamp.now("UTC").tz_localize(None).normalize()


def _retrain_decision(rule: RetrainSettings, features, score, outcomes, meta, as_of: pd.Timestamp, red: float) -> dict[str, Any]:
    reasons: list[str] = []
    if rule.on_red_drift:
        reds = [f["column"] for f in features if f["light"] == "red"]
        if reds:
            reasons.append(f"feature drift is red (PSI >= {red:g}) for: {', '.join(reds)}")
        if score["light"] == "red":
            reasons.append(f"the score distribution drifted red (PSI {score['psi']:.3f} >= {red:g})")
    primary = (outcomes or {}).get("primary")
    if rule.metric_drop is not None and primary:
        if primary["relative_worsening"] > rule.metric_drop:
            reasons.append(
                f"{primary['metric']} is {primary['current']:.4f} on current outcomes against {primary['reference']:.4f} "
                f"on the training holdout: {primary['relative_worsening']:.1%} worse, more than the {rule.metric_drop:.0%} allowed"
            )
    age = None
    trained_through = meta.get("trained_through")
    if trained_through:
        age = int((as_of - pd.Timestamp(trained_through)).days)
        if rule.max_age_days is not None and age > rule.max_age_days:
            reasons.append(f"the model's data ends {str(trained_through)[:10]}, {age} days before {as_of.date()} (limit {rule.max_age_days})")
    return {
        "recommended": bool(reasons),
        "reasons": reasons,
        "model_age_days": age,
        "rule": {
            "on_red_drift": rule.on_red_drift,
            "metric_drop": rule.metric_drop,
            "max_age_days": rule.max_age_days,
            "text": "retrain when any feature or the score drifts red, or the primary metric on current outcomes is "
            "worse than on the training holdout by more than metric_drop (relative), or the model's data ends more "
            "than max_age_days before the monitoring date",
        },
    }
