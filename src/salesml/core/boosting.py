"""Fitting LightGBM the same way for every task.

Deterministic by construction: a fixed seed, ``deterministic=True`` and
row-wise histograms, so the same data and seed give a byte-identical model.
The booster is trained on a numeric matrix whose column names are safe for
LightGBM's text format; the readable names live in the encoder.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["DEFAULT_PARAMS", "fit_booster", "safe_feature_names", "num_threads"]

DEFAULT_PARAMS: dict[str, Any] = {
    "learning_rate": 0.03,
    "num_leaves": 15,
    "min_data_in_leaf": 50,
    "feature_fraction": 0.9,
    "bagging_fraction": 0.9,
    "bagging_freq": 1,
    "lambda_l2": 5.0,
    "max_cat_to_onehot": 8,
    "cat_smooth": 10.0,
}


#: Below this many training rows, with ``OMP_WAIT_POLICY=PASSIVE``, one thread trains faster than
#: several: sleeping OpenMP workers are woken for every histogram pass and cost more than they save
#: (measured on 2 cores, 300 rounds: 5k rows 0.43 s vs 2.37 s, 100k rows 2.75 s vs 3.66 s; at 400k
#: rows two threads win, 7.7 s vs 9.7 s). With spinning workers (the OpenMP default) more threads
#: always won, so the rule only applies to the passive policy.
PASSIVE_SINGLE_THREAD_ROWS = 200_000


def num_threads(rows: int | None = None) -> int:
    """Threads for LightGBM: ``SALESML_NUM_THREADS``, else all cores (one for a small training set when
    OpenMP workers sleep, see :data:`PASSIVE_SINGLE_THREAD_ROWS`)."""
    if os.environ.get("SALESML_NUM_THREADS"):
        return int(os.environ["SALESML_NUM_THREADS"])
    passive = os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE"
    if rows is not None and passive and rows < PASSIVE_SINGLE_THREAD_ROWS:
        return 1
    return os.cpu_count() or 1


def safe_feature_names(names: Sequence[str]) -> list[str]:
    """Names LightGBM accepts in its text model (no JSON punctuation or spaces), kept unique."""
    out: list[str] = []
    seen: set[str] = set()
    for i, name in enumerate(names):
        safe = re.sub(r"[^0-9A-Za-z_]", "_", name) or f"f{i}"
        if safe in seen:
            safe = f"{safe}_{i}"
        seen.add(safe)
        out.append(safe)
    return out


def fit_booster(
    X_train: pd.DataFrame,
    y_train: np.ndarray,
    X_valid: pd.DataFrame | None,
    y_valid: np.ndarray | None,
    *,
    objective: str,
    params: Mapping[str, Any] | None = None,
    categorical: Sequence[str] = (),
    random_state: int = 0,
    num_boost_round: int = 2000,
    early_stopping_rounds: int = 100,
    callbacks: Sequence[Callable] = (),
    metric: str | None = None,
    weight_train: np.ndarray | None = None,
):
    """Train a booster with early stopping on the validation slice; returns ``lightgbm.Booster``.

    Without a validation slice (``X_valid=None``: a refit whose rounds were chosen by cross-validation),
    exactly ``num_boost_round`` rounds are trained.
    """
    import lightgbm as lgb

    names = safe_feature_names(list(X_train.columns))
    cat_idx = [list(X_train.columns).index(c) for c in categorical if c in X_train.columns]
    full = {
        "objective": objective,
        "verbosity": -1,
        "seed": int(random_state),
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": num_threads(len(X_train)),
        **DEFAULT_PARAMS,
        **dict(params or {}),
    }
    if metric is not None:
        full["metric"] = metric
    train_set = lgb.Dataset(
        X_train.to_numpy(dtype=np.float64),
        label=np.asarray(y_train, dtype=float),
        weight=weight_train,
        feature_name=names,
        categorical_feature=cat_idx,
        free_raw_data=True,
    )
    if X_valid is None:
        return lgb.train(full, train_set, num_boost_round=num_boost_round, callbacks=list(callbacks))
    valid_set = lgb.Dataset(
        X_valid.to_numpy(dtype=np.float64), label=np.asarray(y_valid, dtype=float), reference=train_set
    )
    return lgb.train(
        full,
        train_set,
        num_boost_round=num_boost_round,
        valid_sets=[valid_set],
        valid_names=["valid"],
        callbacks=[lgb.early_stopping(early_stopping_rounds, verbose=False), *callbacks],
    )
