"""Quality KPIs and the quality report: completeness, validity, duplicates, tagged share, traffic lights.

:func:`quality_report` measures one cleaned table (the output of :func:`salesml.quality.clean.clean`
or of the steps by hand) and returns a :class:`QualityReport`: per column completeness (filled
share) and, for e-mail and phone, validity (valid share of the filled values); the duplicate rate
(records a merge would remove); counts per reason code; the tagged share; and the business plan's
KPIs with their targets and traffic lights:

* ``data_accuracy``: share of records with no contact problem (no invalid or missing e-mail /
  phone, no missing required field) that are not a surplus duplicate; target 0.95;
* ``tagged_share``: share of customers with at least one tag; target 0.90.

Lights follow the monitoring rules (:func:`salesml.monitoring.kpis.kpi_light` on the attainment
``value / target``): red below 80%, yellow 80-90%, green above 90% of the target.

The report holds aggregates only (rates, counts, column names, reason codes), never a value of the
table, so it can go to MLflow under the personal-data guard: :func:`log_quality_report`.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from salesml.monitoring.kpis import attainment, kpi_light

from .contacts import REASON_COLUMN, ContactColumns

__all__ = ["KPI_TARGETS", "QualityReport", "log_quality_report", "quality_report"]

#: The business plan's targets (docs/mission.md).
KPI_TARGETS = {"data_accuracy": 0.95, "tagged_share": 0.90}
_COLOURS = {"green": "#2e7d32", "yellow": "#f9a825", "red": "#c62828", None: "#9e9e9e"}
_PROBLEMS = ("email_invalid", "email_missing", "phone_invalid", "phone_unparseable", "phone_missing", "required_missing")


@dataclass(frozen=True)
class QualityReport:
    """The summary (a JSON-ready dict of aggregates); ``to_json`` / ``to_html`` / ``write``."""

    summary: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(self.summary, indent=2, sort_keys=True, ensure_ascii=False)

    def to_html(self) -> str:
        return _html(self.summary)

    def metrics(self) -> dict[str, float]:
        """Flat numeric figures for MLflow (``quality.<name>``)."""
        s = self.summary
        out = {f"quality.{k['name']}": k["value"] for k in s["kpis"] if k["value"] is not None}
        out["quality.duplicate_rate"] = s["duplicates"]["duplicate_rate"]
        out["quality.rows"] = float(s["rows"])
        for col, c in s["columns"].items():
            out[f"quality.completeness.{col}"] = c["completeness"]
            if c.get("validity") is not None:
                out[f"quality.validity.{col}"] = c["validity"]
        return out

    def write(self, directory: str | Path) -> dict[str, Path]:
        """``quality_report.json`` and ``quality_report.html`` in ``directory``."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        paths = {"json": d / "quality_report.json", "html": d / "quality_report.html"}
        paths["json"].write_text(self.to_json(), "utf-8")
        paths["html"].write_text(self.to_html(), "utf-8")
        return paths


def _filled(s: pd.Series) -> pd.Series:
    return s.notna() & (s.astype(str).str.strip() != "")


def quality_report(
    cleaned: pd.DataFrame,
    columns: ContactColumns | None = None,
    *,
    table: str = "contacts",
    tagged_share: float | None = None,
    tag_counts: Mapping[str, int] | None = None,
    targets: Mapping[str, float] | None = None,
    compared: tuple[str, ...] = (),
    not_compared: Mapping[str, str] | None = None,
) -> QualityReport:
    """The report of a cleaned table (``quality_reasons`` and, after dedupe, ``is_survivor`` columns)."""
    cols = (columns or ContactColumns()).present(cleaned)
    goals = {**KPI_TARGETS, **(targets or {})}
    n = len(cleaned)
    reasons = cleaned[REASON_COLUMN].fillna("").astype(str) if REASON_COLUMN in cleaned.columns else pd.Series([""] * n)
    user_cols = [c for c in cleaned.columns if c not in (REASON_COLUMN, "email_normalised", "phone_e164", "cluster_id",
                                                         "cluster_size", "is_survivor", "tags")]
    per_col: dict[str, dict[str, Any]] = {}
    for c in user_cols:
        filled = _filled(cleaned[c])
        entry: dict[str, Any] = {"completeness": round(float(filled.mean()), 6) if n else 0.0, "validity": None}
        if c in (cols.email, cols.phone):
            normalised = cleaned["email_normalised" if c == cols.email else "phone_e164"]
            entry["validity"] = round(float(normalised.notna()[filled].mean()), 6) if filled.any() else None
        per_col[str(c)] = entry
    problem = reasons.str.contains("|".join(_PROBLEMS), regex=True)
    surplus = ~cleaned["is_survivor"].astype(bool) if "is_survivor" in cleaned.columns else pd.Series(False, index=cleaned.index)
    accuracy = float((~problem.to_numpy() & ~surplus.to_numpy()).mean()) if n else 0.0
    codes = reasons.str.split(";").explode()
    codes = codes[codes != ""].str.split(":").str[0].value_counts().sort_index()
    dup = {
        "duplicate_rate": round(float(surplus.mean()), 6) if n else 0.0,
        "records_in_duplicate_clusters": int((cleaned["cluster_size"] > 1).sum()) if "cluster_size" in cleaned else 0,
        "clusters": int(cleaned["cluster_id"].nunique()) if "cluster_id" in cleaned else n,
        "compared": list(compared),
        "not_compared": dict(not_compared or {}),
    }
    kpis = []
    for name, value in (("data_accuracy", accuracy), ("tagged_share", tagged_share)):
        target = goals[name]
        light = kpi_light(attainment(value, target)) if value is not None else None
        kpis.append({"name": name, "value": None if value is None else round(value, 6), "target": target,
                     "light": light})
    summary = {
        "table": table,
        "rows": n,
        "columns": per_col,
        "reasons": {str(k): int(v) for k, v in codes.items()},
        "records_with_problems": int(problem.sum()),
        "duplicates": dup,
        "tags": dict(tag_counts or {}),
        "kpis": kpis,
        "overall": _worst([k["light"] for k in kpis]),
        "note": "Aggregates only: no value of the table appears in this report.",
    }
    return QualityReport(summary)


def _worst(lights: list[str | None]) -> str | None:
    for colour in ("red", "yellow", "green"):
        if colour in lights:
            return colour
    return None


def _html(s: Mapping[str, Any]) -> str:
    e = html.escape

    def light(x: str | None) -> str:
        return f'<span class="dot" style="background:{_COLOURS[x]}"></span>{e(x or "n/a")}'

    def pct(x: Any) -> str:
        return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.1%}"

    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>salesml data quality</title><style>",
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:900px;color:#222}"
        "table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ddd;padding:4px 8px;font-size:13px}"
        "th{background:#f5f5f5}.dot{display:inline-block;width:11px;height:11px;border-radius:50%;margin-right:6px}",
        "</style></head><body>",
        f"<h1>Data quality: {e(s['table'])}</h1>",
        f"<p>{s['rows']:,} records; {s['records_with_problems']:,} with a contact problem; "
        f"{s['duplicates']['clusters']:,} distinct customers after deduplication.</p>",
        f"<p>Overall: {light(s['overall'])}</p>",
        "<h2>KPIs</h2><table><tr><th>KPI</th><th>value</th><th>target</th><th>light</th></tr>",
    ]
    for k in s["kpis"]:
        parts.append(f"<tr><td>{e(k['name'])}</td><td>{pct(k['value'])}</td><td>{pct(k['target'])}</td>"
                     f"<td>{light(k['light'])}</td></tr>")
    parts.append("</table><h2>Columns</h2><table><tr><th>column</th><th>completeness</th><th>validity</th></tr>")
    for c, v in s["columns"].items():
        parts.append(f"<tr><td>{e(c)}</td><td>{pct(v['completeness'])}</td><td>{pct(v['validity'])}</td></tr>")
    parts.append("</table><h2>Reasons</h2><table><tr><th>reason</th><th>records</th></tr>")
    for r, n in s["reasons"].items():
        parts.append(f"<tr><td>{e(r)}</td><td>{n:,}</td></tr>")
    d = s["duplicates"]
    parts.append(f"</table><h2>Duplicates</h2><p>Duplicate rate {pct(d['duplicate_rate'])}; "
                 f"{d['records_in_duplicate_clusters']:,} records in clusters of two or more; compared: "
                 f"{e(', '.join(d['compared']) or 'nothing')}"
                 + "".join(f"; not {e(k)}: {e(v)}" for k, v in d.get("not_compared", {}).items()) + ".</p>")
    if s["tags"]:
        parts.append("<h2>Tags</h2><table><tr><th>tag</th><th>customers</th></tr>")
        parts += [f"<tr><td>{e(t)}</td><td>{n:,}</td></tr>" for t, n in s["tags"].items()]
        parts.append("</table>")
    parts.append(f"<p><small>{e(s['note'])}</small></p></body></html>")
    return "".join(parts)


def log_quality_report(report: QualityReport, tracker: Any, *, run_name: str = "data-quality") -> str | None:
    """Log the report's metrics and its JSON/HTML to ``tracker`` (aggregates only; no values of the table)."""
    with tracker.run(run_name, tags={"salesml.kind": "data-quality"}) as run_id:
        tracker.log_params({"table": report.summary["table"], "rows": report.summary["rows"]})
        tracker.log_metrics({_metric_key(k): v for k, v in report.metrics().items()})
        tracker.log_dict(report.summary, "quality/quality_report.json")
        if getattr(tracker, "run_id", None):  # an MLflow run is active: the HTML goes beside the JSON
            import mlflow

            mlflow.log_text(report.to_html(), "quality/quality_report.html")
    return run_id if isinstance(run_id, str) else None


def _metric_key(name: str) -> str:
    """MLflow metric names allow letters, digits, ``_-. /``: anything else (a Chinese column name) becomes ``_``."""
    return re.sub(r"[^A-Za-z0-9_\-. /]", "_", name)
