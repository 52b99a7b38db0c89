"""Lead-scoring benchmark: training time, accuracy against the oracle, scoring throughput, memory.

For each size it generates leads with ``salesml.datasets.make_leads`` (seed 0), trains
the lead-scoring task without tuning and without tracking (``NullTracker``), and
measures on the generated leads (labels dropped):

* training time (the whole ``salesml.train`` flow: validate, encode, fit LightGBM with
  early stopping, calibrate, evaluate, SHAP on 2,000 holdout rows), the number of trees,
  and the holdout ROC-AUC next to the oracle ROC-AUC (the true conversion probability
  ``p_convert`` of the same holdout leads: the best any model can do);
* throughput in rows/s of ``encoder.transform`` alone, of the raw
  ``booster.predict(X_matrix)``, of ``scorer.score(df, reasons="none")`` on every row and
  of ``scorer.score(df, reasons="top")`` on a random subsample (``--reasons-rows``,
  default 50,000), each ``score`` also as a time ratio to raw ``booster.predict`` on the
  same rows (how many times slower the full scoring call is than the bare model);
* the machine's 1-minute load average at the start and end of each size: timings are
  only comparable when it stays below the number of cores;
* peak memory: the process's peak resident set size (``ru_maxrss`` from
  ``resource.getrusage``) after generation, after training and after scoring. Each size
  runs in its own child process so the peaks do not carry over between sizes.
  ``tracemalloc`` is not used: it slows numpy and pandas down and would distort the
  timings.

Short calls are repeated (best of up to ``--repeat`` runs, while under 2 s in total);
calls of a second or more run once. This prints figures; it is not a test.

Usage::

    python benchmarks/lead_scoring.py --quick              # 20k and 100k leads
    python benchmarks/lead_scoring.py --sizes 100000 1000000
    python benchmarks/lead_scoring.py --quick --json results.json
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before lightgbm loads OpenMP

import argparse
import datetime as dt
import json
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

RESULT_PREFIX = "BENCHMARK-RESULT "


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB (ru_maxrss)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def best_time(fn: Callable[[], Any], repeat: int, budget: float = 2.0) -> float:
    """Best wall time of ``fn`` over up to ``repeat`` runs (stops once ``budget`` seconds are spent)."""
    times: list[float] = []
    spent = 0.0
    while len(times) < max(1, repeat) and (not times or spent + times[-1] < budget):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        spent += times[-1]
    return min(times)


def run_size(n: int, *, seed: int, reasons_rows: int, repeat: int) -> dict[str, Any]:
    """Every measurement for one size (run inside a child process)."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    import salesml
    from salesml.datasets import make_leads

    out: dict[str, Any] = {"rows": n, "rss_start_mib": peak_rss_mib(), "load_start": os.getloadavg()[0]}

    start = time.perf_counter()
    leads, truth = make_leads(n, random_state=seed)
    out["generate_s"] = time.perf_counter() - start
    out["rss_after_generate_mib"] = peak_rss_mib()

    start = time.perf_counter()
    result = salesml.train(
        {"task": "lead-scoring", "random_state": seed}, tables={"leads": leads}, tracker=salesml.NullTracker()
    )
    out["train_s"] = time.perf_counter() - start
    out["rss_after_train_mib"] = peak_rss_mib()
    scorer = result.scorer
    holdout = result.holdout
    p_true = truth.set_index("lead_id")["p_convert"].reindex(leads.loc[holdout.index, "lead_id"]).to_numpy()
    out.update(
        train_rows=int(result.split.train.sum()),
        valid_rows=int(result.split.valid.sum()),
        holdout_rows=len(holdout),
        n_features=len(scorer.encoder.feature_names_),
        n_trees=int(scorer.booster.num_trees()),
        holdout_auc=float(result.metrics["test.roc_auc"]),
        oracle_auc=float(roc_auc_score(holdout["actual"].to_numpy(), p_true)),
    )
    del result, holdout

    df = leads.drop(columns=["converted", "converted_at"])
    del leads, truth
    booster, encoder = scorer.booster, scorer.encoder

    out["transform_s"] = best_time(lambda: encoder.transform(df), repeat)
    X = encoder.transform(df).to_numpy(dtype=np.float64)
    out["raw_predict_s"] = best_time(lambda: booster.predict(X), repeat)
    out["score_none_s"] = best_time(lambda: scorer.score(df, reasons="none"), repeat)

    m = min(n, reasons_rows)
    sub = df if m == n else df.sample(m, random_state=seed)
    X_sub = encoder.transform(sub).to_numpy(dtype=np.float64)
    out["reasons_rows"] = m
    out["raw_predict_sub_s"] = best_time(lambda: booster.predict(X_sub), repeat)
    out["contrib_sub_s"] = best_time(lambda: booster.predict(X_sub, pred_contrib=True), repeat)
    out["score_top_sub_s"] = best_time(lambda: scorer.score(sub, reasons="top"), repeat)
    out["rss_after_score_mib"] = peak_rss_mib()
    out["load_end"] = os.getloadavg()[0]
    return out


def run_in_child(n: int, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--worker",
        str(n),
        "--seed",
        str(args.seed),
        "--reasons-rows",
        str(args.reasons_rows),
        "--repeat",
        str(args.repeat),
    ]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    raise RuntimeError(f"The benchmark for {n:,} rows failed (exit code {proc.returncode}); see its output above.")


def rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f}" if seconds > 0 else "-"


def print_tables(results: list[dict[str, Any]]) -> None:
    def table(title: str, header: list[str], rows: list[list[str]]) -> None:
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
        print(f"\n{title}")
        print("  ".join(h.rjust(w) for h, w in zip(header, widths)))
        print("  ".join("-" * w for w in widths))
        for r in rows:
            print("  ".join(c.rjust(w) for c, w in zip(r, widths)))

    table(
        "Training (no tuning, NullTracker; AUC on the time-ordered holdout, latest 20% of leads)",
        ["leads", "generate s", "train s", "train/valid rows", "features", "trees", "holdout AUC", "oracle AUC", "AUC / oracle"],
        [
            [
                f"{r['rows']:,}",
                f"{r['generate_s']:.2f}",
                f"{r['train_s']:.1f}",
                f"{r['train_rows']:,}/{r['valid_rows']:,}",
                str(r["n_features"]),
                str(r["n_trees"]),
                f"{r['holdout_auc']:.4f}",
                f"{r['oracle_auc']:.4f}",
                f"{r['holdout_auc'] / r['oracle_auc']:.3f}",
            ]
            for r in results
        ],
    )
    table(
        "Scoring throughput, rows/s (ratio = time of the call / time of raw booster.predict on the same rows)",
        [
            "leads",
            "transform",
            "raw predict",
            "score(none)",
            "ratio",
            "reasons rows",
            "pred_contrib",
            "score(top)",
            "ratio",
        ],
        [
            [
                f"{r['rows']:,}",
                rate(r["rows"], r["transform_s"]),
                rate(r["rows"], r["raw_predict_s"]),
                rate(r["rows"], r["score_none_s"]),
                f"{r['score_none_s'] / r['raw_predict_s']:.1f}x",
                f"{r['reasons_rows']:,}",
                rate(r["reasons_rows"], r["contrib_sub_s"]),
                rate(r["reasons_rows"], r["score_top_sub_s"]),
                f"{r['score_top_sub_s'] / r['raw_predict_sub_s']:.0f}x",
            ]
            for r in results
        ],
    )
    table(
        "Peak resident memory, MiB (ru_maxrss of a fresh process per size, cumulative peak after each phase)",
        ["leads", "after imports", "after generate", "after train", "after scoring", "load avg start/end"],
        [
            [
                f"{r['rows']:,}",
                f"{r['rss_start_mib']:,.0f}",
                f"{r['rss_after_generate_mib']:,.0f}",
                f"{r['rss_after_train_mib']:,.0f}",
                f"{r['rss_after_score_mib']:,.0f}",
                f"{r['load_start']:.1f}/{r['load_end']:.1f}",
            ]
            for r in results
        ],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000], help="numbers of leads (default: 100000 1000000)")
    parser.add_argument("--quick", action="store_true", help="20,000 and 100,000 leads")
    parser.add_argument("--seed", type=int, default=0, help="data and model seed (default 0)")
    parser.add_argument("--reasons-rows", type=int, default=50_000, help="rows scored with reasons (random subsample; default 50000)")
    parser.add_argument("--repeat", type=int, default=3, help="best of up to N runs for short calls (default 3)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker is not None:  # child process: one size, one JSON line
        import logging
        import warnings

        logging.basicConfig(level=logging.WARNING)
        warnings.filterwarnings("ignore", category=UserWarning)
        result = run_size(args.worker, seed=args.seed, reasons_rows=args.reasons_rows, repeat=args.repeat)
        print(RESULT_PREFIX + json.dumps(result), flush=True)
        return 0

    import lightgbm
    import salesml

    sizes = [20_000, 100_000] if args.quick else args.sizes
    threads = os.environ.get("SALESML_NUM_THREADS", str(os.cpu_count()))
    print(
        f"salesml {salesml.__version__}, lightgbm {lightgbm.__version__}, Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} cores (LightGBM threads: {threads}), "
        f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}, {dt.date.today()}"
    )
    results = []
    for n in sizes:
        start = time.perf_counter()
        print(f"{n:,} leads ...", end=" ", flush=True)
        r = run_in_child(n, args)
        results.append(r)
        print(f"done in {time.perf_counter() - start:.0f} s (train {r['train_s']:.1f} s, holdout AUC {r['holdout_auc']:.4f})", flush=True)
    print_tables(results)
    busy = [r for r in results if max(r["load_start"], r["load_end"]) > (os.cpu_count() or 1)]
    if busy:
        which = ", ".join(f"{r['rows']:,}" for r in busy)
        print(
            f"\nNote: the 1-minute load average exceeded the {os.cpu_count()} cores during the {which}-lead "
            "run(s): other processes competed for the CPU and those timings are pessimistic."
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"date": str(dt.date.today()), "cores": os.cpu_count(), "results": results}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
