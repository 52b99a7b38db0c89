"""How long `salesml monitor` takes on a large batch of current rows.

    python benchmarks/monitoring.py [--rows 1000000]

Trains a lead-scoring model on 20k built-in leads (no tuning, no tracking), then
monitors ``--rows`` freshly generated leads with outcomes: feature and score
drift, predicted vs actual with the task's metrics, KPI lights. Prints the
time of each part; the prediction is the same work a scoring job does.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

import salesml  # noqa: E402
from salesml.monitoring.drift import Profile, psi  # noqa: E402
from salesml.monitoring.monitor import monitor  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()

    t = time.perf_counter()
    crm = salesml.make_crm(20_000, random_state=0)
    result = salesml.train({"task": "lead-scoring"}, tables={"leads": crm.leads}, tracker=salesml.NullTracker())
    print(f"trained the model in {time.perf_counter() - t:.1f}s")

    t = time.perf_counter()
    current, _ = salesml.datasets.make_leads(args.rows, random_state=1)
    print(f"generated {len(current):,} current leads in {time.perf_counter() - t:.1f}s")

    scorer = result.scorer
    t = time.perf_counter()
    scorer.predict(current)
    predict_s = time.perf_counter() - t

    ref = scorer.metadata["monitoring_reference"]
    from salesml.monitoring.drift import _monitored

    plans = {p.name: p for p in scorer.encoder.columns_}
    t = time.perf_counter()
    for data in ref["columns"]:
        prof = Profile.from_dict(data)
        values = _monitored(plans[prof.name], current, scorer.encoder.time_column)[1]
        psi(prof.counts, prof.count(values).counts)
    drift_s = time.perf_counter() - t

    settings = {"kpis": {"model.positive_rate": {"target": 0.15}, "model.precision_at_threshold": {"target": 0.85}}}
    t = time.perf_counter()
    report = monitor(scorer, current, settings=settings, plots=False)
    total_s = time.perf_counter() - t
    t = time.perf_counter()
    report = monitor(scorer, current, settings=settings, plots=True)
    html = report.to_html()
    with_plots_s = time.perf_counter() - t

    n = len(current)
    print(f"rows monitored:                         {n:,}")
    print(f"  prediction (as in scoring):           {predict_s:6.1f}s  ({n / predict_s:,.0f} rows/s)")
    print(f"  feature drift, {len(ref['columns'])} columns (PSI):      {drift_s:6.1f}s  ({n / drift_s:,.0f} rows/s)")
    print(f"  whole monitor() without plots:        {total_s:6.1f}s  ({n / total_s:,.0f} rows/s)")
    print(f"  whole monitor() with plots + HTML:    {with_plots_s:6.1f}s  (report {len(html) / 1e3:,.0f} kB)")
    print(f"  overall light: {report.overall}; largest feature PSI: "
          f"{max(f['psi'] for f in report.summary['drift']['features'] if f['psi'] is not None):.4f}; "
          f"score PSI {report.summary['drift']['score']['psi']:.4f}; conversion {np.mean(report.summary['outcomes']['mean_actual']):.3f}")


if __name__ == "__main__":
    main()
