"""Drift (PSI), traffic lights and alerts at their documented thresholds, the retrain rule, and the monitor command."""

from __future__ import annotations

import json
import math
import re

import mlflow
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from salesml.cli import app
from salesml.monitoring.drift import Profile, categorical_profile, numeric_profile, psi, psi_light
from salesml.monitoring.kpis import attainment, kpi_alerts, kpi_light, load_kpis
from salesml.monitoring.monitor import monitor
from salesml.monitoring.settings import KpiSettings

# -------------------------------------------------------------------- PSI


def test_psi_of_identical_distributions_is_zero():
    assert psi([10, 20, 30, 40], [10, 20, 30, 40]) == 0.0
    assert psi([10, 20, 30, 40], [1, 2, 3, 4]) == pytest.approx(0.0, abs=1e-15)  # shares, not counts, matter
    rng = np.random.default_rng(0)
    ref = numeric_profile("x", rng.normal(size=200_000))
    assert psi(ref.counts, ref.count(rng.normal(size=200_000)).counts) < 0.001


def test_psi_of_a_known_shift_matches_the_hand_computation():
    # reference shares 25/25/25/25 %, current 10/20/30/40 %
    expected = (0.10 - 0.25) * math.log(0.10 / 0.25) + (0.20 - 0.25) * math.log(0.20 / 0.25)
    expected += (0.30 - 0.25) * math.log(0.30 / 0.25) + (0.40 - 0.25) * math.log(0.40 / 0.25)
    assert psi([25, 25, 25, 25], [10, 20, 30, 40]) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.2282, abs=1e-4)


def test_numeric_bins_come_from_the_reference_deciles():
    ref = numeric_profile("x", np.repeat(np.arange(100), 10))  # 0..99, 10 each: decile edges 9.9, 19.8, ..., 89.1
    assert ref.edges == pytest.approx([9.9 * k for k in range(1, 10)])
    assert ref.counts == [100] * 10 + [0]
    cur = ref.count(np.repeat(np.arange(10, 110), 10))  # shifted by +10: first bin empty, last bin doubled
    assert cur.counts == [0] + [100] * 8 + [200] + [0]
    # bin 1: (0 - 0.1) * ln(0.0001 / 0.1) (an empty bin counts as 0.0001); last bin: (0.2 - 0.1) * ln(2)
    expected = (0.0001 - 0.1) * math.log(0.0001 / 0.1) + 0.1 * math.log(2)
    assert psi(ref.counts, cur.counts) == pytest.approx(expected, rel=1e-12)
    assert psi_light(psi(ref.counts, cur.counts)) == "red"


def test_categorical_profile_counts_other_and_missing():
    ref = categorical_profile("channel", ["web", "event", None, "web"], ["event", "web"])
    assert ref.labels == ["event", "web", "(other)", "(missing)"] and ref.counts == [1, 2, 0, 1]
    cur = ref.count(pd.Series(["web", "tiktok", "tiktok", None]))
    assert cur.counts == [0, 1, 2, 1]
    assert Profile.from_dict(json.loads(json.dumps(ref.to_dict()))) == ref


@pytest.mark.parametrize(
    "value, light",
    [(0.0, "green"), (0.0999994, "green"), (0.1, "yellow"), (0.0999996, "yellow"), (0.1999, "yellow"), (0.2, "red"), (3.0, "red")],
)
def test_psi_lights_at_the_documented_thresholds(value, light):
    assert psi_light(value) == light  # green < 0.1 <= yellow < 0.2 <= red, after rounding to 6 decimals


# ------------------------------------------------------------ KPI lights
@pytest.mark.parametrize(
    "actual, target, direction, expected, light",
    [
        (80.0, 100.0, "higher", 0.8, "yellow"),  # exactly 80 % of target: yellow
        (79.9999, 100.0, "higher", 0.799999, "red"),
        (90.0, 100.0, "higher", 0.9, "yellow"),  # exactly 90 %: still yellow (green is *above* 90 %)
        (90.0001, 100.0, "higher", 0.900001, "green"),
        (0.08, 0.10, "higher", 0.8, "yellow"),  # 0.08 / 0.10 is 0.7999999999999999 in floating point
        (0.12, 0.15, "higher", 0.8, "yellow"),
        (0.0625, 0.05, "lower", 0.8, "yellow"),  # churn 6.25 % against a 5 % target
        (0.12, 0.05, "lower", 0.416667, "red"),
        (0.05, 0.05, "lower", 1.0, "green"),
        (0.04, 0.05, "lower", 1.25, "green"),
    ],
)
def test_kpi_lights_at_the_documented_thresholds(actual, target, direction, expected, light):
    a = attainment(actual, target, direction)
    assert a == expected
    assert kpi_light(a) == light


def test_attainment_edge_cases_and_bad_targets():
    assert attainment(0.0, 0.05, "lower") == math.inf and kpi_light(math.inf) == "green"
    assert attainment(0.01, 0.0, "lower") == 0.0 and kpi_light(0.0) == "red"
    with pytest.raises(ValueError, match="A higher-is-better target must be positive. Got 0.0 instead."):
        attainment(1.0, 0.0, "higher")
    with pytest.raises(ValueError, match="direction must be 'higher' or 'lower'. Got 'up' instead."):
        attainment(1.0, 1.0, "up")


# ----------------------------------------------------------------- alerts
def kpi_table(values: dict[str, list[float]]) -> pd.DataFrame:
    periods = [f"2025-{m:02d}" for m in range(1, 1 + max(len(v) for v in values.values()))]
    rows = [{"period": periods[i], "kpi": k, "value": v} for k, vs in values.items() for i, v in enumerate(vs)]
    return load_kpis(pd.DataFrame(rows).sample(frac=1.0, random_state=0))  # order of rows does not matter


CHURN = {"churn_rate": KpiSettings(direction="lower", rises_in_a_row=2)}
DEMAND = {"demand": KpiSettings(max_change=0.10)}


@pytest.mark.parametrize(
    "series, fired",
    [
        ([0.05, 0.06, 0.07], ["2025-03"]),  # rose twice in a row: alert at the second rise
        ([0.05, 0.06, 0.06], []),  # flat is not a rise
        ([0.05, 0.06], []),  # one rise is not two
        ([0.07, 0.06, 0.07, 0.08, 0.09], ["2025-04", "2025-05"]),
    ],
)
def test_churn_rising_two_periods_in_a_row(series, fired):
    alerts = kpi_alerts(kpi_table({"churn_rate": series}), CHURN)
    assert [a["period"] for a in alerts] == fired
    assert [a["active"] for a in alerts] == [p == f"2025-{len(series):02d}" for p in fired]


@pytest.mark.parametrize(
    "series, fired",
    [
        ([100.0, 110.0], []),  # exactly +10 %: no alert ("more than 10 %")
        ([100.0, 90.0], []),  # exactly -10 %
        ([100.0, 110.01], ["2025-02"]),
        ([100.0, 89.99], ["2025-02"]),
        ([100.0, 105.0, 94.0, 94.0], ["2025-03"]),
        ([0.0, 5.0], ["2025-02"]),  # from nothing to something is an infinite change
    ],
)
def test_demand_moving_more_than_ten_percent_month_on_month(series, fired):
    alerts = kpi_alerts(kpi_table({"demand": series}), DEMAND)
    assert [a["period"] for a in alerts] == fired


def test_kpi_tables_long_or_wide_and_their_errors():
    wide = pd.DataFrame({"period": ["2025-02", "2025-01"], "demand": [110.5, 100.0], "churn_rate": [0.05, 0.04]})
    long = load_kpis(wide)
    assert long[long["kpi"] == "demand"]["value"].tolist() == [100.0, 110.5]
    with pytest.raises(ValueError, match="The KPI table needs a 'period' column"):
        load_kpis(pd.DataFrame({"month": [1], "demand": [1.0]}))
    with pytest.raises(ValueError, match=r"missing or non-numeric values for \['demand'\]"):
        load_kpis(pd.DataFrame({"period": ["a", "b"], "demand": ["1", "lots"]}))


# ---------------------------------------------------------- the monitor
SETTINGS = {
    "kpis": {
        "model.positive_rate": {"target": 0.15, "title": "lead conversion rate"},
        "churn_rate": {"target": 0.05, "direction": "lower", "rises_in_a_row": 2},
        "demand": {"max_change": 0.10},
    },
    "retrain": {"metric_drop": 0.05, "max_age_days": 180},
}


@pytest.fixture(scope="module")
def holdout(trained, leads):
    return leads.iloc[np.flatnonzero(trained.split.test)]


def test_the_model_carries_its_reference_as_aggregates(trained, holdout):
    ref = trained.scorer.metadata["monitoring_reference"]
    assert ref["source"] == "holdout" and ref["rows"] == len(holdout)
    assert {c["name"] for c in ref["columns"]} == set(trained.scorer.encoder.required_columns) - {"created_at"}
    assert all(sum(c["counts"]) == len(holdout) for c in ref["columns"])
    assert sum(ref["prediction"]["counts"]) == len(holdout)
    assert "lead_id" not in json.dumps(ref) and not any(k in json.dumps(ref) for k in holdout["lead_id"].head(50))


def test_monitoring_the_holdout_itself_is_all_green(trained, holdout):
    report = monitor(trained.scorer, holdout, settings=SETTINGS, plots=False)
    s = report.summary
    assert all(f["psi"] == 0.0 and f["light"] == "green" for f in s["drift"]["features"])
    assert s["drift"]["score"]["psi"] == 0.0
    o = s["outcomes"]
    assert o["rows_with_outcome"] == len(holdout)
    assert o["primary"]["current"] == pytest.approx(trained.metrics["test.roc_auc"])
    assert o["mean_actual"] == pytest.approx(trained.metrics["test.positive_rate"])
    kpi, churn = s["kpis"]  # demand has no target; churn has no value without a KPI table
    assert kpi["kpi"] == "model.positive_rate" and kpi["value"] == pytest.approx(trained.metrics["test.positive_rate"])
    assert kpi["light"] == "red"  # ~8 % conversion against the 15 % target
    assert (churn["kpi"], churn["value"], churn["light"], churn["note"]) == ("churn_rate", None, None, "no value")
    assert s["retrain"]["recommended"] is False and s["overall"] == "red"


def test_drift_outcomes_kpis_alerts_and_the_retrain_rule_together(trained, holdout):
    shifted = holdout.assign(visits=holdout["visits"] * 3 + 5, region="north")
    shifted["converted"] = np.random.default_rng(1).permutation(shifted["converted"].to_numpy())  # outcomes unrelated to scores
    kpis = pd.DataFrame(
        {
            "period": ["2025-10", "2025-11", "2025-12"],
            "churn_rate": [0.050, 0.055, 0.061],
            "demand": [1000.0, 1080.0, 1200.0],
        }
    )
    report = monitor(trained.scorer, shifted, kpis=kpis, settings=SETTINGS, as_of="2026-09-01")
    s = report.summary
    lights = {f["column"]: f["light"] for f in s["drift"]["features"]}
    assert lights["visits"] == "red" and lights["region"] == "red" and lights["downloads"] == "green"
    assert s["drift"]["n_red"] == 2
    kpis_by = {k["kpi"]: k for k in s["kpis"]}
    assert kpis_by["churn_rate"]["attainment"] == round(0.05 / 0.061, 6) and kpis_by["churn_rate"]["light"] == "yellow"
    assert [(a["kpi"], a["period"], a["active"]) for a in s["alerts"]] == [
        ("churn_rate", "2025-12", True),
        ("demand", "2025-12", True),
    ]
    assert s["alerts"][1]["message"] == "demand moved +11.1% on the previous period (1080 -> 1200; limit 10%)"
    reasons = s["retrain"]["reasons"]
    assert s["retrain"]["recommended"] is True and len(reasons) == 3
    assert reasons[0] == "feature drift is red (PSI >= 0.2) for: visits, region"  # largest PSI first
    assert re.match(r"roc_auc is 0\.\d{4} on current outcomes against 0\.\d{4} on the training holdout: \d+\.\d% worse", reasons[1])
    assert re.match(r"the model's data ends \d{4}-\d\d-\d\d, \d+ days before 2026-09-01 \(limit 180\)", reasons[2])
    assert s["overall"] == "red"


def test_report_files_are_self_contained_and_hold_no_rows(trained, holdout, tmp_path):
    report = monitor(trained.scorer, holdout.assign(visits=holdout["visits"] * 2), settings=SETTINGS, kpis=pd.DataFrame({"period": ["a", "b"], "demand": [1.0, 2.0]}))
    paths = report.write(tmp_path / "out")
    page = paths["html"].read_text()
    assert page.count("data:image/png;base64,") >= 4  # feature drift, score distribution, the drifted column, KPI trends
    assert not re.search(r"(src|href)=['\"]?(https?:|//|file:)", page)
    summary = json.loads(paths["json"].read_text())  # strict JSON: NaN would not parse in other languages
    assert summary == json.loads(report.to_json()) and "NaN" not in paths["json"].read_text()
    assert not any(k in page or k in paths["json"].read_text() for k in holdout["lead_id"].head(100))


def test_a_reference_table_replaces_the_stored_one(trained, holdout, leads):
    train_rows = leads.iloc[np.flatnonzero(trained.split.train)]
    report = monitor(trained.scorer, train_rows, reference=train_rows, plots=False)
    assert report.summary["rows"]["reference_source"] == "--reference table"
    assert report.summary["drift"]["score"]["psi"] == 0.0


def test_monitor_command_writes_the_report_and_logs_a_monitoring_run(trained, holdout, mlflow_store, tmp_path):
    model = trained.save(tmp_path / "model")
    holdout.to_csv(tmp_path / "current.csv", index=False)
    pd.DataFrame({"period": ["2025-11", "2025-12"], "demand": [100.0, 125.0]}).to_csv(tmp_path / "kpis.csv", index=False)
    (tmp_path / "settings.json").write_text(json.dumps(SETTINGS))  # YAML is JSON
    res = CliRunner().invoke(
        app,
        ["monitor", "--model", str(model), "--current", str(tmp_path / "current.csv"), "--kpis", str(tmp_path / "kpis.csv"),
         "--settings", str(tmp_path / "settings.json"), "--out", str(tmp_path / "report"), "--as-of", "2026-01-01"],
    )
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "overall: red" in text and "feature drift: 0 red, 0 yellow" in text
    assert "alert: demand moved +25.0% on the previous period" in text and "retrain: not needed" in text
    assert (tmp_path / "report" / "report.html").is_file()
    client = mlflow.MlflowClient()
    (run,) = client.search_runs([client.get_experiment_by_name("salesml-lead-scoring-monitoring").experiment_id])
    assert run.data.tags["salesml.run_type"] == "monitoring" and run.data.tags["salesml.retrain"] == "false"
    assert run.data.metrics["drift.psi.visits"] == 0.0 and run.data.metrics["alerts.active"] == 1.0
    assert {f.path for f in client.list_artifacts(run.info.run_id, "monitoring")} == {"monitoring/report.html", "monitoring/summary.json"}


def test_a_model_without_a_reference_asks_for_one(trained, holdout):
    import copy

    scorer = copy.copy(trained.scorer)
    scorer.metadata = {k: v for k, v in trained.scorer.metadata.items() if k != "monitoring_reference"}
    with pytest.raises(ValueError, match="carries no reference distribution .* Pass --reference"):
        monitor(scorer, holdout)


def test_the_report_page_escapes_every_value_through_the_template(trained, holdout):
    """The HTML comes from a Jinja2 template with autoescape: a KPI named like markup shows as text."""
    name = "<script>alert('x')</script>"
    kpis = pd.DataFrame({"period": ["a", "b"], "kpi": [name, name], "value": [1.0, 2.0]})
    report = monitor(trained.scorer, holdout, kpis=kpis, settings={"kpis": {name: {"target": 1.0, "max_change": 0.1}}}, plots=False)
    page = report.to_html()
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</body></html>")
