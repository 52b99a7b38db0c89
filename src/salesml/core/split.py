"""Splits of a dataset's rows into train, validation and holdout, and the folds tuning and refitting use.

Three methods (``split.method`` in the experiment YAML):

* ``time`` (the default when rows have a time): the model is always tested on
  rows later than those it learnt from. Rows sharing a timestamp always land
  on the same side, so no test row is older than a training row, and the
  validation slice sits between the two.
* ``stratified``: a seeded random split keeping each class's share in every
  part (plain random for a numeric target). For tables without a time column;
  when time matters, a random split overstates accuracy.
* ``group``: a seeded random split keeping every group (``split.group``, e.g.
  an account id) whole in one part, class shares kept as well as groups allow.

:func:`cv_folds` cuts the non-holdout rows into K folds by the same method:
expanding windows in time order for ``time``, (grouped) stratified K-fold
otherwise; each fold also carves an early-stopping slice out of its own
training part, so no fold is scored on rows it trained or early-stopped on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

__all__ = ["TimeSplit", "Fold", "SPLIT_METHODS", "NO_TIME_NOTE", "time_split", "stratified_split", "group_split", "cv_folds"]

SPLIT_METHODS = ("time", "stratified", "group")
SplitMethod = Literal["time", "stratified", "group"]

#: Said (logged, and kept as the run's ``split.note``) whenever rows are split at random.
NO_TIME_NOTE = (
    "rows are split at random (stratified by the label); a random split overstates accuracy when time matters. "
    "Give a time column (columns.time) for a time-ordered split."
)

#: ``(fit, stop, score)`` boolean masks: rows a fold trains on, early-stops on, and is scored on.
Fold = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class TimeSplit:
    """Boolean masks over the dataset rows, plus the boundaries used (``NaT`` for a split not by time).

    ``method`` is how the rows were split; ``groups`` (for ``group``), ``folds``
    and ``random_state`` are kept so :func:`cv_folds` cuts the non-holdout rows
    the same way.
    """

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    valid_start: pd.Timestamp
    test_start: pd.Timestamp
    method: str = "time"
    folds: int = 5
    random_state: int = 0
    groups: np.ndarray | None = None

    def describe(self) -> dict[str, str | int]:
        out: dict[str, str | int] = {
            "split.method": self.method,
            "split.n_train": int(self.train.sum()),
            "split.n_valid": int(self.valid.sum()),
            "split.n_test": int(self.test.sum()),
        }
        if self.method == "time":
            out.update({"split.valid_start": str(self.valid_start), "split.test_start": str(self.test_start)})
        else:
            out["split.note"] = NO_TIME_NOTE if self.method == "stratified" else "rows are split at random by group"
        return out


def _boundary(times: np.ndarray, fraction_after: float) -> np.datetime64:
    """The earliest timestamp such that about ``fraction_after`` of rows are at or after it."""
    ordered = np.sort(times)
    pos = int(np.floor(len(ordered) * (1.0 - fraction_after)))
    pos = min(max(pos, 1), len(ordered) - 1)
    return ordered[pos]


def _check_fractions(test_fraction: float, valid_fraction: float, where: str) -> None:
    for name, value in (("test_fraction", test_fraction), ("valid_fraction", valid_fraction)):
        if not 0.0 < value < 1.0:
            raise ValueError(f"The '{name}' parameter of {where} must be in (0, 1). Got {value!r} instead.")
    if test_fraction + valid_fraction >= 1.0:
        raise ValueError(
            f"test_fraction + valid_fraction must leave rows to train on. Got {test_fraction} + {valid_fraction}."
        )


def _too_few_times(side: str, times: np.ndarray) -> ValueError:
    return ValueError(
        f"The time-ordered split left the {side} set empty: the rows span too few distinct times "
        f"({len(np.unique(times))}). Provide more history or change the split fractions, "
        "or set split.method: stratified when the order in time does not matter."
    )


def time_split(
    time: pd.Series, *, test_fraction: float = 0.2, valid_fraction: float = 0.15, folds: int = 5, random_state: int = 0
) -> TimeSplit:
    """Split rows by their time into train < valid < test.

    ``test_fraction`` of the rows (the latest) form the holdout and
    ``valid_fraction`` the slice before it. Raises ``ValueError`` when a side
    would be empty (e.g. when most rows share the earliest time).
    """
    _check_fractions(test_fraction, valid_fraction, "time_split")
    times = pd.to_datetime(time).to_numpy(dtype="datetime64[ns]")
    if len(times) == 0:
        raise ValueError("time_split got no rows to split.")
    if np.isnat(times).any():
        raise ValueError(
            f"time_split needs a time for every row; found {int(np.isnat(times).sum())} missing times. Fill them, "
            "or set split.method: stratified for a table without a time."
        )
    test_start = _boundary(times, test_fraction)
    test = times >= test_start
    if test.all():
        raise _too_few_times("training", times)
    valid_start = _boundary(times[~test], valid_fraction / (1.0 - test_fraction))
    valid = (times >= valid_start) & ~test
    train = times < valid_start
    for side, mask in (("training", train), ("validation", valid), ("test", test)):
        if not mask.any():
            raise _too_few_times(side, times)
    return TimeSplit(train, valid, test, pd.Timestamp(valid_start), pd.Timestamp(test_start), "time", folds, random_state)


def _stratify(y: np.ndarray | None) -> np.ndarray | None:
    """Class labels to stratify on, or ``None`` for a numeric target (or a class too small to share out)."""
    if y is None:
        return None
    y = np.asarray(y)
    values, counts = np.unique(y[~pd.isna(y)], return_counts=True)
    if len(values) > 20 or len(values) < 2 or counts.min() < 2:
        return None
    return y


def _random_parts(n: int, y: np.ndarray | None, test_fraction: float, valid_fraction: float, seed: int):
    from sklearn.model_selection import train_test_split

    rows = np.arange(n)
    strat = _stratify(y)
    rest, test = train_test_split(rows, test_size=test_fraction, random_state=seed, stratify=strat)
    strat_rest = None if strat is None else _stratify(strat[rest])
    train, valid = train_test_split(
        rest, test_size=valid_fraction / (1.0 - test_fraction), random_state=seed + 1, stratify=strat_rest
    )
    return train, valid, test


def _masks(n: int, *parts: np.ndarray) -> list[np.ndarray]:
    out = []
    for part in parts:
        mask = np.zeros(n, dtype=bool)
        mask[part] = True
        out.append(mask)
    return out


def stratified_split(
    y: np.ndarray, *, test_fraction: float = 0.2, valid_fraction: float = 0.15, folds: int = 5, random_state: int = 0
) -> TimeSplit:
    """A seeded random split keeping each class's share in train, validation and holdout (random for numbers)."""
    _check_fractions(test_fraction, valid_fraction, "stratified_split")
    n = len(y)
    if n < 10:
        raise ValueError(f"stratified_split needs at least 10 rows to make three parts. Got {n}.")
    train, valid, test = _masks(n, *_random_parts(n, y, test_fraction, valid_fraction, random_state))
    return TimeSplit(train, valid, test, pd.NaT, pd.NaT, "stratified", folds, random_state)


def group_split(
    groups: np.ndarray | pd.Series,
    y: np.ndarray | None = None,
    *,
    test_fraction: float = 0.2,
    valid_fraction: float = 0.15,
    folds: int = 5,
    random_state: int = 0,
) -> TimeSplit:
    """A seeded random split that keeps each group whole in one part (about the given row fractions)."""
    _check_fractions(test_fraction, valid_fraction, "group_split")
    g = pd.Series(groups).astype("string").fillna("<missing>").to_numpy()
    uniq, codes = np.unique(g, return_inverse=True)
    if len(uniq) < 3:
        raise ValueError(
            f"A group split needs at least 3 groups to make three parts. Got {len(uniq)}. Name a finer "
            "split.group column, or use split.method: stratified."
        )
    # shuffle the groups (seeded), then cut at the row fractions: parts hold about the asked share of rows
    order = np.random.default_rng(random_state).permutation(len(uniq))
    sizes = np.bincount(codes, minlength=len(uniq))[order]
    cum = np.cumsum(sizes) / sizes.sum()
    part_of = np.empty(len(uniq), dtype=int)
    part_of[order] = np.where(cum <= test_fraction, 2, np.where(cum <= test_fraction + valid_fraction, 1, 0))
    for part in (2, 1, 0):  # every part gets a group even where one group is larger than a fraction
        if not (part_of == part).any():
            donor = np.flatnonzero(part_of == np.bincount(part_of, minlength=3).argmax())
            part_of[donor[0]] = part
    row_part = part_of[codes]
    train, valid, test = row_part == 0, row_part == 1, row_part == 2
    return TimeSplit(train, valid, test, pd.NaT, pd.NaT, "group", folds, random_state, groups=codes)


def _carve(rows: np.ndarray, y: np.ndarray | None, share: float, seed: int, groups: np.ndarray | None, times):
    """Split ``rows`` into (fit, stop): the latest ``share`` by time, else a (grouped) stratified random share."""
    if times is not None:
        t = times[rows]
        cut = _boundary(t, share)
        stop = t >= cut
        if stop.all() or not stop.any():
            order = np.argsort(t, kind="stable")
            stop = np.zeros(len(rows), dtype=bool)
            stop[order[-max(1, int(len(rows) * share)):]] = True
        return rows[~stop], rows[stop]
    if groups is not None:
        from sklearn.model_selection import GroupShuffleSplit

        fit, stop = next(GroupShuffleSplit(1, test_size=share, random_state=seed).split(rows, groups=groups[rows]))
        return rows[fit], rows[stop]
    from sklearn.model_selection import train_test_split

    strat = _stratify(None if y is None else y[rows])
    fit, stop = train_test_split(rows, test_size=share, random_state=seed, stratify=strat)
    return fit, stop


def cv_folds(
    split: TimeSplit,
    y: np.ndarray,
    time: pd.Series | None = None,
    *,
    folds: int | None = None,
    stop_fraction: float = 0.15,
) -> list[Fold]:
    """K folds over the non-holdout rows (``train | valid``), cut like ``split``.

    ``time``: expanding windows in time order (the non-holdout rows in K+1
    blocks of whole timestamps; fold k trains on blocks 1..k and is scored on
    block k+1). ``stratified``: stratified K-fold (K-fold for a numeric
    target). ``group``: stratified group K-fold on ``split.groups``. Each fold
    trains on its ``fit`` rows, early-stops on ``stop`` rows carved out of its
    own training part (the latest by time, else a random share), and is scored
    on ``score`` rows it never saw. Empty when there are too few rows or groups.
    """
    k = int(folds or split.folds)
    pool = np.flatnonzero(split.train | split.valid)
    n = len(split.train)
    y = np.asarray(y)
    if k < 2 or len(pool) < 10 * k:
        return []
    seed = int(split.random_state)
    times = None
    if split.method == "time":
        if time is None:
            raise ValueError("cv_folds needs the rows' times for a time-ordered split.")
        times = pd.to_datetime(time).to_numpy(dtype="datetime64[ns]")
        t = times[pool]
        uniq = np.unique(t)
        if len(uniq) < k + 1:
            return []
        edges = [_boundary(t, 1.0 - j / (k + 1)) for j in range(1, k + 1)]
        edges = [t.min(), *edges, np.datetime64("NaT")]
        pairs = []
        for j in range(1, k + 1):
            fit_rows = pool[t < edges[j]]
            score_rows = pool[(t >= edges[j]) & (t < edges[j + 1])] if j < k else pool[t >= edges[j]]
            if len(fit_rows) >= 20 and len(score_rows):
                pairs.append((fit_rows, score_rows))
    else:
        from sklearn.model_selection import KFold, StratifiedGroupKFold, StratifiedKFold

        strat = _stratify(y[pool])
        if split.method == "group":
            groups = split.groups[pool]
            if len(np.unique(groups)) < k:
                return []
            cv = StratifiedGroupKFold(k, shuffle=True, random_state=seed)
            it = cv.split(pool, strat if strat is not None else np.zeros(len(pool)), groups)
        elif strat is not None and np.unique(strat, return_counts=True)[1].min() >= k:
            it = StratifiedKFold(k, shuffle=True, random_state=seed).split(pool, strat)
        else:
            it = KFold(k, shuffle=True, random_state=seed).split(pool)
        pairs = [(pool[a], pool[b]) for a, b in it]
    out: list[Fold] = []
    for i, (train_rows, score_rows) in enumerate(pairs):
        fit_rows, stop_rows = _carve(train_rows, y, stop_fraction, seed + 7 + i, split.groups, times)
        out.append(tuple(_masks(n, fit_rows, stop_rows, score_rows)))
    return out
