"""The personal-data guard: detection, exclusion, pseudonyms, redacted messages, and a canary scan of everything a run leaves."""

from __future__ import annotations

import hashlib
import hmac
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import salesml
from salesml.core.contracts import DataValidationError
from salesml.core.features import TabularEncoder
from salesml.trust.keys import KeyProblem
from salesml.trust.privacy import Pseudonymiser, personal_reason, pseudonymise, scan, scrub_text
from salesml.tasks.lead_scoring import LeadScoring

KEY = "k3y-for-tests-Qm9vYmFyYmF6cXV4cXV1eA-7f3a9c"
N = 4_000


def plan(encoder: TabularEncoder, column: str):
    return {p.name: p for p in encoder.columns_}[column]


# ------------------------------------------------------------------ detection
@pytest.mark.parametrize(
    "name, values, reason",
    [
        ("info", [f"p{i}@corp.example" for i in range(60)], "its values look like e-mail addresses"),
        ("ref", ["+1-555-0100-%04d" % i for i in range(60)], "its values look like phone numbers"),
        ("ref", ["1380013%04d" % i for i in range(60)], "its values look like phone numbers"),
        ("code", ["11010119900307%03d%s" % (i, "X" if i % 2 else "1") for i in range(60)], "its values look like national id numbers"),
        ("code", ["123-45-%04d" % i for i in range(60)], "its values look like national id numbers"),
        ("holder", ["Maria Lopez", "John Carter", "Wei Zhang", "Anna Kowalczyk"] * 15, "its values look like person names"),
        ("notes", ["call me on +44 20 7946 0%03d" % i for i in range(30)] + ["no contact"] * 30, "50% of its values contain contact details"),
        ("customer_ref", list(range(10_000_000, 10_000_060)), "its values look like id or phone numbers"),
        ("CustomerId", ["A", "B"] * 30, "its name suggests personal data"),
        ("contact_person", ["A", "B"] * 30, "its name suggests personal data"),
        ("national_id", ["A", "B"] * 30, "its name suggests personal data"),
    ],
)
def test_personal_columns_are_found_by_name_or_content(name, values, reason):
    assert personal_reason(name, pd.Series(values)).startswith(reason)


@pytest.mark.parametrize(
    "name, values",
    [
        ("industry", ["Real Estate", "Financial Services", "Software", "Retail"] * 15),
        ("amount", ["12.50", "1234567.89", "99.00", "1000"] * 15),
        ("last_call", [str(d) for d in pd.date_range("2024-01-01", periods=60, freq="6h")]),
        ("day", [str(d.date()) for d in pd.date_range("2024-01-01", periods=60)]),
        ("visits", list(range(60))),
        ("revenue", [int(x) for x in np.random.default_rng(0).integers(1_000, 90_000_000, 60)]),
        ("email_opens", [1, 2, 3] * 20),
        ("region", ["north", "south"] * 30),
    ],
)
def test_ordinary_columns_are_not_flagged(name, values):
    assert personal_reason(name, pd.Series(values)) is None


def test_scan_reports_names_and_reasons_never_values():
    frame = pd.DataFrame(
        {
            "email": [f"z{i}@corp.example" for i in range(100)],
            "note": ["pricing please"] * 95 + [f"write to q{i}@corp.example" for i in range(5)],
            "channel": ["web", "event"] * 50,
        }
    )
    found = scan(frame, allow=["email"])
    assert [(f.column, f.action) for f in found] == [("email", "allowed"), ("note", "scrubbed")]
    assert "@" not in repr(found)


def test_contact_details_are_cut_out_of_text_before_tokenising():
    assert scrub_text("call +86 138 0013 8000 or mail ana@corp.example, see www.corp.example").split() == ["call", "or", "mail", ",", "see"]
    assert scrub_text("budget 1234567.89 approved 2024-03-01 10:30") == "budget 1234567.89 approved 2024-03-01 10:30"
    texts = [f"need pricing, reach me at rep{i % 3}@corp.example or +1 555 0100 {i % 3:03d}" for i in range(25)]
    texts += ["need pricing for our team"] * 75
    enc = TabularEncoder(min_token_count=5).fit(pd.DataFrame({"msg": texts}))
    assert [(f.column, f.action) for f in enc.personal_] == [("msg", "scrubbed")]
    tokens = plan(enc, "msg").tokens
    assert "pricing" in tokens and not [t for t in tokens if "rep" in t or "corp" in t or "555" in t]


def test_common_names_never_become_tokens_and_rare_categories_are_not_kept():
    texts = [f"hi, {n} here, need a quote" for n in ["john", "maria", "wei"] * 20]
    enc = TabularEncoder(min_token_count=5).fit(pd.DataFrame({"msg": texts, "seg": ["a"] * 58 + ["b", "c"]}))
    assert "quote" in plan(enc, "msg").tokens
    assert not {"john", "maria", "wei"} & {w for t in plan(enc, "msg").tokens for w in t.split()}
    assert plan(enc, "seg").categories == ["a"]


def test_allowed_personal_columns_are_used_and_reported():
    frame = pd.DataFrame({"contact_name": ["Maria Lopez", "John Carter"] * 50, "x": range(100)})
    enc = TabularEncoder(allow_personal=["contact_name"]).fit(frame)
    assert plan(enc, "contact_name").kind == "categorical"
    report = salesml.trust.privacy.report(enc)
    assert report["allowed"] == ["contact_name"] and report["excluded"] == []


# -------------------------------------------------------------- pseudonyms
def test_pseudonyms_are_keyed_hmac_sha256():
    p = Pseudonymiser(KEY)
    expected = hmac.new(KEY.encode(), b"L0000042", hashlib.sha256).hexdigest()[:32]
    assert p.one("L0000042") == f"ps_{expected}"
    assert p.one(42) == p.one("42") == p.one(42.0)
    assert Pseudonymiser(KEY + "x").one("L0000042") != p.one("L0000042")
    out = p(pd.Series(["a", None, "a"], index=[5, 6, 7], name="lead_id"))
    assert out.index.tolist() == [5, 6, 7] and out.name == "lead_id"
    assert out[5] == out[7] and out[6] is None


@pytest.mark.parametrize(
    "value, message",
    [
        (None, "SALESML_PSEUDONYM_KEY is empty or not set"),
        ("   ", "SALESML_PSEUDONYM_KEY is empty or not set"),
        ("short-key-123", "SALESML_PSEUDONYM_KEY is too short: 13 characters, at least 32 are needed"),
        ("changeme-changeme-changeme-changeme", "looks like a placeholder or default value"),
        ("a" * 40, "looks like a placeholder or default value"),
    ],
)
def test_empty_short_or_default_keys_are_refused(monkeypatch, value, message):
    if value is None:
        monkeypatch.delenv("SALESML_PSEUDONYM_KEY", raising=False)
    else:
        monkeypatch.setenv("SALESML_PSEUDONYM_KEY", value)
    with pytest.raises(KeyProblem, match=message):
        Pseudonymiser.from_env()


def test_pseudonymise_a_frame(monkeypatch):
    monkeypatch.setenv("SALESML_PSEUDONYM_KEY", KEY)
    frame = pd.DataFrame({"lead_id": ["L1", "L2"], "score": [10, 90]})
    out = pseudonymise(frame, ["lead_id"])
    assert out["score"].tolist() == [10, 90] and out["lead_id"].str.startswith("ps_").all()
    assert frame["lead_id"].tolist() == ["L1", "L2"]  # the input is not changed
    with pytest.raises(KeyError, match=r"Cannot pseudonymise \['email'\]"):
        pseudonymise(frame, ["email"])


# --------------------------------------------------------- error messages
def test_error_messages_show_keys_raw_by_default_and_pseudonymised_with_a_key(monkeypatch):
    leads, _ = salesml.datasets.make_leads(300, random_state=5)
    leads = leads.copy()
    leads.loc[[4, 9], "lead_id"] = "LZQXCANARY-DUP-01"
    leads = leads.astype({"created_at": "object"})
    leads.loc[12, "created_at"] = "not a date"
    bad_key = leads.loc[12, "lead_id"]
    monkeypatch.delenv("SALESML_PSEUDONYM_KEY", raising=False)
    with pytest.raises(DataValidationError) as raw:
        LeadScoring().validate({"leads": leads})
    assert "LZQXCANARY-DUP-01" in str(raw.value) and f"lead_id={bad_key}" in str(raw.value)
    monkeypatch.setenv("SALESML_PSEUDONYM_KEY", KEY)
    with pytest.raises(DataValidationError) as masked:
        LeadScoring().validate({"leads": leads})
    text = str(masked.value)
    assert "LZQX" not in text and bad_key not in text
    assert f"row 12 (lead_id {Pseudonymiser(KEY).one(bad_key)})" in text
    assert Pseudonymiser(KEY).one("LZQXCANARY-DUP-01") in text


def test_values_of_personal_columns_are_never_echoed():
    leads, _ = salesml.datasets.make_leads(300, random_state=5)
    leads = leads.copy()
    leads["contact_phone"] = "+1-555-0100-0001"
    from salesml.core.contracts import ColumnRule, validate_table

    problems = validate_table(leads, table="leads", rules=[ColumnRule("contact_phone", "number")], key="lead_id", raise_errors=False)
    assert problems and "555" not in problems[0].render()


# ----------------------------------------------------------- canary scan
#: Every canary value contains one of these (compared in lower case), so one pass over each file finds any of them.
MARKERS = ("zqxcanary", "139 2718", "1392718", "861392700", "1101011990")


def canary_leads(n: int = N, seed: int = 4) -> pd.DataFrame:
    """Leads seeded with canary e-mails, phones, names and ids in obvious and disguised columns."""
    leads, _ = salesml.datasets.make_leads(n, random_state=seed)
    leads = leads.copy()
    i = np.arange(n)
    surnames = np.array([f"Zqxcanary{chr(97 + k)}field" for k in range(26)])
    given = np.array(["Maria", "John", "Wei", "Anna", "Carlos", "Priya"])
    leads["lead_id"] = [f"LZQXCANARY{k:06d}" for k in i]
    leads["email"] = [f"maria.zqxcanary{k}@canary.example" for k in i]
    leads["contact_phone"] = [f"+86 139 2718 {k:04d}" for k in i]
    leads["owner_name"] = [f"{given[k % 6]} {surnames[k % 26]}" for k in i]
    leads["account_holder"] = [f"{given[k % 6]} {surnames[(k * 7) % 26]}" for k in i]  # harmless name, names inside
    leads["ref_code"] = [f"1101011990{(k % 12) + 1:02d}{(k % 28) + 1:02d}{k % 1000:03d}X" for k in i]  # national ids
    leads["info"] = [f"zqxcanary.lead{k}@canary.example" for k in i]  # harmless name, e-mails inside
    leads["mobile_digits"] = 8613927000000 + i  # phone numbers stored as integers
    text = leads["inquiry_text"].fillna("").to_numpy(dtype=object)
    contact = i % 9 == 0  # a few inquiries carry the lead's contact details and name
    text[contact] = [
        f"{t} - I am {given[k % 6]} Zqxcanary{k}, call +86 139 2718 {k:04d} or mail zqxcanary{k}@canary.example"
        for t, k in zip(text[contact], i[contact])
    ]
    leads["inquiry_text"] = text
    return leads


def _png_text(data: bytes) -> str:
    """The text a PNG carries (tEXt/zTXt/iTXt chunks); its pixels cannot be searched for strings."""
    import struct
    import zlib

    out, pos = [], 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind in (b"tEXt", b"iTXt"):
            out.append(body.decode("latin-1"))
        elif kind == b"zTXt":
            out.append(zlib.decompress(body.split(b"\0", 1)[1][1:]).decode("latin-1"))
        pos += 12 + length
    return "\n".join(out)


def readable_text(path: Path) -> str:
    """What a person or a program could read in a file: its bytes as text, PNGs by their text chunks,
    and embedded base64 images likewise (random base64 would match any short marker by chance)."""
    import base64
    import re

    data = path.read_bytes()
    if data.startswith(b"\x89PNG"):
        return _png_text(data)
    text = data.decode("latin-1")
    images = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", text)
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "data:image/png;base64,", text)
    return "\n".join([text, *(_png_text(base64.b64decode(i)) for i in images)])


def scan_files(root: Path) -> dict[str, list[str]]:
    hits: dict[str, list[str]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        body = readable_text(path).lower()
        found = [m for m in MARKERS if m in body]
        if found:
            hits[str(path.relative_to(root))] = found
    return hits


@pytest.fixture(scope="module")
def canary_run(tmp_path_factory):
    """Train (tracked, tuned, registered), score (pseudonymised) and monitor canary data; keep every file and log."""
    from salesml.cli import app

    data_dir = tmp_path_factory.mktemp("canary-input")  # the user's own data: not scanned
    run_dir = tmp_path_factory.mktemp("canary-run")  # everything salesml leaves behind
    leads = canary_leads()
    leads.to_csv(data_dir / "leads.csv", index=False)
    new = canary_leads(1_500, seed=9).drop(columns=["converted_at"])
    new["lead_id"] = [f"LZQXCANARYNEW{k:05d}" for k in range(len(new))]
    new.to_csv(data_dir / "new.csv", index=False)
    cfg = {
        "task": "lead-scoring",
        "data": {"tables": {"leads": str(data_dir / "leads.csv")}},
        "tuning": {"trials": 2, "search_space": "lightgbm-small"},
    }
    (data_dir / "exp.yaml").write_text(yaml.safe_dump(cfg))
    runner = CliRunner()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{run_dir / 'mlflow.db'}")
        mp.setenv("SALESML_PSEUDONYM_KEY", KEY)
        mp.chdir(run_dir)
        handler = logging.FileHandler(run_dir / "captured.log")
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        old_level = root.level
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
        try:
            outputs = []
            outputs.append(runner.invoke(app, ["train", "lead-scoring", "--config", str(data_dir / "exp.yaml"), "--verbose"]))
            outputs.append(
                runner.invoke(
                    app,
                    ["score", "--model", "models:/salesml-lead-scoring@champion", "--input", str(data_dir / "new.csv"),
                     "--output", str(run_dir / "scores.csv"), "--pseudonymise"],
                )
            )
            outputs.append(
                runner.invoke(
                    app,
                    ["monitor", "--model", "models:/salesml-lead-scoring@champion", "--current", str(data_dir / "new.csv"),
                     "--out", str(run_dir / "monitoring"), "--settings", str(Path(__file__).parents[2] / "experiments" / "monitoring.yaml")],
                )
            )
        finally:
            root.removeHandler(handler)
            root.setLevel(old_level)
            handler.close()
    for res in outputs:
        assert res.exit_code == 0, res.output
    (run_dir / "console.txt").write_text("\n".join(r.output for r in outputs))
    return data_dir, run_dir, leads, new


def test_the_canaries_are_really_in_the_input(canary_run):
    data_dir, _, _, _ = canary_run
    hits = scan_files(data_dir)
    assert set(hits["leads.csv"]) == set(MARKERS) - {"1392718"}  # digits-only phones are a fallback marker


def test_canary_scan_finds_nothing_in_anything_the_run_left(canary_run):
    _, run_dir, _, _ = canary_run
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    # the scan covers the tracking database, run and model artifacts, outputs, reports and logs
    assert {"mlflow.db", "metadata.json", "MANIFEST.json", "input_example.json", "shap_summary.png", "personal_data.json",
            "scores.csv", "report.html", "summary.json", "captured.log", "console.txt"} <= names
    assert (run_dir / "captured.log").stat().st_size > 0
    assert scan_files(run_dir) == {}


def test_the_run_reports_what_the_guard_excluded(canary_run):
    import json

    _, run_dir, _, new = canary_run
    (report_file,) = list(run_dir.rglob("personal_data.json"))
    report = json.loads(report_file.read_text())
    excluded = {p["column"]: p["reason"] for p in report["personal_columns"] if p["action"] == "excluded"}
    assert excluded == {
        "email": "its name suggests personal data",
        "contact_phone": "its name suggests personal data",
        "owner_name": "its name suggests personal data",
        "account_holder": "its values look like person names",
        "ref_code": "its values look like national id numbers",
        "info": "its values look like e-mail addresses",
        "mobile_digits": "its values look like id or phone numbers (nearly all different, same number of digits)",
    }
    scrubbed = [p["column"] for p in report["personal_columns"] if p["action"] == "scrubbed"]
    assert scrubbed == ["inquiry_text"]
    scores = pd.read_csv(run_dir / "scores.csv")
    assert scores["lead_id"].tolist() == [Pseudonymiser(KEY).one(k) for k in new["lead_id"]]
