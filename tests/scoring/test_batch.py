"""Batch scoring: every record is scored or rejected with a reason, and outputs appear whole or not at all."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

import salesml
from salesml.scoring.batch import RejectRateExceeded, RowValidator, score_batch, verify_outputs
from salesml.core.features import MissingColumnsError

AS_OF = "2026-01-01"


@pytest.fixture(scope="module")
def scorer(trained):
    return trained.scorer


@pytest.fixture(scope="module")
def fresh():
    """New leads the model has not seen, without the outcome columns."""
    leads, _ = salesml.datasets.make_leads(10_000, start="2025-01-01", end="2025-12-31", random_state=11)
    return leads.drop(columns=["converted", "converted_at"])


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def reference(scorer, frame: pd.DataFrame, reasons: str = "none") -> pd.DataFrame:
    out = scorer.score(frame, reasons=reasons).reset_index(drop=True)
    out["lead_id"] = out["lead_id"].astype(str)
    return out


def assert_same_scores(published: pd.DataFrame, expected: pd.DataFrame) -> None:
    published = published.reset_index(drop=True)
    assert list(published.columns) == list(expected.columns)
    for column in expected.columns:
        a, b = published[column].to_numpy(), expected[column].to_numpy()
        if a.dtype.kind == "f":
            assert np.array_equal(a, b), column  # identical floats, not approximately equal
        else:
            assert a.astype(str).tolist() == b.astype(str).tolist(), column


# The faults planted in the 10,000-row test: (reason, column, how to break a row).
FAULTS = [
    ("not_a_number", "visits", lambda row: row.update(visits="many")),
    ("missing_value", "pages_viewed", lambda row: row.update(pages_viewed=None)),
    ("out_of_range", "downloads", lambda row: row.update(downloads=-2)),
    ("not_finite", "time_on_site", lambda row: row.update(time_on_site="inf")),
    ("not_boolean", "event_attended", lambda row: row.update(event_attended="maybe")),
    ("not_a_date", "created_at", lambda row: row.update(created_at="31/31/2025 99:00")),
    ("future_date", "created_at", lambda row: row.update(created_at="2031-05-01 09:00:00")),
    ("missing_key", "lead_id", lambda row: row.update(lead_id=None)),
    ("duplicate_key", "lead_id", None),  # takes the key of an earlier row
    ("malformed_row", None, None),  # the line loses most of its fields
]


@pytest.fixture(scope="module")
def planted(fresh, tmp_path_factory):
    """10,000 leads as a CSV with 5% planted faults (50 of each kind) plus harmless oddities."""
    rng = np.random.default_rng(5)
    frame = fresh.astype(object).copy()
    # Harmless: an extra column and unseen categories are scored, not rejected.
    frame["crm_owner_team"] = "team-a"
    unseen_rows = rng.choice(len(frame), 40, replace=False)
    frame.loc[unseen_rows, "industry"] = "aerospace"
    clean = fresh.copy()
    clean.loc[unseen_rows, "industry"] = "aerospace"

    candidates = np.setdiff1d(np.arange(100, len(frame)), unseen_rows)
    bad = rng.choice(candidates, 50 * len(FAULTS), replace=False)
    truth: dict[int, tuple[str, str | None]] = {}
    malformed = []
    for k, (reason, column, breaker) in enumerate(FAULTS):
        for i in bad[k * 50 : (k + 1) * 50]:
            i = int(i)
            truth[i] = (reason, column)
            if reason == "duplicate_key":
                frame.at[i, "lead_id"] = frame.at[int(rng.integers(0, 100)), "lead_id"]
            elif reason == "malformed_row":
                malformed.append(i)
            else:
                row = frame.loc[i].to_dict()
                breaker(row)
                frame.loc[i] = pd.Series(row)
    path = tmp_path_factory.mktemp("planted") / "leads.csv"
    frame.to_csv(path, index=False)
    lines = path.read_text().split("\n")
    for i in malformed:
        lines[i + 1] = f"{frame.at[i, 'lead_id']},2025-06-01,web"
    path.write_text("\n".join(lines))
    good = clean.drop(index=list(truth))
    return path, truth, good, frame


def test_planted_faults_are_each_rejected_once_with_the_right_reason(scorer, planted, tmp_path):
    path, truth, good, frame = planted
    result = score_batch(scorer, path, tmp_path / "scores.parquet", as_of=AS_OF, reasons="none", chunk_size=1_500)
    assert result.rows_in == 10_000
    assert result.rows_scored + result.rows_rejected == 10_000
    assert result.rows_rejected == len(truth) == 500

    rejects = pd.read_parquet(tmp_path / "scores.rejects.parquet")
    assert rejects["row"].is_unique  # one problem per planted row: each rejected once
    got = {
        int(r): (reason, None if pd.isna(column) else column)
        for r, reason, column in zip(rejects["row"], rejects["reason"], rejects["column"])
    }
    assert got == truth
    keyed = rejects[~rejects["reason"].isin(["missing_key"])]  # a malformed record keeps its key too
    assert keyed["lead_id"].tolist() == [str(frame.at[int(r), "lead_id"]) for r in keyed["row"]]
    dup = rejects[rejects["reason"] == "duplicate_key"]
    assert dup["value"].isna().all()
    assert set(rejects.loc[rejects["reason"] == "not_a_number", "value"]) == {"many"}
    malformed = rejects[rejects["reason"] == "malformed_row"]
    assert (malformed["value"] == [f"line {r + 2}: 3 fields where the header has 18" for r in malformed["row"]]).all()

    scores = pd.read_parquet(tmp_path / "scores.parquet")
    assert_same_scores(scores, reference(scorer, good))  # good rows: identical to scoring the clean subset

    manifest = json.loads((tmp_path / "scores.manifest.json").read_text())
    assert manifest["counts"]["reconciliation"] == "10000 in = 9500 scored + 500 rejected"
    assert manifest["rejects_by_reason"] == {reason: 50 for reason, _, _ in FAULTS}
    assert manifest["unseen_categories"] == {"industry": 40}
    verify_outputs(tmp_path / "scores.manifest.json")


def test_rerun_gives_byte_identical_outputs(scorer, planted, tmp_path):
    path = planted[0]
    first = score_batch(scorer, path, tmp_path / "a" / "scores.parquet", as_of=AS_OF, reasons="flagged", chunk_size=3_000)
    second = score_batch(scorer, path, tmp_path / "b" / "scores.parquet", as_of=AS_OF, reasons="flagged", chunk_size=3_000)
    for name in ("scores.parquet", "scores.rejects.parquet"):
        assert sha(tmp_path / "a" / name) == sha(tmp_path / "b" / name)
    a, b = dict(first.manifest), dict(second.manifest)
    assert a.pop("run") != {} and b.pop("run") != {}
    assert a == b  # only the run section (times) differs
    assert a["outputs"]["scores"]["sha256"] == sha(tmp_path / "a" / "scores.parquet")


def test_csv_output_and_its_digest(scorer, fresh, tmp_path):
    fresh.head(500).to_parquet(tmp_path / "in.parquet", index=False)
    result = score_batch(scorer, tmp_path / "in.parquet", tmp_path / "out.csv", as_of=AS_OF, reasons="none", chunk_size=128)
    assert result.manifest["outputs"]["scores"]["sha256"] == sha(tmp_path / "out.csv")
    assert_same_scores(pd.read_csv(tmp_path / "out.csv", dtype={"lead_id": str}), reference(scorer, fresh.head(500)))
    assert (tmp_path / "out.rejects.csv").read_text() == "row,lead_id,column,reason,value\n"


def test_above_the_reject_rate_nothing_is_published(scorer, planted, tmp_path):
    path = planted[0]
    target = tmp_path / "scores.parquet"
    target.write_bytes(b"yesterday's scores")
    with pytest.raises(RejectRateExceeded, match=r"500 of 10,000 records \(5\.00%\) were rejected, above the maximum reject rate 1\.00%; nothing was published") as err:
        score_batch(scorer, path, target, as_of=AS_OF, reasons="none", max_reject_rate=0.01)
    assert "not_a_number in 'visits': 50 records (e.g. lead_id=" in str(err.value)
    assert target.read_bytes() == b"yesterday's scores"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.parquet"]  # no rejects, manifest or temp file


def test_missing_columns_fail_before_writing_anything(scorer, fresh, tmp_path):
    fresh.drop(columns=["visits", "region"]).head(100).to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(MissingColumnsError, match="The input lacks columns 'region', 'visits' that the model was trained with"):
        score_batch(scorer, tmp_path / "in.csv", tmp_path / "out" / "scores.parquet", as_of=AS_OF)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_empty_input_publishes_empty_outputs(scorer, fresh, tmp_path):
    fresh.head(0).to_csv(tmp_path / "header_only.csv", index=False)
    result = score_batch(scorer, tmp_path / "header_only.csv", tmp_path / "scores.parquet", as_of=AS_OF)
    assert (result.rows_in, result.rows_scored, result.rows_rejected) == (0, 0, 0)
    assert list(pd.read_parquet(tmp_path / "scores.parquet").columns)[:6] == ["lead_id", "probability", "score", "grade", "threshold", "follow_up"]
    fresh.head(0).to_parquet(tmp_path / "empty.parquet", index=False)
    assert score_batch(scorer, tmp_path / "empty.parquet", tmp_path / "e.parquet", as_of=AS_OF).rows_in == 0
    (tmp_path / "nothing.csv").write_bytes(b"")
    with pytest.raises(ValueError, match="nothing.csv is empty: not even a header line"):
        score_batch(scorer, tmp_path / "nothing.csv", tmp_path / "n.parquet", as_of=AS_OF)


def test_file_truncated_mid_row(scorer, fresh, tmp_path):
    fresh.head(300).to_csv(tmp_path / "full.csv", index=False)
    data = (tmp_path / "full.csv").read_bytes()
    cut = data.rfind(b"\n", 0, len(data) - 1) + 25  # 25 bytes into the last record
    (tmp_path / "cut.csv").write_bytes(data[:cut])
    result = score_batch(scorer, tmp_path / "cut.csv", tmp_path / "scores.parquet", as_of=AS_OF, reasons="none", chunk_size=64)
    assert (result.rows_in, result.rows_scored, result.rows_rejected) == (300, 299, 1)
    rejects = pd.read_parquet(tmp_path / "scores.rejects.parquet")
    assert rejects[["row", "reason"]].values.tolist() == [[299, "truncated_row"]]
    assert rejects["value"].iloc[0].startswith("line 301: the file ends inside this record: 2 fields where the header has")
    assert rejects["lead_id"].iloc[0] == str(fresh["lead_id"].iloc[299])  # the key survives the cut
    assert_same_scores(pd.read_parquet(tmp_path / "scores.parquet"), reference(scorer, fresh.head(299)))

    # A last line without a final newline, every field present: a record like any other (issue 14).
    (tmp_path / "no_newline.csv").write_bytes(data.rstrip(b"\n"))
    result = score_batch(scorer, tmp_path / "no_newline.csv", tmp_path / "s2.parquet", as_of=AS_OF, reasons="none")
    assert (result.rows_scored, result.rows_rejected) == (300, 0)
    assert_same_scores(pd.read_parquet(tmp_path / "s2.parquet"), reference(scorer, fresh.head(300)))


def test_wrong_types_in_a_parquet_file(scorer, fresh, tmp_path):
    frame = fresh.head(1_000).copy()
    frame["visits"] = frame["visits"].astype(str)  # numbers exported as text: still scored
    frame.loc[[3, 500], "visits"] = ["n/a", "3 visits"]
    frame["created_at"] = frame["created_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")  # dates as ISO text
    frame.loc[7, "created_at"] = "yesterday"
    frame.to_parquet(tmp_path / "in.parquet", index=False)
    result = score_batch(scorer, tmp_path / "in.parquet", tmp_path / "s.parquet", as_of=AS_OF, reasons="none")
    rejects = pd.read_parquet(tmp_path / "s.rejects.parquet")
    assert rejects[["row", "column", "reason", "value"]].values.tolist() == [
        [3, "visits", "not_a_number", "n/a"],
        [7, "created_at", "not_a_date", "yesterday"],
        [500, "visits", "not_a_number", "3 visits"],
    ]
    assert result.rows_scored == 997
    assert_same_scores(pd.read_parquet(tmp_path / "s.parquet"), reference(scorer, fresh.head(1_000).drop(index=[3, 7, 500])))

    # A column of the wrong type altogether rejects every row: the job refuses to publish.
    frame["visits"] = "unknown"
    frame.to_parquet(tmp_path / "all_bad.parquet", index=False)
    with pytest.raises(RejectRateExceeded, match=r"1,000 of 1,000 records \(100\.00%\) were rejected"):
        score_batch(scorer, tmp_path / "all_bad.parquet", tmp_path / "x.parquet", as_of=AS_OF)
    assert not (tmp_path / "x.parquet").exists()


def test_duplicates_across_chunks_and_files_keep_the_first(scorer, fresh, tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    first, second = fresh.iloc[:600], fresh.iloc[600:1000].copy()
    second.iloc[[0, 250], second.columns.get_loc("lead_id")] = [first["lead_id"].iloc[5], first["lead_id"].iloc[590]]
    first.to_parquet(folder / "part-000.parquet", index=False)
    second.to_parquet(folder / "part-001.parquet", index=False)
    (folder / "_SUCCESS").write_text("")  # Spark's marker files are ignored
    result = score_batch(scorer, folder, tmp_path / "s.parquet", as_of=AS_OF, reasons="none", chunk_size=100)
    assert (result.rows_in, result.rows_rejected) == (1_000, 2)
    rejects = pd.read_parquet(tmp_path / "s.rejects.parquet")
    assert rejects[["row", "reason"]].values.tolist() == [[600, "duplicate_key"], [850, "duplicate_key"]]
    scores = pd.read_parquet(tmp_path / "s.parquet")
    assert scores["lead_id"].is_unique and len(scores) == 998


def test_chunk_size_does_not_change_the_scores(scorer, fresh, tmp_path):
    fresh.head(2_000).to_parquet(tmp_path / "in.parquet", index=False)
    outs = []
    for size in (97, 2_000):
        score_batch(scorer, tmp_path / "in.parquet", tmp_path / f"s{size}.parquet", as_of=AS_OF, reasons="top", chunk_size=size)
        outs.append(pd.read_parquet(tmp_path / f"s{size}.parquet"))
    pd.testing.assert_frame_equal(outs[0], outs[1])


def test_reasons_flagged_explains_only_follow_ups(scorer, fresh, tmp_path):
    fresh.head(3_000).to_parquet(tmp_path / "in.parquet", index=False)
    score_batch(scorer, tmp_path / "in.parquet", tmp_path / "f.parquet", as_of=AS_OF, reasons="flagged")
    flagged = pd.read_parquet(tmp_path / "f.parquet")
    top = reference(scorer, fresh.head(3_000), reasons="top")
    follow = flagged["follow_up"].to_numpy()
    assert 0 < follow.sum() < len(follow)
    assert (flagged.loc[~follow, "reason_up_1"] == "").all()
    assert flagged.loc[follow, "reason_up_1"].tolist() == top.loc[follow, "reason_up_1"].tolist()
    assert np.array_equal(flagged["probability"].to_numpy(), top["probability"].to_numpy())


def test_capacity_mode_cannot_stream(trained, fresh, tmp_path):
    bundle = trained.scorer.bundle
    meta = {**bundle.metadata, "params": {**bundle.metadata["params"], "capacity": 50}}
    capped = salesml.Scorer(type(bundle)(boosters=bundle.boosters, metadata=meta))
    fresh.head(10).to_parquet(tmp_path / "in.parquet", index=False)
    with pytest.raises(ValueError, match="depends on the whole batch"):
        score_batch(capped, tmp_path / "in.parquet", tmp_path / "s.parquet")


def test_validator_reports_every_problem_of_a_row(scorer, fresh):
    frame = fresh.head(3).astype(object).copy()
    frame.loc[1, ["visits", "downloads", "created_at"]] = ["x", -1, "2040-01-01"]
    problems = RowValidator(scorer, as_of=AS_OF).check(frame)
    assert problems.values.tolist() == [
        [1, "created_at", "future_date"],
        [1, "visits", "not_a_number"],
        [1, "downloads", "out_of_range"],
    ]


def test_bad_options_are_refused(scorer, tmp_path):
    with pytest.raises(ValueError, match="max_reject_rate must be a share between 0 and 1 \\(0.05 = 5%\\). Got 5 instead"):
        score_batch(scorer, tmp_path / "x.csv", tmp_path / "y.csv", max_reject_rate=5)
    with pytest.raises(ValueError, match="reasons must be one of top, flagged, all, none. Got 'some' instead"):
        score_batch(scorer, tmp_path / "x.csv", tmp_path / "y.csv", reasons="some")


def _state(out_dir):
    files = {p.name: sha(p) for p in out_dir.iterdir() if not p.name.startswith(".")}
    manifest = json.loads((out_dir / "scores.manifest.json").read_text()) if "scores.manifest.json" in files else None
    return files, manifest


def test_a_job_killed_at_random_points_never_leaves_a_partial_output(trained, fresh, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    model = trained.save(tmp_path / "model")
    inp = tmp_path / "in.parquet"
    fresh.to_parquet(inp, index=False)
    out_dir = tmp_path / "out"
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}

    def command(reasons: str, target) -> list[str]:
        return [sys.executable, "-m", "salesml.cli", "score", "--model", str(model), "--input", str(inp),
                "--output", str(target), "--as-of", AS_OF, "--chunk-size", "1000", "--reasons", reasons]

    # Yesterday's complete output, and what tonight's complete output looks like (same code in-process).
    for reasons, where in (("none", out_dir), ("flagged", tmp_path / "ref")):
        score_batch(model, inp, where / "scores.parquet", as_of=AS_OF, chunk_size=1000, reasons=reasons)
    old, _ = _state(out_dir)
    new, _ = _state(tmp_path / "ref")
    assert old["scores.parquet"] != new["scores.parquet"]
    data_files = ("scores.parquet", "scores.rejects.parquet")

    rng = np.random.default_rng(0)
    final_size = (tmp_path / "ref" / "scores.parquet").stat().st_size
    runs = out_dir / ".scores.parquet.salesml" / "runs"

    def partial_of(proc):
        found = list(runs.glob(f".partial-{proc.pid}-*"))
        return found[0] if found else None

    def temp_of(proc, name="scores.parquet"):
        run = partial_of(proc)
        return run / name if run is not None and (run / name).exists() else None

    def size(path):
        try:
            return path.stat().st_size
        except (FileNotFoundError, AttributeError):
            return -1

    # Kill points chosen by the job's progress, not the clock (CI machines differ): as soon as it starts
    # writing, part-way through the data (SIGKILL and SIGTERM), and while it publishes (manifest written).
    stages = [
        ("started", signal.SIGKILL, lambda proc: temp_of(proc) is not None),
        ("mid-stream", signal.SIGKILL, lambda proc, t=rng.uniform(0.2, 0.9) * final_size: size(temp_of(proc)) > t),
        ("publishing", signal.SIGKILL, lambda proc: temp_of(proc, "scores.manifest.json") is not None),
        ("mid-stream", signal.SIGTERM, lambda proc, t=rng.uniform(0.2, 0.9) * final_size: size(temp_of(proc)) > t),
    ]
    outcomes = []
    for stage, sig, reached in stages:
        proc = subprocess.Popen(command("flagged", out_dir / "scores.parquet"), env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            while not reached(proc) and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.001)
            proc.send_signal(sig)
        finally:
            proc.wait(timeout=60)
        files, manifest = _state(out_dir)
        for name in data_files:
            assert files[name] in (old[name], new[name]), f"{stage}: {name} is torn"
        verify_outputs(out_dir / "scores.manifest.json")  # the manifest always describes the files in place
        assert manifest["outputs"]["scores"]["sha256"] == files["scores.parquet"]
        outcomes.append((stage, "new" if files["scores.parquet"] == new["scores.parquet"] else "old"))
        if sig == signal.SIGTERM:  # the job removes its own temporary files (or had finished)
            assert proc.returncode in (0, 143)
            assert partial_of(proc) is None
    assert outcomes[:2] == [("started", "old"), ("mid-stream", "old")]

    score_batch(model, inp, out_dir / "scores.parquet", as_of=AS_OF, chunk_size=1000, reasons="flagged")
    files, _ = _state(out_dir)
    assert {name: files[name] for name in data_files} == {name: new[name] for name in data_files}
    assert not list(runs.glob(".partial-*"))  # folders of killed jobs were cleaned up
    assert len(list(runs.iterdir())) == 2  # the current run and the previous one


class Killed(BaseException):
    """Stands for SIGKILL: raised from inside a file-system call, and nothing gets to clean up."""


def test_a_crash_between_any_two_publish_steps_never_mixes_two_runs(scorer, fresh, tmp_path, monkeypatch):
    """Kill the job at every rename / link / replace of its publish, in turn: each time, the visible
    scores, rejects and manifest are all yesterday's or all tonight's (the torn-output bug of issue 14)."""
    import os
    import shutil

    from salesml.scoring.streams import FileSink

    fresh.head(400).to_parquet(tmp_path / "in.parquet", index=False)
    yesterday = tmp_path / "yesterday"
    score_batch(scorer, tmp_path / "in.parquet", yesterday / "scores.parquet", as_of=AS_OF, reasons="none")
    tonight = tmp_path / "tonight"
    score_batch(scorer, tmp_path / "in.parquet", tonight / "scores.parquet", as_of=AS_OF, reasons="top")
    old, new = _state(yesterday)[0], _state(tonight)[0]
    names = ("scores.parquet", "scores.rejects.parquet", "scores.manifest.json")
    monkeypatch.setattr(FileSink, "abort", lambda self: None)  # a killed job cleans nothing up
    calls = {"n": 0, "crash_at": 0}
    real = {name: getattr(os, name) for name in ("replace", "rename", "symlink")}

    def crashing(name):
        def call(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == calls["crash_at"]:
                raise Killed(f"killed at {name} #{calls['n']}")
            return real[name](*args, **kwargs)

        return call

    seen = set()
    for crash_at in range(1, 30):
        out = tmp_path / f"run{crash_at}"
        shutil.copytree(yesterday, out, symlinks=True)
        calls.update(n=0, crash_at=crash_at)
        with monkeypatch.context() as mp:
            for name in real:
                mp.setattr(os, name, crashing(name))
            try:
                score_batch(scorer, tmp_path / "in.parquet", out / "scores.parquet", as_of=AS_OF, reasons="top")
                finished = True
            except Killed:
                finished = False
        files = _state(out)[0]
        state = {n: files[n] for n in names}
        whole = "old" if all(state[n] == old[n] for n in names[:2]) else "new" if all(state[n] == new[n] for n in names[:2]) else "torn"
        assert whole != "torn", f"crash at file-system call {crash_at}: {state}"
        manifest = verify_outputs(out / "scores.manifest.json")
        assert manifest["outputs"]["scores"]["sha256"] == state["scores.parquet"]
        seen.add(whole)
        if finished:
            break
    assert finished and seen == {"old", "new"}


def test_two_jobs_on_one_output_the_second_is_refused(scorer, fresh, tmp_path):
    from salesml.scoring.streams import FileSink, OutputLocked

    fresh.head(200).to_parquet(tmp_path / "in.parquet", index=False)
    target = tmp_path / "out" / "scores.parquet"
    first = score_batch(scorer, tmp_path / "in.parquet", target, as_of=AS_OF, reasons="none")
    holder = FileSink(target)
    from salesml.scoring.batch import output_schemas

    holder.open(output_schemas(scorer, "none"))  # a job that is still writing
    try:
        with pytest.raises(OutputLocked, match=r"Another salesml job \(pid \d+, started .*\) is writing .*scores.parquet"):
            score_batch(scorer, tmp_path / "in.parquet", target, as_of=AS_OF, reasons="top")
    finally:
        holder.abort()
    assert verify_outputs(tmp_path / "out" / "scores.manifest.json")["outputs"] == first.manifest["outputs"]
    score_batch(scorer, tmp_path / "in.parquet", target, as_of=AS_OF, reasons="top")  # the lock was released


def test_the_input_is_never_overwritten(scorer, fresh, tmp_path):
    fresh.head(10).to_parquet(tmp_path / "leads.parquet", index=False)
    with pytest.raises(ValueError, match="would overwrite the input"):
        score_batch(scorer, tmp_path / "leads.parquet", tmp_path / "leads.parquet")
    from salesml.scoring.streams import open_sink, open_source

    url = f"sqlite:///{tmp_path / 'crm.db'}"
    with pytest.raises(ValueError, match="The output table 'leads' is the input table"):
        score_batch(scorer, open_source(url, table="leads"), open_sink(url, table="leads"))
