from __future__ import annotations

import json

import mlflow
import pandas as pd
import pytest

from salesml.quality.clean import clean
from salesml.quality.contacts import validate_contacts
from salesml.quality.kpis import log_quality_report, quality_report


def _cleaned():
    frame = pd.DataFrame({
        "record_id": ["a", "b", "c", "d"],
        "company_name": ["Acme", "Acme", "Beta", None],
        "contact_name": ["Jo", "Jo", "Al", "Bo"],
        "email": ["jo@acme.com", "jo@acme.com", "bad@", None],
        "phone": ["13800138000", "13800138000", "13900139000", "13700137000"],
    })
    v = validate_contacts(frame, default_region="CN")
    return v.assign(cluster_id=["a", "a", "c", "d"], cluster_size=[2, 2, 1, 1], is_survivor=[True, False, True, True])


def test_report_by_hand():
    s = quality_report(_cleaned(), tagged_share=0.85).summary
    assert s["rows"] == 4
    assert s["columns"]["company_name"] == {"completeness": 0.75, "validity": None}
    assert s["columns"]["email"] == {"completeness": 0.75, "validity": pytest.approx(2 / 3, abs=1e-6)}
    assert s["reasons"] == {"email_invalid": 1, "email_missing": 1, "required_missing": 1}
    assert s["duplicates"]["duplicate_rate"] == 0.25
    kpis = {k["name"]: k for k in s["kpis"]}
    # a clean: c has an invalid e-mail, d misses e-mail and company, b is a surplus duplicate -> 1/4
    assert kpis["data_accuracy"]["value"] == 0.25 and kpis["data_accuracy"]["light"] == "red"
    # 0.85 / 0.90 = 94% of target -> green under the monitoring rule (> 90% of target)
    assert kpis["tagged_share"]["light"] == "green"
    assert s["overall"] == "red"


def test_lights_follow_the_monitoring_rules():
    for share, light in ((0.90, "green"), (0.80, "yellow"), (0.72, "yellow"), (0.71, "red")):
        kpi = {k["name"]: k for k in quality_report(_cleaned(), tagged_share=share).summary["kpis"]}["tagged_share"]
        assert kpi["light"] == light, (share, kpi)


def test_no_personal_data_in_mlflow_artifacts_canary(tmp_path, monkeypatch, contacts):
    canary = {"contact_name": "Zyxwvut Canaryson", "email": "zyxwvut.canary@canary-domain.com",
              "phone": "+86 139 8765 4321", "company_name": "Canarycorp Holdings Ltd", "address": "1 Canary Wharf"}
    records = contacts.records.head(300).copy()
    records.loc[0, list(canary)] = list(canary.values())
    records.loc[1, list(canary)] = list(canary.values())  # and a duplicate of it
    result = clean(records)
    assert result.cleaned.loc[0, "cluster_id"] == result.cleaned.loc[1, "cluster_id"]
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    from salesml.tracking.tracker import MLflowTracker

    run_id = log_quality_report(result.report, MLflowTracker("salesml-data-quality", tracking_uri=uri))
    client = mlflow.MlflowClient(uri)
    run = client.get_run(run_id)
    logged = [json.dumps(run.data.params), json.dumps(run.data.metrics), json.dumps(run.data.tags)]
    local = mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=str(tmp_path / "dl"), tracking_uri=uri)
    files = [p for p in __import__("pathlib").Path(local).rglob("*") if p.is_file()]
    assert {p.name for p in files} == {"quality_report.json", "quality_report.html"}
    logged += [p.read_text("utf-8") for p in files]
    text = "\n".join(logged).lower()
    needles = [v.lower() for v in canary.values()] + ["zyxwvut", "8765", "canary"]
    needles += [str(v).lower() for v in contacts.records.head(300)["email"].dropna().head(20)]
    for needle in needles:
        assert needle not in text, needle
