"""`salesml calllist` end to end: the four models saved to folders, a CRM folder, one list written."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import salesml
from salesml.cli import app
from salesml.datasets import write_crm

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_calllist_command_ranks_all_three_kinds(small_crm, world, tmp_path):
    _, opportunity = world
    folder = tmp_path / "crm"
    write_crm(small_crm, folder)
    models = {"opportunity": opportunity.save(tmp_path / "opportunity")}
    for name in ("lead-scoring", "clv", "churn"):
        tables = salesml.get_task(name).builtin_tables(small_crm)
        models[name] = salesml.train({"task": name, "random_state": 0}, tables=tables, tracker=salesml.NullTracker()).save(tmp_path / name)
    out = tmp_path / "calls.csv"
    res = CliRunner().invoke(app, [
        "calllist", "--as-of", "2025-06-01", "--capacity", "4", "--data", str(folder), "--output", str(out),
        "--lead-model", str(models["lead-scoring"]), "--opportunity-model", str(models["opportunity"]),
        "--clv-model", str(models["clv"]), "--churn-model", str(models["churn"]),
        "--rules", str(ROOT / "experiments" / "alerts.yaml"),
    ])
    assert res.exit_code == 0, res.output
    calls = pd.read_csv(out)
    assert set(calls["kind"]) == {"lead", "opportunity", "customer"}
    assert calls.groupby("owner")["rank"].max().max() <= 4
    assert calls.groupby("owner")["value"].apply(lambda v: v.is_monotonic_decreasing).all()
    assert dict(zip(calls["kind"], calls["action"])) == {"lead": "follow up", "opportunity": "advance", "customer": "retain"}
