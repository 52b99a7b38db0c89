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
    from salesml.config import load_config
    from salesml.flow import train

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
    input: Path = typer.Option(..., "--input", help="CSV or Parquet file to score."),
    output: Path = typer.Option(..., "--output", help="Where to write the scores (.csv or .parquet)."),
    reasons: ReasonsMode = typer.Option(ReasonsMode.top, "--reasons", help="top: 3 up / 3 down reasons per row; none."),
) -> None:
    """Score a file with a registered model; the output is written atomically."""
    from salesml.scoring import load_model
    from salesml.sources import read_table, write_table_atomic

    scorer = load_model(model)
    frame = read_table(input)
    with console.status(f"Scoring {len(frame):,} rows..."):
        scored = scorer.score(frame, reasons=reasons.value)
    write_table_atomic(scored, output)
    console.print(f"scored {len(scored):,} of {len(frame):,} rows -> {output}")


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
    from salesml.sources import read_table, write_table_atomic
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
    from salesml.scoring import load_model

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
    from salesml.segments import log_segments, score_segments
    from salesml.sources import read_table, write_table_atomic

    frame = read_table(input)
    clv, churn = _load_scorer(clv_model), _load_scorer(churn_model)
    with console.status(f"Scoring {len(frame):,} customers with both models..."):
        seg = score_segments(clv, churn, frame, value_cut=value_cut, value_quantile=value_quantile, risk_cut=risk_cut)
    write_table_atomic(seg.customers, output)
    _print_segments(seg.table, seg.metrics)
    if track:
        from salesml.tracking import MLflowTracker

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
    console.print(f"\nDemo finished in {time.perf_counter() - start:.0f}s. Tracking store: {report.tracking_uri}")
    console.print(f"See runs, plots and registered models with:\n  mlflow ui --backend-store-uri {report.tracking_uri}")


if __name__ == "__main__":  # pragma: no cover
    app()
