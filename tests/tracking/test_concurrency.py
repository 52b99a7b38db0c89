"""Two trainings on one fresh SQLite store at once: both land, and the champion history stays consistent."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import mlflow
import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")

JOB = """
import os, sys, time
from pathlib import Path
go = Path(sys.argv[1])
import salesml
crm = salesml.make_crm(4000, n_customers=900, random_state=int(sys.argv[2]))
while not go.exists():  # start together: first use of the store at the same moment
    time.sleep(0.005)
salesml.train({"task": "lead-scoring", "random_state": int(sys.argv[2]), "model": {"n_estimators": 30}},
              tables={"leads": crm.leads})
"""


@pytest.mark.slow
def test_parallel_first_use_and_registration(tmp_path):
    from salesml.tracking.registry import CHAMPION, champion_history

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PYTHONPATH": SRC, "OMP_WAIT_POLICY": "PASSIVE"}
    env.pop("SALESML_SIGNING_KEY", None)
    go = tmp_path / "go"
    procs = [
        subprocess.Popen([sys.executable, "-c", textwrap.dedent(JOB), str(go), str(seed)], env=env, cwd=tmp_path,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for seed in (1, 2)
    ]
    time.sleep(8)  # both have imported salesml and built their data
    go.touch()
    results = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, results):
        assert p.returncode == 0, err[-3000:]
    client = mlflow.MlflowClient(tracking_uri=uri)
    name = "salesml-lead-scoring"
    versions = sorted(int(v.version) for v in client.search_model_versions(f"name='{name}'"))
    assert versions == [1, 2]
    history = champion_history(client, name)
    promoted = [e["version"] for e in history if e["action"] == "promoted"]
    # every version whose gate said "promoted" is in the history, in order, and the alias is the last one
    gate_promoted = sorted(v for v in ("1", "2") if client.get_model_version(name, v).tags["salesml.gate.promoted"] == "True")
    assert sorted(promoted) == gate_promoted and promoted
    assert str(client.get_model_version_by_alias(name, CHAMPION).version) == promoted[-1]
    if len(promoted) == 2:
        assert history[1]["previous"] == promoted[0]  # the second saw the first as champion
