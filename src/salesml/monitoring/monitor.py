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

import base64
import html
import io
import json
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from salesml.core.contracts import parse_datetime

logger = logging.getLogger(__name__)

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

PSI_EPSILON = 1e-4
PSI_YELLOW = 0.1
PSI_RED = 0.2
KPI_RED_BELOW = 0.8
KPI_GREEN_ABOVE = 0.9
_DECIMALS = 6
MISSING = "(missing)"
OTHER = "(other)"
LIGHTS = ("green", "yellow", "red")
Light = Literal["green", "yellow", "red"]


# --------------------------------------------------------------------- PSI
def psi(reference: Sequence[float] | np.ndarray, current: Sequence[float] | np.ndarray, eps: float = PSI_EPSILON) -> float:
    """Population stability index of two binned distributions (counts or shares, same bins)."""
    r = np.asarray(reference, dtype=float)
    c = np.asarray(current, dtype=float)
    if r.shape != c.shape:
        raise ValueError(f"reference and current must have the same bins. Got {r.shape} and {c.shape} instead.")
    if r.sum() <= 0 or c.sum() <= 0:
        return float("nan")
    r, c = r / r.sum(), c / c.sum()
    used = (r > 0) | (c > 0)
    r, c = np.where(r[used] > 0, r[used], eps), np.where(c[used] > 0, c[used], eps)
    return float(np.sum((c - r) * np.log(c / r)))


def psi_light(value: float, *, yellow: float = PSI_YELLOW, red: float = PSI_RED) -> Light | None:
    """green below ``yellow``, yellow from ``yellow`` up to ``red``, red from ``red`` (PSI rounded to 6 decimals)."""
    if value is None or not math.isfinite(value):
        return None
    v = round(value, _DECIMALS)
    return "red" if v >= red else "yellow" if v >= yellow else "green"


# ---------------------------------------------------------------- profiles
@dataclass
class Profile:
    """A binned distribution (aggregates only): numeric bins by inner ``edges`` or ``categories``, then missing."""

    name: str
    kind: str  # numeric | categorical
    counts: list[int]
    edges: list[float] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    source: str = ""  # what was measured: value, word count, age in days...

    @property
    def labels(self) -> list[str]:
        if self.kind == "categorical":
            return [*self.categories, OTHER, MISSING]
        e = [_short(x) for x in self.edges]
        if not e:
            return ["all", MISSING]
        return [f"<= {e[0]}", *[f"({a}, {b}]" for a, b in zip(e, e[1:])], f"> {e[-1]}", MISSING]

    @property
    def total(self) -> int:
        return int(sum(self.counts))

    def shares(self) -> np.ndarray:
        counts = np.asarray(self.counts, dtype=float)
        return counts / counts.sum() if counts.sum() else counts

    def count(self, values: np.ndarray | pd.Series) -> Profile:
        """The distribution of ``values`` in this profile's bins."""
        if self.kind == "numeric":
            x = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
            missing = np.isnan(x)
            idx = np.searchsorted(np.asarray(self.edges, dtype=float), x[~missing], side="left")
            counts = np.bincount(idx, minlength=len(self.edges) + 1).tolist() + [int(missing.sum())]
        else:
            s = pd.Series(values, dtype=object)
            missing = s.isna().to_numpy()
            codes = pd.Categorical(s.astype("string"), categories=self.categories).codes
            known = np.bincount(codes[codes >= 0], minlength=len(self.categories)).tolist()
            counts = known + [int(((codes < 0) & ~missing).sum()), int(missing.sum())]
        return Profile(self.name, self.kind, [int(c) for c in counts], list(self.edges), list(self.categories), self.source)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Profile:
        return cls(**dict(data))


def _short(x: float) -> str:
    return f"{x:.4g}"


def numeric_profile(name: str, values: Any, *, bins: int = 10, source: str = "value") -> Profile:
    """Bins at the deciles (``bins`` quantiles) of ``values``, right-closed, plus missing."""
    x = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
    finite = x[np.isfinite(x)]
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1])).tolist() if len(finite) else []
    return Profile(name, "numeric", [], [float(e) for e in edges], [], source).count(x)


def categorical_profile(name: str, values: Any, categories: Sequence[str], *, source: str = "category") -> Profile:
    return Profile(name, "categorical", [], [], [str(c) for c in categories], source).count(values)


def _monitored(plan: Any, frame: pd.DataFrame, time_column: str | None) -> tuple[str, Any, list[str], str] | None:
    """(kind, values, categories, source) of one encoder column as monitoring sees it; None when not monitored."""
    from salesml.core.features import _as_str, _to_bool

    if not plan.is_feature or plan.kind == "time" or plan.name not in frame.columns:
        return None
    s = frame[plan.name]
    if plan.kind == "numeric":
        return "numeric", pd.to_numeric(s, errors="coerce"), [], "value"
    if plan.kind == "bool":
        b = _to_bool(s)
        return "categorical", np.where(np.isnan(b), None, np.where(b == 1.0, "true", "false")), ["false", "true"], "value"
    if plan.kind == "categorical":
        return "categorical", _as_str(s), list(plan.categories), "category"
    if plan.kind == "datetime":
        d = parse_datetime(s)
        if time_column and time_column in frame.columns and len(plan.features) > 2:
            ref = parse_datetime(frame[time_column])
            return "numeric", (ref - d).dt.total_seconds() / 86400.0, [], "days before the row's time"
        return "numeric", d.dt.month.astype(float), [], "month"
    if plan.kind == "text":
        text = _as_str(s)
        words = text.fillna("").str.split().str.len().astype(float)
        return "numeric", words.where(text.notna()), [], "number of words"
    return None


def reference_profile(encoder: Any, frame: pd.DataFrame, prediction: np.ndarray, *, bins: int = 10, source: str = "holdout") -> dict[str, Any]:
    """The reference distributions a model carries in its metadata (bin edges and counts only, no rows)."""
    prediction = np.asarray(prediction, dtype=float).ravel()  # several outputs per row (horizons...) pooled
    columns = []
    for plan in getattr(encoder, "columns_", []):
        got = _monitored(plan, frame, encoder.time_column)
        if got is None:
            continue
        kind, values, categories, what = got
        prof = (
            numeric_profile(plan.name, values, bins=bins, source=what)
            if kind == "numeric"
            else categorical_profile(plan.name, values, categories, source=what)
        )
        columns.append(prof.to_dict())
    return {
        "source": source,
        "rows": int(len(frame)),
        "columns": columns,
        "prediction": numeric_profile("prediction", prediction, bins=bins, source="prediction").to_dict(),
        "mean_prediction": float(np.mean(prediction)) if len(prediction) else float("nan"),
    }


# -------------------------------------------------------------- settings
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KpiSettings(_Strict):
    """A KPI's target and alert rules."""

    target: float | None = None
    direction: Literal["higher", "lower"] = "higher"
    rises_in_a_row: int | None = Field(None, ge=1)
    falls_in_a_row: int | None = Field(None, ge=1)
    max_change: float | None = Field(None, gt=0)
    title: str | None = None


class DriftSettings(_Strict):
    yellow: float = PSI_YELLOW
    red: float = PSI_RED
    bins: int = Field(10, ge=2, le=50)


class LightSettings(_Strict):
    red_below: float = KPI_RED_BELOW
    green_above: float = KPI_GREEN_ABOVE


class RetrainSettings(_Strict):
    """When ``salesml monitor`` recommends retraining (any one rule is enough)."""

    on_red_drift: bool = True
    metric_drop: float | None = Field(0.05, ge=0)
    max_age_days: int | None = Field(180, ge=1)


class MonitorSettings(_Strict):
    drift: DriftSettings = DriftSettings()
    lights: LightSettings = LightSettings()
    kpis: dict[str, KpiSettings] = {}
    retrain: RetrainSettings = RetrainSettings()
    experiment: str | None = None


def load_settings(source: str | Path | Mapping[str, Any] | MonitorSettings | None) -> MonitorSettings:
    """Monitoring settings from a YAML file or dict (``experiments/monitoring.yaml`` holds the mission's targets)."""
    if source is None:
        return MonitorSettings()
    if isinstance(source, MonitorSettings):
        return source
    if isinstance(source, Mapping):
        raw, where = dict(source), "the monitoring settings"
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"Monitoring settings {path} do not exist. See experiments/monitoring.yaml.")
        raw, where = yaml.safe_load(path.read_text("utf-8")) or {}, str(path)
    try:
        return MonitorSettings.model_validate(raw)
    except ValidationError as err:
        lines = [f"{where} are not valid monitoring settings:"]
        lines += [f"  - {'.'.join(str(x) for x in e['loc'])}: {e['msg']} (got {e.get('input')!r})" for e in err.errors()]
        raise ValueError("\n".join(lines)) from None


# ------------------------------------------------------------------- KPIs
def attainment(actual: float, target: float, direction: str = "higher") -> float:
    """How much of its target a KPI reaches: ``actual / target`` (higher is better) or ``target / actual`` (lower)."""
    if direction == "higher":
        if target <= 0:
            raise ValueError(f"A higher-is-better target must be positive. Got {target} instead.")
        return round(actual / target, _DECIMALS)
    if direction != "lower":
        raise ValueError(f"direction must be 'higher' or 'lower'. Got {direction!r} instead.")
    if target < 0:
        raise ValueError(f"A lower-is-better target must be zero or positive. Got {target} instead.")
    if actual <= 0:
        return math.inf
    if target == 0:
        return 0.0
    return round(target / actual, _DECIMALS)


def kpi_light(value: float, *, red_below: float = KPI_RED_BELOW, green_above: float = KPI_GREEN_ABOVE) -> Light:
    """red below ``red_below``, green above ``green_above``, yellow in between (both ends yellow)."""
    if value < red_below:
        return "red"
    if value > green_above:
        return "green"
    return "yellow"


def load_kpis(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """A period KPI table in long form (``period``, ``kpi``, ``value``), from long or wide input."""
    from salesml.core.sources import read_table

    df = source if isinstance(source, pd.DataFrame) else read_table(source)
    if "period" not in df.columns:
        raise ValueError(
            f"The KPI table needs a 'period' column. Got columns {list(df.columns)}. Use period, kpi, value "
            "(one row per period and KPI) or period plus one column per KPI."
        )
    if {"kpi", "value"} <= set(df.columns):
        long = df[["period", "kpi", "value"]].copy()
    else:
        long = df.melt(id_vars=["period"], var_name="kpi", value_name="value")
    long["kpi"] = long["kpi"].astype(str)
    long["value"] = pd.to_numeric(long["value"], errors="coerce")
    bad = long["value"].isna()
    if bad.any():
        kpis = sorted(long.loc[bad, "kpi"].unique())
        raise ValueError(f"The KPI table has missing or non-numeric values for {kpis}; fill them or drop those rows.")
    if long.duplicated(["period", "kpi"]).any():
        raise ValueError("The KPI table has more than one value for the same period and KPI; keep one per pair.")
    order = parse_datetime(long["period"].astype(str))
    long["_order"] = order if order.notna().all() else long["period"].astype(str)
    long = long.sort_values(["kpi", "_order"], kind="stable").drop(columns="_order").reset_index(drop=True)
    long["period"] = long["period"].astype(str)
    return long


def kpi_alerts(kpis: pd.DataFrame, settings: Mapping[str, KpiSettings]) -> list[dict[str, Any]]:
    """Every alert the period table fires, by KPI and period (``active`` at each KPI's latest period)."""
    alerts: list[dict[str, Any]] = []
    for name, rules in settings.items():
        series = kpis[kpis["kpi"] == name]
        if series.empty:
            continue
        periods, values = series["period"].tolist(), series["value"].to_numpy(dtype=float)
        last = len(values) - 1
        for n, sign, word in ((rules.rises_in_a_row, 1, "rose"), (rules.falls_in_a_row, -1, "fell")):
            if not n:
                continue
            steps = np.sign(np.diff(values)) == sign
            for t in range(n, len(values)):
                if steps[t - n : t].all():
                    trail = " -> ".join(_short(v) for v in values[t - n : t + 1])
                    alerts.append(
                        {
                            "kpi": name,
                            "period": periods[t],
                            "rule": f"{'rises' if sign > 0 else 'falls'}_in_a_row: {n}",
                            "message": f"{name} {word} {n} periods in a row ({trail})",
                            "active": t == last,
                        }
                    )
        if rules.max_change:
            for t in range(1, len(values)):
                prev, now = values[t - 1], values[t]
                change = math.inf if prev == 0 and now != 0 else 0.0 if prev == 0 else round(abs(now / prev - 1), _DECIMALS)
                if change > rules.max_change:
                    alerts.append(
                        {
                            "kpi": name,
                            "period": periods[t],
                            "rule": f"max_change: {rules.max_change:g}",
                            "message": f"{name} moved {_pct(now / prev - 1) if prev else 'from 0'} on the previous period "
                            f"({_short(prev)} -> {_short(now)}; limit {rules.max_change:.0%})",
                            "active": t == last,
                        }
                    )
    return alerts


def _pct(x: float) -> str:
    return f"{x:+.1%}"


# ----------------------------------------------------------------- report
@dataclass
class MonitoringReport:
    """What :func:`monitor` found: ``summary`` (JSON-ready) and the figures (PNG bytes) of the HTML report."""

    summary: dict[str, Any]
    figures: dict[str, bytes] = field(default_factory=dict)

    @property
    def overall(self) -> str:
        return self.summary["overall"]

    @property
    def retrain(self) -> bool:
        return bool(self.summary["retrain"]["recommended"])

    def to_json(self) -> str:
        return json.dumps(self.summary, indent=2, sort_keys=False, default=_json_default, allow_nan=False)

    def to_html(self) -> str:
        return _html(self)

    def write(self, directory: str | Path) -> dict[str, Path]:
        """Write ``report.html`` and ``summary.json`` into ``directory`` (atomically)."""
        from salesml.tracking.artifact import _write_atomic

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = {"html": directory / "report.html", "json": directory / "summary.json"}
        _write_atomic(paths["html"], self.to_html().encode("utf-8"))
        _write_atomic(paths["json"], self.to_json().encode("utf-8"))
        return paths


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    return str(value)


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


# ------------------------------------------------------------------ plots
_COLOURS = {"green": "#2e7d32", "yellow": "#f9a825", "red": "#c62828", None: "#9e9e9e"}


def _png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _axes(width: float, height: float):
    return _pyplot().subplots(figsize=(width, height))


def _figures(features, ref_profiles, cur_profiles, rpred, cpred, table, cfg, alerts) -> dict[str, bytes]:
    figs: dict[str, bytes] = {}
    shown = [f for f in features if f["psi"] is not None]
    if shown:
        fig, ax = _axes(7, 0.32 * len(shown) + 1.4)
        names = [f["column"] for f in shown][::-1]
        values = [f["psi"] for f in shown][::-1]
        ax.barh(names, values, color=[_COLOURS[f["light"]] for f in shown][::-1])
        ax.axvline(cfg.drift.yellow, color=_COLOURS["yellow"], ls="--", lw=1, label=f"yellow from {cfg.drift.yellow:g}")
        ax.axvline(cfg.drift.red, color=_COLOURS["red"], ls="--", lw=1, label=f"red from {cfg.drift.red:g}")
        ax.set_xlabel("PSI (current vs reference)")
        ax.set_title("Feature drift")
        ax.legend(loc="lower right", fontsize=8)
        figs["feature_drift"] = _png(fig)
    figs["score_distribution"] = _distribution_png(rpred, cpred, "Prediction: reference vs current")
    for f in shown[:6]:
        if f["light"] in ("yellow", "red"):
            name = f["column"]
            figs[f"column {name}"] = _distribution_png(ref_profiles[name], cur_profiles[name], f"{name} ({ref_profiles[name].source}): PSI {f['psi']:.3f}")
    trend = list(table["kpi"].unique()) if len(table) else []
    if trend:
        n = min(len(trend), 8)
        fig, axes = _pyplot().subplots(n, 1, figsize=(7, 2.0 * n), squeeze=False)
        for ax, name in zip(axes[:, 0], trend[:n]):
            s = table[table["kpi"] == name]
            ax.plot(s["period"], s["value"], marker="o")
            rule = cfg.kpis.get(name)
            if rule is not None and rule.target is not None:
                ax.axhline(rule.target, color="grey", ls=":", label=f"target {rule.target:g}")
                ax.legend(fontsize=7, loc="best")
            hit = [a["period"] for a in alerts if a["kpi"] == name]
            if hit:
                pts = s[s["period"].isin(hit)]
                ax.scatter(pts["period"], pts["value"], color=_COLOURS["red"], zorder=3, s=60, label="alert")
            ax.set_title(name, fontsize=9)
            ax.tick_params(axis="x", labelsize=7, rotation=45)
        fig.tight_layout()
        figs["kpi_trends"] = _png(fig)
    return figs


def _distribution_png(ref: Profile, cur: Profile, title: str) -> bytes:
    labels = ref.labels
    fig, ax = _axes(7, 3.2)
    x = np.arange(len(labels))
    ax.bar(x - 0.2, ref.shares(), width=0.4, label="reference")
    ax.bar(x + 0.2, cur.shares(), width=0.4, label="current")
    ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("share of rows")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return _png(fig)


# ------------------------------------------------------------------- HTML
def _html(report: MonitoringReport) -> str:
    s = report.summary
    e = html.escape

    def light(x: str | None) -> str:
        return f'<span class="dot" style="background:{_COLOURS[x]}"></span>{e(x or "n/a")}'

    def num(x: Any, fmt: str = "{:.4g}") -> str:
        return "" if x is None else e(fmt.format(x)) if isinstance(x, (int, float)) else e(str(x))

    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>salesml monitoring report</title><style>",
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:1000px;color:#222}"
        "table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ddd;padding:4px 8px;font-size:13px}"
        "th{background:#f5f5f5}.dot{display:inline-block;width:11px;height:11px;border-radius:50%;margin-right:6px}"
        ".big{font-size:20px}.alert{color:#c62828}",
        "</style></head><body>",
        f"<h1>Monitoring report: {e(s['model']['task'])}</h1>",
        f"<p>Model {e(str(s['model']['uri'] or 'in memory'))}; data through {e(str(s['model']['trained_through'] or 'unknown'))}; "
        f"as of {e(s['as_of'])}; {s['rows']['current']:,} current rows against {s['rows']['reference']:,} "
        f"reference rows ({e(s['rows']['reference_source'])}).</p>",
        f"<p class='big'>Overall: {light(s['overall'])}</p>",
    ]
    r = s["retrain"]
    parts.append(f"<h2>Retrain: {'recommended' if r['recommended'] else 'not needed'}</h2>")
    if r["reasons"]:
        parts.append("<ul>" + "".join(f"<li>{e(x)}</li>" for x in r["reasons"]) + "</ul>")
    parts.append(f"<p><small>Rule: {e(r['rule']['text'])} (metric_drop {r['rule']['metric_drop']}, max_age_days {r['rule']['max_age_days']}).</small></p>")
    parts.append("<h2>Alerts</h2>")
    if s["alerts"]:
        parts.append("<table><tr><th>KPI</th><th>period</th><th>rule</th><th>what</th><th>active</th></tr>")
        for a in s["alerts"]:
            cls = " class='alert'" if a["active"] else ""
            parts.append(f"<tr{cls}><td>{e(a['kpi'])}</td><td>{e(a['period'])}</td><td>{e(a['rule'])}</td><td>{e(a['message'])}</td><td>{'yes' if a['active'] else ''}</td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p>None.</p>")
    parts.append("<h2>KPIs against targets</h2>")
    if s["kpis"]:
        parts.append("<table><tr><th>KPI</th><th>period</th><th>value</th><th>target</th><th>better</th><th>attainment</th><th>light</th></tr>")
        for k in s["kpis"]:
            parts.append(
                f"<tr><td>{e(k['title'])}</td><td>{e(str(k.get('period', '')))}</td><td>{num(k['value'])}</td><td>{num(k['target'])}</td>"
                f"<td>{e(k['direction'])}</td><td>{num(k.get('attainment'), '{:.1%}')}</td><td>{light(k['light'])}</td></tr>"
            )
        parts.append("</table>")
        parts.append(f"<p><small>Attainment = actual/target (higher is better) or target/actual (lower is better); red below {s['thresholds']['kpi_attainment']['red_below']:.0%}, green above {s['thresholds']['kpi_attainment']['green_above']:.0%}, yellow in between.</small></p>")
    else:
        parts.append("<p>No KPI targets configured.</p>")
    if "kpi_trends" in report.figures:
        parts.append(_img(report.figures["kpi_trends"], "KPI trends"))
    parts.append("<h2>Score drift</h2>")
    sc = s["drift"]["score"]
    parts.append(f"<p>PSI {num(sc['psi'], '{:.4f}')} {light(sc['light'])}; mean prediction {num(sc['reference_mean'])} (reference) vs {num(sc['current_mean'])} (current).</p>")
    if "score_distribution" in report.figures:
        parts.append(_img(report.figures["score_distribution"], "score distribution"))
    o = s["outcomes"]
    parts.append("<h2>Predicted vs actual</h2>")
    if not o or not o.get("rows_with_outcome"):
        parts.append("<p>No outcomes in the current rows yet.</p>")
    else:
        parts.append(f"<p>{o['rows_with_outcome']:,} rows with an outcome: mean predicted {num(o['mean_predicted'])}, observed {num(o['mean_actual'])}.</p>")
        if o.get("primary"):
            p = o["primary"]
            parts.append(f"<p>{e(p['metric'])}: {p['current']:.4f} now vs {p['reference']:.4f} on the training holdout ({p['relative_change']:+.1%}).</p>")
        if o.get("metrics"):
            parts.append("<table><tr><th>metric</th><th>value</th></tr>" + "".join(f"<tr><td>{e(k)}</td><td>{num(v)}</td></tr>" for k, v in o["metrics"].items()) + "</table>")
    parts.append("<h2>Feature drift (PSI)</h2>")
    if "feature_drift" in report.figures:
        parts.append(_img(report.figures["feature_drift"], "feature drift"))
    parts.append("<table><tr><th>column</th><th>measured</th><th>PSI</th><th>light</th><th>largest move</th></tr>")
    for f in s["drift"]["features"]:
        mv = f.get("largest_move")
        move = f"{e(mv['bin'])}: {mv['reference_share']:.1%} -> {mv['current_share']:.1%}" if mv else e(f.get("note", ""))
        parts.append(f"<tr><td>{e(f['column'])}</td><td>{e(f.get('measured', ''))}</td><td>{num(f['psi'], '{:.4f}')}</td><td>{light(f['light'])}</td><td>{move}</td></tr>")
    parts.append("</table>")
    for name, png in report.figures.items():
        if name.startswith("column "):
            parts.append(_img(png, name))
    parts.append("<p><small>Aggregates only: bin shares, rates and metrics; no row of data is in this report.</small></p></body></html>")
    return "\n".join(parts)


def _img(png: bytes, alt: str) -> str:
    return f"<p><img alt='{html.escape(alt)}' src='data:image/png;base64,{base64.b64encode(png).decode('ascii')}'></p>"


# ------------------------------------------------------------------ MLflow
_METRIC_NAME = re.compile(r"[^\w\-. /]")


def log_report(report: MonitoringReport, *, experiment: str | None = None, tracking_uri: str | None = None) -> str:
    """Log a report to MLflow as a monitoring run (metrics, lights as tags, HTML and JSON); returns the run id."""
    import mlflow

    from salesml.tracking.tracker import MLflowTracker

    s = report.summary
    tracker = MLflowTracker(experiment or f"salesml-{s['model']['task']}-monitoring", tracking_uri=tracking_uri)
    metrics: dict[str, float] = {
        "drift.score_psi": s["drift"]["score"]["psi"],
        "drift.n_red": s["drift"]["n_red"],
        "drift.n_yellow": s["drift"]["n_yellow"],
        "retrain": float(s["retrain"]["recommended"]),
        "alerts.active": float(len(s["active_alerts"])),
        "rows.current": float(s["rows"]["current"]),
    }
    for f in s["drift"]["features"]:
        if f["psi"] is not None:
            metrics[f"drift.psi.{_METRIC_NAME.sub('_', f['column'])}"] = f["psi"]
    for k in s["kpis"]:
        if k.get("attainment") is not None:
            metrics[f"kpi.{_METRIC_NAME.sub('_', k['kpi'])}.attainment"] = k["attainment"]
        if k.get("value") is not None:
            metrics[f"kpi.{_METRIC_NAME.sub('_', k['kpi'])}.value"] = k["value"]
    tags = {
        "salesml.run_type": "monitoring",
        "salesml.task": s["model"]["task"],
        "salesml.overall": s["overall"],
        "salesml.retrain": str(s["retrain"]["recommended"]).lower(),
        "salesml.as_of": s["as_of"],
    }
    if s["model"].get("uri"):
        tags["salesml.model_uri"] = str(s["model"]["uri"])
    with tracker.run("monitor", tags=tags) as run_id:
        tracker.log_metrics({k: v for k, v in metrics.items() if v is not None})
        tracker.log_dict(s, "monitoring/summary.json")
        mlflow.log_text(report.to_html(), "monitoring/report.html")
    return str(run_id)
