"""The ``salesml`` command line (typer)."""

from __future__ import annotations

import logging
import time
from enum import Enum
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

app = typer.Typer(help="Machine-learning pipelines for sales teams.", no_args_is_help=True, add_completion=False)
console = Console()


class Size(str, Enum):
    small = "small"
    medium = "medium"
    large = "large"


class Format(str, Enum):
    csv = "csv"
    parquet = "parquet"


class ReasonsMode(str, Enum):
    top = "top"
    flagged = "flagged"
    all = "all"
    none = "none"


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("mlflow", "alembic", "urllib3", "optuna"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _trial_progress(total: int | None):
    progress = Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=False,
    )
    bar = progress.add_task("Optuna trials", total=total)

    def callback(study, trial) -> None:
        best = f" (best {study.best_value:.4f})" if any(t.value is not None for t in study.trials) else ""
        progress.update(bar, advance=1, description=f"Optuna trials{best}")

    return progress, callback


@app.command()
def generate(
    out: Path = typer.Option(..., "--out", help="Folder to write the tables to."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed gives the same data."),
    size: Size = typer.Option(Size.small, "--size", help="small (20k leads), medium (100k), large (1M)."),
    fmt: Format = typer.Option(Format.csv, "--format", help="File format."),
) -> None:
    """Write the built-in CRM tables (leads, customers, transactions, activities)."""
    from salesml.datasets import SIZES, make_crm, write_crm

    with console.status(f"Generating {SIZES[size.value]:,} leads and their customers..."):
        paths = write_crm(make_crm(SIZES[size.value], random_state=seed), out, fmt=fmt.value)
    for p in paths:
        console.print(f"wrote {p}")


@app.command("train")
def train_cmd(
    task: str = typer.Argument(..., help="Task name, e.g. lead-scoring."),
    config: Path = typer.Option(None, "--config", "-c", help="Experiment YAML (default experiments/<task>.yaml)."),
    trials: int = typer.Option(None, "--trials", help="Optuna trials (overrides the YAML; 0 = no tuning)."),
    no_register: bool = typer.Option(False, "--no-register", help="Log the run but do not register the model."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Train, tune, evaluate, explain, log and register one task's model."""
    from salesml.core.config import load_config
    from salesml.core.flow import train

    _setup_logging(verbose)
    path = config or Path("experiments") / f"{task.replace('-', '_')}.yaml"
    cfg = load_config(path)
    if cfg.task != task:
        raise typer.BadParameter(f"{path} configures task {cfg.task!r}, not {task!r}.")
    n = cfg.tuning.trials if trials is None else trials
    progress, callback = _trial_progress(n or None)
    start = time.perf_counter()
    with progress:
        result = train(cfg, trials=trials, register=False if no_register else None, callbacks=[callback] if n else None)
    _print_result(result, time.perf_counter() - start)


def _print_result(result, seconds: float) -> None:
    m = result.metrics
    console.print(f"[bold]{result.task.title}[/bold] trained in {seconds:.0f}s; holdout metrics:")
    for key in sorted(m):
        console.print(f"  {key:<32} {m[key]:.4f}")
    if result.version:
        state = "champion" if result.decision.promoted else "not promoted"
        console.print(f"registered {result.task.registered_name} v{result.version} ({state}: {result.decision.reason})")
    for why in result.not_registered_because:
        console.print(f"[yellow]not registered:[/yellow] {why}")


@app.command()
def score(
    model: str = typer.Option(..., "--model", help="models:/salesml-lead-scoring@champion, runs:/..., or a folder."),
    input: str = typer.Option(..., "--input", help="CSV file, Parquet file or folder, or a SQLAlchemy URL (with --query or --table)."),
    output: str = typer.Option(..., "--output", help="Scores file (.csv or .parquet), or a SQLAlchemy URL (with --output-table)."),
    reasons: ReasonsMode = typer.Option(
        ReasonsMode.top, "--reasons",
        help="top: 3 up / 3 down reasons per row; flagged: only for rows the task flags (lead scoring: follow-up); "
        "all: top reasons plus every feature's contribution; none: scores only (fastest).",
    ),
    query: str = typer.Option(None, "--query", help="SQL input: the SELECT to score (add ORDER BY for reproducible output)."),
    table: str = typer.Option(None, "--table", help="SQL input: a table to score (read in key order)."),
    output_table: str = typer.Option(None, "--output-table", help="SQL output: the scores table (replaced atomically)."),
    rejects: str = typer.Option(None, "--rejects", help="Rejects file or table (default: beside the scores, '.rejects' / '_rejects')."),
    manifest: Path = typer.Option(None, "--manifest", help="Manifest JSON (default: <scores>.manifest.json beside a file output)."),
    max_reject_rate: float = typer.Option(0.05, "--max-reject-rate", help="Fail and publish nothing above this share of rejected records."),
    chunk_size: int = typer.Option(50_000, "--chunk-size", help="Records per chunk (memory grows with it, not with the input)."),
    as_of: str = typer.Option(None, "--as-of", help="Reject records dated after this time (ISO, UTC; default: now)."),
    threads: int = typer.Option(None, "--threads", help="LightGBM prediction threads (default: all cores)."),
    horizon: str = typer.Option(
        None, "--horizon", help="CLV: the horizon to value customers over, e.g. 39W, 6M, 2Y (default: the trained one)."
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
    pseudonymise: bool = typer.Option(
        False, "--pseudonymise", help="Write keyed pseudonyms (HMAC-SHA256, key in SALESML_PSEUDONYM_KEY) instead of raw ids."
    ),
) -> None:
    """Score a file or table in chunks: scores, rejects with reasons, and a manifest, published atomically.

    Exit codes: 0 published; 3 too many rejects (nothing published); 1 any other failure (nothing published).
    """
    import signal

    from sqlalchemy.exc import SQLAlchemyError

    from salesml.scoring.batch import RejectRateExceeded, score_batch
    from salesml.scoring.streams import open_sink, open_source

    _setup_logging(verbose)

    def _terminate(signum, frame):  # SIGTERM unwinds like Ctrl-C, so temporary outputs are removed
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        scoring_model = model
        if horizon:
            scoring_model = _load_scorer(model)
            if not getattr(scoring_model.task, "rescales_horizon", False):
                raise typer.BadParameter(
                    f"the {scoring_model.task.title} model answers its trained horizon only; --horizon is for CLV models."
                )
            scoring_model = scoring_model.with_params(horizon=horizon)
        source = open_source(input, query=query, table=table)
        sink = open_sink(output, table=output_table, rejects=rejects, manifest=manifest)
        progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, transient=True,
        )
        with progress:
            bar = progress.add_task("Scoring records", total=None)

            def on_progress(p) -> None:
                progress.update(bar, completed=p.rows_in, total=p.total,
                                description=f"Scoring ({p.rows_rejected:,} rejected)")

            result = score_batch(
                scoring_model, source, sink, reasons=reasons.value, max_reject_rate=max_reject_rate,
                chunk_size=chunk_size, as_of=as_of, threads=threads, on_progress=on_progress,
                pseudonymise=pseudonymise,
            )
    except RejectRateExceeded as err:
        console.print(str(err), style="red", markup=False, highlight=False)
        raise typer.Exit(3) from None
    except (ValueError, KeyError, FileNotFoundError, RuntimeError, OSError, SQLAlchemyError) as err:
        console.print(f"Scoring failed, nothing was published: {err}", style="red", markup=False, highlight=False)
        raise typer.Exit(1) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    m = result.manifest
    console.print(result.summary())
    for part, info in m["outputs"].items():
        console.print(f"  {part:<8} {info['rows']:>10,} rows -> {info['location']}")
    for reason, n in m["rejects_by_reason"].items():
        console.print(f"  rejected: {reason:<16} {n:>8,} records")
    model_name = f"{m['model']['name']} v{m['model']['version']}" if m["model"]["name"] else m["model"]["uri"]
    console.print(f"model {model_name} ({m['model']['digest'][:19]}...)")


@app.command()
def snapshot(
    output: Path = typer.Option(..., "--output", help="Where to write the snapshot (.csv or .parquet)."),
    transactions: Path = typer.Option(..., "--transactions", help="Order lines (CSV or Parquet)."),
    customers: Path = typer.Option(None, "--customers", help="Customers table (optional)."),
    activities: Path = typer.Option(None, "--activities", help="Activities table (optional)."),
    as_of: str = typer.Option(None, "--as-of", help="The snapshot instant, e.g. 2026-01-01 (default: end of the order history)."),
    model: str = typer.Option(None, "--model", help="Build with this CLV/churn model's settings (models:/..., runs:/..., a folder)."),
    task: str = typer.Option("clv", "--task", help="Or with this task's default settings (clv, churn)."),
) -> None:
    """Build a customer snapshot (one row per customer) to score with a CLV or churn model."""
    from salesml.core.sources import read_table, write_table_atomic
    from salesml.tasks import get_task

    customer_task = _load_scorer(model).task if model else get_task(task)()
    if not hasattr(customer_task, "snapshot"):
        raise typer.BadParameter(f"task {customer_task.name!r} does not score customer snapshots; use a clv or churn model.")
    tables = {"transactions": read_table(transactions)}
    if customers:
        tables["customers"] = read_table(customers)
    if activities:
        tables["activities"] = read_table(activities)
    frame = customer_task.snapshot(tables, as_of=as_of)
    write_table_atomic(frame, output)
    console.print(f"wrote {len(frame):,} customers as of {frame[customer_task.columns.time].max()} -> {output}")


def _load_scorer(uri: str):
    from salesml.scoring.scorer import load_model

    return load_model(uri)


@app.command()
def segments(
    clv_model: str = typer.Option("models:/salesml-clv@champion", "--clv-model", help="The CLV model."),
    churn_model: str = typer.Option("models:/salesml-churn@champion", "--churn-model", help="The churn model."),
    input: Path = typer.Option(..., "--input", help="Customer snapshot to score (salesml snapshot writes one)."),
    output: Path = typer.Option(..., "--output", help="Per-customer segments (.csv or .parquet)."),
    value_cut: float = typer.Option(None, "--value-cut", help="Expected revenue that makes a customer high-value (default: a quantile)."),
    value_quantile: float = typer.Option(0.8, "--value-quantile", help="Without --value-cut: the top (1 - q) share of customers is high-value."),
    risk_cut: float = typer.Option(0.25, "--risk-cut", help="Churn probability from which a customer is at risk."),
    track: bool = typer.Option(True, "--track/--no-track", help="Log the segment table and plot to MLflow (experiment salesml-segments)."),
) -> None:
    """Score a snapshot with the CLV and churn models and place each customer in a value x risk segment."""
    from salesml.customers.segments import log_segments, score_segments
    from salesml.core.sources import read_table, write_table_atomic

    frame = read_table(input)
    clv, churn = _load_scorer(clv_model), _load_scorer(churn_model)
    with console.status(f"Scoring {len(frame):,} customers with both models..."):
        seg = score_segments(clv, churn, frame, value_cut=value_cut, value_quantile=value_quantile, risk_cut=risk_cut)
    write_table_atomic(seg.customers, output)
    _print_segments(seg.table, seg.metrics)
    if track:
        from salesml.tracking.tracker import MLflowTracker

        log_segments(seg, MLflowTracker("salesml-segments"), tags={"salesml.clv_model": clv_model, "salesml.churn_model": churn_model})
    console.print(f"segments of {len(seg.customers):,} customers -> {output}")


def _print_segments(table, metrics) -> None:
    from rich.table import Table

    out = Table(title="Value x risk segments")
    for col in ("segment", "customers", "exp. revenue", "at risk", "churn p"):
        out.add_column(col, justify="left" if col == "segment" else "right", no_wrap=True)
    for _, row in table.iterrows():
        out.add_row(
            str(row["segment"]), f"{int(row['customers']):,}", f"{row['expected_revenue']:,.0f}",
            f"{row['revenue_at_risk']:,.0f}", f"{row['mean_churn_probability']:.2f}" if row["customers"] else "-",
        )
    console.print(out)
    console.print(
        f"high-value customers: {metrics['high_value_share_of_customers']:.0%} of customers, "
        f"{metrics['high_value_revenue_share']:.0%} of expected revenue; revenue at risk {metrics['revenue_at_risk']:,.0f}"
    )


@app.command()
def demo(
    workdir: Path = typer.Option(Path("."), "--workdir", help="Where data/, outputs/ and mlflow.db go."),
    size: Size = typer.Option(Size.small, "--size"),
    trials: int = typer.Option(10, "--trials", help="Optuna trials per pipeline."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Generate data, train every pipeline, register champions and score new records."""
    from salesml.demo import run_demo

    _setup_logging(False)
    start = time.perf_counter()
    from salesml.tasks import TASKS

    progress, callback = _trial_progress(trials * len(TASKS))  # one bar over every task's study
    with progress:
        report = run_demo(
            workdir, size=size.value, trials=trials, random_state=seed,
            on_step=lambda msg: progress.console.print(f"[bold cyan]>[/bold cyan] {msg}"), callbacks=[callback],
        )
    for task, summary in report.summaries.items():
        console.print(f"\n[bold]{task}[/bold]")
        for k, v in summary.items():
            console.print(f"  {k:<22} {v}")
    for task, path in report.scored.items():
        console.print(f"scores ({task}): {path}")
    if report.segments is not None:
        console.print()
        _print_segments(report.segments.table, report.segments.metrics)
    if report.call_list is not None:
        n_alerts = 0 if report.alerts is None else len(report.alerts)
        console.print(f"\n[bold]opportunities[/bold]: {n_alerts:,} overdue follow-ups; call list of {len(report.call_list):,} "
                      f"calls, {report.call_list['value'].sum():,.0f} expected value -> outputs/call_list.csv")
    if report.quality is not None:
        q = report.quality
        console.print(f"\n[bold]data quality[/bold] ({q['rows']:,} contact records)")
        console.print(f"  {'duplicate rate':<22} {q['duplicates']['duplicate_rate']:.1%}")
        for k in q["kpis"]:
            if k["value"] is not None:
                console.print(f"  {k['name']:<22} {k['value']:.3f}")
    console.print(f"\nDemo finished in {time.perf_counter() - start:.0f}s. Tracking store: {report.tracking_uri}")
    console.print(f"See runs, plots and registered models with:\n  mlflow ui --backend-store-uri {report.tracking_uri}")


@app.command("forecast")
def forecast_cmd(
    output: Path = typer.Option(..., "--output", help="Where to write the forecasts (.csv or .parquet)."),
    model: str = typer.Option("models:/salesml-forecast@champion", "--model", help="A forecast model: models:/..., runs:/... or a folder."),
    input: str = typer.Option(
        "builtin", "--input",
        help="Sales history (CSV/Parquet) in the training layout, plus rows after the last sales that carry the "
        "planned known-in-advance covariates; 'builtin' (default): the built-in data.",
    ),
    horizon: int = typer.Option(None, "--horizon", help="Periods ahead, at most the model's horizon (default: all of it)."),
    reasons: ReasonsMode = typer.Option(ReasonsMode.top, "--reasons", help="top: 3 up / 3 down drivers per series forecast; none."),
    seed: int = typer.Option(0, "--seed", help="Seed of the built-in data (with --input builtin)."),
) -> None:
    """Forecast every series and level (bottom-up totals) with intervals; the output is written atomically."""
    from salesml.scoring.scorer import load_model
    from salesml.core.sources import read_table, write_table_atomic
    from salesml.tasks.forecasting import Forecasting, forecast

    scorer = load_model(model)
    if input == "builtin":
        from salesml.datasets import SIZES, make_crm

        history = Forecasting.builtin_tables(make_crm(SIZES["small"], random_state=seed))["sales"]
    else:
        history = read_table(Path(input))
    with console.status(f"Forecasting from {len(history):,} rows..."):
        result = forecast(scorer, history, horizon=horizon, reasons=reasons.value)
    write_table_atomic(result, output)
    bottom = result[result["level"] == "series"]
    name = scorer.task.columns.id
    done = bottom.loc[bottom["status"] == "ok", name].nunique()
    refused = bottom.loc[bottom["status"] != "ok", name].nunique()
    console.print(f"forecast {done:,} series ({refused:,} not forecast, see the status column) -> {output}")
    lo, hi = (result.columns[result.columns.str.startswith(p)][0] for p in ("lower_", "upper_"))
    for _, row in result[result["level"] == "total"].iterrows():
        console.print(f"  total {str(row['period'])[:10]}: {row['forecast']:,.0f} ({lo[6:]}% interval {row[lo]:,.0f} to {row[hi]:,.0f})")


# ------------------------------------------------------------------ opportunities: alerts and the call list

def _crm_world(data: Path | None, size: Size, seed: int):
    """A saved CRM folder (``salesml generate`` writes one) or the built-in world."""
    from salesml.datasets import SIZES, load_crm, make_crm

    if data is None:
        return make_crm(SIZES[size.value], random_state=seed)
    crm = load_crm(data)
    if not len(crm.opportunities.columns):
        _fail(f"{data} has no opportunities table: write one (salesml generate does) or drop --data for the built-in data.")
    return crm


@app.command()
def alerts(
    as_of: str = typer.Option(..., "--as-of", help="Evaluate the rules as of this date, e.g. 2025-06-01."),
    rules: Path = typer.Option(Path("experiments/alerts.yaml"), "--rules", help="Alert rules YAML."),
    data: Path = typer.Option(None, "--data", help="CRM folder with the opportunity tables (default: built-in data)."),
    size: Size = typer.Option(Size.small, "--size", help="Built-in data size (without --data)."),
    seed: int = typer.Option(0, "--seed", help="Built-in data seed (without --data)."),
    model: str = typer.Option(None, "--model", help="An opportunity-win model: value at stake from its P(win), else the stage rule."),
    output: Path = typer.Option(None, "--output", help="Write every alert here (.csv or .parquet)."),
    top: int = typer.Option(15, "--top", help="Alerts to print."),
) -> None:
    """Overdue follow-ups of open opportunities as of a date, most value at stake first."""
    from rich.table import Table

    from salesml.core.sources import write_table_atomic
    from salesml.opportunities.alerts import evaluate_alerts, load_rules

    crm = _crm_world(data, size, seed)
    tables = crm.opportunity_tables()
    probabilities = None
    if model is not None:
        scorer = _load_scorer(model)
        frame = scorer.task.snapshot({**tables, "transactions": crm.transactions}, as_of=as_of)
        scored = scorer.score(frame, reasons="none")
        probabilities = scored["probability"].set_axis(frame.loc[scored.index, "opportunity_id"].to_numpy())
    found = evaluate_alerts(tables, load_rules(rules), as_of, probabilities=probabilities)
    if output is not None:
        write_table_atomic(found, output)
    out = Table(title=f"Overdue follow-ups as of {as_of}")
    for col in ("opportunity", "owner", "stage", "rule", "overdue", "at stake"):
        out.add_column(col, justify="right" if col in ("overdue", "at stake") else "left", no_wrap=True)
    for _, row in found.head(top).iterrows():
        out.add_row(str(row["opportunity_id"]), str(row["owner"]), str(row["stage"]), str(row["rule"]),
                    f"{row['overdue_hours'] / 24:.1f} d", f"{row['value_at_stake']:,.0f}")
    console.print(out)
    console.print(f"{len(found):,} alerts on {found['opportunity_id'].nunique():,} opportunities, "
                  f"{found.drop_duplicates('opportunity_id')['value_at_stake'].sum():,.0f} at stake"
                  + (f" -> {output}" if output is not None else ""))


@app.command()
def calllist(
    as_of: str = typer.Option(..., "--as-of", help="The day of the list, e.g. 2025-06-01."),
    capacity: int = typer.Option(10, "--capacity", help="Calls per owner (and for the unassigned queue)."),
    data: Path = typer.Option(None, "--data", help="CRM folder (default: built-in data)."),
    size: Size = typer.Option(Size.small, "--size", help="Built-in data size (without --data)."),
    seed: int = typer.Option(0, "--seed", help="Built-in data seed (without --data)."),
    lead_model: str = typer.Option("models:/salesml-lead-scoring@champion", "--lead-model"),
    opportunity_model: str = typer.Option("models:/salesml-opportunity-win@champion", "--opportunity-model"),
    clv_model: str = typer.Option("models:/salesml-clv@champion", "--clv-model"),
    churn_model: str = typer.Option("models:/salesml-churn@champion", "--churn-model"),
    rules: Path = typer.Option(Path("experiments/alerts.yaml"), "--rules", help="Alert rules (urgency of overdue deals)."),
    output: Path = typer.Option(None, "--output", help="Write the whole list here (.csv or .parquet)."),
) -> None:
    """Whom to call today: leads, open opportunities and at-risk customers ranked on one expected-value scale."""
    from rich.table import Table

    from salesml.core.sources import write_table_atomic
    from salesml.opportunities.alerts import load_rules
    from salesml.opportunities.calllist import build_call_list, gather_inputs

    crm = _crm_world(data, size, seed)
    tables = {**crm.tables(), **crm.opportunity_tables()}
    with console.status("Scoring leads, opportunities and customers..."):
        inputs = gather_inputs(
            tables, as_of, lead_scorer=_load_scorer(lead_model), opportunity_scorer=_load_scorer(opportunity_model),
            clv_scorer=_load_scorer(clv_model), churn_scorer=_load_scorer(churn_model), rules=load_rules(rules),
        )
    lines = build_call_list(leads=inputs["leads"], opportunities=inputs["opportunities"], customers=inputs["customers"],
                            capacity=capacity, lead_value=inputs["lead_value"])
    if output is not None:
        write_table_atomic(lines, output)
    out = Table(title=f"Call list for {as_of} (top {capacity} per owner)")
    for col in ("owner", "#", "kind", "id", "value", "action", "reason"):
        out.add_column(col, justify="right" if col in ("#", "value") else "left", no_wrap=col != "reason")
    for _, row in lines[lines["rank"] <= 3].iterrows():
        out.add_row(str(row["owner"]), str(row["rank"]), str(row["kind"]), str(row["id"]), f"{row['value']:,.0f}",
                    str(row["action"]), str(row["reason"]))
    console.print(out)
    console.print(f"{len(lines):,} calls for {lines['owner'].nunique():,} owners, {lines['value'].sum():,.0f} expected value"
                  + (f" -> {output}" if output is not None else ""))


@app.command("clean")
def clean_cmd(
    input: Path = typer.Option(..., "--input", help="Customer / contact export (CSV or Parquet)."),
    out: Path = typer.Option(..., "--out", help="Folder for the cleaned table, customer map, pairs and report."),
    settings: Path = typer.Option(None, "--settings", help="Quality YAML (sections dedupe, tags, targets)."),
    id_column: str = typer.Option(None, "--id", help="The record id column (default: dedupe.columns.id, record_id)."),
    region: str = typer.Option(None, "--region", help="Phone region when a record has no country (default CN)."),
    threshold: float = typer.Option(None, "--threshold", help="Match probability from which records are linked."),
    transactions: Path = typer.Option(None, "--transactions", help="Order history, for the order-based tags."),
    leads: Path = typer.Option(None, "--leads", help="Leads table, for the high-potential-industry tag."),
    promotions: Path = typer.Option(None, "--promotions", help="Promotion calendar (month, region, discount)."),
    scores: Path = typer.Option(None, "--scores", help="Model scores by customer (e.g. salesml segments output)."),
    as_of: str = typer.Option(None, "--as-of", help="Tag with data up to this date (default: the last order)."),
    fmt: Format = typer.Option(Format.parquet, "--format", help="File format of the output tables."),
    track: bool = typer.Option(False, "--track/--no-track", help="Log the quality report (aggregates only) to MLflow."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Validate contacts, find duplicate customers, tag and report; every record is written back with reasons.

    Exit codes: 0 published; 1 bad input or settings (nothing published).
    """
    from salesml.core.sources import read_table
    from salesml.quality.clean import clean, load_quality_settings, read_records

    _setup_logging(verbose)
    try:
        frame = read_records(input)
        cfg, _, _ = load_quality_settings(settings)
        updates: dict = {}
        if id_column:
            updates["columns"] = cfg.columns.model_copy(update={"id": id_column})
        if region:
            updates["default_region"] = region.upper()
        if threshold is not None:
            updates["threshold"] = threshold
        cfg = cfg.model_validate({**cfg.model_dump(), **{k: (v.model_dump() if hasattr(v, "model_dump") else v)
                                                          for k, v in updates.items()}})
        extra = {name: read_table(path) for name, path in
                 (("transactions", transactions), ("leads", leads), ("promotions", promotions), ("scores", scores))
                 if path is not None}
        with console.status(f"Cleaning {len(frame):,} records..."):
            result = clean(frame, settings, table=input.stem, as_of=as_of, dedupe=cfg, **extra)
            paths = result.write(out, fmt=fmt.value)
    except (ValueError, KeyError, FileNotFoundError, ImportError) as err:
        console.print(f"Cleaning failed, nothing was published: {err}", style="red", markup=False, highlight=False)
        raise typer.Exit(1) from None
    s = result.report.summary
    console.print(f"{s['rows']:,} records in, {len(result.cleaned):,} out; {s['records_with_problems']:,} with a "
                  f"contact problem; {s['duplicates']['clusters']:,} distinct customers "
                  f"(duplicate rate {s['duplicates']['duplicate_rate']:.1%})")
    for reason, n in s["reasons"].items():
        console.print(f"  {reason:<24} {n:>10,} records")
    for k in s["kpis"]:
        if k["value"] is not None:
            console.print(f"  {k['name']:<24} {k['value']:.1%} vs target {k['target']:.0%}: {k['light']}")
    console.print(f"wrote {', '.join(sorted(paths))} -> {out}")
    if track:
        from salesml.quality.kpis import log_quality_report
        from salesml.tracking.tracker import MLflowTracker

        run_id = log_quality_report(result.report, MLflowTracker("salesml-data-quality"))
        console.print(f"logged to MLflow run {run_id}")


# ------------------------------------------------------------------ trust: registry history, monitoring, retraining
def _registry(task: str, name: str | None):
    import mlflow

    from salesml.tasks import get_task
    from salesml.tracking.tracker import default_tracking_uri

    task_cls = get_task(task)
    return mlflow.MlflowClient(default_tracking_uri()), name or f"salesml-{task_cls.name}", task_cls


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}", soft_wrap=True)
    raise typer.Exit(1)


@app.command()
def promote(
    task: str = typer.Option(..., "--task", help="Task name, e.g. lead-scoring."),
    version: str = typer.Option(..., "--version", help="Registered model version to make champion."),
    reason: str = typer.Option("", "--reason", help="Why (recorded on the version)."),
    force: bool = typer.Option(False, "--force", help="Promote even if the version does not pass the publish gate."),
    tolerance: float = typer.Option(0.95, "--tolerance", help="Gate tolerance: candidate >= tolerance x champion."),
    name: str = typer.Option(None, "--name", help="Registered model name (default salesml-<task>)."),
) -> None:
    """Make a registered version the champion, through the publish gate; the old champion is kept."""
    from salesml.tracking.registry import GateRefused
    from salesml.tracking.registry import promote as do_promote

    from mlflow.exceptions import MlflowException

    client, model, task_cls = _registry(task, name)
    try:
        decision = do_promote(
            client, model, version, metric=task_cls.primary_metric, greater_is_better=task_cls.greater_is_better,
            tolerance=tolerance, force=force, reason=reason,
        )
    except (GateRefused, ValueError, MlflowException) as err:
        _fail(str(err))
    console.print(f"{model} v{version} is now champion ({decision.reason}).")


@app.command()
def rollback(
    task: str = typer.Option(..., "--task", help="Task name, e.g. lead-scoring."),
    reason: str = typer.Option("", "--reason", help="Why (recorded on the version rolled back)."),
    name: str = typer.Option(None, "--name", help="Registered model name (default salesml-<task>)."),
) -> None:
    """Undo the latest promotion: the previous champion becomes champion again."""
    from salesml.tracking.registry import rollback as do_rollback

    client, model, _ = _registry(task, name)
    try:
        event = do_rollback(client, model, reason=reason)
    except ValueError as err:
        _fail(str(err))
    console.print(f"{model}: champion rolled back from v{event['previous']} to v{event['version']}.")


@app.command()
def history(
    task: str = typer.Option(..., "--task", help="Task name, e.g. lead-scoring."),
    name: str = typer.Option(None, "--name", help="Registered model name (default salesml-<task>)."),
) -> None:
    """Every registered version's gate decision, and every change of champion."""
    from salesml.tracking.registry import champion_history

    client, model, _ = _registry(task, name)
    versions = sorted(client.search_model_versions(f"name = '{model}'"), key=lambda v: int(v.version))
    for v in versions:
        t = v.tags or {}
        console.print(f"v{v.version}: {t.get('salesml.gate.decision', '')} - {t.get('salesml.gate.reason', '')}")
    for event in champion_history(client, model):
        previous = f" (was v{event['previous']})" if event.get("previous") else ""
        console.print(f"{event['at']} {event['action']} v{event['version']}{previous} by {event['by']}: {event['reason']}")


@app.command()
def monitor(
    model: str = typer.Option(..., "--model", help="models:/salesml-lead-scoring@champion, runs:/..., or a folder."),
    current: Path = typer.Option(..., "--current", help="Recent rows (CSV/Parquet), with outcomes when they are known."),
    reference: Path = typer.Option(None, "--reference", help="Reference rows (default: the holdout profile stored in the model)."),
    kpis: Path = typer.Option(None, "--kpis", help="Period KPI table: period, kpi, value (or period + one column per KPI)."),
    settings: Path = typer.Option(None, "--settings", help="Targets, alert and retrain rules (e.g. experiments/monitoring.yaml)."),
    out: Path = typer.Option(Path("outputs/monitoring"), "--out", help="Folder for report.html and summary.json."),
    as_of: str = typer.Option(None, "--as-of", help="Monitoring date (default: latest time in --current)."),
    track: bool = typer.Option(True, "--track/--no-track", help="Log the report to MLflow as a monitoring run."),
) -> None:
    """Drift (PSI), score drift, predicted vs actual, KPI traffic lights, alerts and the retrain decision."""
    from salesml.monitoring.monitor import log_report
    from salesml.monitoring.monitor import monitor as run_monitor
    from salesml.scoring.scorer import load_model
    from salesml.core.sources import read_table

    _setup_logging(False)
    scorer = load_model(model)
    with console.status("Monitoring..."):
        report = run_monitor(
            scorer, read_table(current), reference=read_table(reference) if reference else None,
            kpis=kpis, settings=settings, as_of=as_of, model_uri=model,
        )
    paths = report.write(out)
    s = report.summary
    colour = {"green": "green", "yellow": "yellow", "red": "red"}
    console.print(f"overall: [{colour[s['overall']]}]{s['overall']}[/]")
    d = s["drift"]
    console.print(f"feature drift: {d['n_red']} red, {d['n_yellow']} yellow; score drift PSI {d['score']['psi']:.4f} ({d['score']['light']})")
    for k in s["kpis"]:
        if k["light"]:
            console.print(f"  {k['title']:<32} {k['value']:.4g} vs target {k['target']:.4g}: [{colour[k['light']]}]{k['light']}[/]")
    for a in s["active_alerts"]:
        console.print(f"[red]alert:[/red] {a['message']}")
    verdict = "recommended" if s["retrain"]["recommended"] else "not needed"
    console.print(f"retrain: {verdict}" + "".join(f"\n  - {r}" for r in s["retrain"]["reasons"]))
    console.print(f"report: {paths['html']}  summary: {paths['json']}")
    if track:
        run_id = log_report(report)
        console.print(f"logged to MLflow run {run_id}")


@app.command()
def retrain(
    config: Path = typer.Option(..., "--config", "-c", help="Experiment YAML pointing at the new data."),
    trials: int = typer.Option(None, "--trials", help="Optuna trials (overrides the YAML)."),
    if_needed: Path = typer.Option(None, "--if-needed", help="A monitoring summary.json: retrain only if it recommends it."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Train on new data and put the model through the publish gate (the champion moves only if it passes)."""
    import json

    from salesml.monitoring.retrain import retrain as do_retrain

    _setup_logging(verbose)
    reasons: list[str] = []
    if if_needed is not None:
        if not Path(if_needed).is_file():
            _fail(f"{if_needed} does not exist: run `salesml monitor ... --out` first, or drop --if-needed.")
        summary = json.loads(Path(if_needed).read_text("utf-8"))
        if not summary["retrain"]["recommended"]:
            console.print(f"retrain not needed according to {if_needed}.")
            return
        reasons = list(summary["retrain"]["reasons"])
    start = time.perf_counter()
    result = do_retrain(config, trials=trials, reasons=reasons)
    _print_result(result, time.perf_counter() - start)


if __name__ == "__main__":  # pragma: no cover
    app()
