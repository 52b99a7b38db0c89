"""The monitoring report: JSON summary, plots, and the HTML page rendered from a Jinja2 template
(``templates/report.html.j2``, escaped by the engine), and logging it to MLflow as a monitoring run."""

from __future__ import annotations

import base64
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from salesml.monitoring.drift import Profile

__all__ = ["MonitoringReport", "log_report", "render_html"]


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
        return render_html(self)

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
def _fmt(x: Any, fmt: str = "{:.4g}") -> str:
    """A number as the report shows it ("" for none); other values as text."""
    if x is None:
        return ""
    return fmt.format(x) if isinstance(x, (int, float)) else str(x)


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("salesml.monitoring", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _fmt
    env.filters["data_uri"] = _data_uri
    env.globals["colours"] = _COLOURS
    return env


def render_html(report: MonitoringReport) -> str:
    """The report as one self-contained HTML page (plots embedded as PNG data URIs); every value is escaped."""
    template = _environment().get_template("report.html.j2")
    columns = {name: png for name, png in report.figures.items() if name.startswith("column ")}
    return template.render(s=report.summary, figures=report.figures, column_figures=columns)


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
