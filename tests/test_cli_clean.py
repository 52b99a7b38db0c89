from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from salesml.cli import app

pytest.importorskip("splink", reason="the quality extra is needed: pip install 'salesml[quality]'")

runner = CliRunner()


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    from salesml.datasets.contacts import make_contacts

    data = make_contacts(400, random_state=7)
    folder = tmp_path_factory.mktemp("export")
    path = folder / "contacts.csv"
    data.records.to_csv(path, index=False)
    # a record with bytes that are not UTF-8 (a Latin-1 export pasted in), and one with a huge string
    raw = path.read_bytes() + "R9999998,M\xfcller GmbH,Hans M\xfcller,hans@mueller.de,+49 30 1234567,DE,Berlin,,,\n".encode(
        "latin-1") + f"R9999999,{'x' * 5000},Big Name,big@x.com,13800138000,CN,,,,\n".encode()
    path.write_bytes(raw)
    return data, path


def test_clean_a_csv_export_every_record_accounted_for(export, tmp_path):
    data, path = export
    out = tmp_path / "clean"
    res = runner.invoke(app, ["clean", "--input", str(path), "--out", str(out), "--format", "csv"])
    assert res.exit_code == 0, res.output
    rows = len(data.records) + 2
    assert f"{rows:,} records in, {rows:,} out" in res.output
    cleaned = pd.read_csv(out / "cleaned.csv", dtype=str, keep_default_na=False)
    assert len(cleaned) == rows and cleaned["record_id"].tolist()[:-2] == data.records["record_id"].tolist()
    # the user's columns come back as they were read (phones keep leading zeros)
    assert cleaned["phone"].tolist()[:-2] == data.records["phone"].fillna("").tolist()
    by_id = cleaned.set_index("record_id")
    assert "encoding_replaced:company_name" in by_id.loc["R9999998", "quality_reasons"]
    assert "value_too_long:company_name" in by_id.loc["R9999999", "quality_reasons"]
    mapping = pd.read_csv(out / "customer_map.csv", dtype=str)
    assert mapping.columns.tolist() == ["old_id", "cluster_id"] and len(mapping) == rows
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["every_record_accounted_for"] and manifest["outputs"]["cleaned"]["rows"] == rows
    report = json.loads((out / "quality_report.json").read_text())
    assert report["rows"] == rows and report["kpis"][0]["name"] == "data_accuracy"
    assert not list(tmp_path.glob(".clean.*"))  # no temporary folder left behind


def test_rerun_replaces_the_outputs_and_bad_input_publishes_nothing(export, tmp_path):
    _, path = export
    out = tmp_path / "clean"
    assert runner.invoke(app, ["clean", "--input", str(path), "--out", str(out)]).exit_code == 0
    before = sorted(p.name for p in out.iterdir())
    assert "cleaned.parquet" in before
    stamp = (out / "manifest.json").read_text()
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"id": ["1", "2"], "name": ["a", "b"]}).to_csv(bad, index=False)
    res = runner.invoke(app, ["clean", "--input", str(bad), "--out", str(out), "--id", "id"])
    assert res.exit_code == 1
    assert "Cleaning failed, nothing was published" in res.output
    assert "neither the e-mail column 'email' nor the phone column 'phone'" in " ".join(res.output.split())
    assert sorted(p.name for p in out.iterdir()) == before and (out / "manifest.json").read_text() == stamp
    res = runner.invoke(app, ["clean", "--input", str(tmp_path / "missing.csv"), "--out", str(out)])
    assert res.exit_code == 1 and "does not exist" in " ".join(res.output.split())


def test_clean_tags_customers_with_the_order_history(tmp_path):
    import salesml

    crm = salesml.make_crm(3_000, random_state=4)
    crm.customers.to_parquet(tmp_path / "customers.parquet")
    crm.transactions.to_parquet(tmp_path / "orders.parquet")
    crm.leads.to_parquet(tmp_path / "leads.parquet")
    crm.truth["promotions"].to_parquet(tmp_path / "promotions.parquet")
    (tmp_path / "q.yaml").write_text("dedupe:\n  columns:\n    required: [industry]\n")
    res = runner.invoke(app, [
        "clean", "--input", str(tmp_path / "customers.parquet"), "--out", str(tmp_path / "out"),
        "--settings", str(tmp_path / "q.yaml"), "--id", "customer_id", "--transactions", str(tmp_path / "orders.parquet"),
        "--leads", str(tmp_path / "leads.parquet"), "--promotions", str(tmp_path / "promotions.parquet"),
        "--as-of", "2025-12-31",
    ])
    assert res.exit_code == 0, res.output
    assert "tagged_share" in res.output
    tags = pd.read_parquet(tmp_path / "out" / "tags.parquet")
    assert set(tags["tag"]) <= {"inactive_6m", "high_potential_industry", "price_sensitive"}
    cleaned = pd.read_parquet(tmp_path / "out" / "cleaned.parquet")
    assert len(cleaned) == len(crm.customers)
    assert ((cleaned["tags"] != "").mean()) == pytest.approx(
        json.loads((tmp_path / "out" / "quality_report.json").read_text())["kpis"][1]["value"], abs=1e-6)
