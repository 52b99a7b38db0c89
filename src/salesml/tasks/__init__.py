"""The task registry: one line per task. Shared code looks tasks up here by name."""

from __future__ import annotations

from salesml.core.task import Dataset, Task, TaskColumns, TaskParams
from salesml.tasks.forecasting import Forecasting
from salesml.tasks.lead_scoring import LeadScoring
from salesml.tasks.clv import CLV
from salesml.tasks.churn import Churn
from salesml.tasks.opportunity import OpportunityWin

__all__ = ["TASKS", "get_task", "Task", "Dataset", "TaskColumns", "TaskParams"]

TASKS: dict[str, type[Task]] = {
    LeadScoring.name: LeadScoring,
    CLV.name: CLV,
    Churn.name: Churn,
    Forecasting.name: Forecasting,
    OpportunityWin.name: OpportunityWin,
}


def get_task(name: str) -> type[Task]:
    """The task class registered under ``name`` (e.g. ``"lead-scoring"``)."""
    try:
        return TASKS[name]
    except KeyError:
        known = ", ".join(sorted(TASKS))
        raise ValueError(f"Unknown task {name!r}. Known tasks: {known}.") from None
