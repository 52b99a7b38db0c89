"""Argument checks and small vectorised helpers shared by the generators."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .vocab import _EMAIL_DOMAINS

_STR_DTYPE = pd.Series(["a"]).dtype  # object on pandas 2, the default "str" dtype on pandas 3
# pandas 3 parses floats exactly by default (and deprecates the option); pandas 2 needs asking
_CSV_READ_OPTIONS: dict[str, Any] = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
_ARROW_STR = isinstance(_STR_DTYPE, pd.StringDtype) and _STR_DTYPE.storage == "pyarrow"
if _ARROW_STR:
    import pyarrow as pa


# --------------------------------------------------------------------------- #
# Argument checks
# --------------------------------------------------------------------------- #
def _check_count(value: Any, name: str, *, minimum: int) -> int:
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)) and value >= minimum
    if not ok:
        kind = "a positive int" if minimum >= 1 else "a non-negative int"
        raise ValueError(f"{name} must be {kind}. Got {value!r} instead.")
    return int(value)


def _parse_time(value: Any, name: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        ts = pd.NaT
    if not isinstance(ts, pd.Timestamp) or pd.isna(ts) or isinstance(value, (int, float, np.number, bool)):
        raise ValueError(f"{name} must be a date like '2023-01-01'. Got {value!r} instead.")
    if ts.tz is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts


def _check_window(start: Any, end: Any) -> tuple[int, int]:
    """Parse ``start``/``end``; return ``[start, period_end)`` in ns (``end`` inclusive)."""
    s, e = _parse_time(start, "start"), _parse_time(end, "end")
    if not s < e:
        raise ValueError(f"start must be before end. Got start={start!r}, end={end!r}.")
    period_end = e + pd.Timedelta(days=1) if e == e.normalize() else e
    return int(s.as_unit("ns").value), int(period_end.as_unit("ns").value)


def _rng(random_state: Any) -> np.random.Generator:
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, (bool, np.bool_)) or not isinstance(random_state, (int, np.integer)) or random_state < 0:
        raise ValueError(f"random_state must be a non-negative int or None. Got {random_state!r} instead.")
    return np.random.default_rng(int(random_state))


# --------------------------------------------------------------------------- #
# Small helpers
# --------------------------------------------------------------------------- #
def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _arrow_to_series(arr: Any) -> pd.Series:
    return arr.to_pandas(types_mapper={pa.large_string(): _STR_DTYPE}.get)


def _str_col(values: np.ndarray, missing: np.ndarray | None = None) -> pd.Series:
    """A column in pandas' default string dtype; ``missing`` marks NaN."""
    values = np.asarray(values)
    mask = None if missing is None else np.asarray(missing, dtype=bool)
    if _ARROW_STR and values.dtype.kind == "U":
        return _arrow_to_series(pa.array(values, type=pa.large_string(), mask=mask))
    out = values.astype(object)
    if mask is not None and mask.any():
        out[mask] = np.nan
    return pd.Series(out, dtype=_STR_DTYPE)


def _str_take(vocab: Sequence[str] | np.ndarray, codes: np.ndarray, missing: np.ndarray | None = None) -> pd.Series:
    """``vocab[codes]`` as a string column (no Python object per row on pandas 3)."""
    vocab = np.asarray(vocab, dtype=str)
    if _ARROW_STR:
        mask = None if missing is None else np.asarray(missing, dtype=bool)
        indices = pa.array(np.asarray(codes, dtype=np.int32), mask=mask)
        dictionary = pa.array(vocab, type=pa.large_string())
        return _arrow_to_series(pa.DictionaryArray.from_arrays(indices, dictionary).cast(pa.large_string()))
    return _str_col(vocab[codes], missing)


def _zfill(numbers: np.ndarray, width: int) -> np.ndarray:
    """Non-negative ints as zero-padded strings (numpy unicode array; safe on empty input)."""
    numbers = np.asarray(numbers)
    if numbers.size == 0:
        return np.array([], dtype=f"U{width}")
    return np.char.zfill(numbers.astype(str), width)


def _id_strings(prefix: str, n: int, width: int) -> np.ndarray:
    """``prefix`` + zero-padded 1..n, e.g. "C0000001" (numpy unicode array)."""
    width = max(width, len(str(n)))
    return np.char.add(prefix, _zfill(np.arange(1, n + 1), width))


def _id_col(prefix: str, n: int, width: int) -> pd.Series:
    """:func:`_id_strings` as a string column, built byte-wise on pandas 3 (millions of rows)."""
    width = max(width, len(str(n)))
    if not _ARROW_STR:
        return _str_col(_id_strings(prefix, n, width))
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    w = len(head) + width
    buf = np.empty((n, w), dtype=np.uint8)
    buf[:, : len(head)] = head
    numbers = np.arange(1, n + 1, dtype=np.int64)
    for j in range(width):
        buf[:, w - 1 - j] = 48 + (numbers // 10**j) % 10
    offsets = np.arange(0, (n + 1) * w, w, dtype=np.int64)
    return _arrow_to_series(pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(buf)))


def _dt(ns: np.ndarray) -> np.ndarray:
    """int64 ns (with the NaT sentinel) -> datetime64[ns]."""
    return np.asarray(ns, dtype=np.int64).view("datetime64[ns]")


def _emails(n: int, rng: np.random.Generator) -> np.ndarray:
    letters = rng.integers(97, 123, size=(n, 7), dtype=np.uint8)
    names = letters.view("S7").ravel().astype("U7")
    digits = _zfill(rng.integers(0, 10_000, size=n), 4)
    domains = np.asarray(_EMAIL_DOMAINS)[rng.integers(0, len(_EMAIL_DOMAINS), size=n)]
    return np.char.add(np.char.add(np.char.add(names, "."), np.char.add(digits, "@")), domains)


def _phones(n: int, rng: np.random.Generator) -> np.ndarray:
    """Fictional numbers "+1-555-01xx-xxxx" (the 555-01xx block is reserved); unique up to 1e6."""
    numbers = rng.choice(1_000_000, size=n, replace=n > 1_000_000)
    head = _zfill(numbers // 10_000, 2)
    tail = _zfill(numbers % 10_000, 4)
    return np.char.add(np.char.add("+1-555-01", head), np.char.add("-", tail))


def _bisect(fn: Any, target: float, lo: float = -20.0, hi: float = 20.0, steps: int = 50) -> float:
    """Solve increasing ``fn(x) = target`` by bisection."""
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        if fn(mid) < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _month_of(ns: np.ndarray) -> np.ndarray:
    """Month of year 0..11 of int64 ns timestamps."""
    months = _dt(ns).astype("datetime64[M]").astype(np.int64)
    return months % 12
