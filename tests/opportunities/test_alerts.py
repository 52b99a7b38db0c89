"""Follow-up alerts against hand-made opportunities with known answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from salesml.opportunities.alerts import AlertRule, evaluate_alerts, load_rules

ROOT = Path(__file__).resolve().parents[2]
AS_OF = pd.Timestamp("2024-03-10")


@pytest.fixture()
def tables():
    def ts(values):
        return pd.to_datetime(values, format="ISO8601")
    opp = pd.DataFrame(
        {
            "opportunity_id": ["A", "B", "C", "D", "E", "F"],
            "account_id": ["X1", "X2", "X3", "X4", "X5", "X6"],
            "owner": ["ann", "bob", "ann", "cid", "bob", "cid"],
            "amount": [1000.0, 800.0, 5000.0, 2000.0, 9000.0, 3000.0],
            "created_at": ts(["2024-03-08 12:00", "2024-03-09 06:00", "2024-03-01", "2024-02-01", "2024-02-01", "2024-03-05"]),
            "expected_close": ts(["2024-04-30", "2024-04-30", "2024-03-05", "2024-03-01", "2024-02-20", "2024-05-01"]),
        }
    )
    stages = pd.DataFrame(
        {
            "opportunity_id": ["A", "B", "C", "C", "D", "D", "D", "E", "E", "F"],
            "stage": ["qualify", "qualify", "qualify", "needs_analysis", "qualify", "needs_analysis", "proposal", "qualify", "won",
                      "qualify"],
            "at": ts(["2024-03-08 12:00", "2024-03-09 06:00", "2024-03-01", "2024-03-02", "2024-02-01", "2024-02-05", "2024-02-10",
                      "2024-02-01", "2024-02-15", "2024-03-05"]),
        }
    )
    acts = pd.DataFrame(
        {
            "opportunity_id": ["A", "C", "D", "D", "F"],
            "at": ts(["2024-03-11", "2024-03-02 12:00", "2024-02-20", "2024-03-01", "2024-03-05 10:00"]),
            "kind": ["call", "meeting", "email", "close_date_pushed", "call"],
            "value": [1.0, 1.0, 1.0, 30.0, 1.0],
        }
    )
    return {"opportunities": opp, "opportunity_stages": stages, "opportunity_activities": acts}


def test_the_default_rules_find_exactly_the_overdue_opportunities(tables):
    alerts = evaluate_alerts(tables, load_rules(ROOT / "experiments" / "alerts.yaml"), AS_OF)
    got = alerts[["opportunity_id", "rule", "overdue_hours", "value_at_stake"]].to_records(index=False).tolist()
    assert got == [
        ("C", "close_date_passed", 120.0, 1250.0),  # expected 5 March, needs analysis at 25%
        ("D", "no_activity_14d", 120.0, 900.0),  # last activity 20 Feb; the push moved its close date to 31 March
        ("F", "needs_analysis_48h", 72.0, 300.0),  # contacted, but still qualifying 5 days on
        ("A", "first_contact_24h", 12.0, 100.0),  # its call on 11 March is after the date
    ]
    assert alerts.loc[0, "owner"] == "ann" and alerts.loc[0, "due_at"] == pd.Timestamp("2024-03-05")


def test_value_at_stake_uses_the_model_probability_when_given(tables):
    rules = [AlertRule(name="first", check="first_activity", stages=["qualify"], within="24h")]
    alerts = evaluate_alerts(tables, rules, AS_OF, probabilities=pd.Series({"A": 0.5}))
    assert alerts["opportunity_id"].tolist() == ["A"]
    assert alerts.loc[0, "win_probability"] == 0.5 and alerts.loc[0, "value_at_stake"] == 500.0


def test_a_later_date_adds_alerts_and_a_closed_deal_never_alerts(tables):
    rules = [AlertRule(name="first", check="first_activity", stages=["qualify"], within="24h"),
             AlertRule(name="close", check="close_date_passed")]
    later = evaluate_alerts(tables, rules, "2024-03-10 12:00")
    assert sorted(later.loc[later["rule"] == "first", "opportunity_id"]) == ["A", "B"]
    assert "E" not in set(later["opportunity_id"])  # won on 15 Feb though its close date passed
    assert np.all(later["overdue_hours"] > 0)


def test_rules_are_checked_with_clear_messages():
    with pytest.raises(ValidationError, match="within must be a duration like 24h, 48h or 14d. Got 'soon' instead."):
        AlertRule(name="x", check="no_activity", within="soon")
    with pytest.raises(ValidationError, match=r"rule 'x' \(no_activity\) needs `within`, e.g. within: 24h."):
        AlertRule(name="x", check="no_activity")
    with pytest.raises(ValidationError, match=r"rule 'x' names unknown stages \['pitch'\]"):
        AlertRule(name="x", check="time_in_stage", stages=["pitch"], within="1d")


def test_the_alerts_command_lists_overdue_deals_of_the_builtin_data(tmp_path):
    from typer.testing import CliRunner

    from salesml.cli import app

    out = tmp_path / "alerts.csv"
    res = CliRunner().invoke(app, ["alerts", "--as-of", "2025-06-01", "--rules", str(ROOT / "experiments" / "alerts.yaml"),
                                   "--output", str(out)])
    assert res.exit_code == 0, res.output
    written = pd.read_csv(out)
    assert len(written) > 0 and set(written["rule"]) <= {"first_contact_24h", "needs_analysis_48h", "no_activity_14d",
                                                         "close_date_passed"}
    assert written["value_at_stake"].is_monotonic_decreasing
    assert f"{len(written):,} alerts on" in res.output
