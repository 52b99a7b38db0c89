"""The demo: every pipeline on built-in data, tracked in a local MLflow store.

Generates one CRM world, trains every registered task on it with a small
Optuna budget, registers the champions, then scores each task's "today"
records with the champion loaded back from the registry. New tasks join the
demo by registering in :data:`salesml.tasks.TASKS`. When the CLV and churn
champions are both there, the demo then places today's customers in value x
risk segments with revenue at risk (:mod:`salesml.customers.segments`), logged to the
``salesml-segments`` experiment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from salesml.datasets import SIZES, make_crm, write_crm
from salesml.core.flow import TrainResult, train
from salesml.scoring.scorer import load_model
from salesml.customers.segments import log_segments, segment
from salesml.core.sources import write_table_atomic
from salesml.tasks import TASKS
from salesml.tracking.tracker import MLflowTracker, default_tracking_uri

logger = logging.getLogger(__name__)

__all__ = ["run_demo", "DemoReport"]

#: The tasks whose champions' scores make the value x risk segments.
SEGMENT_TASKS = ("clv", "churn")


@dataclass
class DemoReport:
    tracking_uri: str
    data_dir: Path
    results: dict[str, TrainResult] = field(default_factory=dict)
    scored: dict[str, Path] = field(default_factory=dict)
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)
    segments: Any = None  # salesml.customers.segments.Segmentation when CLV and churn were both trained
    quality: dict[str, Any] | None = None  # the data-quality report's summary (None without salesml[quality])
    alerts: Any = None  # overdue follow-ups of open opportunities on the demo's last day
    call_list: Any = None  # whom each owner calls that day (salesml.opportunities.calllist)


def run_demo(
    workdir: str | Path = ".",
    *,
    size: str = "small",
    trials: int = 10,
    random_state: int = 0,
    tasks: Sequence[str] | None = None,
    on_step: Callable[[str], None] | None = None,
    callbacks: list[Callable] | None = None,
) -> DemoReport:
    """Run the demo in ``workdir`` (data under data/demo, scores under outputs/)."""
    step = on_step or (lambda msg: logger.info(msg))
    workdir = Path(workdir)
    data_dir = workdir / "data" / "demo"
    report = DemoReport(tracking_uri=default_tracking_uri(), data_dir=data_dir)

    step(f"Generating the built-in CRM ({size}: {SIZES[size]:,} leads)")
    crm = make_crm(SIZES[size], random_state=random_state)
    write_crm(crm, data_dir, fmt="parquet")

    scored_frames: dict[str, Any] = {}
    for name in tasks or list(TASKS):
        task_cls = TASKS[name]
        step(f"{task_cls.title}: training with {trials} Optuna trials")
        result = train(
            {"task": name, "tuning": {"trials": trials}, "random_state": random_state},
            tables=task_cls.builtin_tables(crm),
            callbacks=callbacks,
        )
        report.results[name] = result
        scored = None
        frame = task_cls.builtin_scoring_input(crm, random_state)
        if frame is not None and result.version is not None:
            step(f"{task_cls.title}: scoring {len(frame):,} records with the registered champion")
            write_table_atomic(frame, data_dir / f"{name}_to_score.csv")
            scorer = load_model(f"models:/{result.task.registered_name}@champion")
            scored = scorer.score(frame)
            report.scored[name] = write_table_atomic(scored, workdir / "outputs" / f"{name}_scores.csv")
            scored_frames[name] = scored
        report.summaries[name] = {
            **result.task.summary(result.metrics, scored),
            "registered version": result.version,
            "champion": bool(result.decision and result.decision.promoted),
        }
    if all(name in scored_frames for name in SEGMENT_TASKS):
        step("Segments: CLV x churn for today's active customers, with revenue at risk")
        report.segments = segment(scored_frames["clv"], scored_frames["churn"])
        log_segments(report.segments, MLflowTracker("salesml-segments"))
        write_table_atomic(report.segments.customers, workdir / "outputs" / "segments.csv")
    if all(name in report.results and report.results[name].version for name in CALL_LIST_TASKS):
        _alerts_and_call_list(report, crm, workdir, step)
    report.quality = _data_quality(workdir, random_state, step)
    return report


#: The champions the call list ranks together.
CALL_LIST_TASKS = ("lead-scoring", "opportunity-win", "clv", "churn")
#: The mission's follow-up rules: ``experiments/alerts.yaml`` in the working directory, else in the source checkout.
ALERT_RULES = (Path("experiments") / "alerts.yaml", Path(__file__).resolve().parents[2] / "experiments" / "alerts.yaml")


def _alerts_and_call_list(report: DemoReport, crm: Any, workdir: Path, step: Callable[[str], None]) -> None:
    """Overdue follow-ups and today's call list on the demo data's last day, from the registered champions."""
    from salesml.opportunities.alerts import load_rules
    from salesml.opportunities.calllist import build_call_list, gather_inputs

    as_of = pd.Timestamp(crm.opportunities["created_at"].max()).normalize()
    found = next((p for p in ALERT_RULES if p.is_file()), None)
    rules = load_rules(found) if found is not None else []
    step(f"Opportunities: alerts ({len(rules)} rules from {found or 'nowhere: no experiments/alerts.yaml'}) "
         f"and the call list as of {as_of.date()}")
    scorers = {name: load_model(f"models:/{report.results[name].task.registered_name}@champion") for name in CALL_LIST_TASKS}
    inputs = gather_inputs(
        {**crm.tables(), **crm.opportunity_tables()}, as_of, lead_scorer=scorers["lead-scoring"],
        opportunity_scorer=scorers["opportunity-win"], clv_scorer=scorers["clv"], churn_scorer=scorers["churn"], rules=rules,
    )
    report.call_list = build_call_list(leads=inputs["leads"], opportunities=inputs["opportunities"],
                                       customers=inputs["customers"], capacity=10, lead_value=inputs["lead_value"])
    write_table_atomic(report.call_list, workdir / "outputs" / "call_list.csv")
    if inputs["alerts"] is not None:
        report.alerts = inputs["alerts"]
        write_table_atomic(report.alerts, workdir / "outputs" / "alerts.csv")


def _data_quality(workdir: Path, random_state: int, step: Callable[[str], None]) -> dict[str, Any] | None:
    """Clean a built-in contact table (duplicates, invalid contacts, KPIs), publish it and log its report."""
    try:
        from salesml.datasets.contacts import make_contacts
        from salesml.quality.clean import clean
        from salesml.quality.kpis import log_quality_report
    except ImportError as err:
        step(f"Data quality: skipped ({err.name} is not installed: pip install 'salesml[quality]')")
        return None
    contacts = make_contacts(1_000, random_state=random_state).records
    step(f"Data quality: duplicates, invalid contacts and KPIs on {len(contacts):,} built-in contact records")
    result = clean(contacts)
    result.write(workdir / "outputs" / "quality")
    log_quality_report(result.report, MLflowTracker("salesml-data-quality"))
    return result.report.summary
