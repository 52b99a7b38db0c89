"""Time-ordered splits: the model is always tested on rows later than those it learnt from.

Rows sharing a timestamp always land on the same side, so no test row is older
than a training row, and the validation slice (early stopping, calibration,
tuning) sits between the two.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["TimeSplit", "time_split"]


@dataclass(frozen=True)
class TimeSplit:
    """Boolean masks over the dataset rows, plus the boundaries used."""

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    valid_start: pd.Timestamp
    test_start: pd.Timestamp

    def describe(self) -> dict[str, str | int]:
        return {
            "split.n_train": int(self.train.sum()),
            "split.n_valid": int(self.valid.sum()),
            "split.n_test": int(self.test.sum()),
            "split.valid_start": str(self.valid_start),
            "split.test_start": str(self.test_start),
        }


def _boundary(times: np.ndarray, fraction_after: float) -> np.datetime64:
    """The earliest timestamp such that about ``fraction_after`` of rows are at or after it."""
    ordered = np.sort(times)
    pos = int(np.floor(len(ordered) * (1.0 - fraction_after)))
    pos = min(max(pos, 1), len(ordered) - 1)
    return ordered[pos]


def time_split(time: pd.Series, *, test_fraction: float = 0.2, valid_fraction: float = 0.15) -> TimeSplit:
    """Split rows by their time into train < valid < test.

    ``test_fraction`` of the rows (the latest) form the holdout and
    ``valid_fraction`` the slice before it. Raises ``ValueError`` when a side
    would be empty.
    """
    for name, value in (("test_fraction", test_fraction), ("valid_fraction", valid_fraction)):
        if not 0.0 < value < 1.0:
            raise ValueError(f"The '{name}' parameter of time_split must be in (0, 1). Got {value!r} instead.")
    if test_fraction + valid_fraction >= 1.0:
        raise ValueError(
            f"test_fraction + valid_fraction must leave rows to train on. Got {test_fraction} + {valid_fraction}."
        )
    times = pd.to_datetime(time).to_numpy(dtype="datetime64[ns]")
    if np.isnat(times).any():
        raise ValueError("time_split needs a time for every row; found missing times.")
    test_start = _boundary(times, test_fraction)
    valid_start = _boundary(times[times < test_start], valid_fraction / (1.0 - test_fraction))
    test = times >= test_start
    valid = (times >= valid_start) & ~test
    train = times < valid_start
    for side, mask in (("training", train), ("validation", valid), ("test", test)):
        if not mask.any():
            raise ValueError(
                f"The time-ordered split left the {side} set empty: the rows span too few distinct times "
                f"({len(np.unique(times))}). Provide more history or change the split fractions."
            )
    return TimeSplit(train, valid, test, pd.Timestamp(valid_start), pd.Timestamp(test_start))
