"""Online scoring: the registered model behind `mlflow models serve`, asked over real HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import salesml
from salesml.scoring.batch import score_batch

MODEL = "models:/salesml-lead-scoring@champion"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, payload: dict, timeout: float = 30) -> dict:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """A private MLflow store with a registered lead-scoring champion."""
    root = tmp_path_factory.mktemp("registry")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        mp.chdir(root)
        leads, _ = salesml.datasets.make_leads(6_000, random_state=2)
        result = salesml.train({"task": "lead-scoring", "random_state": 0}, tables={"leads": leads})
        assert result.version == "1" and result.decision.promoted
        yield root, os.environ["MLFLOW_TRACKING_URI"], salesml.load_model(MODEL)


@pytest.fixture(scope="module")
def server(registry):
    root, uri, _ = registry
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    if not mlflow_bin.exists():
        pytest.skip("the mlflow command is not installed next to this Python")
    port = free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "OMP_WAIT_POLICY": "PASSIVE", "PATH": f"{mlflow_bin.parent}:{os.environ['PATH']}"}
    log = (root / "serve.log").open("wb")
    proc = subprocess.Popen(
        [str(mlflow_bin), "models", "serve", "-m", MODEL, "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1"],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"mlflow models serve exited with {proc.returncode}:\n{(root / 'serve.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{base}/ping", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow models serve did not answer /ping within 180 s:\n{(root / 'serve.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server and its workers: the process group started above
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def new_leads():
    leads, _ = salesml.datasets.make_leads(40, start="2026-01-01", end="2026-01-31", random_state=8)
    return leads.drop(columns=["converted", "converted_at"])


def records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records", date_format="iso"))


def test_single_record_over_http_equals_the_scorer(server, registry, new_leads):
    _, _, scorer = registry
    record = records(new_leads.head(1))[0]
    answer = post(f"{server}/invocations", {"dataframe_records": [record]})["predictions"]
    assert len(answer) == 1
    expected = scorer.score(new_leads.head(1)).iloc[0]
    got = answer[0]
    assert got["lead_id"] == expected["lead_id"]
    assert got["probability"] == pytest.approx(expected["probability"], rel=0, abs=1e-15)
    for column in ("score", "grade", "threshold", "follow_up", "reason_up_1", "reason_down_1"):
        assert got[column] == expected[column], column


def test_small_batch_with_params_equals_the_batch_job(server, registry, new_leads, tmp_path):
    _, _, scorer = registry
    batch = new_leads.head(25)
    answer = post(f"{server}/invocations", {"dataframe_records": records(batch), "params": {"reasons": "none"}})
    served = pd.DataFrame(answer["predictions"])
    assert "reason_up_1" not in served.columns
    batch.to_parquet(tmp_path / "b.parquet", index=False)
    score_batch(scorer, tmp_path / "b.parquet", tmp_path / "s.parquet", reasons="none", as_of="2027-01-01")
    offline = pd.read_parquet(tmp_path / "s.parquet")
    assert served["lead_id"].tolist() == offline["lead_id"].tolist()
    assert np.allclose(served["probability"], offline["probability"], rtol=0, atol=1e-15)
    assert served["score"].tolist() == offline["score"].tolist()
    assert served["follow_up"].tolist() == offline["follow_up"].tolist()


def test_a_bad_request_is_refused_with_the_reason(server):
    with pytest.raises(urllib.error.HTTPError) as err:
        post(f"{server}/invocations", {"dataframe_records": [{"lead_id": "X1", "visits": 3}]})
    assert err.value.code == 400
    assert "created_at" in err.value.read().decode()  # names a missing required input


def test_cli_batch_job_names_the_registered_version_it_used(registry, new_leads, tmp_path):
    import hashlib

    import mlflow
    from typer.testing import CliRunner

    from salesml.cli import app

    _, uri, _ = registry
    new_leads.to_csv(tmp_path / "tonight.csv", index=False)
    res = CliRunner().invoke(app, ["score", "--model", MODEL, "--input", str(tmp_path / "tonight.csv"),
                                   "--output", str(tmp_path / "out" / "scores.parquet"), "--reasons", "none", "--as-of", "2027-01-01"])
    assert res.exit_code == 0, res.output
    assert "rows in 40 = scored 40 + rejected 0 (reject rate 0.00%)" in res.output
    assert "model salesml-lead-scoring v1 (sha256:" in res.output
    manifest = json.loads((tmp_path / "out" / "scores.manifest.json").read_text())
    assert {k: manifest["model"][k] for k in ("name", "version", "alias", "task")} == {
        "name": "salesml-lead-scoring", "version": "1", "alias": "champion", "task": "lead-scoring"
    }
    local = mlflow.artifacts.download_artifacts(artifact_uri="models:/salesml-lead-scoring/1", dst_path=str(tmp_path / "dl"), tracking_uri=uri)
    digest = hashlib.sha256((Path(local) / "artifacts" / "bundle" / "MANIFEST.json").read_bytes()).hexdigest()
    assert manifest["model"]["digest"] == f"sha256:{digest}"
    assert manifest["input"]["fingerprint"] == "sha256:" + hashlib.sha256((tmp_path / "tonight.csv").read_bytes()).hexdigest()

    # Too many rejects: exit code 3, the message says why, nothing is published.
    bad = new_leads.assign(visits="unknown")
    bad.to_csv(tmp_path / "bad.csv", index=False)
    res = CliRunner().invoke(app, ["score", "--model", MODEL, "--input", str(tmp_path / "bad.csv"),
                                   "--output", str(tmp_path / "bad" / "scores.parquet"), "--as-of", "2027-01-01"])
    assert res.exit_code == 3
    assert "40 of 40 records (100.00%) were rejected" in res.output
    assert not (tmp_path / "bad" / "scores.parquet").exists()
