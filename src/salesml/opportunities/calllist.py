"""The prioritised call list: leads, open opportunities and at-risk customers on one expected-value scale.

Each line's value is money a call can move, in the same currency:

* a **lead**: ``P(convert) x expected first-deal value`` -> action ``follow up``;
* an **open opportunity**: ``P(win) x amount x urgency``, where urgency is ``1`` unless a follow-up
  alert is overdue (:mod:`salesml.opportunities.alerts`): then ``1 + urgency_per_day x days overdue``
  of its worst alert, capped at 2 -> action ``advance``;
* a **customer at risk**: ``CLV x P(churn)``, the revenue at risk -> action ``retain``.

:func:`build_call_list` takes the scored frames (the four models' outputs, or any scores in the
same columns) and keeps the ``capacity`` best lines per owner (lines without an owner go to
``unassigned``, a team queue with the same capacity). :func:`value_captured` sums a list's value
under another valuation (e.g. the true probabilities of the built-in data).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from salesml.opportunities.alerts import AlertRule

__all__ = ["CALL_LIST_COLUMNS", "UNASSIGNED", "alert_urgency", "build_call_list", "gather_inputs", "value_captured"]

UNASSIGNED = "unassigned"
CALL_LIST_COLUMNS = ["owner", "rank", "kind", "id", "value", "probability", "base_value", "urgency", "action", "reason"]
MAX_URGENCY = 2.0


def alert_urgency(alerts: pd.DataFrame, rules: Sequence[AlertRule]) -> pd.Series:
    """Urgency multiplier per opportunity id from its overdue alerts (its worst one), at most 2."""
    if alerts is None or len(alerts) == 0:
        return pd.Series(dtype=float)
    per_day = {r.name: r.urgency_per_day for r in rules}
    days = alerts["overdue_hours"].to_numpy(dtype=float) / 24
    mult = np.minimum(MAX_URGENCY, 1 + alerts["rule"].map(per_day).fillna(0.0).to_numpy(dtype=float) * days)
    return pd.Series(mult, index=alerts["opportunity_id"].to_numpy()).groupby(level=0).max()


def _lines(kind: str, ids: pd.Series, owner: pd.Series | None, prob: np.ndarray, base: np.ndarray, urgency: np.ndarray,
           action: str, reason: list[str]) -> pd.DataFrame:
    owners = owner.astype(object).where(owner.notna(), UNASSIGNED).to_numpy() if owner is not None else np.full(len(ids), UNASSIGNED)
    return pd.DataFrame(
        {
            "owner": owners,
            "kind": kind,
            "id": ids.astype(str).to_numpy(),
            "value": np.round(prob * base * urgency, 2),
            "probability": prob,
            "base_value": base,
            "urgency": urgency,
            "action": action,
            "reason": reason,
        }
    )


def build_call_list(
    *,
    leads: pd.DataFrame | None = None,
    opportunities: pd.DataFrame | None = None,
    customers: pd.DataFrame | None = None,
    capacity: int = 10,
    lead_value: float | None = None,
    columns: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """The ``capacity`` most valuable lines per owner, most valuable first (columns :data:`CALL_LIST_COLUMNS`).

    ``leads``: ``lead_id``, ``probability`` (P(convert)), optionally ``owner`` and ``deal_value`` (else
    ``lead_value`` for every lead). ``opportunities``: ``opportunity_id``, ``owner``, ``probability``
    (P(win)), ``amount``, optionally ``urgency``. ``customers``: ``customer_id``, optionally ``owner``,
    ``churn_probability`` and ``expected_revenue`` (CLV). ``columns`` renames any of these.
    """
    if not isinstance(capacity, (int, np.integer)) or capacity < 1:
        raise ValueError(f"capacity must be a positive number of calls per owner. Got {capacity!r} instead.")
    col = {"lead_id": "lead_id", "opportunity_id": "opportunity_id", "customer_id": "customer_id", "owner": "owner",
           "probability": "probability", "deal_value": "deal_value", "amount": "amount", "urgency": "urgency",
           "churn_probability": "churn_probability", "expected_revenue": "expected_revenue", **dict(columns or {})}
    parts = []
    if leads is not None and len(leads):
        p = leads[col["probability"]].to_numpy(dtype=float)
        if col["deal_value"] in leads.columns:
            base = leads[col["deal_value"]].to_numpy(dtype=float)
        elif lead_value is not None:
            base = np.full(len(leads), float(lead_value))
        else:
            raise ValueError("leads need a first-deal value: a 'deal_value' column or lead_value=<amount>.")
        reason = [f"P(convert) {a:.2f} x first deal {b:,.0f}" for a, b in zip(p, base)]
        parts.append(_lines("lead", leads[col["lead_id"]], leads.get(col["owner"]), p, base, np.ones(len(p)), "follow up", reason))
    if opportunities is not None and len(opportunities):
        o = opportunities
        p = o[col["probability"]].to_numpy(dtype=float)
        base = o[col["amount"]].to_numpy(dtype=float)
        urg = o[col["urgency"]].fillna(1.0).to_numpy(dtype=float) if col["urgency"] in o.columns else np.ones(len(o))
        reason = [
            f"P(win) {a:.2f} x amount {b:,.0f}" + (f", overdue follow-up x{u:.2f}" if u > 1 else "")
            for a, b, u in zip(p, base, urg)
        ]
        parts.append(_lines("opportunity", o[col["opportunity_id"]], o.get(col["owner"]), p, base, urg, "advance", reason))
    if customers is not None and len(customers):
        c = customers
        p = c[col["churn_probability"]].to_numpy(dtype=float)
        base = c[col["expected_revenue"]].to_numpy(dtype=float)
        reason = [f"P(churn) {a:.2f} x CLV {b:,.0f} at risk" for a, b in zip(p, base)]
        parts.append(_lines("customer", c[col["customer_id"]], c.get(col["owner"]), p, base, np.ones(len(c)), "retain", reason))
    if not parts:
        return pd.DataFrame({k: pd.Series(dtype=object) for k in CALL_LIST_COLUMNS})
    lines = pd.concat(parts, ignore_index=True)
    lines["value"] = lines["value"].fillna(0.0)
    lines = lines.sort_values(["owner", "value", "kind", "id"], ascending=[True, False, True, True], kind="stable")
    lines["rank"] = lines.groupby("owner").cumcount() + 1
    return lines[lines["rank"] <= capacity].reset_index(drop=True)[CALL_LIST_COLUMNS]


def value_captured(call_list: pd.DataFrame, values: Mapping[tuple[str, str], float] | pd.Series) -> float:
    """Sum of ``values[(kind, id)]`` over the list's lines (0 for lines without one)."""
    keys = list(zip(call_list["kind"], call_list["id"]))
    get: Any = values.get
    return float(sum(get(k, 0.0) for k in keys))


def gather_inputs(
    tables: Mapping[str, pd.DataFrame],
    as_of: Any,
    *,
    lead_scorer: Any = None,
    opportunity_scorer: Any = None,
    clv_scorer: Any = None,
    churn_scorer: Any = None,
    rules: Sequence[AlertRule] = (),
    lead_window_days: int = 30,
) -> dict[str, Any]:
    """The scored inputs of :func:`build_call_list` as of ``as_of`` from raw CRM tables and loaded models.

    ``tables``: ``leads``, ``transactions``, ``customers``, ``activities`` and the opportunity tables (those a
    given model needs). Leads: created in the ``lead_window_days`` before the date and not converted by it.
    Opportunities: open at the date (their snapshot), with the urgency of their overdue alerts. Customers:
    both customer models' snapshot at the date; each customer's owner is the owner of the account's latest
    opportunity created by then. ``lead_value``: the mean amount of opportunities won by the date.
    """
    when = pd.Timestamp(as_of)
    out: dict[str, Any] = {"leads": None, "opportunities": None, "customers": None, "lead_value": None, "alerts": None}
    opp = tables.get("opportunities")
    owners = None
    if opp is not None and len(opp):
        known = opp[opp["created_at"] <= when].sort_values("created_at", kind="stable")
        owners = known.drop_duplicates("account_id", keep="last").set_index("account_id")["owner"]
        won = opp[(opp["status"] == "won") & (opp["closed_at"] <= when)] if "status" in opp.columns else opp.iloc[:0]
        out["lead_value"] = float(won["amount"].mean()) if len(won) else float(opp["amount"].median())
    if lead_scorer is not None and "leads" in tables:
        leads = tables["leads"]
        converted = leads["converted_at"] if "converted_at" in leads.columns else pd.Series(pd.NaT, index=leads.index)
        fresh = (leads["created_at"] <= when) & (leads["created_at"] > when - pd.Timedelta(days=lead_window_days))
        fresh &= converted.isna() | (converted > when)
        frame = leads[fresh].drop(columns=[c for c in ("converted", "converted_at") if c in leads.columns])
        scored = lead_scorer.score(frame, reasons="none")
        out["leads"] = pd.DataFrame({"lead_id": frame.loc[scored.index, "lead_id"].to_numpy(), "probability": scored["probability"].to_numpy()})
    if opportunity_scorer is not None and opp is not None:
        task = opportunity_scorer.task
        frame = task.snapshot(tables, as_of=when)
        scored = opportunity_scorer.score(frame, reasons="none")
        o = pd.DataFrame({"opportunity_id": frame.loc[scored.index, "opportunity_id"].to_numpy(),
                          "owner": frame.loc[scored.index, "owner"].to_numpy(),
                          "probability": scored["probability"].to_numpy(), "amount": frame.loc[scored.index, "amount"].to_numpy()})
        if rules:
            from salesml.opportunities.alerts import evaluate_alerts

            alerts = evaluate_alerts(tables, rules, when, probabilities=o.set_index("opportunity_id")["probability"], task=task)
            o["urgency"] = o["opportunity_id"].map(alert_urgency(alerts, rules)).fillna(1.0)
            out["alerts"] = alerts
        out["opportunities"] = o
    if clv_scorer is not None and churn_scorer is not None:
        clv_frame = clv_scorer.task.snapshot(tables, as_of=when)
        churn_frame = churn_scorer.task.snapshot(tables, as_of=when)
        value = clv_scorer.score(clv_frame, reasons="none")["expected_revenue"]
        risk = churn_scorer.score(churn_frame, reasons="none")["probability"]
        v = pd.Series(value.to_numpy(), index=clv_frame.loc[value.index, "customer_id"].to_numpy())
        r = pd.Series(risk.to_numpy(), index=churn_frame.loc[risk.index, "customer_id"].to_numpy())
        both = r.index.intersection(v.index)
        cust = pd.DataFrame({"customer_id": both, "churn_probability": r[both].to_numpy(), "expected_revenue": v[both].to_numpy()})
        cust["owner"] = cust["customer_id"].map(owners) if owners is not None else np.nan
        out["customers"] = cust
    return out
