"""Follow-up alerts: which open opportunities are overdue as of a date, by rules per stage.

Rules come from YAML (``experiments/alerts.yaml``)::

    rules:
      - {name: first_contact, check: first_activity, stages: [qualify], within: 24h}
      - {name: needs_analysis, check: time_in_stage, stages: [qualify], within: 48h}
      - {name: stalled, check: no_activity, within: 14d}
      - {name: close_date_passed, check: close_date_passed}

Checks:

* ``first_activity``: no activity since the opportunity entered its stage, ``within`` after entering it;
* ``time_in_stage``: still in the stage ``within`` after entering it (the stage's time limit);
* ``no_activity``: no activity for ``within`` (counted from the last activity, else from entering the stage);
* ``close_date_passed``: the expected close date (after its pushes) is before the date.

``stages`` limits a rule to those stages (default: every open stage). Each alert names the
opportunity, its owner and account, the stage, the rule, when it was due and how overdue it is
(hours), and the value at stake: amount x P(win) when probabilities are given, else amount x the
stage rule's probability. Everything is read from events at or before the date
(:meth:`salesml.tasks.opportunity.OpportunityWin.snapshot`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, field_validator

from salesml.tasks.opportunity import OpportunityWin

__all__ = ["ALERT_COLUMNS", "AlertRule", "AlertRules", "evaluate_alerts", "load_rules"]

ALERT_COLUMNS = [
    "opportunity_id", "owner", "account_id", "stage", "rule", "check", "due_at", "overdue_hours", "amount",
    "win_probability", "value_at_stake",
]


class AlertRule(BaseModel):
    """One follow-up rule."""

    model_config = ConfigDict(extra="forbid")

    name: str
    check: Literal["first_activity", "time_in_stage", "no_activity", "close_date_passed"]
    stages: list[str] | None = None
    within: str | None = None
    #: How much an overdue opportunity's urgency grows per day overdue (used by the call list).
    urgency_per_day: float = 0.05

    @field_validator("within")
    @classmethod
    def _within(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            td = pd.Timedelta(v)
        except ValueError:
            raise ValueError(f"within must be a duration like 24h, 48h or 14d. Got {v!r} instead.") from None
        if td <= pd.Timedelta(0):
            raise ValueError(f"within must be a positive duration. Got {v!r} instead.")
        return v

    def model_post_init(self, __context: Any) -> None:
        if self.check != "close_date_passed" and self.within is None:
            raise ValueError(f"rule {self.name!r} ({self.check}) needs `within`, e.g. within: 24h.")
        if self.stages is not None:
            from salesml.tasks.opportunity import STAGE_ORDER

            unknown = [s for s in self.stages if s not in STAGE_ORDER[:4]]
            if unknown:
                raise ValueError(f"rule {self.name!r} names unknown stages {unknown}; open stages are {list(STAGE_ORDER[:4])}.")


class AlertRules(BaseModel):
    """The ``rules`` of an alerts YAML."""

    model_config = ConfigDict(extra="forbid")

    rules: list[AlertRule]


def load_rules(path: str | Path) -> list[AlertRule]:
    """Read the rules of an alerts YAML (see the module docstring)."""
    return AlertRules.model_validate(yaml.safe_load(Path(path).read_text()) or {}).rules


def evaluate_alerts(
    tables: Mapping[str, pd.DataFrame],
    rules: Sequence[AlertRule | Mapping[str, Any]],
    as_of: Any,
    *,
    probabilities: pd.Series | None = None,
    task: OpportunityWin | None = None,
) -> pd.DataFrame:
    """Every alert as of ``as_of``: one row per (open opportunity, rule broken), most value at stake first.

    ``tables``: ``opportunities``, ``opportunity_stages`` and optionally ``opportunity_activities``.
    ``probabilities``: P(win) by opportunity id (e.g. the opportunity-win model's scores); without
    it the value at stake uses the stage rule.
    """
    task = task or OpportunityWin()
    rules = [r if isinstance(r, AlertRule) else AlertRule.model_validate(dict(r)) for r in rules]
    when = pd.Timestamp(as_of)
    snap = task.snapshot(tables, as_of=when)
    c = task.columns
    if probabilities is not None:
        prob = snap[c.id].map(probabilities).astype(float).to_numpy()
        prob = np.where(np.isnan(prob), task.stage_rule(snap), prob)
    else:
        prob = task.stage_rule(snap)
    entered = when - pd.to_timedelta(snap["days_in_stage"], unit="D")
    last = when - pd.to_timedelta(snap["days_since_last_activity"], unit="D")
    acted_in_stage = snap["days_since_last_activity"].notna() & (snap["days_since_last_activity"] <= snap["days_in_stage"])
    parts = []
    for rule in rules:
        in_scope = snap["stage"].isin(rule.stages) if rule.stages else pd.Series(True, index=snap.index)
        within = pd.Timedelta(rule.within) if rule.within else pd.Timedelta(0)
        if rule.check == "first_activity":
            due, broken = entered + within, ~acted_in_stage
        elif rule.check == "time_in_stage":
            due, broken = entered + within, pd.Series(True, index=snap.index)
        elif rule.check == "no_activity":
            due, broken = last.where(last.notna(), entered) + within, pd.Series(True, index=snap.index)
        else:
            due = pd.to_datetime(snap[c.expected_close])
            broken = due.notna()
        due = pd.to_datetime(due).dt.round("s")  # day counts are floats: keep whole seconds
        hit = in_scope & broken & (due < when)
        if not hit.any():
            continue
        rows = snap[hit]
        parts.append(
            pd.DataFrame(
                {
                    "opportunity_id": rows[c.id].to_numpy(),
                    "owner": rows[c.owner].to_numpy(),
                    "account_id": rows[c.account].to_numpy(),
                    "stage": rows["stage"].to_numpy(),
                    "rule": rule.name,
                    "check": rule.check,
                    "due_at": due[hit].to_numpy(),
                    "overdue_hours": np.round((when - due[hit]) / pd.Timedelta(hours=1), 1).to_numpy(),
                    "amount": rows[c.amount].to_numpy(dtype=float),
                    "win_probability": prob[hit.to_numpy()],
                }
            )
        )
    if not parts:
        return pd.DataFrame({k: pd.Series(dtype=object) for k in ALERT_COLUMNS})
    out = pd.concat(parts, ignore_index=True)
    out["value_at_stake"] = np.round(out["amount"] * out["win_probability"], 2)
    return out.sort_values(["value_at_stake", "overdue_hours", "opportunity_id", "rule"], ascending=[False, False, True, True],
                           kind="stable").reset_index(drop=True)[ALERT_COLUMNS]
