from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesml.core.split import time_split


def test_time_ordered_with_ties_on_one_side():
    rng = np.random.default_rng(0)
    days = pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 60, 5_000), unit="D")
    t = pd.Series(days)
    s = time_split(t, test_fraction=0.2, valid_fraction=0.15)
    assert t[s.train].max() < t[s.valid].min() <= t[s.valid].max() < t[s.test].min()
    assert (s.train.astype(int) + s.valid + s.test == 1).all()
    assert 0.15 < s.test.mean() < 0.25 and 0.1 < s.valid.mean() < 0.2


def test_row_order_does_not_matter():
    t = pd.Series(pd.date_range("2024-01-01", periods=1_000, freq="h"))
    shuffled = t.sample(frac=1.0, random_state=1).reset_index(drop=True)
    a, b = time_split(t), time_split(shuffled)
    assert a.test_start == b.test_start and a.valid_start == b.valid_start


def test_too_few_times_is_refused():
    t = pd.Series(pd.to_datetime(["2024-01-01"] * 50 + ["2024-01-02"] * 50))
    with pytest.raises(ValueError, match=r"left the training set empty: the rows span too few distinct times \(2\)"):
        time_split(t)


def test_bad_fraction_message():
    with pytest.raises(ValueError, match=r"The 'test_fraction' parameter of time_split must be in \(0, 1\). Got 1.5 instead."):
        time_split(pd.Series(pd.date_range("2024", periods=10)), test_fraction=1.5)


# ------------------------------------------------------------ ties, other methods, folds
from salesml.core.split import cv_folds, group_split, stratified_split  # noqa: E402


@pytest.mark.parametrize(
    "times",
    [
        [pd.Timestamp("2024-01-01")] * 100,  # every row one date
        [pd.Timestamp("2024-01-01")] * 85 + list(pd.date_range("2024-02-01", periods=15)),  # >= 80% on the first
    ],
    ids=["one-date", "most-on-the-first"],
)
def test_rows_sharing_the_earliest_time_get_the_intended_message(times):
    with pytest.raises(ValueError, match=r"left the training set empty: the rows span too few distinct times"):
        time_split(pd.Series(times))


def _parts_are_a_partition(s):
    assert (s.train.astype(int) + s.valid + s.test == 1).all()


def test_stratified_split_keeps_class_shares_in_every_part():
    y = np.r_[np.ones(300), np.zeros(2_700)].astype(int)
    s = stratified_split(y, random_state=3)
    _parts_are_a_partition(s)
    for part in (s.train, s.valid, s.test):
        assert y[part].mean() == pytest.approx(0.1, abs=0.005)
    assert s.test.mean() == pytest.approx(0.2, abs=0.01) and s.valid.mean() == pytest.approx(0.15, abs=0.01)
    assert s.describe()["split.method"] == "stratified" and "overstates accuracy" in s.describe()["split.note"]
    again = stratified_split(y, random_state=3)
    assert (again.test == s.test).all()  # seeded


def test_group_split_keeps_every_group_whole():
    rng = np.random.default_rng(0)
    groups = pd.Series(rng.integers(0, 300, 5_000)).map(lambda g: f"acct-{g}")
    s = group_split(groups, random_state=1)
    _parts_are_a_partition(s)
    owners = [set(groups[part]) for part in (s.train, s.valid, s.test)]
    assert not (owners[0] & owners[1]) and not (owners[0] & owners[2]) and not (owners[1] & owners[2])
    assert 0.15 < s.test.mean() < 0.25


def test_group_split_needs_three_groups():
    with pytest.raises(ValueError, match="A group split needs at least 3 groups to make three parts. Got 2."):
        group_split(pd.Series(["a", "b"] * 50))


def _check_folds(split, folds, holdout):
    assert folds
    for fit, stop, score in folds:
        assert fit.any() and stop.any() and score.any()
        assert not (fit & stop).any() and not (score & (fit | stop)).any()  # scored rows never trained or stopped on
        assert not ((fit | stop | score) & holdout).any()


def test_stratified_folds_score_every_non_holdout_row_once():
    y = (np.random.default_rng(1).random(4_000) < 0.2).astype(int)
    s = stratified_split(y)
    folds = cv_folds(s, y)
    _check_folds(s, folds, s.test)
    assert len(folds) == 5
    scored = np.sum([f[2] for f in folds], axis=0)
    assert (scored[~s.test] == 1).all() and (scored[s.test] == 0).all()


def test_time_folds_are_expanding_windows_that_keep_ties_together():
    rng = np.random.default_rng(2)
    t = pd.Series(pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 200, 6_000), unit="D"))
    y = rng.integers(0, 2, 6_000)
    s = time_split(t)
    folds = cv_folds(s, y, t)
    _check_folds(s, folds, s.test)
    sizes = []
    for fit, stop, score in folds:
        assert t[fit | stop].max() < t[score].min()  # trained only on the past of what it is scored on
        assert t[fit].max() < t[stop].min()  # early-stops on the latest part of its own past
        sizes.append(int((fit | stop).sum()))
    assert sizes == sorted(sizes)


def test_group_folds_keep_groups_out_of_their_scoring_rows():
    rng = np.random.default_rng(3)
    groups = pd.Series(rng.integers(0, 400, 6_000)).astype(str)
    y = rng.integers(0, 2, 6_000)
    s = group_split(groups, y)
    folds = cv_folds(s, y)
    _check_folds(s, folds, s.test)
    for fit, stop, score in folds:
        assert not set(groups[fit | stop]) & set(groups[score])
