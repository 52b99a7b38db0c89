"""Batch scoring speed and memory: the streaming job, reasons, Spark local mode and the model server.

Prints, for lead scoring on built-in data:

* raw ``Booster.predict`` rows/s on an already-encoded matrix (the floor cost),
  with 1 and with all threads;
* the streaming job (``salesml.scoring.batch.score_batch``: read Parquet, validate,
  encode, predict, write, hash) in rows/s and peak memory (RSS) at each size,
  scores only and with reasons, each as a ratio to raw predict on the same rows;
* LightGBM ``pred_contrib`` versus ``shap.TreeExplainer`` (rows/s, and the
  largest difference between them);
* Spark local-mode throughput (``salesml.scoring.spark.score_spark``) on the first size;
* the latency of ``mlflow models serve`` per request (single records and
  10-record batches): median and p95.

Every job runs in a fresh child process so its peak memory is its own.
Usage::

    python benchmarks/batch_scoring.py --sizes 1000000 10000000 [--workdir /tmp/salesml-bench]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

AS_OF = "2027-01-01"
PIECE = 1_000_000


def peak_mb() -> float:
    """This process's peak RSS. VmHWM belongs to the current address space; ru_maxrss would also count
    the parent's memory at fork time (Linux keeps it across exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:  # not Linux
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_input(path: Path, n: int) -> Path:
    """n new leads as one Parquet file, generated 1M at a time (bounded memory, unique ids)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from salesml.datasets import make_leads

    if path.exists() and pq.ParquetFile(path).metadata.num_rows == n:
        return path
    tmp = path.with_suffix(".tmp")
    writer = None
    for k, start in enumerate(range(0, n, PIECE)):
        size = min(PIECE, n - start)
        leads, _ = make_leads(size, start="2026-01-01", end="2026-06-30", random_state=100 + k)
        leads = leads.drop(columns=["converted", "converted_at"])
        leads["lead_id"] = f"P{k:03d}-" + leads["lead_id"]
        table = pa.Table.from_pandas(leads, preserve_index=False)
        if writer is None:
            writer = pq.ParquetWriter(tmp, table.schema, coerce_timestamps="us")
        writer.write_table(table, row_group_size=250_000)
        del leads, table
    writer.close()
    os.replace(tmp, path)
    return path


def train_model(workdir: Path) -> Path:
    """A lead-scoring model registered in a private MLflow store (the model server needs the registry)."""
    import salesml

    folder = workdir / "model"
    if (folder / "MANIFEST.json").exists():
        return folder
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{workdir / 'mlflow.db'}"
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        leads, _ = salesml.datasets.make_leads(20_000, random_state=3)
        result = salesml.train({"task": "lead-scoring", "random_state": 0}, tables={"leads": leads})
    finally:
        os.chdir(cwd)
    result.save(folder)
    return folder


# ------------------------------------------------------------------ children
def child_job(args: argparse.Namespace) -> None:
    from salesml.scoring.batch import score_batch

    with tempfile.TemporaryDirectory(dir=Path(args.input).parent) as out:
        start = time.perf_counter()
        result = score_batch(args.model, args.input, Path(out) / "scores.parquet", reasons=args.reasons,
                             chunk_size=args.chunk_size, as_of=AS_OF, threads=args.threads)
        seconds = time.perf_counter() - start
    print(json.dumps({"rows": result.rows_in, "seconds": seconds, "peak_mb": peak_mb()}))


def child_raw(args: argparse.Namespace) -> None:
    """Raw Booster.predict on the encoded matrix of the first rows, with 1 and all threads."""
    import pyarrow.parquet as pq

    import salesml
    from salesml.core.explain import contributions, shap_explanation

    scorer = salesml.load_model(args.model)
    frame = next(pq.ParquetFile(args.input).iter_batches(batch_size=args.rows)).to_pandas()
    X = scorer.encoder.transform(frame).to_numpy(np.float64)
    out = {"rows": len(X), "trees": scorer.booster.num_trees(), "features": X.shape[1]}
    for threads in (1, os.cpu_count() or 1):
        scorer.booster.predict(X[:1000], raw_score=True, num_threads=threads)
        start = time.perf_counter()
        scorer.booster.predict(X, raw_score=True, num_threads=threads)
        out[f"predict_rows_s_{threads}t"] = len(X) / (time.perf_counter() - start)
    start = time.perf_counter()
    encoded = scorer.encoder.transform(frame)
    out["encode_rows_s"] = len(frame) / (time.perf_counter() - start)
    sample = encoded.iloc[:5_000]
    start = time.perf_counter()
    values, _ = contributions(scorer.booster, sample)
    out["pred_contrib_rows_s"] = len(sample) / (time.perf_counter() - start)
    start = time.perf_counter()
    explanation = shap_explanation(scorer.booster, sample)
    out["shap_rows_s"] = len(sample) / (time.perf_counter() - start)
    out["shap_vs_pred_contrib_max_abs_diff"] = float(np.abs(np.asarray(explanation.values) - values).max())
    print(json.dumps(out))


def child_spark(args: argparse.Namespace) -> None:
    from salesml.scoring.spark import local_session, score_spark

    spark = local_session("salesml-bench", shuffle_partitions=os.cpu_count() or 2)
    spark.sparkContext.setLogLevel("ERROR")
    try:
        df = spark.read.parquet(str(args.input))
        start = time.perf_counter()
        result = score_spark(df, args.model, reasons="none", as_of=AS_OF)
        result.scores.write.format("noop").mode("overwrite").save()
        seconds = time.perf_counter() - start
    finally:
        spark.stop()
    print(json.dumps({"rows": args.rows, "seconds": seconds}))


def run_child(kind: str, **kwargs) -> dict:
    cmd = [sys.executable, __file__, "--child", kind]
    for key, value in kwargs.items():
        if value is not None:
            cmd += [f"--{key.replace('_', '-')}", str(value)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------- model server
def serve_latency(workdir: Path, frame: pd.DataFrame, n_single: int = 200, n_batches: int = 50) -> dict:
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}", "PATH": f"{mlflow_bin.parent}:{os.environ['PATH']}"}
    log = (workdir / "serve.log").open("wb")
    proc = subprocess.Popen(
        [str(mlflow_bin), "models", "serve", "-m", "models:/salesml-lead-scoring@champion", "--env-manager", "local",
         "-h", "127.0.0.1", "-p", str(port), "-w", "1"],
        cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{base}/ping", timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        records = json.loads(frame.to_json(orient="records", date_format="iso"))

        def ask(rows: list[dict], reasons: str) -> float:
            body = json.dumps({"dataframe_records": rows, "params": {"reasons": reasons}}).encode()
            request = urllib.request.Request(f"{base}/invocations", data=body, headers={"Content-Type": "application/json"})
            start = time.perf_counter()
            with urllib.request.urlopen(request, timeout=30) as r:
                r.read()
            return (time.perf_counter() - start) * 1000

        for r in records[:20]:
            ask([r], "top")  # warm up
        out = {}
        for reasons in ("none", "top"):
            single = [ask([records[i % len(records)]], reasons) for i in range(n_single)]
            batch = [ask(records[i * 10 % len(records) : i * 10 % len(records) + 10], reasons) for i in range(n_batches)]
            out[reasons] = {
                "single_median_ms": float(np.median(single)), "single_p95_ms": float(np.percentile(single, 95)),
                "batch10_median_ms": float(np.median(batch)), "batch10_p95_ms": float(np.percentile(batch, 95)),
            }
        return out
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def lleaves_status() -> str:
    try:
        import lleaves  # noqa: F401
    except ImportError:
        from importlib.metadata import PackageNotFoundError, version

        try:
            llvmlite = version("llvmlite")
        except PackageNotFoundError:
            llvmlite = "absent"
        return (f"not installed (lleaves needs llvmlite 0.44; this environment has llvmlite {llvmlite} for "
                "numba/shap, so installing it would break SHAP)")
    return "installed"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "salesml-bench")
    parser.add_argument("--chunk-size", type=int, default=50_000)
    parser.add_argument("--reasons-rows", type=int, default=100_000, help="rows scored with reasons=top (reasons cost ~80x)")
    parser.add_argument("--skip-spark", action="store_true")
    parser.add_argument("--skip-serve", action="store_true")
    parser.add_argument("--child")
    parser.add_argument("--model")
    parser.add_argument("--input")
    parser.add_argument("--reasons", default="none")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    if args.child:
        {"job": child_job, "raw": child_raw, "spark": child_spark}[args.child](args)
        return

    args.workdir.mkdir(parents=True, exist_ok=True)
    model = train_model(args.workdir)
    print(f"machine: {os.cpu_count()} cores; chunk size {args.chunk_size:,}; lleaves: {lleaves_status()}")
    first = make_input(args.workdir / f"leads_{args.sizes[0]}.parquet", args.sizes[0])
    raw = run_child("raw", model=model, input=first, rows=200_000)
    cores = os.cpu_count() or 1
    predict = raw[f"predict_rows_s_{cores}t"]
    print(f"model: {raw['trees']} trees, {raw['features']} features")
    print(f"raw Booster.predict (encoded matrix, {raw['rows']:,} rows): {raw['predict_rows_s_1t']:,.0f} rows/s with 1 thread, "
          f"{predict:,.0f} rows/s with {cores}")
    print(f"encoder.transform: {raw['encode_rows_s']:,.0f} rows/s")
    print(f"reasons: LightGBM pred_contrib {raw['pred_contrib_rows_s']:,.0f} rows/s, shap.TreeExplainer "
          f"{raw['shap_rows_s']:,.0f} rows/s (max |difference| {raw['shap_vs_pred_contrib_max_abs_diff']:.1e})")

    print("\nstreaming job (Parquet in, Parquet out; validate, encode, predict, write, sha256):")
    print(f"{'rows':>12} {'reasons':>8} {'seconds':>9} {'rows/s':>10} {'x raw predict':>14} {'peak RSS MB':>12}")
    for n in args.sizes:
        path = make_input(args.workdir / f"leads_{n}.parquet", n)
        modes = (("none", None), ("none", 1), ("flagged", None)) if n == args.sizes[0] else (("none", None),)
        for reasons, threads in modes:
            r = run_child("job", model=model, input=path, reasons=reasons, chunk_size=args.chunk_size, threads=threads)
            rate = r["rows"] / r["seconds"]
            label = reasons + ("/1t" if threads == 1 else "")
            print(f"{n:>12,} {label:>8} {r['seconds']:>9.1f} {rate:>10,.0f} {rate / predict:>14.3f} {r['peak_mb']:>12,.0f}", flush=True)
    sub = make_input(args.workdir / f"leads_{args.reasons_rows}.parquet", args.reasons_rows)
    r = run_child("job", model=model, input=sub, reasons="top", chunk_size=args.chunk_size)
    rate = r["rows"] / r["seconds"]
    print(f"{args.reasons_rows:>12,} {'top':>8} {r['seconds']:>9.1f} {rate:>10,.0f} {rate / predict:>14.3f} {r['peak_mb']:>12,.0f}")

    if not args.skip_spark:
        n = args.sizes[0]
        r = run_child("spark", model=model, input=first, rows=n)
        print(f"\nSpark local[{cores}] (score_spark, reasons none, noop sink): {n:,} rows in {r['seconds']:.1f} s = "
              f"{n / r['seconds']:,.0f} rows/s (session start-up excluded)")
    if not args.skip_serve:
        import pyarrow.parquet as pq

        sample = next(pq.ParquetFile(first).iter_batches(batch_size=500)).to_pandas()
        lat = serve_latency(args.workdir, sample)
        print("\nmlflow models serve (1 worker, 127.0.0.1), per request:")
        for reasons, m in lat.items():
            print(f"  reasons={reasons:<5} single record: median {m['single_median_ms']:.1f} ms, p95 {m['single_p95_ms']:.1f} ms; "
                  f"10 records: median {m['batch10_median_ms']:.1f} ms, p95 {m['batch10_p95_ms']:.1f} ms")


if __name__ == "__main__":
    main()
