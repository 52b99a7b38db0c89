"""Hyperparameter search with Optuna, the same for every task.

* Search spaces are plain functions ``trial -> dict`` registered by name with
  :func:`search_space`; the experiment YAML names one (``tuning.search_space``).
* Studies use a seeded TPE sampler and a median pruner fed by LightGBM's
  validation metric, stop at a trial and/or time budget, and can live in a
  shared storage (an SQLAlchemy URL such as ``sqlite:///study.db``, or a
  journal file ``*.journal``) so they resume and run in several processes.
* Each trial is a nested tracker run under the study's parent run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import optuna

from salesml.tracking.tracker import NullTracker, Tracker

logger = logging.getLogger(__name__)

__all__ = ["SEARCH_SPACES", "search_space", "get_search_space", "make_storage", "run_study"]

SearchSpace = Callable[[optuna.Trial], dict[str, Any]]
SEARCH_SPACES: dict[str, SearchSpace] = {}


def search_space(name: str) -> Callable[[SearchSpace], SearchSpace]:
    """Register a search space under ``name``."""

    def register(fn: SearchSpace) -> SearchSpace:
        SEARCH_SPACES[name] = fn
        return fn

    return register


def get_search_space(name: str) -> SearchSpace:
    try:
        return SEARCH_SPACES[name]
    except KeyError:
        raise ValueError(
            f"Unknown search space {name!r}. Known: {', '.join(sorted(SEARCH_SPACES))}. "
            "Register your own with @salesml.core.tuning.search_space('name')."
        ) from None


@search_space("lightgbm")
def lightgbm_space(trial: optuna.Trial) -> dict[str, Any]:
    """The default LightGBM space: tree size, learning rate, sampling and regularisation."""
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 7, 127, log=True),
        "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 10, 300, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.5, 1.0),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 30.0, log=True),
        "cat_smooth": trial.suggest_float("cat_smooth", 1.0, 50.0, log=True),
    }


@search_space("lightgbm-small")
def lightgbm_small_space(trial: optuna.Trial) -> dict[str, Any]:
    """A narrow space for quick demos and tests."""
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.03, 0.15, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 7, 31, log=True),
        "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 20, 200, log=True),
    }


def make_storage(url: str | None) -> optuna.storages.BaseStorage | None:
    """An Optuna storage from a URL: ``*.journal`` files use the journal backend."""
    if not url:
        return None
    if url.endswith(".journal") or url.startswith("journal:"):
        path = url.removeprefix("journal:")
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(path))
    return optuna.storages.RDBStorage(url)


def run_study(
    objective: Callable[[optuna.Trial, dict[str, Any]], float],
    *,
    space: SearchSpace,
    direction: str,
    n_trials: int | None,
    timeout: float | None = None,
    random_state: int = 0,
    storage: str | None = None,
    study_name: str | None = None,
    tracker: Tracker | None = None,
    callbacks: list[Callable[[optuna.Study, optuna.trial.FrozenTrial], None]] | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
) -> optuna.Study:
    """Run (or resume) a study; each trial gets ``space(trial)`` and reports one value.

    With a storage, trials already in the study are kept and the sampler seed is
    shifted by their count so a resumed or parallel worker explores new points
    while staying reproducible.
    """
    if n_trials is not None and n_trials < 1:
        raise ValueError(f"n_trials must be a positive int. Got {n_trials} instead.")
    if n_trials is None and timeout is None:
        raise ValueError("Give the study a budget: n_trials, timeout (seconds), or both.")
    tracker = tracker or NullTracker()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    store = _retry(lambda: make_storage(storage))
    existing = 0
    if store is not None and study_name:
        try:
            existing = len(optuna.load_study(study_name=study_name, storage=store).trials)
        except KeyError:
            existing = 0
    study = _retry(lambda: optuna.create_study(
        study_name=study_name,
        storage=store,
        direction=direction,
        sampler=optuna.samplers.TPESampler(
            seed=random_state + existing, n_startup_trials=max(3, min(10, (n_trials or 30) // 3))
        ),
        pruner=pruner or optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=20, interval_steps=10),
        load_if_exists=True,
    ))

    def tracked(trial: optuna.Trial) -> float:
        params = space(trial)
        pruned = False
        with tracker.run(f"trial-{trial.number:03d}", nested=True, tags={"salesml.trial": str(trial.number)}):
            tracker.log_params(params)
            try:
                value = objective(trial, params)
            except optuna.TrialPruned:
                pruned = True
                tracker.set_tags({"salesml.trial_state": "pruned"})
            else:
                tracker.log_metrics({"objective": value})
                tracker.set_tags({"salesml.trial_state": "complete"})
        if pruned:
            raise optuna.TrialPruned()
        return value

    study.optimize(tracked, n_trials=n_trials, timeout=timeout, callbacks=callbacks or [], gc_after_trial=False)
    return study


def _retry(fn: Callable[[], Any], attempts: int = 8) -> Any:
    """Run ``fn``, retrying: workers starting together on a new storage race to create its tables and the study."""
    import time

    for attempt in range(attempts):
        try:
            return fn()
        except Exception as err:  # "table already exists", DuplicatedStudyError, a locked database
            if attempt == attempts - 1:
                raise
            logger.info("storage set-up raced with another worker (%s); retrying", type(err).__name__)
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def study_summary(study: optuna.Study) -> Mapping[str, float]:
    states = [t.state for t in study.trials]
    return {
        "tuning.n_trials": float(len(states)),
        "tuning.n_complete": float(sum(s == optuna.trial.TrialState.COMPLETE for s in states)),
        "tuning.n_pruned": float(sum(s == optuna.trial.TrialState.PRUNED for s in states)),
        "tuning.best_value": float(study.best_value),
    }
