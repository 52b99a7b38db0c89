"""The MLproject entry points run with `mlflow run . --env-manager local`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_train_entry_point(tmp_path):
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    if not mlflow_bin.exists():
        pytest.skip("the mlflow command is not installed next to this Python")
    for name in ("MLproject", "python_env.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "experiments", tmp_path / "experiments")
    (tmp_path / "experiments" / "tiny.yaml").write_text(
        "task: lead-scoring\ndata: {n_leads: 6000, seed: 1}\ntuning: {trials: 2, search_space: lightgbm-small}\n"
    )
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}", "PATH": f"{mlflow_bin.parent}:{os.environ['PATH']}"}
    proc = subprocess.run(
        [str(mlflow_bin), "run", ".", "-e", "train_lead_scoring", "--env-manager", "local",
         "-P", "config=experiments/tiny.yaml", "-P", "trials=2", "--experiment-name", "salesml-projects"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "registered salesml-lead-scoring v1 (champion" in proc.stdout


def test_every_task_has_a_train_entry_point():
    import yaml

    from salesml.tasks import TASKS

    entry_points = yaml.safe_load((ROOT / "MLproject").read_text())["entry_points"]
    for name in TASKS:
        entry = entry_points[f"train_{name.replace('-', '_')}"]
        assert entry["command"].startswith(f"salesml train {name} --config {{config}}")
        assert (ROOT / entry["parameters"]["config"]["default"]).is_file()
