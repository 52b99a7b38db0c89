"""The shared training flow, written once for every task, as a list of named steps.

::

    prepare: validate -> build -> split -> folds -> encode
    run:     log inputs -> tune (Optuna) -> fit (LightGBM) -> calibrate -> backtest -> learn state
             -> evaluate (holdout and the task's baselines) -> explain (SHAP) -> log model -> register

Each step is a small function with one job over a shared :class:`RunContext`;
:func:`train` is nothing but the loop over :data:`PREPARE` and :data:`RUN`.
A task's optional hooks (:mod:`salesml.core.task`) are each called from one
step: :meth:`~salesml.core.task.Task.tuning_folds` from ``tune``,
:meth:`~salesml.core.task.Task.backtest` from ``backtest``,
:meth:`~salesml.core.task.Task.fit_state` / :meth:`~salesml.core.task.Task.load_state`
from ``learn state``, :meth:`~salesml.core.task.Task.baselines` from ``evaluate``,
:meth:`~salesml.core.task.Task.data_problems` from ``register``.

Optuna scores each trial by refitting on every fold of
:meth:`~salesml.core.task.Task.tuning_folds` (by default K folds inside the
non-holdout rows, cut like the split; forecasting: rolling-origin windows before
the holdout), each fold early-stopped on a carve-out of its own training part;
without folds, on the validation slice (the early-stopping metric). For a task
with :attr:`~salesml.core.task.Task.refit` and folds, the shipped booster is
refitted on every non-holdout row with the folds' mean number of rounds, and
calibrated on the folds' out-of-fold predictions.

A task (:mod:`salesml.tasks`) supplies only what differs. The holdout is
scored through the same :class:`~salesml.scoring.scorer.Scorer` that batch jobs and
CRM integrations use, so the reported metrics are those of the shipped model.
"""

from __future__ import annotations

import json
import logging
import tempfile
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from salesml.core.boosting import DEFAULT_PARAMS, fit_booster
from salesml.core.calibration import Calibrator
from salesml.core.config import ExperimentConfig, load_config
from salesml.core.explain import mean_abs_importance, shap_explanation
from salesml.core.features import TabularEncoder
from salesml.core.linear import BLEND_WEIGHTS, LinearModel
from salesml.core.sources import load_tables
from salesml.core.split import TimeSplit
from salesml.core.task import BacktestReport, Dataset, SplitSettings
from salesml.monitoring.drift import reference_profile
from salesml.scoring.scorer import Scorer
from salesml.tasks import Task, get_task
from salesml.tracking.artifact import ModelBundle, library_versions, write_bundle
from salesml.tracking.registry import GateDecision
from salesml.tracking.tracker import MLflowTracker, Tracker
from salesml.trust.privacy import report as privacy_report

logger = logging.getLogger(__name__)

__all__ = ["train", "TrainResult", "RunContext", "PREPARE", "RUN"]


@dataclass
class TrainResult:
    """What a training run produced."""

    task: Task
    scorer: Scorer
    metrics: dict[str, float]
    split: TimeSplit
    holdout: pd.DataFrame
    params: dict[str, Any]
    importance: pd.DataFrame
    study: Any = None
    run_id: str | None = None
    model_uri: str | None = None
    version: str | None = None
    decision: GateDecision | None = None
    not_registered_because: list[str] = field(default_factory=list)
    backtest: BacktestReport | None = None

    def save(self, directory: str | Path) -> Path:
        """Write the model bundle to a local folder (e.g. ``models/lead-scoring``)."""
        return write_bundle(self.scorer.bundle, directory)


@dataclass
class RunContext:
    """What the steps share: the settings they start from and what each step adds for the next ones."""

    cfg: ExperimentConfig
    task: Task
    tables: Mapping[str, pd.DataFrame] | None
    tracker: Tracker
    register: bool
    callbacks: list[Callable] | None = None
    # prepare
    dataset: Dataset | None = None
    split: TimeSplit | None = None
    encoder: TabularEncoder | None = None
    X: pd.DataFrame | None = None
    folds: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    # run
    run_id: str | None = None
    #: what the model was trained under: the data contract (columns and kinds) and the config (see _fingerprint)
    fingerprint: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    study: Any = None
    booster: Any = None
    #: out-of-fold raw scores (NaN for rows no fold scored) and the refit's rounds, when the booster is refitted
    oof_raw: np.ndarray | None = None
    rounds: int | None = None
    #: the logistic regression blended with the booster, when the folds chose a blend (binary tasks)
    linear: LinearModel | None = None
    calibrator: Calibrator | None = None
    backtest: BacktestReport | None = None
    bundle: ModelBundle | None = None
    scorer: Scorer | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    test_frame: pd.DataFrame | None = None
    y_test: np.ndarray | None = None
    pred: np.ndarray | None = None
    output: pd.DataFrame | None = None
    importance: pd.DataFrame | None = None
    result: TrainResult | None = None
    _fold_inputs: list[tuple] | None = field(default=None, repr=False)

    def rows(self, mask: np.ndarray) -> pd.DataFrame:
        """The dataset's rows under ``mask`` (input columns, not encoded)."""
        return _rows(self.dataset.frame, mask)

    def fold_inputs(self) -> list[tuple]:
        """Each fold's encoder and encoded rows, made once and shared by every trial and the refit's fold models."""
        if self._fold_inputs is None:
            self._fold_inputs = [_prepare_fold(self.task, self.dataset, *fold) for fold in self.folds]
        return self._fold_inputs

    @property
    def refits(self) -> bool:
        """Whether the shipped booster is refitted on every non-holdout row (the task refits and has folds)."""
        return bool(self.task.refit and self.folds)

    @property
    def fit_rows(self) -> np.ndarray:
        """The rows the shipped model learns from: every non-holdout row when refitting, else the training rows."""
        return (self.split.train | self.split.valid) if self.refits else self.split.train


def _rows(frame: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
    return frame.iloc[np.flatnonzero(mask)]


def train(
    config: ExperimentConfig | str | Path | Mapping[str, Any],
    *,
    tables: Mapping[str, pd.DataFrame] | None = None,
    tracker: Tracker | None = None,
    trials: int | None = None,
    register: bool | None = None,
    callbacks: list[Callable] | None = None,
) -> TrainResult:
    """Train, evaluate, explain, log and (optionally) register one task's model.

    Parameters
    ----------
    config : an :class:`ExperimentConfig`, a path to an experiment YAML, or a dict.
    tables : input tables by name; default: as the config's ``data`` section says.
    tracker : where runs go; default :class:`MLflowTracker` on the task's experiment.
        Pass :class:`NullTracker` to log nothing.
    trials : overrides ``tuning.trials`` (0 = no tuning, whatever ``tuning.timeout`` says).
    register : overrides ``tracking.publish``.
    callbacks : Optuna callbacks (progress bars).
    """
    cfg = load_config(dict(config) if isinstance(config, Mapping) else config)
    if trials is not None:  # 0 means no tuning, even where the YAML sets a time budget
        update = {"trials": trials, **({"timeout": None} if trials == 0 else {})}
        cfg = cfg.model_copy(update={"tuning": cfg.tuning.model_copy(update=update)})
    task = get_task(cfg.task)(columns=cfg.columns, params=cfg.params)
    ctx = RunContext(
        cfg, task, tables, tracker, cfg.tracking.publish if register is None else register, callbacks
    )
    for step in PREPARE:
        step(ctx)
    with ctx.tracker.run(task.name, tags={"salesml.task": task.name}) as run_id:
        ctx.run_id = run_id
        for step in RUN:
            step(ctx)
    return ctx.result


# ---------------------------------------------------------------------------------------------- prepare
def validate(ctx: RunContext) -> None:
    """Load the tables when none were given and check them against the task's contract."""
    if ctx.tables is None:
        ctx.tables = load_tables(ctx.cfg.data, ctx.task)
    ctx.task.validate(ctx.tables)


def build(ctx: RunContext) -> None:
    """Features and target as of each row's point in time."""
    ctx.dataset = ctx.task.build_dataset(ctx.tables)


def split(ctx: RunContext) -> None:
    """Train, validation and holdout rows, ordered in time."""
    ctx.split = ctx.task.split(ctx.dataset, SplitSettings(**ctx.cfg.split.model_dump(), random_state=ctx.cfg.random_state))


def folds(ctx: RunContext) -> None:
    """The task's folds inside the non-holdout rows (:meth:`Task.tuning_folds`), for tuning and the refit."""
    ctx.folds = list(ctx.task.tuning_folds(ctx.dataset, ctx.split))


def encode(ctx: RunContext) -> None:
    """The encoder learnt on the shipped model's rows only (never the holdout), applied to every row; the default
    tracker."""
    ctx.encoder = ctx.task.make_encoder().fit(ctx.rows(ctx.fit_rows))
    ctx.X = ctx.encoder.transform(ctx.dataset.frame)
    if ctx.tracker is None:
        ctx.tracker = MLflowTracker(ctx.cfg.tracking.experiment or ctx.task.registered_name)


# ---------------------------------------------------------------------------------------------- run
def log_inputs(ctx: RunContext) -> None:
    """The run's settings and the personal-data report (column names and reasons only)."""
    ctx.fingerprint = _fingerprint(ctx.cfg, ctx.task, ctx.encoder)
    ctx.tracker.set_tags({"salesml.fingerprint": ctx.fingerprint})
    ctx.tracker.log_params(_run_params(ctx.cfg, ctx.task, ctx.split, ctx.encoder))
    ctx.tracker.log_dict(privacy_report(ctx.encoder), "privacy/personal_data.json")


def tune(ctx: RunContext) -> None:
    """The configured hyperparameters, improved by an Optuna study when tuning is asked for."""
    cfg = ctx.cfg
    ctx.params = dict(cfg.model)
    if not (cfg.tuning.trials > 0 or cfg.tuning.timeout):
        return
    from optuna.trial import FixedTrial

    from salesml.core.plots import tuning_history_plot
    from salesml.core.tuning import get_search_space, study_summary

    # a stored study resumes only when named: by default each run starts its own (named by contract, config, run)
    name = cfg.tuning.study_name or (
        f"{ctx.task.registered_name}-{ctx.fingerprint}-{(ctx.run_id or uuid.uuid4().hex)[:8]}" if cfg.tuning.storage else None
    )
    study = _tune(cfg, ctx.task, ctx.X, ctx.dataset, ctx.split, ctx.encoder, ctx.tracker, ctx.callbacks, ctx.folds, name,
                  ctx.fold_inputs() if ctx.folds else None)
    space = get_search_space(cfg.tuning.search_space or ctx.task.default_search_space)
    ctx.params.update(space(FixedTrial(study.best_params)))
    ctx.tracker.log_params({f"best.{k}": v for k, v in ctx.params.items()})
    ctx.tracker.log_metrics(study_summary(study))
    ctx.tracker.log_figure(
        tuning_history_plot(
            [t.value if t.value is not None else np.nan for t in study.trials],
            study.direction.name == "MAXIMIZE",
            study.user_attrs["objective"],
        ),
        "plots/tuning_history.png",
    )
    ctx.study = study


def fit(ctx: RunContext) -> None:
    """LightGBM early-stopped on the validation rows; or, when refitting, one model per fold (early-stopped on the
    fold's carve-out, scored on its held-out rows) and then one on every non-holdout row with their mean rounds."""
    task, seed = ctx.task, ctx.cfg.random_state
    if not ctx.refits:
        ctx.booster = _fit(task, ctx.X, ctx.dataset, ctx.split, ctx.encoder, ctx.params, seed)
        return
    binary = task.objective == "binary"
    oof = np.full(len(ctx.dataset.target), np.nan)
    linear_oof = np.full(len(ctx.dataset.target), np.nan)
    rounds = []
    for (fit_rows, stop_rows, score_rows), prepared in zip(ctx.folds, ctx.fold_inputs()):
        booster, _, score_raw, linear_raw = _fold_model(
            task, ctx.dataset, ctx.params, seed, fit_rows, stop_rows, score_rows, linear=binary, prepared=prepared
        )
        oof[score_rows] = score_raw
        if linear_raw is not None:
            linear_oof[score_rows] = linear_raw
        rounds.append(max(1, int(booster.best_iteration or booster.current_iteration())))
    ctx.oof_raw, ctx.rounds = oof, max(1, int(round(float(np.mean(rounds)))))
    pool = ctx.fit_rows
    ctx.booster = fit_booster(
        _rows(ctx.X, pool), ctx.dataset.target[pool], None, None,
        objective=task.objective, metric=task.eval_metric, params=ctx.params,
        categorical=ctx.encoder.categorical_features_, random_state=seed, num_boost_round=ctx.rounds,
    )
    if binary:
        weight = _blend_weight(ctx, oof, linear_oof)
        if weight < 1.0:
            ctx.linear = LinearModel.fit(
                _rows(ctx.X, pool), ctx.dataset.target[pool], ctx.encoder.categorical_features_, random_state=seed
            )
            ctx.linear.weight = weight
            ctx.oof_raw = weight * oof + (1.0 - weight) * linear_oof


def _blend_weight(ctx: RunContext, tree_oof: np.ndarray, linear_oof: np.ndarray) -> float:
    """The booster's weight in the blend with the logistic regression: the best out-of-fold score of
    :data:`~salesml.core.linear.BLEND_WEIGHTS` (ties, and gains under 0.001, go to the larger weight)."""
    task = ctx.task
    scored = ~(np.isnan(tree_oof) | np.isnan(linear_oof))
    if scored.sum() < 20:
        return 1.0
    y, frame = ctx.dataset.target[scored], ctx.rows(scored)
    best_w, best = 1.0, None
    for w in BLEND_WEIGHTS:
        raw = w * tree_oof[scored] + (1.0 - w) * linear_oof[scored]
        pred = Calibrator.fit(raw, y, method=task.calibration).transform(raw)
        score = float(task.tuning_score(y, pred, frame))
        if best is None or (score - best if task.greater_is_better else best - score) > 1e-3:
            best_w, best = w, score
    return best_w


def calibrate(ctx: RunContext) -> None:
    """Calibration learnt on raw scores the model did not train on (the folds' out-of-fold scores when refitting,
    else the validation rows'); the model bundle and its scorer."""
    if ctx.refits:
        scored = ~np.isnan(ctx.oof_raw)
        ctx.calibrator = Calibrator.fit(ctx.oof_raw[scored], ctx.dataset.target[scored], method=ctx.task.calibration)
    else:
        valid_raw = ctx.booster.predict(_rows(ctx.X, ctx.split.valid).to_numpy(np.float64), raw_score=True)
        ctx.calibrator = Calibrator.fit(valid_raw, ctx.dataset.target[ctx.split.valid], method=ctx.task.calibration)
    ctx.bundle = ModelBundle(
        boosters={"model": ctx.booster},
        metadata={
            **ctx.task.to_metadata(),
            "encoder": ctx.encoder.to_dict(),
            "calibration": ctx.calibrator.to_dict(),
            "feature_names": ctx.encoder.feature_names_,
            "lightgbm_params": {**DEFAULT_PARAMS, **ctx.params},
            "random_state": ctx.cfg.random_state,
            "trained_through": _trained_through(ctx.dataset.time, ctx.split.train | ctx.split.valid),
            **({"refit": {"rounds": ctx.rounds, "folds": len(ctx.folds), "rows": int(ctx.fit_rows.sum())}}
               if ctx.refits else {}),
            **({"linear": ctx.linear.to_dict()} if ctx.linear is not None else {}),
            "versions": dict(library_versions()),
        },
    )
    ctx.scorer = Scorer(ctx.bundle)


def backtest(ctx: RunContext) -> None:
    """The task's extra evaluation (forecasting: rolling-origin windows), refitted with the same settings."""
    refit = _refitter(ctx.task, ctx.dataset, ctx.params, ctx.cfg.random_state)
    ctx.backtest = ctx.task.backtest(ctx.tables, ctx.dataset, refit)


def learn_state(ctx: RunContext) -> None:
    """The task's JSON state (:meth:`Task.fit_state`), normalised through JSON, restored and logged.

    Going through JSON here means the trained task and any loaded copy of the
    model see exactly the same state (both get it from :meth:`Task.load_state`).
    It is stored as ``metadata["task_state"]``; scalar entries are logged as
    params ``state.<key>``, the whole state as ``task_state.json``.
    """
    task = ctx.task
    raw = task.fit_state(ctx.dataset, ctx.split, ctx.scorer.predict_model, backtest=ctx.backtest)
    state = json.loads(json.dumps(raw))
    task.load_state(state)
    if state:
        ctx.bundle.metadata["task_state"] = state
        ctx.scorer = Scorer(ctx.bundle)
        ctx.tracker.log_params({f"state.{k}": v for k, v in state.items() if isinstance(v, (str, int, float, bool))})
        ctx.tracker.log_dict(state, "task_state.json")


def evaluate(ctx: RunContext) -> None:
    """Holdout and validation metrics of the shipped scorer, the task's baselines beside them, and the plots."""
    task, sp, tracker = ctx.task, ctx.split, ctx.tracker
    ctx.test_frame = test_frame = ctx.rows(sp.test)
    ctx.y_test = y_test = ctx.dataset.target[sp.test]
    ctx.pred = pred = ctx.scorer.predict(test_frame)
    ctx.bundle.metadata["monitoring_reference"] = reference_profile(ctx.encoder, test_frame, pred)  # aggregates only
    ctx.output = output = task.postprocess(pred, test_frame)
    metrics = {f"test.{k}": v for k, v in task.evaluate(y_test, pred, output).items()}
    if ctx.refits:  # the shipped model trained on the validation rows: report the folds' out-of-fold figure
        scored = ~np.isnan(ctx.oof_raw)
        valid_frame, valid_y = ctx.rows(scored), ctx.dataset.target[scored]
        valid_pred = task.predict(valid_frame, ctx.calibrator.transform(ctx.oof_raw[scored]))
        metrics["cv.folds"], metrics["model.rounds"] = float(len(ctx.folds)), float(ctx.rounds)
        metrics["model.booster_weight"] = ctx.linear.weight if ctx.linear is not None else 1.0
    else:
        valid_frame, valid_y = ctx.rows(sp.valid), ctx.dataset.target[sp.valid]
        valid_pred = ctx.scorer.predict(valid_frame)
    valid_out = task.postprocess(valid_pred, valid_frame)
    metrics[f"valid.{task.primary_metric}"] = task.evaluate(valid_y, valid_pred, valid_out)[task.primary_metric]
    base_preds = task.baselines(ctx.dataset, sp, ctx.scorer.predict_model)
    for name, base_pred in base_preds.items():
        base_out = task.postprocess(base_pred, test_frame)
        metrics.update({f"baseline.{name}.{k}": v for k, v in task.evaluate(y_test, base_pred, base_out).items()})
    metrics["model.n_trees"] = float(ctx.booster.num_trees())
    if ctx.backtest is not None:
        metrics.update(ctx.backtest.metrics)
    ctx.bundle.metadata["metrics"] = ctx.metrics = metrics
    tracker.log_metrics(metrics)
    if ctx.backtest is not None:
        for path, table in ctx.backtest.tables.items():
            tracker.log_table(table, path)
        for path, figure in ctx.backtest.figures.items():
            tracker.log_figure(figure, path)
    for path, figure in task.figures(y_test, pred, output).items():
        tracker.log_figure(figure, path)
    if base_preds:
        for path, figure in task.comparison_figures(y_test, {"model": pred, **base_preds}).items():
            tracker.log_figure(figure, path)


def explain(ctx: RunContext) -> None:
    """SHAP values of the booster on a sample of the holdout: the summary plot and the importance table."""
    ctx.importance = _explain(
        ctx.booster, _rows(ctx.X, ctx.split.test), ctx.encoder, ctx.tracker, ctx.cfg.tracking.shap_rows,
        ctx.cfg.random_state,
    )


def log_model(ctx: RunContext) -> None:
    """The result, and the bundle logged to the tracker with a made-up input example."""
    task = ctx.task
    key = ctx.test_frame[[task.columns.id]] if task.columns.id in ctx.test_frame.columns else None
    holdout = pd.concat([key, ctx.output, pd.Series(ctx.y_test, index=ctx.output.index, name="actual")], axis=1)
    result = TrainResult(
        task, ctx.scorer, ctx.metrics, ctx.split, holdout, ctx.params, ctx.importance, ctx.study, ctx.run_id
    )
    result.backtest = ctx.backtest
    with tempfile.TemporaryDirectory(prefix="salesml-bundle-") as tmp:
        bundle_dir = write_bundle(ctx.bundle, Path(tmp) / "bundle")
        example = _input_example(ctx.encoder, task)
        result.model_uri = ctx.tracker.log_model(
            bundle_dir, input_example=example, output_example=ctx.scorer.score(example)
        )
    ctx.result = result


def register(ctx: RunContext) -> None:
    """Register behind the publish gate, unless the data is too thin (the reasons go in the run's tags)."""
    task, tracker, result, cfg = ctx.task, ctx.tracker, ctx.result, ctx.cfg
    test_frame, y_test = ctx.test_frame, ctx.y_test
    problems = task.data_problems(ctx.dataset.target[ctx.split.train], y_test)
    if problems:
        result.not_registered_because = problems
        tracker.set_tags({"salesml.registered": "no", "salesml.not_registered_because": "; ".join(problems)})
        logger.warning("model not registered: %s", "; ".join(problems))
        return
    if not (ctx.register and result.model_uri and isinstance(tracker, MLflowTracker)):
        return
    from salesml.tracking.registry import publish

    def rescore(uri: str) -> float:
        from salesml.scoring.scorer import load_model

        champion = load_model(uri, tracking_uri=tracker.tracking_uri)
        p = champion.predict(test_frame)
        return champion.task.evaluate(y_test, p, champion.task.postprocess(p, test_frame))[task.primary_metric]

    result.version, result.decision = publish(
        tracker.client,
        name=cfg.tracking.registered_name or task.registered_name,
        model_uri=result.model_uri,
        run_id=ctx.run_id,
        metric=task.primary_metric,
        candidate=ctx.metrics[f"test.{task.primary_metric}"],
        greater_is_better=task.greater_is_better,
        tolerance=cfg.tracking.gate_tolerance,
        rescore_champion=rescore,
        fingerprint=ctx.fingerprint,
    )
    tracker.set_tags({"salesml.registered_version": result.version, "salesml.promoted": str(result.decision.promoted)})


#: The steps before the tracked run starts, in order.
PREPARE: tuple[Callable[[RunContext], None], ...] = (validate, build, split, folds, encode)
#: The steps inside the tracked run, in order.
RUN: tuple[Callable[[RunContext], None], ...] = (
    log_inputs, tune, fit, calibrate, backtest, learn_state, evaluate, explain, log_model, register
)


# ---------------------------------------------------------------------------------------------- helpers
def _fingerprint(cfg: ExperimentConfig, task: Task, encoder: TabularEncoder) -> str:
    """12 hex digits identifying the data contract (input columns and how each is read) and the config."""
    import hashlib

    contract = {
        "task": task.name,
        "columns": [[p.name, p.kind] for p in encoder.columns_],
        "split": cfg.split.model_dump(),
        "model": dict(cfg.model),
        "search_space": cfg.tuning.search_space or task.default_search_space,
        "params": task.params.model_dump(exclude={"reason_templates"}),
        "random_state": cfg.random_state,
    }
    return hashlib.sha256(json.dumps(contract, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _run_params(cfg: ExperimentConfig, task: Task, split: TimeSplit, encoder: TabularEncoder) -> dict[str, Any]:
    kinds: dict[str, int] = {}
    for plan in encoder.columns_:
        kinds[plan.kind] = kinds.get(plan.kind, 0) + 1
    return {
        "task": task.name,
        "random_state": cfg.random_state,
        "data.source": "builtin" if cfg.data.builtin else "tables",
        **({"data.size": cfg.data.n_leads or cfg.data.size, "data.seed": cfg.data.seed} if cfg.data.builtin else {}),
        **split.describe(),
        "features.n": len(encoder.feature_names_),
        **{f"features.columns.{k}": v for k, v in sorted(kinds.items())},
        "features.dropped": sorted(encoder.dropped_),
        "tuning.trials": cfg.tuning.trials,
        "tuning.search_space": cfg.tuning.search_space or task.default_search_space,
        "calibration": task.calibration,
        **{f"params.{k}": v for k, v in task.params.model_dump(exclude={"reason_templates"}).items()},
    }


def _fit(task: Task, X: pd.DataFrame, ds: Dataset, split: TimeSplit, encoder: TabularEncoder, params: Mapping[str, Any], seed: int, callbacks=()):
    return fit_booster(
        _rows(X, split.train),
        ds.target[split.train],
        _rows(X, split.valid),
        ds.target[split.valid],
        objective=task.objective,
        metric=task.eval_metric,
        params=params,
        categorical=encoder.categorical_features_,
        random_state=seed,
        callbacks=callbacks,
    )


def _refitter(task: Task, dataset: Dataset, params: Mapping[str, Any], seed: int):
    """The flow's fit on other rows, for :meth:`Task.backtest` (a fresh encoder, booster and calibration).

    ``fit_predict(train, valid, rows, prepared=None)``; ``prepared`` is the fold's :func:`_prepare_fold`, when made.
    """

    def fit_predict(train: np.ndarray, valid: np.ndarray, rows: np.ndarray, prepared=None) -> tuple[np.ndarray, np.ndarray]:
        _, valid_raw, rows_raw, _ = _fold_model(task, dataset, params, seed, train, valid, rows, prepared=prepared)
        calibrator = Calibrator.fit(valid_raw, dataset.target[valid], method=task.calibration)
        return calibrator.transform(valid_raw), calibrator.transform(rows_raw)

    return fit_predict


def _prepare_fold(task: Task, dataset: Dataset, train, valid, rows) -> tuple:
    """A fresh encoder learnt on ``train`` rows, the fold's rows encoded, and its split and dataset."""
    encoder = task.make_encoder().fit(_rows(dataset.frame, train))
    used = train | valid | rows
    X = encoder.transform(_rows(dataset.frame, used))
    split = TimeSplit(train[used], valid[used], rows[used], pd.NaT, pd.NaT)
    sub = Dataset(X, dataset.target[used], dataset.time[used], dataset.key[used])
    return encoder, X, split, sub


def _fold_model(
    task: Task, dataset: Dataset, params: Mapping[str, Any], seed: int, train, valid, rows, linear=False, prepared=None
):
    """A fresh encoder and booster on ``train`` rows, early-stopped on ``valid``; raw scores of ``valid`` and ``rows``
    (and, with ``linear``, a :class:`LinearModel` on ``train | valid`` and its raw scores of ``rows``, else None)."""
    encoder, X, split, sub = prepared if prepared is not None else _prepare_fold(task, dataset, train, valid, rows)
    booster = _fit(task, X, sub, split, encoder, params, seed)
    valid_raw = booster.predict(_rows(X, split.valid).to_numpy(np.float64), raw_score=True)
    rows_raw = booster.predict(_rows(X, split.test).to_numpy(np.float64), raw_score=True)
    linear_raw = None
    if linear:
        seen = split.train | split.valid
        lm = LinearModel.fit(_rows(X, seen), sub.target[seen], encoder.categorical_features_, random_state=seed)
        linear_raw = lm.raw(_rows(X, split.test))
    return booster, valid_raw, rows_raw, linear_raw


def _trained_through(time: pd.Series, mask: np.ndarray) -> str | None:
    """The latest time the model learnt from (``None`` for rows without times)."""
    latest = pd.to_datetime(pd.Series(time)[mask]).max() if time is not None else pd.NaT
    return None if pd.isna(latest) else str(latest)


#: LightGBM metrics where higher is better; trials report the early-stopping metric, so the
#: study's direction follows it (not the task's primary metric, which may point the other way).
_HIGHER_IS_BETTER = frozenset({"auc", "average_precision", "ndcg", "map", "auc_mu"})


def _maximize(lightgbm_metric: str) -> bool:
    return lightgbm_metric in _HIGHER_IS_BETTER


def _tune(cfg, task, X, dataset, split, encoder, tracker, callbacks, folds, study_name=None, prepared=None):
    """Optuna over the search space: on the task's tuning folds when it has any, else on the validation slice."""
    from salesml.core.tuning import get_search_space, run_study

    pruner = None
    if folds:
        objective, direction = _fold_objective(cfg, task, dataset, folds, tracker, prepared), task.greater_is_better
        label = f"mean {task.primary_metric} over {len(folds)} {task.folds_name}"
        tracker.log_params({"tuning.objective": label, "tuning.folds": len(folds)})
        if task.refit:  # cross-validation folds: prune a trial whose running mean trails the median after a fold
            import optuna

            pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    else:
        from optuna_integration.lightgbm import LightGBMPruningCallback

        def objective(trial, params):
            booster = _fit(
                task, X, dataset, split, encoder, {**cfg.model, **params}, cfg.random_state,
                callbacks=[LightGBMPruningCallback(trial, task.eval_metric, valid_name="valid")],
            )
            return float(booster.best_score["valid"][task.eval_metric])

        direction, label = _maximize(task.eval_metric), f"validation {task.eval_metric}"
        tracker.log_params({"tuning.objective": label})

    study = run_study(
        objective,
        space=get_search_space(cfg.tuning.search_space or task.default_search_space),
        direction="maximize" if direction else "minimize",
        n_trials=cfg.tuning.trials or None,
        timeout=cfg.tuning.timeout,
        random_state=cfg.random_state,
        storage=cfg.tuning.storage,
        study_name=study_name,
        tracker=tracker,
        callbacks=callbacks,
        pruner=pruner,
    )
    study.set_user_attr("objective", label)
    return study


def _fold_objective(cfg, task: Task, dataset: Dataset, folds, tracker: Tracker | None = None, prepared=None):
    """Each trial refits on every fold (a fresh encoder, booster and calibration) and scores its rows.

    The trial's value is the mean of the folds' :meth:`Task.tuning_score`; each
    fold's value is kept as the trial's ``fold_scores`` attribute and logged as
    the trial run's metric ``fold.<i>.<primary metric>``. The running mean is
    reported after each fold, so the study's pruner may stop a poor trial early.
    """
    import optuna

    def objective(trial, params):
        fit_predict = _refitter(task, dataset, {**cfg.model, **params}, cfg.random_state)
        scores = []
        for i, (train_rows, valid_rows, rows) in enumerate(folds):
            _, pred = fit_predict(train_rows, valid_rows, rows, prepared=None if prepared is None else prepared[i])
            scores.append(float(task.tuning_score(dataset.target[rows], pred, _rows(dataset.frame, rows))))
            if tracker is not None:
                tracker.log_metrics({f"fold.{i}.{task.primary_metric}": scores[-1]})
            trial.set_user_attr("fold_scores", scores)
            trial.report(float(np.mean(scores)), i)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return float(np.mean(scores))

    return objective


def _explain(booster, X_test: pd.DataFrame, encoder: TabularEncoder, tracker: Tracker, rows: int, seed: int) -> pd.DataFrame:
    from salesml.core.plots import shap_summary_plot

    sample = X_test if len(X_test) <= rows else X_test.sample(rows, random_state=seed)
    explanation = shap_explanation(booster, sample, encoder.feature_names_)
    importance = mean_abs_importance(np.asarray(explanation.values), encoder.feature_names_)
    tracker.log_figure(shap_summary_plot(explanation), "plots/shap_summary.png")
    tracker.log_table(importance, "explain/shap_importance.csv")
    return importance


def _input_example(encoder: TabularEncoder, task: Task) -> pd.DataFrame:
    """A made-up row in the input schema: no real customer's values."""
    row = {task.columns.id: "example-0001", **encoder.example_row()}
    return pd.DataFrame([row])
