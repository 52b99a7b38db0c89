"""Data-quality speed and accuracy on built-in contacts with known truth (``make_contacts``).

Prints, per size (contact records):

* contact validation (phonenumbers + email-validator) in rows/s, and whether every invalid or
  missing e-mail / phone was detected exactly (errors counted against the truth);
* duplicate detection (Splink, DuckDB) wall time, rows/s and peak memory (RSS of a fresh child
  process), with pairwise precision / recall / F1 and cluster F1 at the default threshold (0.99,
  not tuned on these labels), and pairwise F1 at other thresholds for reference;
* optionally (``--spark``) the Spark backend on the first size, and whether its clusters equal DuckDB's.

Usage::

    python benchmarks/quality.py [--sizes 10000 100000] [--seed 0] [--spark]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _job(n_records: int, seed: int, backend: str) -> dict:
    import logging

    from salesml.datasets.contacts import make_contacts
    from salesml.quality.contacts import validate_contacts
    from salesml.quality.duplicates import _components, find_duplicates
    from salesml.quality.evaluation import cluster_pairs, cluster_scores, pair_scores

    logging.disable(logging.WARNING)
    n_entities = max(1, round(n_records / 1.6))  # about 1.6 records per customer at the default duplicate share
    t = time.perf_counter()
    data = make_contacts(n_entities, random_state=seed)
    t_gen = time.perf_counter() - t
    rows = len(data.records)
    t = time.perf_counter()
    validated = validate_contacts(data.records)
    t_val = time.perf_counter() - t
    reasons = validated["quality_reasons"].str.split(";")
    email = reasons.map(lambda r: "missing" if "email_missing" in r else "invalid" if "email_invalid" in r else "valid")
    phone = reasons.map(lambda r: "missing" if "phone_missing" in r else
                        "invalid" if {"phone_invalid", "phone_unparseable"} & set(r) else "valid")
    contact_errors = int((email.to_numpy() != data.truth["email_status"].to_numpy()).sum()
                         + (phone.to_numpy() != data.truth["phone_status"].to_numpy()).sum())
    t = time.perf_counter()
    result = find_duplicates(validated, {"backend": backend, "pair_threshold": 0.5})
    t_dup = time.perf_counter() - t
    truth = data.true_pairs()
    c = result.clusters
    pairs = pair_scores(cluster_pairs(c["id"], c["cluster_id"]), truth)
    clusters = cluster_scores(c["id"], c["cluster_id"], data.truth["entity_id"])
    ids = c["id"].to_numpy()
    pos = {k: i for i, k in enumerate(ids)}
    at = {}
    for th in (0.5, 0.8, 0.9, 0.95):
        p = result.pairs[result.pairs["match_probability"] >= th]
        lab = _components(len(ids), p["id_l"].map(pos).to_numpy(dtype="int64"), p["id_r"].map(pos).to_numpy(dtype="int64"))
        at[str(th)] = round(pair_scores(cluster_pairs(ids, lab), truth)["f1"], 5)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "records": rows, "entities": n_entities, "backend": backend, "generate_s": round(t_gen, 2),
        "validate_s": round(t_val, 2), "validate_rows_per_s": round(rows / t_val), "contact_errors": contact_errors,
        "invalid_emails": int((data.truth["email_status"] == "invalid").sum()),
        "invalid_phones": int((data.truth["phone_status"] == "invalid").sum()),
        "dedupe_s": round(t_dup, 2), "dedupe_rows_per_s": round(rows / t_dup), "peak_rss_mb": round(peak_mb),
        "pairs": {k: round(v, 5) for k, v in pairs.items()}, "cluster_f1": round(clusters["f1"], 5),
        "pair_f1_at_threshold": at, "clusters": sorted(map(tuple, c[["id", "cluster_id"]].to_numpy().tolist()))
        if backend == "spark" or rows <= 20_000 else None,
    }


def _run(n: int, seed: int, backend: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(n), str(seed), backend],
                         capture_output=True, text=True, check=False)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(_job(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--spark", action="store_true", help="Also run the Spark backend on the first size.")
    args = ap.parse_args()
    print(f"{'records':>9} {'validate/s':>11} {'contact err':>11} {'dedupe s':>9} {'dedupe/s':>9} {'peak MB':>8} "
          f"{'pair P':>7} {'pair R':>7} {'pair F1':>8} {'clust F1':>8}  F1 at 0.5/0.8/0.9/0.95")
    first = None
    for n in args.sizes:
        r = _run(n, args.seed, "duckdb")
        first = first or r
        p = r["pairs"]
        print(f"{r['records']:>9,} {r['validate_rows_per_s']:>11,} {r['contact_errors']:>11} {r['dedupe_s']:>9.1f} "
              f"{r['dedupe_rows_per_s']:>9,} {r['peak_rss_mb']:>8,} {p['precision']:>7.4f} {p['recall']:>7.4f} "
              f"{p['f1']:>8.5f} {r['cluster_f1']:>8.5f}  {'/'.join(str(v) for v in r['pair_f1_at_threshold'].values())}",
              flush=True)
    if args.spark:
        s = _run(args.sizes[0], args.seed, "spark")
        same = s["clusters"] == first["clusters"] if first["clusters"] is not None else "n/a (size > 20k)"
        print(f"spark {s['records']:,} records: {s['dedupe_s']:.1f}s ({s['dedupe_rows_per_s']:,} rows/s), "
              f"pair F1 {s['pairs']['f1']:.5f}; same clusters as DuckDB: {same}")


if __name__ == "__main__":
    main()
