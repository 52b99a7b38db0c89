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
