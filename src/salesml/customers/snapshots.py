"""Point-in-time customer snapshots: one row per customer per cutoff.

A *cutoff* is an instant, taken to the whole second. A snapshot row describes
a customer as of that instant, from events **strictly before** it only (orders, returns,
activities), and, when a horizon is given, carries targets from events in
``[cutoff, cutoff + horizon)``. A date-only order (``2025-03-01``) stands at midnight at the
start of its day, so the cutoff ``2025-03-01`` means "the end of 28 February": an order dated on
the cutoff day is in the target window, never in the history (it may have been placed after
any moment of that day chosen as the cutoff). Timestamped data follows the same rule to the second. Stacking several monthly cutoffs gives the
training data of the CLV and churn tasks; the latest complete window is their
holdout. :func:`build` is vectorised (prefix sums over events sorted by
customer and time); :func:`build_reference` computes the same table with
plain per-customer loops and exists to test it.

Inputs (column names are settings, see :class:`SnapshotColumns`):

* ``transactions``: customer id, order date, amount; optional order id (lines
  of one order count as one order placed at its first line's time), product
  and channel.
* ``activities`` (optional): customer id, time, kind (visit, call, ticket,
  complaint, survey) and value (the survey score).
* ``customers`` (optional): customer id, signup date and static attributes
  (industry, company size...). Only attributes that do not change over time
  belong here: a "satisfaction" column holding the *latest* survey would leak
  the future into old cutoffs (use the survey rows in activities instead).

Which customers a cutoff holds: everyone first seen (signup or first order
line, zero-amount lines included) before it (``population="all"``), or only those with an order in
the ``active_within`` before it (``population="active"``). Customers first
seen after a cutoff appear from the next cutoff on; none is dropped later. A customer
whose lines are all zero amounts (free samples, fully discounted orders) is kept, with no
orders and zero revenue, rather than vanishing.

Bad input is handled as the settings say, documented per setting:

* ``returns`` (negative or zero amounts): ``"net"`` (default) keeps negative
  lines as returns that reduce revenue (never counted as orders); ``"drop"``
  ignores negative amounts; ``"error"`` stops, naming the rows. Zero and ignored
  lines carry no revenue and are never orders, but keep their customer known.
* ``duplicates`` (lines identical in every column): ``"drop"`` (default,
  logged), ``"keep"`` (identical lines are separate purchases, as in order logs
  without order ids) or ``"error"``.
* ``date_format`` (e.g. ``"%Y%m%d"``): how order dates are written; by default
  ISO dates and times are read, and so are ``YYYYMMDD`` integers or strings
  (``19970101``) when every date of the column has that form.
* ``future`` (orders dated after ``as_of``, default now): ``"error"``
  (default) or ``"drop"`` (logged).
* a cutoff before any data, or a horizon that no cutoff can complete, stop
  with a message saying which cutoffs and what the data covers.

Feature columns (windows in calendar months, ``windows=[1, 3, 6, 12]``):

=============================  ================================================================
``tenure_days``                days since the customer was first seen (signup or first line)
``orders_total``               orders so far (positive amounts; lines of one order id count once)
``orders_{w}m``                orders in the last ``w`` months
``revenue_total``              net revenue so far (orders minus returns under ``returns="net"``)
``revenue_{w}m``               net revenue in the last ``w`` months
``avg_order_value``            mean value of the orders so far
``days_since_first_order``     BG/NBD's ``T`` (missing without orders)
``days_since_last_order``      recency (missing without orders)
``repeat_orders``              BG/NBD's ``x``: orders after the first
``mean_repeat_order_value``    Gamma-Gamma's ``m``: mean value of the repeat orders
``mean_days_between_orders``   and ``std_days_between_orders``: inter-purchase times
``orders_prev_3m``             orders in the 3 months before the last 3
``order_trend_3m``             (last 3 months - the 3 before) / the 3 before (missing if 0)
``revenue_trend_3m``           the same for net revenue
``orders_down_20pct``          the rule "orders down >= 20% over 3 months" (needs orders before)
``returns_12m``                return lines and ``returned_amount_12m`` (under ``"net"``)
``main_product``               product with the most revenue so far, its ``main_product_share``
                               and ``n_products``; the same for ``channel``
``{kind}s_3m``, ``{kind}s_12m``  activities of each kind (``visits_3m``, ``complaints_12m``...)
``last_survey_score``          latest survey score, ``mean_survey_score_12m``, ``days_since_last_survey``
``days_since_last_activity``   any activity kind
attributes                     the configured static customer columns
``cutoff_month``               month of the cutoff (seasonality of the coming window)
=============================  ================================================================

Target columns (with a horizon): ``target_revenue`` (net revenue in the
window ``[cutoff, cutoff + horizon)``, floored at 0), ``target_orders`` and ``target_previous_revenue`` (net
revenue in the same length of time just before the cutoff).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, field_validator

from salesml.core.contracts import DataValidationError, Problem, parse_datetime, row_keys

logger = logging.getLogger(__name__)

__all__ = [
    "Horizon",
    "parse_horizon",
    "SnapshotColumns",
    "SnapshotSettings",
    "prepare_transactions",
    "month_starts",
    "data_end",
    "build",
    "build_reference",
    "feature_columns",
    "CutoffPlan",
    "plan_cutoffs",
    "split_cutoffs",
    "TARGET_COLUMNS",
    "ACTIVITY_KINDS",
]

ACTIVITY_KINDS: tuple[str, ...] = ("visit", "call", "ticket", "complaint", "survey")
TARGET_COLUMNS: tuple[str, ...] = ("target_revenue", "target_orders", "target_previous_revenue")
CUTOFF = "cutoff"
_NS_DAY = 86_400 * 10**9
_DAYS_PER_MONTH = 30.436875


# --------------------------------------------------------------------------- #
# Horizons
# --------------------------------------------------------------------------- #
_HORIZON = re.compile(r"^\s*(\d+)\s*(d|days?|w|weeks?|m|months?|y|years?)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Horizon:
    """A length of time in days, weeks or calendar months (``"90D"``, ``"13W"``, ``"12M"``)."""

    n: int
    unit: Literal["D", "W", "M"]

    @property
    def offset(self) -> pd.DateOffset:
        return {"D": pd.DateOffset(days=self.n), "W": pd.DateOffset(weeks=self.n), "M": pd.DateOffset(months=self.n)}[self.unit]

    @property
    def days(self) -> float:
        """Length in days (a month counts 30.44 days)."""
        return self.n * {"D": 1.0, "W": 7.0, "M": _DAYS_PER_MONTH}[self.unit]

    def __str__(self) -> str:
        return f"{self.n}{self.unit}"


def parse_horizon(value: str | int | Horizon, name: str = "horizon") -> Horizon:
    """``"12M"``, ``"12 months"``, ``"90D"``, ``"13 weeks"``, ``"1Y"`` or an int (months) -> :class:`Horizon`."""
    if isinstance(value, Horizon):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if value < 1:
            raise ValueError(f"The {name} must be a positive length of time such as '12M' or '90D'. Got {value!r} instead.")
        return Horizon(int(value), "M")
    match = _HORIZON.match(str(value))
    if not match or int(match.group(1)) < 1:
        raise ValueError(
            f"The {name} must be a positive length of time such as '12M' (months), '13W' (weeks) or '90D' (days). "
            f"Got {value!r} instead."
        )
    n, unit = int(match.group(1)), match.group(2)[0].upper()
    if unit == "Y":
        return Horizon(12 * n, "M")
    return Horizon(n, unit)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- #
# Settings
# --------------------------------------------------------------------------- #
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TableColumns(_Strict):
    """Column names of the order, activity and customer tables besides the customer id (the customer
    tasks' columns extend these). Optional columns are used when present."""

    order_id: str | None = "order_id"
    order_date: str = "order_date"
    amount: str = "amount"
    product: str | None = "product"
    channel: str | None = "channel"
    activity_time: str = "at"
    activity_kind: str = "kind"
    activity_value: str = "value"
    signup: str | None = "signup_date"
    attributes: list[str] = ["industry", "company_size", "region", "price_sensitive"]


class SnapshotColumns(TableColumns):
    """Column names of the input tables: the customer id and :class:`TableColumns`."""

    customer_id: str = "customer_id"


class SnapshotSettings(_Strict):
    """How snapshots are built; see the module docstring for each policy."""

    columns: SnapshotColumns = SnapshotColumns()
    returns: Literal["net", "drop", "error"] = "net"
    duplicates: Literal["drop", "keep", "error"] = "drop"
    future: Literal["error", "drop"] = "error"
    date_format: str | None = None
    as_of: datetime | None = None
    population: Literal["all", "active"] = "all"
    active_within: str = "12M"
    activity_kinds: list[str] = list(ACTIVITY_KINDS)
    windows: list[int] = [1, 3, 6, 12]

    @field_validator("active_within")
    @classmethod
    def _horizon_like(cls, v: str) -> str:
        parse_horizon(v, "active_within")
        return v

    @field_validator("windows")
    @classmethod
    def _windows(cls, v: list[int]) -> list[int]:
        if not v or any(w < 1 for w in v):
            raise ValueError(f"windows must be positive numbers of months, e.g. [1, 3, 6, 12]. Got {v} instead.")
        return sorted(set(v))


def _settings(settings: SnapshotSettings | Mapping[str, Any] | None) -> SnapshotSettings:
    if isinstance(settings, SnapshotSettings):
        return settings
    return SnapshotSettings.model_validate(dict(settings or {}))


# --------------------------------------------------------------------------- #
# Cleaning orders
# --------------------------------------------------------------------------- #
_YYYYMMDD = re.compile(r"^\d{8}$")


def parse_dates(values: pd.Series, date_format: str | None = None) -> pd.Series:
    """Dates of an input column as tz-naive UTC datetimes; unreadable values become NaT.

    With ``date_format`` (``strftime`` codes such as ``"%Y%m%d"`` or ``"%d/%m/%Y"``) every value is
    read with it. Without, a column whose every value is a ``YYYYMMDD`` integer or 8-digit string
    (``19970101``, as many order logs store dates) is read as such; anything else as ISO dates and
    times (:func:`salesml.core.contracts.parse_datetime`).
    """
    if date_format and not pd.api.types.is_datetime64_any_dtype(values.dtype):
        text = values.astype("string")
        if pd.api.types.is_float_dtype(values.dtype):  # 19970101.0 read from a CSV with gaps
            text = values.astype("Int64").astype("string")
        return pd.to_datetime(text, format=date_format, errors="coerce").astype("datetime64[ns]")
    present = values.dropna()
    if len(present) and not pd.api.types.is_datetime64_any_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        if pd.api.types.is_numeric_dtype(values.dtype):
            whole = present.to_numpy(dtype=float)
            if np.all(np.floor(whole) == whole) and np.all((whole >= 1000_01_01) & (whole <= 9999_12_31)):
                return parse_dates(values, "%Y%m%d")
        elif present.astype(str).str.match(_YYYYMMDD).all():
            return parse_dates(values, "%Y%m%d")
    return parse_datetime(values)


def prepare_transactions(
    transactions: pd.DataFrame, settings: SnapshotSettings | Mapping[str, Any] | None = None, *, table: str = "transactions"
) -> tuple[pd.DataFrame, list[Problem]]:
    """Apply the bad-input policies; return the clean lines and the problems that must stop the run.

    The clean frame has the configured columns, parsed dates and numeric
    amounts. Problems (not raised here) name the rows and the fix.
    """
    s = _settings(settings)
    c = s.columns
    problems: list[Problem] = []
    required = [c.customer_id, c.order_date, c.amount]
    missing = [col for col in required if col not in transactions.columns]
    if missing:
        return transactions.iloc[:0], [
            Problem(table, col, "missing", "required column is missing", "add it or map its name in the experiment YAML (columns: section)")
            for col in missing
        ]
    key = c.order_id if c.order_id and c.order_id in transactions.columns else None
    df = transactions
    when = parse_dates(df[c.order_date], s.date_format)
    amount = pd.to_numeric(df[c.amount], errors="coerce")
    bad_rows = when.isna() | amount.isna() | df[c.customer_id].isna()
    if bad_rows.any():
        for col, mask, what, fix in (
            (c.customer_id, df[c.customer_id].isna(), "has missing customer ids", "fill the customer id or drop those lines"),
            (
                c.order_date, when.isna(), "has missing or unparseable dates",
                "use ISO dates such as 2025-03-31 or YYYYMMDD, or set params.date_format (e.g. '%d/%m/%Y')",
            ),
            (c.amount, amount.isna(), "has missing or non-numeric amounts", "remove units and thousands separators"),
        ):
            if mask.any():
                idx = df.index[mask.to_numpy()]
                problems.append(Problem(table, col, "unreadable", what, fix, row_keys(df, idx[:5], key), int(mask.sum())))
    keep = ~bad_rows
    as_of = pd.Timestamp(s.as_of) if s.as_of is not None else pd.Timestamp.now(tz="UTC").tz_localize(None)
    if as_of.tzinfo is not None:
        as_of = as_of.tz_convert("UTC").tz_localize(None)
    future = keep & (when > as_of)
    if future.any():
        idx = df.index[future.to_numpy()]
        if s.future == "error":
            problems.append(
                Problem(
                    table, c.order_date, "future_dated",
                    f"has orders dated after {as_of:%Y-%m-%d %H:%M} (the extraction time 'as_of'), latest {when[future].max():%Y-%m-%d}",
                    "correct those dates, set params.as_of to when the data was extracted, or set params.future: drop",
                    row_keys(df, idx[:5], key), int(future.sum()),
                )
            )
        else:
            logger.warning("dropping %d future-dated order lines (after %s)", int(future.sum()), as_of)
        keep &= ~future
    nonpositive = keep & (amount <= 0)
    if nonpositive.any() and s.returns == "error":
        idx = df.index[nonpositive.to_numpy()]
        problems.append(
            Problem(
                table, c.amount, "non_positive", "has negative or zero amounts (returns, credit notes)",
                "set params.returns to 'net' (returns reduce revenue) or 'drop', or remove those lines",
                row_keys(df, idx[:5], key), int(nonpositive.sum()),
            )
        )
    cols = [col for col in dict.fromkeys([c.customer_id, c.order_date, c.amount, key, c.product, c.channel]) if col and col in df.columns]
    out = df.loc[keep.to_numpy(), cols].copy()
    out[c.order_date] = when[keep]
    out[c.amount] = amount[keep].astype(float)
    # a line can only repeat another whose date and amount repeat: check those few in full
    candidates = out[[c.order_date, c.amount]].duplicated(keep=False).to_numpy()
    dup = pd.Series(False, index=out.index)
    if candidates.any():
        dup[candidates] = out.loc[candidates].duplicated(keep="first").to_numpy()
    if dup.any():
        if s.duplicates == "error":
            idx = out.index[dup.to_numpy()]
            problems.append(
                Problem(
                    table, None, "duplicate_lines", "has order lines identical in every column",
                    "remove the duplicated export lines or set params.duplicates: drop",
                    row_keys(df, idx[:5], key), int(dup.sum()),
                )
            )
        elif s.duplicates == "drop":
            logger.warning("dropping %d order lines that duplicate another line in every column", int(dup.sum()))
            out = out.loc[~dup.to_numpy()]
        else:
            logger.info("keeping %d order lines identical to another line as separate purchases", int(dup.sum()))
    if s.returns == "drop":  # ignored, not removed: the customer stays known
        out[c.amount] = out[c.amount].clip(lower=0.0)
    return out, problems


def _raise(problems: Sequence[Problem]) -> None:
    if problems:
        raise DataValidationError(problems)


def data_end(transactions: pd.DataFrame, settings: SnapshotSettings | Mapping[str, Any] | None = None) -> pd.Timestamp:
    """Where the order history ends: midnight after the day of the latest order line."""
    s = _settings(settings)
    when = parse_dates(transactions[s.columns.order_date], s.date_format).dropna()
    if when.empty:
        raise ValueError("The transactions hold no dated order lines; there is no history to build snapshots from.")
    return when.max().normalize() + pd.Timedelta(days=1)


def month_starts(start: pd.Timestamp, end: pd.Timestamp) -> list[pd.Timestamp]:
    """Midnight of the first day of each month in ``[start, end]``."""
    first = pd.Timestamp(start).to_period("M").to_timestamp()
    if first < pd.Timestamp(start):
        first = first + pd.DateOffset(months=1)
    return list(pd.date_range(first, pd.Timestamp(end), freq="MS"))


def _cutoffs(cutoffs: Iterable[Any] | Any) -> list[pd.Timestamp]:
    if isinstance(cutoffs, (str, pd.Timestamp, datetime, np.datetime64)):
        cutoffs = [cutoffs]
    out = []
    for value in cutoffs:
        ts = pd.Timestamp(value)
        if ts.tzinfo is not None:
            ts = ts.tz_convert("UTC").tz_localize(None)
        out.append(ts.as_unit("ns").floor("s"))
    if not out:
        raise ValueError("Give at least one cutoff (a date such as '2025-01-01').")
    return sorted(set(out))


def feature_columns(frame: pd.DataFrame, id_column: str = "customer_id") -> list[str]:
    """The feature columns of a snapshot frame (everything but id, cutoff and targets)."""
    return [c for c in frame.columns if c not in (id_column, CUTOFF) and not str(c).startswith("target_")]


# --------------------------------------------------------------------------- #
# The vectorised builder
# --------------------------------------------------------------------------- #
def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique`` for int64 by sorting (numpy's hash-based unique is far slower on large arrays)."""
    ordered = np.sort(values, kind="stable")
    if len(ordered) == 0:
        return ordered
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


_NS_SECOND = 10**9


def _order_by(key: np.ndarray, tiebreak: np.ndarray | None) -> np.ndarray:
    """Positions sorting ``key``, equal keys ordered by ``tiebreak`` (sorting only the tied runs: they are rare)."""
    order = np.argsort(key, kind="stable")
    if tiebreak is None or len(order) < 2:
        return order
    ordered = key[order]
    tied = np.flatnonzero(ordered[1:] == ordered[:-1])
    if len(tied):
        members = _sorted_unique(np.concatenate([tied, tied + 1]))
        sub = order[members]
        order[members] = sub[np.lexsort((tiebreak[sub], key[sub]))]
    return order


class _Timeline:
    """Events sorted by (customer, time) with per-customer running sums, for "how many / how much up to t".

    Events are located by one int64 key, ``customer * span + whole seconds``
    (times rounded down: for whole-second cutoffs "strictly before" stays exact). Running sums restart at each
    customer, so a customer's figures depend on their own events only, bit for
    bit: adding another customer's events, or events after a cutoff, cannot
    move them by a rounding error. Events in the same second are ordered by
    value, so the input's row order does not matter either.
    """

    def __init__(self, code: np.ndarray, t: np.ndarray, n_customers: int, values: Mapping[str, np.ndarray] | None = None):
        values = {k: np.asarray(v, dtype=np.float64) for k, v in (values or {}).items()}
        code = np.asarray(code, dtype=np.int64)
        t = np.asarray(t, dtype=np.int64)
        seconds = t // _NS_SECOND
        self.t0 = int(seconds.min()) if len(seconds) else 0
        self.span = np.int64((int(seconds.max()) - self.t0 + 2) if len(seconds) else 2)
        if len(code) and (int(code.max()) + 1) * int(self.span) >= 2**62:
            raise OverflowError("Too many customers over too long a time span for one snapshot build; split the customers into batches.")
        key = code * self.span + (seconds - self.t0)
        order = _order_by(key, next(iter(values.values())) if values else None)
        self.key = key[order]
        self.code = code[order]
        self.t = t[order]
        self.start = np.searchsorted(self.code, np.arange(n_customers + 1))
        self.values = {k: v[order] for k, v in values.items()}
        self.running = {k: self._running(v) for k, v in self.values.items()}

    def _running(self, v: np.ndarray) -> np.ndarray:
        """Inclusive running sum of ``v`` within each customer's block."""
        if len(v) == 0:
            return v.copy()
        return pd.Series(v).groupby(self.code, sort=False).cumsum().to_numpy(dtype=np.float64)

    def add_running(self, name: str, v: np.ndarray) -> None:
        """Add a per-event value already in the timeline's order."""
        self.running[name] = self._running(np.asarray(v, dtype=np.float64))

    def __len__(self) -> int:
        return len(self.t)

    def upto(self, code: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Global position after the last event of ``code`` strictly before ``t`` (a whole second)."""
        offset = np.clip(np.asarray(t, dtype=np.int64) // _NS_SECOND - self.t0, -1, self.span - 1)
        return np.searchsorted(self.key, np.asarray(code, dtype=np.int64) * self.span + offset, side="left")

    def first(self, code: np.ndarray) -> np.ndarray:
        return self.start[code]

    def _through(self, name: str, code: np.ndarray, pos: np.ndarray) -> np.ndarray:
        run = self.running[name]
        if len(run) == 0:
            return np.zeros(len(pos))
        return np.where(pos > self.start[code], run[np.maximum(pos - 1, 0)], 0.0)

    def total(self, name: str, code: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Sum of ``name`` over the customer's events at positions ``[lo, hi)``."""
        return self._through(name, code, hi) - self._through(name, code, lo)


def _offsets(cuts: Sequence[pd.Timestamp], offset: pd.DateOffset, sign: int) -> np.ndarray:
    return np.array([(c + offset if sign > 0 else c - offset).value for c in cuts], dtype=np.int64)


def _orders_from_lines(lines: pd.DataFrame, line_code: np.ndarray, s: SnapshotSettings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Positive lines grouped into orders (one per order id) and negative lines (returns)."""
    c = s.columns
    amount = lines[c.amount].to_numpy(dtype=float)
    when = lines[c.order_date].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    pos, neg = amount > 0, amount < 0
    if c.order_id and c.order_id in lines.columns:
        oid, _ = pd.factorize(lines[c.order_id].astype(str))
        frame = pd.DataFrame({"code": line_code[pos], "oid": oid[pos], "t": when[pos], "value": amount[pos]})
        orders = frame.groupby(["code", "oid"], sort=False).agg(t=("t", "min"), value=("value", "sum")).reset_index()
        orders = orders[["code", "t", "value"]]
    else:
        orders = pd.DataFrame({"code": line_code[pos], "t": when[pos], "value": amount[pos]})
    returns = pd.DataFrame({"code": line_code[neg], "t": when[neg], "value": amount[neg]})
    return orders, returns


def _universe(lines: pd.DataFrame, customers: pd.DataFrame | None, s: SnapshotSettings) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    """Customer ids (sorted), when each was first seen (signup or first line, int64 ns) and each line's customer."""
    c = s.columns
    line_ids = lines[c.customer_id].astype(str)
    ids = [line_ids]
    if customers is not None:
        ids.append(customers[c.customer_id].dropna().astype(str))
    codes = pd.Index(pd.concat(ids, ignore_index=True).unique()).sort_values()
    first = np.full(len(codes), np.iinfo(np.int64).max, dtype=np.int64)
    line_code = codes.get_indexer(line_ids) if len(lines) else np.zeros(0, dtype=np.int64)
    if len(lines):
        np.minimum.at(first, line_code, lines[c.order_date].to_numpy(dtype="datetime64[ns]").astype(np.int64))
    if customers is not None and c.signup and c.signup in customers.columns:
        signup = parse_dates(customers[c.signup])
        ok = signup.notna().to_numpy() & customers[c.customer_id].notna().to_numpy()
        code = codes.get_indexer(customers.loc[ok, c.customer_id].astype(str))
        np.minimum.at(first, code, signup[ok].to_numpy(dtype="datetime64[ns]").astype(np.int64))
    return codes, first, line_code


def _check_cutoffs(cuts: Sequence[pd.Timestamp], first_seen: np.ndarray) -> list[Problem]:
    known = first_seen[first_seen < np.iinfo(np.int64).max]
    if len(known) == 0:
        return [Problem("transactions", None, "empty", "there are no usable order lines or customers", "check the export")]
    earliest = pd.Timestamp(int(known.min()))
    early = [c for c in cuts if c.value <= earliest.value]
    if early:
        shown = ", ".join(f"{c:%Y-%m-%d}" for c in early[:5])
        return [
            Problem(
                "transactions", None, "cutoff_before_data",
                f"cutoff{'s' if len(early) > 1 else ''} {shown} come{'s' if len(early) == 1 else ''} before any data "
                f"(the first customer appears on {earliest:%Y-%m-%d})",
                f"use cutoffs after {earliest:%Y-%m-%d %H:%M:%S}".replace(" 00:00:00", ""),
            )
        ]
    return []


def _main_category(
    code: np.ndarray, t: np.ndarray, value: np.ndarray, category: np.ndarray, pair_code: np.ndarray, pair_t: np.ndarray, n_customers: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pair: the category with most revenue up to the pair's time, its share, and categories bought."""
    cat, labels = pd.factorize(category, sort=True)
    labels = np.asarray(labels, dtype=object)
    k = len(labels)
    n_pairs = len(pair_code)
    main = np.full(n_pairs, None, dtype=object)
    share = np.full(n_pairs, np.nan)
    n_cat = np.zeros(n_pairs, dtype=np.int64)
    if len(code) == 0 or n_pairs == 0:
        return main, share, n_cat
    group = code.astype(np.int64) * k + cat
    groups = _sorted_unique(group)
    g_customer = groups // k
    g_start = np.searchsorted(g_customer, np.arange(n_customers + 1))
    tl = _Timeline(np.searchsorted(groups, group), t, len(groups), {"value": value, "one": np.ones(len(t))})
    per_pair = g_start[pair_code + 1] - g_start[pair_code]
    pair_of = np.repeat(np.arange(n_pairs), per_pair)
    offset = np.arange(len(pair_of)) - np.repeat(np.cumsum(per_pair) - per_pair, per_pair)
    g = g_start[pair_code[pair_of]] + offset
    hi = tl.upto(g, pair_t[pair_of])
    lo = tl.first(g)
    revenue = tl.total("value", g, lo, hi)
    bought = (hi - lo) > 0
    np.add.at(n_cat, pair_of, bought.astype(np.int64))
    g_cat = (groups % k)[g]
    # best category per pair: most revenue, ties to the first label alphabetically
    order = np.lexsort((g_cat, -revenue, pair_of))
    first_of_pair = np.ones(len(order), dtype=bool)
    first_of_pair[1:] = pair_of[order][1:] != pair_of[order][:-1]
    best = order[first_of_pair & bought[order]]
    total = np.zeros(n_pairs)
    np.add.at(total, pair_of, revenue)
    main[pair_of[best]] = labels[g_cat[best]]
    with np.errstate(invalid="ignore", divide="ignore"):
        share[pair_of[best]] = np.where(total[pair_of[best]] > 0, revenue[best] / total[pair_of[best]], np.nan)
    return main, share, n_cat


def build(
    transactions: pd.DataFrame,
    *,
    cutoffs: Iterable[Any] | Any,
    horizon: str | int | Horizon | None = None,
    customers: pd.DataFrame | None = None,
    activities: pd.DataFrame | None = None,
    settings: SnapshotSettings | Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Snapshot rows for every (customer, cutoff): features as of the cutoff, targets after it.

    Parameters
    ----------
    transactions : order lines (see the module docstring for the columns).
    cutoffs : one or more instants (``"2025-01-01"`` means midnight at its start).
    horizon : length of the target window; ``None`` builds features only (scoring).
    customers, activities : optional tables.
    settings : a :class:`SnapshotSettings` or a dict of its fields.

    Returns a frame sorted by cutoff then customer id, with ``customer_id``
    (the configured id column), ``cutoff``, the feature columns and, with a
    horizon, the target columns. Raises
    :class:`~salesml.core.contracts.DataValidationError` listing every problem.
    """
    s = _settings(settings)
    c = s.columns
    cuts = _cutoffs(cutoffs)
    h = parse_horizon(horizon) if horizon is not None else None
    lines, problems = prepare_transactions(transactions, s)
    _raise(problems)
    codes, first_seen, line_code = _universe(lines, customers, s)
    _raise(_check_cutoffs(cuts, first_seen))
    n_cust = len(codes)
    orders, returns = _orders_from_lines(lines, line_code, s)
    O = _Timeline(
        orders["code"].to_numpy(), orders["t"].to_numpy(), n_cust,
        {"value": orders["value"].to_numpy(), "one": np.ones(len(orders))},
    )
    # gaps between consecutive orders of a customer (0 for each customer's first), in days
    gap = np.zeros(len(O))
    if len(O):
        same = np.zeros(len(O), dtype=bool)
        same[1:] = O.code[1:] == O.code[:-1]
        gap[1:] = np.where(same[1:], (O.t[1:] - O.t[:-1]) / _NS_DAY, 0.0)
    O.add_running("gap", gap)
    O.add_running("gap2", gap * gap)
    R = _Timeline(returns["code"].to_numpy(), returns["t"].to_numpy(), n_cust, {"value": returns["value"].to_numpy()})

    # pairs (customer, cutoff) of everyone first seen before each cutoff
    cut_ns = np.array([x.value for x in cuts], dtype=np.int64)
    pair_code_parts, pair_cut_parts = [], []
    for j, cv in enumerate(cut_ns):
        members = np.flatnonzero(first_seen < cv)
        pair_code_parts.append(members)
        pair_cut_parts.append(np.full(len(members), j, dtype=np.int64))
    pc = np.concatenate(pair_code_parts) if pair_code_parts else np.zeros(0, dtype=np.int64)
    pj = np.concatenate(pair_cut_parts) if pair_cut_parts else np.zeros(0, dtype=np.int64)
    t_cut = cut_ns[pj]

    def back(months: int) -> np.ndarray:
        return _offsets(cuts, pd.DateOffset(months=months), -1)[pj]

    o_first = O.first(pc)
    o_hi = O.upto(pc, t_cut)
    n_orders = o_hi - o_first
    if s.population == "active":
        active_from = _offsets(cuts, parse_horizon(s.active_within, "active_within").offset, -1)[pj]
        keep = (o_hi - O.upto(pc, active_from)) > 0
        pc, pj, t_cut, o_first, o_hi, n_orders = pc[keep], pj[keep], t_cut[keep], o_first[keep], o_hi[keep], n_orders[keep]
    has = n_orders > 0
    r_first, r_hi = R.first(pc), R.upto(pc, t_cut)

    out: dict[str, Any] = {
        c.customer_id: codes.to_numpy()[pc],
        CUTOFF: t_cut.view("datetime64[ns]"),
        "tenure_days": (t_cut - first_seen[pc]) / _NS_DAY,
        "orders_total": n_orders.astype(np.int64),
    }
    gross = O.total("value", pc, o_first, o_hi)
    net_returns = R.total("value", pc, r_first, r_hi)
    for w in s.windows:
        lo = O.upto(pc, back(w))
        out[f"orders_{w}m"] = (o_hi - lo).astype(np.int64)
    out["revenue_total"] = gross + net_returns
    for w in s.windows:
        start = back(w)
        out[f"revenue_{w}m"] = O.total("value", pc, O.upto(pc, start), o_hi) + R.total("value", pc, R.upto(pc, start), r_hi)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["avg_order_value"] = np.where(has, gross / np.maximum(n_orders, 1), np.nan)
        t_first = np.where(has, O.t[np.minimum(o_first, max(len(O) - 1, 0))] if len(O) else 0, 0)
        t_last = np.where(has, O.t[np.maximum(o_hi - 1, 0)] if len(O) else 0, 0)
        out["days_since_first_order"] = np.where(has, (t_cut - t_first) / _NS_DAY, np.nan)
        out["days_since_last_order"] = np.where(has, (t_cut - t_last) / _NS_DAY, np.nan)
        out["repeat_orders"] = np.where(has, n_orders - 1, np.nan)
        first_value = np.where(has, O.values["value"][np.minimum(o_first, max(len(O) - 1, 0))] if len(O) else 0.0, 0.0)
        rep = n_orders >= 2
        out["mean_repeat_order_value"] = np.where(rep, (gross - first_value) / np.maximum(n_orders - 1, 1), np.nan)
        n_gaps = np.maximum(n_orders - 1, 1)
        gsum = O.total("gap", pc, o_first, o_hi)  # the first order's gap is 0
        g2 = O.total("gap2", pc, o_first, o_hi)
        mean_gap = gsum / n_gaps
        out["mean_days_between_orders"] = np.where(rep, mean_gap, np.nan)
        out["std_days_between_orders"] = np.where(n_orders >= 3, np.sqrt(np.maximum(g2 / n_gaps - mean_gap**2, 0.0)), np.nan)
        o3, o6 = O.upto(pc, back(3)), O.upto(pc, back(6))
        last3 = (o_hi - o3).astype(float)
        prev3 = (o3 - o6).astype(float)
        out["orders_prev_3m"] = prev3.astype(np.int64)
        out["order_trend_3m"] = np.where(prev3 > 0, (last3 - prev3) / np.where(prev3 > 0, prev3, 1.0), np.nan)
        r3, r6 = R.upto(pc, back(3)), R.upto(pc, back(6))
        rev3 = O.total("value", pc, o3, o_hi) + R.total("value", pc, r3, r_hi)
        rev_prev3 = O.total("value", pc, o6, o3) + R.total("value", pc, r6, r3)
        out["revenue_trend_3m"] = np.where(rev_prev3 > 0, (rev3 - rev_prev3) / np.where(rev_prev3 > 0, rev_prev3, 1.0), np.nan)
        out["orders_down_20pct"] = (prev3 > 0) & (last3 <= 0.8 * prev3)
    if s.returns == "net":
        r12 = R.upto(pc, back(12))
        out["returns_12m"] = (r_hi - r12).astype(np.int64)
        out["returned_amount_12m"] = -R.total("value", pc, r12, r_hi)

    amounts = lines[c.amount].to_numpy(dtype=float)
    is_pos = amounts > 0
    pos_code = line_code[is_pos]
    pos_t = lines[c.order_date].to_numpy(dtype="datetime64[ns]").astype(np.int64)[is_pos]
    for name, column in (("product", c.product), ("channel", c.channel)):
        if column and column in lines.columns:
            cat = lines[column].astype("string").fillna("(missing)")[is_pos]
            main, share, n_cat = _main_category(pos_code, pos_t, amounts[is_pos], cat, pc, t_cut, n_cust)
            out[f"main_{name}"] = main
            out[f"main_{name}_share"] = share
            out[f"n_{name}s"] = n_cat

    if activities is not None:
        out.update(_activity_features(activities, s, codes, pc, t_cut, back))

    if customers is not None:
        out.update(_attribute_features(customers, s, codes, pc))

    out["cutoff_month"] = pd.DatetimeIndex(t_cut.view("datetime64[ns]")).month.to_numpy(dtype=np.int64)

    if h is not None:
        ahead = _offsets(cuts, h.offset, +1)[pj]
        before = _offsets(cuts, h.offset, -1)[pj]
        o_ahead, r_ahead = O.upto(pc, ahead), R.upto(pc, ahead)
        future_rev = O.total("value", pc, o_hi, o_ahead) + R.total("value", pc, r_hi, r_ahead)
        out["target_revenue"] = np.maximum(future_rev, 0.0)
        out["target_orders"] = (o_ahead - o_hi).astype(np.int64)
        ob, rb = O.upto(pc, before), R.upto(pc, before)
        out["target_previous_revenue"] = O.total("value", pc, ob, o_hi) + R.total("value", pc, rb, r_hi)

    frame = pd.DataFrame(out)
    frame[c.customer_id] = _restore_ids(frame[c.customer_id], transactions[c.customer_id])
    order = np.lexsort((frame[c.customer_id].astype(str).to_numpy(), frame[CUTOFF].to_numpy()))
    return frame.iloc[order].reset_index(drop=True)


def _restore_ids(ids: pd.Series, original: pd.Series) -> pd.Series:
    """Customer ids back in the dtype of the input (they are matched as strings)."""
    if pd.api.types.is_integer_dtype(original.dtype):
        try:
            return ids.astype(original.dtype)
        except (TypeError, ValueError):
            return ids
    return ids.astype(original.dtype) if pd.api.types.is_string_dtype(original.dtype) else ids


def _activity_features(activities: pd.DataFrame, s: SnapshotSettings, codes: pd.Index, pc, t_cut, back) -> dict[str, np.ndarray]:
    c = s.columns
    need = [c.customer_id, c.activity_time, c.activity_kind]
    missing = [col for col in need if col not in activities.columns]
    if missing:
        _raise([Problem("activities", col, "missing", "required column is missing", "add it or map its name in the experiment YAML") for col in missing])
    when = parse_dates(activities[c.activity_time])
    code = codes.get_indexer(activities[c.customer_id].astype(str))
    kind = activities[c.activity_kind].astype("string").str.lower().to_numpy(dtype=object, na_value="")
    value = (
        pd.to_numeric(activities[c.activity_value], errors="coerce").to_numpy(dtype=float)
        if c.activity_value in activities.columns
        else np.full(len(activities), np.nan)
    )
    ok = (code >= 0) & when.notna().to_numpy()
    t = when.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    n_cust = len(codes)
    out: dict[str, np.ndarray] = {}
    everything = _Timeline(code[ok], t[ok], n_cust)
    hi_all = everything.upto(pc, t_cut)
    has_any = hi_all > everything.first(pc)
    last_any = everything.t[np.maximum(hi_all - 1, 0)] if len(everything) else np.zeros(len(pc), dtype=np.int64)
    b3, b12 = back(3), back(12)
    for k in s.activity_kinds:
        sel = ok & (kind == k.lower())
        tl = _Timeline(code[sel], t[sel], n_cust)
        hi = tl.upto(pc, t_cut)
        out[f"{k}s_3m"] = (hi - tl.upto(pc, b3)).astype(np.int64)
        lo12 = tl.upto(pc, b12)
        out[f"{k}s_12m"] = (hi - lo12).astype(np.int64)
        if k.lower() == "survey":
            # the latest *scored* survey before the cutoff
            scored = sel & ~np.isnan(value)
            st = _Timeline(code[scored], t[scored], n_cust, {"value": value[scored]})
            shi, slo12 = st.upto(pc, t_cut), st.upto(pc, b12)
            seen = shi > st.first(pc)
            idx = np.maximum(shi - 1, 0)
            out["last_survey_score"] = np.where(seen, st.values["value"][idx] if len(st) else np.nan, np.nan)
            n12 = shi - slo12
            with np.errstate(invalid="ignore", divide="ignore"):
                out["mean_survey_score_12m"] = np.where(n12 > 0, st.total("value", pc, slo12, shi) / np.maximum(n12, 1), np.nan)
            out["days_since_last_survey"] = np.where(seen, (t_cut - (st.t[idx] if len(st) else 0)) / _NS_DAY, np.nan)
    out["days_since_last_activity"] = np.where(has_any, (t_cut - last_any) / _NS_DAY, np.nan)
    return out


def _attribute_features(customers: pd.DataFrame, s: SnapshotSettings, codes: pd.Index, pc: np.ndarray) -> dict[str, np.ndarray]:
    c = s.columns
    present = [a for a in c.attributes if a in customers.columns]
    missing = [a for a in c.attributes if a not in customers.columns]
    if missing:
        logger.info("customer attributes not in the customers table (skipped): %s", ", ".join(missing))
    table = customers.drop_duplicates(c.customer_id, keep="last")
    table = table.set_index(table[c.customer_id].astype(str))
    aligned = table.reindex(codes)
    return {a: aligned[a].to_numpy()[pc] for a in present}


# --------------------------------------------------------------------------- #
# Brute-force reference (tests)
# --------------------------------------------------------------------------- #
def build_reference(
    transactions: pd.DataFrame,
    *,
    cutoffs: Iterable[Any] | Any,
    horizon: str | int | Horizon | None = None,
    customers: pd.DataFrame | None = None,
    activities: pd.DataFrame | None = None,
    settings: SnapshotSettings | Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """The same table as :func:`build`, computed customer by customer with plain pandas (slow; for tests)."""
    s = _settings(settings)
    c = s.columns
    cuts = _cutoffs(cutoffs)
    h = parse_horizon(horizon) if horizon is not None else None
    lines, problems = prepare_transactions(transactions, s)
    _raise(problems)
    codes, first_seen, _ = _universe(lines, customers, s)
    _raise(_check_cutoffs(cuts, first_seen))
    lines = lines.assign(_cid=lines[c.customer_id].astype(str))
    has_oid = bool(c.order_id and c.order_id in lines.columns)
    acts = None
    if activities is not None:
        acts = activities.assign(
            _cid=activities[c.customer_id].astype(str),
            _t=parse_dates(activities[c.activity_time]),
            _kind=activities[c.activity_kind].astype("string").str.lower(),
            _v=pd.to_numeric(activities[c.activity_value], errors="coerce") if c.activity_value in activities.columns else np.nan,
        )
        acts = acts[acts["_t"].notna()]
    attrs = None
    if customers is not None:
        present = [a for a in c.attributes if a in customers.columns]
        table = customers.drop_duplicates(c.customer_id, keep="last")
        attrs = table.set_index(table[c.customer_id].astype(str))[present]
    by_customer = {cid: part for cid, part in lines.groupby("_cid", sort=False)}
    acts_by_customer = {cid: part for cid, part in acts.groupby("_cid", sort=False)} if acts is not None else {}
    history = {}
    for cid, mine in by_customer.items():
        pos = mine[mine[c.amount] > 0]
        neg = mine[mine[c.amount] < 0]
        if has_oid:
            orders = pos.groupby(pos[c.order_id].astype(str)).agg(t=(c.order_date, "min"), value=(c.amount, "sum"))
        else:
            orders = pd.DataFrame({"t": pos[c.order_date], "value": pos[c.amount]})
        orders = orders.sort_values(["t", "value"], kind="stable")
        history[cid] = (orders, pos, neg)
    empty_orders = pd.DataFrame({"t": pd.Series([], dtype="datetime64[ns]"), "value": pd.Series([], dtype=float)})
    empty_lines = lines.iloc[:0]
    rows = []
    day = pd.Timedelta(days=1)
    for cut in cuts:
        m = lambda k: cut - pd.DateOffset(months=k)  # noqa: E731
        for i, cid in enumerate(codes):
            if first_seen[i] >= cut.value:
                continue
            orders, pos, neg = history.get(cid, (empty_orders, empty_lines, empty_lines))
            past = orders[orders["t"] < cut]
            past_neg = neg[neg[c.order_date] < cut]
            if s.population == "active":
                since = cut - parse_horizon(s.active_within).offset
                if not ((past["t"] >= since).any()):
                    continue
            ot, ov = orders["t"].to_numpy(), orders["value"].to_numpy()
            nt, nv = neg[c.order_date].to_numpy(), neg[c.amount].to_numpy()

            def n_orders(lo, hi=cut):
                return int(((ot >= lo) & (ot < hi)).sum())

            def net(lo, hi=cut):
                return float(ov[(ot >= lo) & (ot < hi)].sum() + nv[(nt >= lo) & (nt < hi)].sum())

            row: dict[str, Any] = {c.customer_id: cid, CUTOFF: cut, "tenure_days": (cut - pd.Timestamp(int(first_seen[i]))) / day}
            n = len(past)
            row["orders_total"] = n
            for w in s.windows:
                row[f"orders_{w}m"] = n_orders(m(w))
            row["revenue_total"] = float(past["value"].sum() + past_neg[c.amount].sum())
            for w in s.windows:
                row[f"revenue_{w}m"] = net(m(w))
            row["avg_order_value"] = float(past["value"].mean()) if n else np.nan
            row["days_since_first_order"] = (cut - past["t"].iloc[0]) / day if n else np.nan
            row["days_since_last_order"] = (cut - past["t"].iloc[-1]) / day if n else np.nan
            row["repeat_orders"] = float(n - 1) if n else np.nan
            row["mean_repeat_order_value"] = float(past["value"].iloc[1:].mean()) if n >= 2 else np.nan
            gaps = past["t"].diff().dropna() / day
            row["mean_days_between_orders"] = float(gaps.mean()) if n >= 2 else np.nan
            row["std_days_between_orders"] = float(gaps.std(ddof=0)) if n >= 3 else np.nan
            last3, prev3 = n_orders(m(3)), n_orders(m(6), m(3))
            row["orders_prev_3m"] = prev3
            row["order_trend_3m"] = (last3 - prev3) / prev3 if prev3 > 0 else np.nan
            rev3, revp = net(m(3)), net(m(6), m(3))
            row["revenue_trend_3m"] = (rev3 - revp) / revp if revp > 0 else np.nan
            row["orders_down_20pct"] = bool(prev3 > 0 and last3 <= 0.8 * prev3)
            if s.returns == "net":
                r12 = neg[(neg[c.order_date] >= m(12)) & (neg[c.order_date] < cut)]
                row["returns_12m"] = len(r12)
                row["returned_amount_12m"] = float(-r12[c.amount].sum())
            for name, column in (("product", c.product), ("channel", c.channel)):
                if column and column in lines.columns:
                    pl = pos[pos[c.order_date] < cut]
                    if len(pl):
                        by = pl.groupby(pl[column].astype("string").fillna("(missing)").astype(str))[c.amount].sum()
                        by = by.sort_index()
                        best = by.idxmax()
                        row[f"main_{name}"] = best
                        row[f"main_{name}_share"] = float(by[best] / by.sum()) if by.sum() > 0 else np.nan
                        row[f"n_{name}s"] = len(by)
                    else:
                        row[f"main_{name}"], row[f"main_{name}_share"], row[f"n_{name}s"] = None, np.nan, 0
            if acts is not None:
                mine_a = acts_by_customer.get(cid, acts.iloc[:0])
                mine_a = mine_a[mine_a["_t"] < cut]
                for k in s.activity_kinds:
                    ak = mine_a[mine_a["_kind"] == k.lower()]
                    row[f"{k}s_3m"] = int((ak["_t"] >= m(3)).sum())
                    row[f"{k}s_12m"] = int((ak["_t"] >= m(12)).sum())
                    if k.lower() == "survey":
                        scored = ak[ak["_v"].notna()].sort_values("_t", kind="stable")
                        row["last_survey_score"] = float(scored["_v"].iloc[-1]) if len(scored) else np.nan
                        recent = scored[scored["_t"] >= m(12)]
                        row["mean_survey_score_12m"] = float(recent["_v"].mean()) if len(recent) else np.nan
                        row["days_since_last_survey"] = (cut - scored["_t"].iloc[-1]) / day if len(scored) else np.nan
                row["days_since_last_activity"] = (cut - mine_a["_t"].max()) / day if len(mine_a) else np.nan
            if attrs is not None:
                for a in attrs.columns:
                    row[a] = attrs[a].get(cid, np.nan)
            row["cutoff_month"] = cut.month
            if h is not None:
                ahead = cut + h.offset
                row["target_revenue"] = max(net(cut, ahead), 0.0)
                row["target_orders"] = n_orders(cut, ahead)
                row["target_previous_revenue"] = net(cut - h.offset)
            rows.append(row)
    frame = pd.DataFrame(rows)
    if len(frame):
        frame = frame.sort_values([CUTOFF, c.customer_id], kind="stable").reset_index(drop=True)
    return frame


# --------------------------------------------------------------------------- #
# Planning cutoffs
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class CutoffPlan:
    """Training cutoffs, the validation cutoff and the holdout cutoff.

    The holdout is the latest cutoff whose target window is complete. Every
    other slice keeps its whole target window before the next slice's cutoff
    (validation windows end at or before the holdout cutoff, training windows
    at or before the validation cutoff), so no target of an earlier slice
    overlaps a later one.
    """

    train: tuple[pd.Timestamp, ...]
    valid: pd.Timestamp
    holdout: pd.Timestamp
    #: The target window of the training and validation cutoffs: the horizon itself, or a shorter one
    #: when the history is too short for three full windows (``mode="short_history"``).
    train_horizon: Horizon | None = None
    mode: Literal["standard", "short_history"] = "standard"

    @property
    def all(self) -> list[pd.Timestamp]:
        return [*self.train, self.valid, self.holdout]


def split_cutoffs(
    cutoffs: Iterable[pd.Timestamp], horizon: Horizon, holdout: pd.Timestamp | None = None
) -> tuple[list[pd.Timestamp], pd.Timestamp | None, pd.Timestamp | None]:
    """``(train, valid, holdout)`` from candidate cutoffs whose windows are complete (see :class:`CutoffPlan`).

    ``holdout`` defaults to the latest candidate; ``horizon`` is the window of the training and
    validation cutoffs.
    """
    cands = sorted(set(pd.Timestamp(c) for c in cutoffs))
    if not cands:
        return [], None, None
    holdout = cands[-1] if holdout is None else pd.Timestamp(holdout)
    valids = [c for c in cands if c + horizon.offset <= holdout]
    if not valids:
        return [], None, holdout
    valid = valids[-1]
    train = [c for c in cands if c + horizon.offset <= valid]
    return train, valid, holdout


def plan_cutoffs(
    transactions: pd.DataFrame,
    *,
    horizon: str | int | Horizon,
    n_train: int = 12,
    min_history: str | int | Horizon = "3M",
    cutoffs: Sequence[Any] | None = None,
    customers: pd.DataFrame | None = None,
    settings: SnapshotSettings | Mapping[str, Any] | None = None,
    shorter_training_windows: bool = False,
) -> CutoffPlan:
    """Monthly cutoffs (or the given ones) split into training, validation and holdout.

    Candidates are month starts from ``min_history`` after the first data to
    the last one whose ``horizon`` window the data completes (:func:`data_end`).

    When the history is too short for a training, a validation and a holdout cutoff each followed by
    a full ``horizon`` window and ``shorter_training_windows`` is set (tasks whose predictions can be
    rescaled to another horizon, CLV), the holdout keeps its full window and the training and
    validation cutoffs take the longest shorter window (whole months) that fits before it
    (``mode="short_history"``, logged). Raises
    :class:`~salesml.core.contracts.DataValidationError` when a cutoff lies before any data, or when
    even that cannot work, saying which horizon would.
    """
    s = _settings(settings)
    h = parse_horizon(horizon)
    lines, problems = prepare_transactions(transactions, s)
    _raise(problems)
    if lines.empty:
        _raise([Problem("transactions", None, "empty", "no usable order lines remain", "check the export and the returns policy")])
    codes, first_seen, _ = _universe(lines, customers, s)
    known = first_seen[first_seen < np.iinfo(np.int64).max]
    first = pd.Timestamp(int(known.min()))
    end = lines[s.columns.order_date].max().normalize() + pd.Timedelta(days=1)
    if cutoffs:
        cands = _cutoffs(cutoffs)
        _raise(_check_cutoffs(cands, first_seen))
        late = [c for c in cands if c + h.offset > end]
        if late:
            logger.info("cutoffs %s have incomplete %s windows (data end %s) and are not used", [f"{c:%Y-%m-%d}" for c in late], h, end)
        cands = [c for c in cands if c + h.offset <= end]
    else:
        cands = month_starts(first + parse_horizon(min_history, "min_history").offset, end - h.offset)
    train, valid, holdout = split_cutoffs(cands, h)
    if train:
        return CutoffPlan(tuple(train[-n_train:]), valid, holdout, h)  # type: ignore[arg-type]
    span_months = (end.year - first.year) * 12 + end.month - first.month
    covers = f"the data covers {first:%Y-%m-%d} to {end - pd.Timedelta(days=1):%Y-%m-%d} (about {span_months} months)"
    if shorter_training_windows and holdout is not None:
        all_cands = _cutoffs(cutoffs) if cutoffs else month_starts(first + parse_horizon(min_history, "min_history").offset, end)
        for months in range(max(int(h.days // _DAYS_PER_MONTH), 1), 0, -1):
            short = Horizon(months, "M")
            if short.days >= h.days:
                continue
            train, valid, _ = split_cutoffs([c for c in all_cands if c + short.offset <= holdout], short, holdout)
            if train and valid is not None and valid < holdout:
                logger.warning(
                    "%s: too short for three full %s windows; training and validation cutoffs use %s windows, "
                    "rescaled to %s, and the holdout (%s) keeps its full window",
                    covers, h, short, h, f"{holdout:%Y-%m-%d}",
                )
                return CutoffPlan(tuple(train[-n_train:]), valid, holdout, short, "short_history")
    earliest = month_starts(first + parse_horizon(min_history, "min_history").offset, end)
    most = 0
    if earliest:  # the first possible training cutoff, then 1-month windows for it and the validation
        while earliest[0] + pd.DateOffset(months=2 + most + 1) <= end:
            most += 1
    if shorter_training_windows:
        what = (
            f"too short for a training and a validation cutoff with at least 1-month windows before a holdout "
            f"cutoff followed by a complete {h} window (that needs about {h} + 2 months plus {min_history} of history)"
        )
        fix = (
            f"use a horizon of at most {most} months (params.horizon), a shorter params.min_history, "
            "or provide more history" if most >= 1 else "provide more history or a shorter params.min_history"
        )
    else:
        what = (
            f"too short for a training, a validation and a holdout cutoff each followed by a complete {h} window "
            f"(that needs about 3 x {h} plus {min_history} of history)"
        )
        fix = "use a shorter horizon (params.horizon), fewer or earlier cutoffs, or provide more history"
    _raise([Problem("transactions", None, "horizon_too_long", f"{covers}, {what}", fix)])
    raise AssertionError("unreachable")  # pragma: no cover
