"""Lead scoring: will this lead convert?

Output per lead: the calibrated probability, a 0-100 score (``round(100 * p)``),
a grade (A-D by score cut-offs), the follow-up threshold that applies to it
(default 80, overridable per segment such as industry or region), the
follow-up flag (score at or above the threshold, or the top N leads of the
batch in capacity mode) and, from the shared scorer, the top reasons.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from pydantic import field_validator

from salesml.core.contracts import (
    BinaryLabel, ColumnRule, Problem, all_missing_columns, parse_datetime, time_rules, validate_table,
)
from salesml.core.metrics import classification_metrics, threshold_metrics
from salesml.core.task import Dataset, Task, TaskColumns, TaskParams, too_few_of_each_class

__all__ = ["LeadScoring", "LeadScoringColumns", "LeadScoringParams"]

#: Phrases for the built-in lead columns; a user's own columns get generic phrases
#: ("time on site is 12") unless the experiment YAML adds templates.
DEFAULT_TEMPLATES: dict[str, Any] = {
    "visits": "visited the site {value} times",
    "pages_viewed": "viewed {value} pages",
    "pricing_page_views": "visited the pricing page {value} times",
    "time_on_site": "spent {value} minutes on the site",
    "downloads": "downloaded {value} resources",
    "email_opens": "opened {value} e-mails",
    "days_since_last_activity": "last active {value} days ago",
    "event_attended": {"true": "attended an event", "false": "did not attend an event"},
    "channel": "came in through {value}",
    "industry": "industry is {value}",
    "company_size": "company size is {value} employees",
    "region": "region is {value}",
    "stated_need": "stated need is {value}",
    "inquiry_text": {"true": 'inquiry mentions "{token}"', "false": 'inquiry does not mention "{token}"'},
}


class LeadScoringColumns(TaskColumns):
    id: str = "lead_id"
    time: str = "created_at"
    label: str | None = "converted"
    exclude: list[str] = []
    outcome: list[str] = ["converted_at"]


class LeadScoringParams(TaskParams):
    threshold: float = 80.0
    segment_thresholds: dict[str, dict[str, float]] = {}
    capacity: int | None = None
    grades: dict[str, float] = {"A": 80.0, "B": 50.0, "C": 20.0}
    lowest_grade: str = "D"
    reason_templates: dict[str, Any] = DEFAULT_TEMPLATES
    min_positives: int = 40
    min_negatives: int = 40

    @field_validator("threshold")
    @classmethod
    def _threshold_range(cls, v: float) -> float:
        if not 0 <= v <= 100:
            raise ValueError(f"threshold must be a score between 0 and 100. Got {v} instead.")
        return v

    @field_validator("capacity")
    @classmethod
    def _capacity_positive(cls, v: int | None) -> int | None:
        if v is not None and v < 1:
            raise ValueError(f"capacity must be a positive number of leads. Got {v} instead.")
        return v

    @field_validator("grades")
    @classmethod
    def _grades_ordered(cls, v: dict[str, float]) -> dict[str, float]:
        cuts = list(v.values())
        if cuts != sorted(cuts, reverse=True):
            raise ValueError(f"grades must list minimum scores from the best grade down, e.g. A: 80, B: 50. Got {v}.")
        return v


class LeadScoring(Task):
    """Binary conversion model with calibrated scores, grades, follow-up flags and reasons."""

    name = "lead-scoring"
    title = "Lead scoring"
    tables = ("leads",)
    objective = "binary"
    eval_metric = "auc"
    primary_metric = "roc_auc"
    greater_is_better = True
    calibration = "sigmoid"
    default_search_space = "lightgbm"
    flag_column = "follow_up"
    Columns = LeadScoringColumns
    Params = LeadScoringParams
    columns: LeadScoringColumns
    params: LeadScoringParams

    # ------------------------------------------------------------ training
    @classmethod
    def builtin_tables(cls, crm: Any) -> dict[str, pd.DataFrame]:
        return {"leads": crm.leads}

    @classmethod
    def builtin_scoring_input(cls, crm: Any, random_state: int = 0) -> pd.DataFrame:
        from salesml.datasets import make_leads

        start = pd.Timestamp(crm.leads["created_at"].max()).normalize() + pd.Timedelta(days=1)
        new, _ = make_leads(2_000, start=start, end=start + pd.Timedelta(days=30), random_state=random_state + 1)
        return new.drop(columns=["converted", "converted_at"])

    def summary(self, metrics: Mapping[str, float], scored: pd.DataFrame | None) -> dict[str, Any]:
        out = {
            "holdout ROC-AUC": round(metrics["test.roc_auc"], 3),
            "holdout PR-AUC": round(metrics["test.pr_auc"], 3),
            "calibration error": round(metrics["test.ece"], 3),
            "top-decile lift": round(metrics["test.lift_top_decile"], 2),
        }
        if scored is not None:
            out["new leads scored"] = len(scored)
            out["grades"] = {str(k): int(v) for k, v in scored["grade"].value_counts().sort_index().items()}
            out["to follow up"] = int(scored["follow_up"].sum())
        return out

    def validate(self, tables: Mapping[str, pd.DataFrame]) -> None:
        if "leads" not in tables:
            raise ValueError(f"Lead scoring needs a 'leads' table. Got tables: {sorted(tables)}.")
        leads = tables["leads"]
        c = self.columns
        rules = [
            ColumnRule(c.id, "id", nullable=False, role="id column"),
            ColumnRule(str(c.label), "binary", nullable=False, role="label column"),
        ]
        rules[1:1] = time_rules(leads, c.time)  # optional: a table without it is split at random (Task.split)
        validate_table(
            leads,
            table="leads",
            rules=rules,
            key=c.id,
            extra_checks=[all_missing_columns("leads"), self._one_class_check],
        )

    def _one_class_check(self, leads: pd.DataFrame) -> list[Problem]:
        label = str(self.columns.label)
        if label not in leads.columns or len(leads) == 0:
            return []
        y = BinaryLabel(label).encode(leads[label])
        classes = set(np.unique(y[~np.isnan(y)]).astype(int))
        if len(classes) == 1:
            only = "converted (1)" if classes == {1} else "not converted (0)"
            return [
                Problem(
                    "leads",
                    label,
                    "one_class",
                    f"every labelled lead is {only}; a model needs both outcomes",
                    "include leads of both outcomes (check the export filter)",
                )
            ]
        return []

    def build_dataset(self, tables: Mapping[str, pd.DataFrame]) -> Dataset:
        leads = tables["leads"]
        c = self.columns
        target = BinaryLabel(str(c.label)).encode(leads[c.label]).astype(int)
        frame = leads.drop(columns=[c.label])
        time = parse_datetime(leads[c.time]) if c.time in leads.columns else pd.Series(pd.NaT, index=leads.index)
        return Dataset(frame=frame, target=target, time=time, key=leads[c.id])

    def evaluate(self, y_true: np.ndarray, pred: np.ndarray, output: pd.DataFrame) -> dict[str, float]:
        metrics = classification_metrics(y_true, pred)
        metrics.update(threshold_metrics(y_true, output["follow_up"].to_numpy(dtype=bool)))
        return metrics

    def figures(self, y_true: np.ndarray, pred: np.ndarray, output: pd.DataFrame) -> dict[str, Any]:
        from salesml.core import plots

        return {
            "plots/calibration_curve.png": plots.calibration_plot(y_true, pred),
            "plots/lift_gain.png": plots.gain_plot(y_true, pred, threshold_share=float(output["follow_up"].mean())),
            "plots/score_distribution.png": plots.score_distribution_plot(
                output["score"].to_numpy(), y_true, threshold=self.params.threshold
            ),
        }

    def data_problems(self, y_train: np.ndarray, y_test: np.ndarray) -> list[str]:
        return too_few_of_each_class(
            y_train, y_test, min_positive=self.params.min_positives, min_negative=self.params.min_negatives,
            positive="converted", negative="unconverted", rows="leads",
        )

    # ------------------------------------------------------------- scoring
    @property
    def rowwise(self) -> bool:
        return self.params.capacity is None  # capacity mode follows the top N of the whole batch

    def thresholds(self, frame: pd.DataFrame) -> np.ndarray:
        """The follow-up threshold of each row: the first matching segment override, else the default."""
        out = np.full(len(frame), np.nan)
        for column, overrides in self.params.segment_thresholds.items():
            if column not in frame.columns:
                continue
            values = frame[column].astype("string").to_numpy(dtype=object, na_value=None)
            mapped = np.array([overrides.get(v, np.nan) if v is not None else np.nan for v in values], dtype=float)
            out = np.where(np.isnan(out), mapped, out)
        return np.where(np.isnan(out), self.params.threshold, out)

    def grade(self, score: np.ndarray) -> np.ndarray:
        grades = np.full(len(score), self.params.lowest_grade, dtype=object)
        for name, cut in sorted(self.params.grades.items(), key=lambda kv: kv[1]):
            grades[score >= cut] = name
        return grades

    def postprocess(self, pred: np.ndarray, frame: pd.DataFrame) -> pd.DataFrame:
        prob = np.asarray(pred, dtype=float)
        score = np.rint(prob * 100).astype(int)
        threshold = self.thresholds(frame)
        if self.params.capacity is not None:
            order = np.argsort(-prob, kind="stable")
            follow = np.zeros(len(prob), dtype=bool)
            follow[order[: self.params.capacity]] = True
        else:
            follow = score >= threshold
        return pd.DataFrame(
            {
                "probability": prob,
                "score": score,
                "grade": self.grade(score),
                "threshold": threshold,
                "follow_up": follow,
            },
            index=frame.index,
        )
