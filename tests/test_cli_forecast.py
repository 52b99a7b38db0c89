"""`salesml train forecast` on a user's CSV, then `salesml forecast` with the registered champion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from salesml.cli import app
from salesml.datasets import make_sales

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_train_then_forecast_a_csv(mlflow_store, tmp_path):
    sales, _ = make_sales(random_state=2)
    sales.to_csv(tmp_path / "sales.csv", index=False)
    cfg = {
        "task": "forecast",
        "data": {"tables": {"sales": str(tmp_path / "sales.csv")}},
        "params": {"baselines": ["seasonal_naive"], "backtest_windows": 2},
        "model": {"learning_rate": 0.1},
        "tuning": {"trials": 2, "search_space": "lightgbm-small"},
        "tracking": {"shap_rows": 300},
    }
    (tmp_path / "forecast.yaml").write_text(yaml.safe_dump(cfg))
    res = runner.invoke(app, ["train", "forecast", "--config", str(tmp_path / "forecast.yaml")])
    assert res.exit_code == 0, res.output
    assert "registered salesml-forecast v1 (champion: no champion yet)" in res.output
    assert "backtest.wape_ratio.seasonal_naive" in res.output

    out = tmp_path / "forecast.parquet"
    res = runner.invoke(app, ["forecast", "--model", "models:/salesml-forecast@champion", "--input", str(tmp_path / "sales.csv"),
                              "--horizon", "2", "--output", str(out)])
    assert res.exit_code == 0, res.output
    assert "forecast 25 series (0 not forecast" in res.output and "total 2026-01-01:" in res.output
    result = pd.read_parquet(out)
    assert sorted(result["h"].unique()) == [1, 2] and (result["status"] == "ok").all()
    low = result[result["level"] == "series"]
    total = result[result["level"] == "total"].set_index("period")["forecast"]
    np.testing.assert_allclose(low.groupby("period")["forecast"].sum().loc[total.index], total, rtol=1e-12)
    assert not list(tmp_path.glob(".forecast.parquet.*"))


def test_mlproject_has_forecast_entry_points_with_real_options():
    project = yaml.safe_load((ROOT / "MLproject").read_text())["entry_points"]
    assert project["train_forecast"]["command"] == "salesml train forecast --config {config} --trials {trials}"
    command = project["forecast"]["command"]
    assert command.startswith("salesml forecast ")
    help_text = runner.invoke(app, ["forecast", "--help"]).output
    for option in ("--model", "--input", "--horizon", "--output"):
        assert option in command and option in help_text
    assert yaml.safe_load((ROOT / "experiments" / "forecast.yaml").read_text())["task"] == "forecast"
