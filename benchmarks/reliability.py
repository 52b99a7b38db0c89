"""Fault and tamper campaigns against batch scoring and model loading (issue 14).

Prints three figures, each a count that must be zero or complete:

* **kill campaign**: ``salesml score`` is started again and again on one output
  and killed (SIGKILL) at a random moment of its run (from start-up to after it
  finished), plus one in-process crash at every file-system call of the
  publish step in turn. After each kill the visible scores, rejects and
  manifest must all be yesterday's or all tonight's (``verify_outputs`` passes
  and the manifest's digest is the scores file's): torn outputs are counted.
* **corrupted-file campaign**: a 10,000-record CSV with 5 % damaged records
  (unclosed quotes, Latin-1 bytes, missing and extra fields, stray quotes,
  multi-line values, no final newline); every record must be scored or
  rejected by key: lost records are counted.
* **tamper campaign**: with ``SALESML_SIGNING_KEY`` set, a signed bundle is
  attacked in each known way (edit + re-seal + delete the signature, path
  traversal in the manifest, pickles of protocols 0-5 under harmless names,
  gzip/zip-wrapped pickles, a symbolic link, a signature copied from another
  bundle); loads that are not refused are counted.

Usage::

    python benchmarks/reliability.py [--kills 50] [--workdir /tmp/salesml-reliability]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

import numpy as np  # noqa: E402

import salesml  # noqa: E402
from salesml.scoring.batch import score_batch, verify_outputs  # noqa: E402
from salesml.tracking.artifact import IntegrityError  # noqa: E402

AS_OF = "2026-01-01"
KEY = "reliability-benchmark-signing-key-9f3a61c2d7e84b05"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def visible(out: Path) -> dict[str, str]:
    return {n: sha(out / n) for n in ("scores.parquet", "scores.rejects.parquet", "scores.manifest.json")}


def kill_campaign(work: Path, model: Path, kills: int, rng: np.random.Generator) -> None:
    leads, _ = salesml.datasets.make_leads(20_000, start="2025-01-01", end="2025-12-31", random_state=11)
    inp = work / "in.parquet"
    leads.drop(columns=["converted", "converted_at"]).to_parquet(inp, index=False)
    out = work / "out"
    old_dir, new_dir = work / "old", work / "new"
    score_batch(model, inp, old_dir / "scores.parquet", as_of=AS_OF, reasons="none", chunk_size=2000)
    score_batch(model, inp, new_dir / "scores.parquet", as_of=AS_OF, reasons="flagged", chunk_size=2000)
    old, new = visible(old_dir), visible(new_dir)
    cmd = [sys.executable, "-m", "salesml.cli", "score", "--model", str(model), "--input", str(inp),
           "--output", str(out / "scores.parquet"), "--as-of", AS_OF, "--reasons", "flagged", "--chunk-size", "2000"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    full = time.perf_counter() - t0
    torn = finished = killed = 0
    for _ in range(kills):
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(old_dir, out, symlinks=True)
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, 1.05) * full)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed += proc.returncode == -signal.SIGKILL
        state = visible(out)
        try:
            manifest = verify_outputs(out / "scores.manifest.json")
            consistent = manifest["outputs"]["scores"]["sha256"] == state["scores.parquet"]
        except (ValueError, OSError):
            consistent = False
        data = ("scores.parquet", "scores.rejects.parquet")
        whole = all(state[n] == old[n] for n in data) or all(state[n] == new[n] for n in data)
        torn += not (consistent and whole)
        finished += all(state[n] == new[n] for n in data)
    print(f"kill campaign: {kills} SIGKILLs at random points of a {full:.1f} s job ({killed} landed before it exited, "
          f"{finished} runs had published): {torn} torn outputs")
    in_process_crashes(work, model, inp, old_dir, old, new)


class Killed(BaseException):
    pass


def in_process_crashes(work: Path, model: Path, inp: Path, old_dir: Path, old: dict, new: dict) -> None:
    from salesml.scoring.streams import FileSink

    real = {n: getattr(os, n) for n in ("replace", "rename", "symlink")}
    abort = FileSink.abort
    FileSink.abort = lambda self: None  # a killed job cleans nothing up
    state = {"n": 0, "at": 0}

    def wrap(name):
        def call(*a, **k):
            state["n"] += 1
            if state["n"] == state["at"]:
                raise Killed
            return real[name](*a, **k)

        return call

    torn = steps = 0
    try:
        for at in range(1, 50):
            out = work / f"crash{at}"
            shutil.copytree(old_dir, out, symlinks=True)
            state.update(n=0, at=at)
            for n in real:
                setattr(os, n, wrap(n))
            try:
                score_batch(model, inp, out / "scores.parquet", as_of=AS_OF, reasons="flagged", chunk_size=2000)
                done = True
            except Killed:
                done = False
            finally:
                for n, f in real.items():
                    setattr(os, n, f)
            s = visible(out)
            data = ("scores.parquet", "scores.rejects.parquet")
            ok = all(s[n] == old[n] for n in data) or all(s[n] == new[n] for n in data)
            try:
                ok = ok and verify_outputs(out / "scores.manifest.json")["outputs"]["scores"]["sha256"] == s["scores.parquet"]
            except ValueError:
                ok = False
            torn += not ok
            steps += 1
            if done:
                break
    finally:
        FileSink.abort = abort
    print(f"crash at every file-system call of a publish ({steps - 1} calls): {torn} torn outputs")


def corrupted_campaign(work: Path, model: Path, rng: np.random.Generator) -> None:
    leads, _ = salesml.datasets.make_leads(10_000, start="2025-01-01", end="2025-12-31", random_state=12)
    frame = leads.drop(columns=["converted", "converted_at"])
    path = work / "damaged.csv"
    frame.to_csv(path, index=False)
    lines = path.read_bytes().split(b"\n")
    damaged = sorted(rng.choice(np.arange(1, 10_001), 500, replace=False).tolist())
    for k, i in enumerate(damaged):
        key = frame["lead_id"].iloc[i - 1]
        kind = k % 4
        if kind == 0:
            lines[i] = lines[i].replace(b",", b',"', 3)  # opens a quote it never closes
        elif kind == 1:
            lines[i] = f"{key},caf\xe9 r\xe9gion,".encode("latin-1") + lines[i]
        elif kind == 2:
            lines[i] = b",".join(lines[i].split(b",")[:4])
        else:
            lines[i] = lines[i] + b",extra"
    path.write_bytes(b"\n".join(lines).rstrip(b"\n"))  # and no final newline
    result = score_batch(model, path, work / "damaged_out" / "scores.parquet", as_of=AS_OF, reasons="none",
                         max_reject_rate=1.0)
    import pandas as pd

    scored = set(pd.read_parquet(work / "damaged_out" / "scores.parquet")["lead_id"])
    rejects = pd.read_parquet(work / "damaged_out" / "scores.rejects.parquet")
    rejected = set(rejects["lead_id"].dropna())
    keys = set(frame["lead_id"])
    lost = keys - scored - rejected
    damaged_keys = {frame["lead_id"].iloc[i - 1] for i in damaged}
    print(f"corrupted-file campaign: {len(keys):,} records, {len(damaged)} damaged; rows in {result.rows_in:,} = "
          f"scored {result.rows_scored:,} + rejected {result.rows_rejected:,}; damaged rejected by key "
          f"{len(damaged_keys & rejected)}/{len(damaged)}; good records lost: {len(lost - damaged_keys)}, "
          f"records lost: {len(lost)}")


def tamper_campaign(work: Path, trained) -> None:
    os.environ["SALESML_SIGNING_KEY"] = KEY
    base = trained.save(work / "signed")
    other = trained.save(work / "signed-other")  # the same model signed again: a valid signature to copy

    def reseal(b: Path) -> None:
        m = json.loads((b / "MANIFEST.json").read_text())
        m["files"] = {n: sha(b / n) for n in m["files"]}
        (b / "MANIFEST.json").write_text(json.dumps(m, indent=2, sort_keys=True))

    def edit_reseal_unsign(b):
        meta = json.loads((b / "metadata.json").read_text())
        meta["tampered"] = True
        (b / "metadata.json").write_text(json.dumps(meta))
        reseal(b)
        (b / "MANIFEST.sig").unlink()

    def edit_reseal_keep_sig(b):
        meta = json.loads((b / "metadata.json").read_text())
        meta["tampered"] = True
        (b / "metadata.json").write_text(json.dumps(meta))
        reseal(b)

    def traversal(b):
        shutil.copy(b / "model.txt", b.parent / "outside_model.txt")
        meta = json.loads((b / "metadata.json").read_text())
        meta["boosters"] = {"model": "../outside_model.txt"}
        (b / "metadata.json").write_text(json.dumps(meta))
        m = json.loads((b / "MANIFEST.json").read_text())
        m["files"] = {"../outside_model.txt": sha(b.parent / "outside_model.txt"), "metadata.json": sha(b / "metadata.json")}
        (b / "model.txt").unlink()
        (b / "MANIFEST.json").write_text(json.dumps(m))
        (b / "MANIFEST.sig").unlink()

    def drop(data: bytes, name: str):
        def f(b):
            (b / name).write_bytes(data)
        return f

    def symlink(b):
        (b / "notes.txt").symlink_to(b.parent / "elsewhere.txt")

    def copied_signature(b):
        edit_reseal_keep_sig(b)
        shutil.copy(other / "MANIFEST.sig", b / "MANIFEST.sig")

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    cases = {"edit + re-seal + delete MANIFEST.sig": edit_reseal_unsign,
             "edit + re-seal, old signature kept": edit_reseal_keep_sig,
             "manifest entry ../outside_model.txt": traversal,
             "symbolic link in the bundle": symlink,
             "signature copied from another bundle": copied_signature}
    for protocol in range(6):
        data = pickle.dumps(Evil(), protocol=protocol)
        cases[f"pickle protocol {protocol} as notes.txt"] = drop(data, "notes.txt")
        cases[f"gzip pickle protocol {protocol} as data.bin"] = drop(gzip.compress(data), "data.bin")
        zipped = work / f"z{protocol}.zip"
        with zipfile.ZipFile(zipped, "w") as zf:
            zf.writestr("state", data)
        cases[f"zip holding a protocol {protocol} pickle"] = drop(zipped.read_bytes(), "archive.dat")
    (work / "elsewhere.txt").write_text("x")
    refused = []
    for name, attack in cases.items():
        target = work / "attack"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(base, target)
        attack(target)
        try:
            salesml.load_model(target)
        except IntegrityError:
            refused.append(name)
        else:
            print(f"  NOT REFUSED: {name}")
    print(f"tamper campaign (SALESML_SIGNING_KEY set): {len(refused)}/{len(cases)} attacks refused")
    del os.environ["SALESML_SIGNING_KEY"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="salesml-reliability-"))
    work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    os.environ.pop("SALESML_SIGNING_KEY", None)
    crm = salesml.make_crm(8_000, random_state=3)
    trained = salesml.train({"task": "lead-scoring", "random_state": 0}, tables={"leads": crm.leads},
                            tracker=salesml.NullTracker())
    model = trained.save(work / "model")
    corrupted_campaign(work, model, rng)
    tamper_campaign(work, trained)
    kill_campaign(work, model, args.kills, rng)
    print(f"(work files in {work})")


if __name__ == "__main__":
    main()
