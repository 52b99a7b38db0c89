"""Seeded synthetic CRM data with known generating models.

:func:`make_crm` builds a small CRM world (leads, customers, orders, activities)
from explicit, documented models, and returns the hidden truth next to the
observable tables (the exact conversion probability of every lead; every
customer's purchase rate, mean spend, churn hazard and churn date; the promotion
calendar). Tests and benchmarks compare fitted models with that truth.

Everything is vectorised numpy, driven by one ``np.random.default_rng`` seed:
the same arguments give identical frames. All timestamps are tz-naive and mean
UTC. ``end`` is inclusive: a plain date covers that whole day.

Generating models, in short:

* **leads** - a latent intent ``z ~ N(channel shift, 1)`` drives the behaviour
  counts and the inquiry keywords; ``p_convert = sigmoid(logit)`` with
  ``logit = b0 + channel + industry + company size + industry x size
  + need + sum_k beta_k log1p(behaviour_k) + channel x log1p(pricing views)
  + event + recency + keywords + month of creation + N(0, 0.3)``, and ``b0``
  set by bisection so that the mean of ``p_convert`` is 8%. Missing values
  are masked *after* ``p_convert`` is computed.
* **customers** - converted leads (signing up at ``converted_at``) plus
  pre-existing customers who signed up in the two years before ``start``.
  Each has a Gamma-distributed purchase rate and mean spend (by company size),
  and a constant monthly churn hazard driven by latent satisfaction, the number
  of complaints, ``price_sensitive``, industry and size; the churn month is
  geometric (a customer survives each month with probability ``1 - hazard``).
* **transactions** - Poisson orders per customer-month: purchase rate x
  month-of-year seasonality x mild trend x promotion lift (strong for
  price-sensitive customers), decaying linearly to 30% over the three months
  before churn; amounts Gamma(shape 3) around ``mean_spend`` x product mix,
  discounted in promotion months; about 1% returns as negative amounts.
* **activities** - visits, calls and tickets (more for large customers) thin out
  before churn; surveys score latent satisfaction + noise. Complaints are drawn
  first (rate rises as satisfaction falls) and raise the hazard; many customers
  also complain in their last three months.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

__all__ = [
    "SIZES",
    "CRMData",
    "make_crm",
    "make_leads",
    "write_crm",
    "load_crm",
    "SCHEMA",
    "PERSONAL_COLUMNS",
    "KEYWORD_EFFECTS",
    "CHANNELS",
    "INDUSTRIES",
    "COMPANY_SIZES",
    "REGIONS",
    "NEEDS",
    "PRODUCTS",
    "ORDER_CHANNELS",
    "ACTIVITY_KINDS",
]

#: Named data sizes: number of leads.
SIZES: dict[str, int] = {"small": 20_000, "medium": 100_000, "large": 1_000_000}

TABLES: tuple[str, ...] = ("leads", "customers", "transactions", "activities")
TRUTH_TABLES: tuple[str, ...] = ("leads", "customers", "promotions")

# --------------------------------------------------------------------------- #
# Vocabularies and true effects (log-odds unless said otherwise)
# --------------------------------------------------------------------------- #
CHANNELS = ("web", "referral", "event", "paid_search", "partner", "cold_outbound")
_CHANNEL_P = np.array([0.34, 0.10, 0.08, 0.20, 0.10, 0.18])
_CHANNEL_EFFECT = np.array([0.0, 0.9, 0.7, -0.1, 0.35, -0.9])
_CHANNEL_INTENT = np.array([0.0, 0.35, 0.25, 0.05, 0.10, -0.45])
# channel x log1p(pricing_page_views)
_CHANNEL_PRICING = np.array([0.0, 0.0, 0.0, 0.35, -0.2, 0.3])

INDUSTRIES = ("software", "manufacturing", "retail", "finance", "healthcare", "logistics", "education")
_INDUSTRY_P = np.array([0.22, 0.17, 0.16, 0.12, 0.12, 0.11, 0.10])
_INDUSTRY_EFFECT = np.array([0.30, 0.0, -0.20, 0.20, -0.10, 0.05, -0.45])

COMPANY_SIZES = ("1-10", "11-50", "51-200", "201-1000", "1000+")
_SIZE_P = np.array([0.30, 0.28, 0.22, 0.13, 0.07])
_SIZE_EFFECT = np.array([-0.40, -0.10, 0.15, 0.25, 0.10])

# industry x company size (rows: INDUSTRIES, columns: COMPANY_SIZES)
_INDUSTRY_SIZE = np.zeros((len(INDUSTRIES), len(COMPANY_SIZES)))
_INDUSTRY_SIZE[0, 2:4] = 0.35  # software, mid-size: strong fit
_INDUSTRY_SIZE[2, 0] = -0.35  # retail, tiny: weak
_INDUSTRY_SIZE[3, 4] = 0.45  # finance, enterprise
_INDUSTRY_SIZE[6, 4] = -0.35  # education, enterprise (procurement)
_INDUSTRY_SIZE[1, 3:] = 0.20  # manufacturing, large

REGIONS = ("north", "south", "east", "west", "central")
_REGION_P = np.array([0.22, 0.20, 0.22, 0.20, 0.16])

NEEDS = ("pricing", "integration", "support", "analytics", "migration", "other")
_NEED_P = np.array([0.20, 0.18, 0.14, 0.20, 0.10, 0.18])
_NEED_EFFECT = np.array([0.20, 0.10, -0.15, 0.05, 0.15, -0.25])

# behaviour coefficients on log1p(count)
_BEHAVIOUR_EFFECT = {
    "visits": 0.30,
    "pricing_page_views": 0.45,
    "downloads": 0.35,
    "email_opens": 0.25,
    "time_on_site": 0.15,
}
_EVENT_EFFECT = 0.5
_RECENCY_EFFECT = -0.015  # per day since last activity
_CONVERSION_MONTH = np.array([0.0, 0.05, 0.10, 0.05, 0.0, -0.10, -0.20, -0.20, 0.0, 0.10, 0.15, 0.0])
_CONVERSION_NOISE_SD = 0.3
TARGET_CONVERSION = 0.08

# keyword, log-odds effect, prevalence logit, slope on intent, phrases (<= 3 words)
_KEYWORDS: tuple[tuple[str, float, float, float, tuple[str, str, str]], ...] = (
    ("pricing", 0.5, -2.7, 0.5, ("need pricing", "pricing please", "send pricing details")),
    ("quote", 0.6, -3.0, 0.6, ("request a quote", "need a quote", "quote for seats")),
    ("demo", 0.7, -3.0, 0.6, ("book a demo", "want a demo", "demo next week")),
    ("urgent", 0.4, -3.4, 0.5, ("urgent request", "this is urgent", "urgent, need help")),
    ("budget approved", 1.0, -4.0, 0.8, ("budget approved", "budget approved already", "budget approved, buying")),
    ("student", -1.3, -3.6, -0.6, ("student project", "i am student", "student thesis research")),
    ("job", -1.1, -4.0, -0.5, ("looking for job", "job application", "job opening question")),
    ("just browsing", -0.8, -3.2, -0.6, ("just browsing", "just browsing around", "just browsing options")),
    ("free", -0.5, -3.0, -0.4, ("free version?", "anything free", "free plan only")),
)
KEYWORD_EFFECTS: dict[str, float] = {k: e for k, e, *_ in _KEYWORDS}
_OPENERS = ("hello,", "hi team,", "good morning,", "dear sales,", "hi there,", "question:", "contact request:")
_FILLERS = (
    "for our team",
    "about your platform",
    "we use spreadsheets",
    "need more information",
    "for sales tracking",
    "our crm is old",
    "reporting across regions",
    "please call me",
    "interested in onboarding",
    "how it works",
    "about your product",
    "connect with erp",
)
_CLOSERS = ("thanks", "thank you", "regards", "kind regards", "cheers")
_EMAIL_DOMAINS = ("example.com", "example.org", "example.net")

# customers
_PURCHASE_RATE_BASE = np.array([0.45, 0.65, 0.85, 1.15, 1.5])  # orders / month by company size
_PURCHASE_RATE_SHAPE = 1.2
_MEAN_SPEND_BASE = np.array([500.0, 900.0, 1500.0, 2200.0, 3000.0])  # by company size
_MEAN_SPEND_SHAPE = 4.0
_ORDER_SPEND_SHAPE = 3.0  # Gamma-Gamma: per-order spend shape
_HAZARD_INDUSTRY = np.array([-0.15, -0.10, 0.30, -0.20, 0.0, 0.10, 0.20])
_HAZARD_SIZE = np.array([0.35, 0.15, 0.0, -0.20, -0.35])
_TARGET_CHURNED_SHARE = 0.32
_CHURN_DECAY_MONTHS = 3.0
_CHURN_DECAY_FLOOR = 0.3

PRODUCTS = ("core", "addon", "services", "support", "hardware")
_PRODUCT_P = np.array([0.40, 0.22, 0.15, 0.13, 0.10])
_PRODUCT_MULT = np.array([1.3, 0.5, 1.0, 0.6, 1.4])
_PRODUCT_MULT = _PRODUCT_MULT / float(_PRODUCT_P @ _PRODUCT_MULT)  # E[mult] = 1 -> E[amount] = mean_spend
ORDER_CHANNELS = ("direct", "online", "partner")
_ORDER_CHANNEL_P = np.array(  # by company size
    [[0.20, 0.65, 0.15], [0.30, 0.55, 0.15], [0.45, 0.40, 0.15], [0.60, 0.25, 0.15], [0.70, 0.15, 0.15]]
)
_ORDER_MONTH = np.array([0.95, 0.95, 1.05, 1.0, 1.0, 0.92, 0.82, 0.80, 1.0, 1.1, 1.2, 1.3])
_ORDER_MONTH = _ORDER_MONTH / _ORDER_MONTH.mean()
_ORDER_TREND_PER_YEAR = 0.06
_PROMO_LIFT = (0.4, 3.5)  # rate x (1 + lift * discount) for (other, price-sensitive) customers
_RETURN_SHARE = 0.01

ACTIVITY_KINDS = ("visit", "call", "ticket", "complaint", "survey")
_TICKET_SIZE = np.array([0.5, 0.8, 1.2, 2.0, 3.0])
_CALL_SIZE = np.array([0.8, 1.0, 1.2, 1.5, 2.0])

_NS_DAY = 86_400 * 10**9
_NS_SECOND = 10**9
_NS_MONTH = int(round(30.436875 * _NS_DAY))
_NS_YEAR = 12 * _NS_MONTH
_NAT = np.iinfo(np.int64).min
_CELLS_PER_CHUNK = 2_000_000

#: Column kinds of every table written by :func:`write_crm` (used to restore dtypes on load).
SCHEMA: dict[str, dict[str, str]] = {
    "leads": {
        "lead_id": "str",
        "created_at": "datetime",
        "channel": "str",
        "industry": "str",
        "company_size": "str",
        "region": "str",
        "stated_need": "str",
        "visits": "int",
        "pages_viewed": "int",
        "pricing_page_views": "int",
        "time_on_site": "float",
        "downloads": "int",
        "email_opens": "int",
        "event_attended": "bool",
        "days_since_last_activity": "int",
        "inquiry_text": "str",
        "email": "str",
        "converted": "bool",
        "converted_at": "datetime",
    },
    "customers": {
        "customer_id": "str",
        "lead_id": "str",
        "signup_date": "datetime",
        "industry": "str",
        "company_size": "str",
        "region": "str",
        "email": "str",
        "phone": "str",
        "price_sensitive": "bool",
        "satisfaction": "float",
    },
    "transactions": {
        "order_id": "str",
        "customer_id": "str",
        "order_date": "datetime",
        "amount": "float",
        "product": "str",
        "region": "str",
        "channel": "str",
    },
    "activities": {"customer_id": "str", "at": "datetime", "kind": "str", "value": "float"},
    "truth_leads": {"lead_id": "str", "p_convert": "float"},
    "truth_customers": {
        "customer_id": "str",
        "purchase_rate": "float",
        "mean_spend": "float",
        "churn_hazard": "float",
        "churned_at": "datetime",
    },
    "truth_promotions": {"month": "datetime", "region": "str", "discount": "float"},
}

#: Columns that identify a person or a record (never put them in model features or artifacts).
PERSONAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "leads": ("lead_id", "email"),
    "customers": ("customer_id", "lead_id", "email", "phone"),
    "transactions": ("order_id", "customer_id"),
    "activities": ("customer_id",),
}

_STR_DTYPE = pd.Series(["a"]).dtype  # object on pandas 2, the default "str" dtype on pandas 3
# pandas 3 parses floats exactly by default (and deprecates the option); pandas 2 needs asking
_CSV_READ_OPTIONS: dict[str, Any] = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
_ARROW_STR = isinstance(_STR_DTYPE, pd.StringDtype) and _STR_DTYPE.storage == "pyarrow"
if _ARROW_STR:
    import pyarrow as pa


# --------------------------------------------------------------------------- #
# Public API
# --------------------------------------------------------------------------- #
@dataclass(frozen=True, eq=False)
class CRMData:
    """Observable CRM tables plus the hidden generating truth.

    ``truth`` holds ``"leads"`` (``lead_id``, ``p_convert``), ``"customers"``
    (``customer_id``, ``purchase_rate``, ``mean_spend``, ``churn_hazard``,
    ``churned_at``) and ``"promotions"`` (``month``, ``region``, ``discount``)
    when generated; it is for tests and benchmarks only.
    """

    leads: pd.DataFrame = field(repr=False)
    customers: pd.DataFrame = field(repr=False)
    transactions: pd.DataFrame = field(repr=False)
    activities: pd.DataFrame = field(repr=False)
    truth: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The four observable tables by name (no truth)."""
        return {name: getattr(self, name) for name in TABLES}

    def __repr__(self) -> str:
        parts = [f"{name}={len(df):,} rows" for name, df in self.tables().items()]
        parts.append(f"truth={sorted(self.truth)}")
        return f"CRMData({', '.join(parts)})"


def make_leads(
    n_leads: int = 20_000,
    *,
    start: str | pd.Timestamp = "2023-01-01",
    end: str | pd.Timestamp = "2025-12-31",
    random_state: int | None = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Synthetic leads and their truth (``lead_id``, ``p_convert``).

    Same leads as ``make_crm(n_leads, start=..., end=..., random_state=...).leads``.
    """
    n = _check_count(n_leads, "n_leads", minimum=1)
    start_ns, end_ns = _check_window(start, end)
    rng = _rng(random_state)
    leads, truth, _ = _simulate_leads(n, start_ns, end_ns, rng)
    return leads, truth


def make_crm(
    n_leads: int = 20_000,
    *,
    n_customers: int | None = None,
    start: str | pd.Timestamp = "2023-01-01",
    end: str | pd.Timestamp = "2025-12-31",
    random_state: int | None = 0,
) -> CRMData:
    """Generate a whole synthetic CRM (see the module docstring for the models).

    Parameters
    ----------
    n_leads : number of leads created in ``[start, end]`` (see :data:`SIZES`).
    n_customers : number of *pre-existing* customers (signed up in the two years
        before ``start``); default ``max(2000, n_leads // 4)``. Converted leads
        are added on top.
    start, end : the observed window; ``end`` is inclusive.
    random_state : seed for ``np.random.default_rng``; ``None`` is not reproducible.
    """
    n = _check_count(n_leads, "n_leads", minimum=1)
    n_pre = max(2000, n // 4) if n_customers is None else _check_count(n_customers, "n_customers", minimum=0)
    start_ns, end_ns = _check_window(start, end)
    rng = _rng(random_state)
    t0 = time.perf_counter()
    leads, truth_leads, latent = _simulate_leads(n, start_ns, end_ns, rng)
    t1 = time.perf_counter()
    customers, truth_customers, state = _simulate_customers(latent, n_pre, start_ns, end_ns, rng)
    t2 = time.perf_counter()
    transactions, activities, promotions, satisfaction = _simulate_events(state, start_ns, end_ns, rng)
    customers["satisfaction"] = satisfaction
    t3 = time.perf_counter()
    logger.debug(
        "make_crm: leads %.2fs, customers %.2fs, events %.2fs (%d leads, %d customers, %d orders, %d activities)",
        t1 - t0,
        t2 - t1,
        t3 - t2,
        len(leads),
        len(customers),
        len(transactions),
        len(activities),
    )
    return CRMData(
        leads=leads,
        customers=customers,
        transactions=transactions,
        activities=activities,
        truth={"leads": truth_leads, "customers": truth_customers, "promotions": promotions},
    )


def write_crm(data: CRMData, out_dir: str | Path, *, fmt: Literal["csv", "parquet"] = "csv") -> list[Path]:
    """Write every table (and truth as ``truth_<name>``) to ``out_dir``; return the paths.

    Each file is written to a temporary file in ``out_dir`` and then moved into
    place with ``os.replace``, so a reader never sees a half-written file.
    """
    if not isinstance(data, CRMData):
        raise TypeError(f"data must be a CRMData. Got {type(data).__name__} instead.")
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet'. Got {fmt!r} instead.")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out_dir must be a directory. Got {str(out)!r}, which is a file.")
    out.mkdir(parents=True, exist_ok=True)
    frames: dict[str, pd.DataFrame] = dict(data.tables())
    frames.update({f"truth_{name}": df for name, df in data.truth.items()})
    paths = []
    for name, df in frames.items():
        path = out / f"{name}.{fmt}"
        _atomic_write(df, path, fmt)
        paths.append(path)
    return paths


def load_crm(path: str | Path, *, fmt: Literal["csv", "parquet"] | None = None) -> CRMData:
    """Read back what :func:`write_crm` wrote (format auto-detected; truth optional).

    Known columns get their generated dtypes back (datetimes as ``datetime64[ns]``).
    Pass ``fmt`` when the directory holds both CSV and Parquet files.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"No CRM data directory at {str(folder)!r}.")
    if fmt is None:
        found = [f for f in ("csv", "parquet") if (folder / f"leads.{f}").exists()]
        if len(found) != 1:
            what = "both leads.csv and leads.parquet" if found else "no leads.csv or leads.parquet"
            raise ValueError(f"Cannot detect the format in {str(folder)!r}: found {what}. Pass fmt='csv' or 'parquet'.")
        fmt = found[0]  # type: ignore[assignment]
    elif fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet'. Got {fmt!r} instead.")
    missing = [name for name in TABLES if not (folder / f"{name}.{fmt}").exists()]
    if missing:
        raise FileNotFoundError(f"Missing table file(s) in {str(folder)!r}: {', '.join(f'{m}.{fmt}' for m in missing)}.")
    tables = {name: _read_table(folder / f"{name}.{fmt}", name, fmt) for name in TABLES}
    truth = {
        name: _read_table(folder / f"truth_{name}.{fmt}", f"truth_{name}", fmt)
        for name in TRUTH_TABLES
        if (folder / f"truth_{name}.{fmt}").exists()
    }
    return CRMData(truth=truth, **tables)


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


# --------------------------------------------------------------------------- #
# Leads
# --------------------------------------------------------------------------- #
def _lead_times(n: int, start_ns: int, end_ns: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted creation times: growth trend, seasonality, weekends, business hours."""
    first_day = start_ns - start_ns % _NS_DAY
    day_starts = np.arange(first_day, end_ns, _NS_DAY, dtype=np.int64)
    lo = np.maximum(day_starts, start_ns)
    hi = np.minimum(day_starts + _NS_DAY, end_ns)
    days = _dt(day_starts)
    month = days.astype("datetime64[M]").astype(np.int64) % 12
    dom = (days - days.astype("datetime64[M]")).astype("timedelta64[D]").astype(np.int64) + 1
    weekday = (days.astype("datetime64[D]").astype(np.int64) + 3) % 7  # 0 = Monday
    years = (day_starts - start_ns) / _NS_YEAR
    season = np.array([1.0, 1.05, 1.1, 1.05, 1.0, 0.95, 0.75, 0.72, 1.05, 1.1, 1.05, 0.9])[month]
    season = np.where((month == 11) & (dom >= 20), season * 0.5, season)
    weight = np.exp(np.log(1.3) * years) * season * np.where(weekday >= 5, 0.35, 1.0) * (hi - lo) / _NS_DAY
    day = rng.choice(len(day_starts), size=n, p=weight / weight.sum())
    # time of day: 80% business hours (around 13:00 UTC), 20% uniform
    tod = np.where(rng.random(n) < 0.8, rng.normal(13.0 / 24, 3.0 / 24, n), rng.random(n))
    tod = np.clip(tod, 0.0, 1.0 - 1e-9)
    t = lo[day] + (tod * (hi[day] - lo[day])).astype(np.int64)
    t -= (t - start_ns) % _NS_SECOND  # whole seconds
    return np.sort(t)


#: Multiplies the conversion log-odds before the intercept is set (see _simulate_leads).
_SIGNAL_SCALE = 1.35


def _simulate_leads(
    n: int, start_ns: int, end_ns: int, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, np.ndarray]]:
    created = _lead_times(n, start_ns, end_ns, rng)
    channel = rng.choice(len(CHANNELS), size=n, p=_CHANNEL_P)
    industry = rng.choice(len(INDUSTRIES), size=n, p=_INDUSTRY_P)
    size = rng.choice(len(COMPANY_SIZES), size=n, p=_SIZE_P)
    region = rng.choice(len(REGIONS), size=n, p=_REGION_P)
    need = rng.choice(len(NEEDS), size=n, p=_NEED_P)

    # latent intent drives behaviour and words
    z = rng.standard_normal(n) + _CHANNEL_INTENT[channel]
    visits = rng.poisson(np.exp(0.7 + 0.55 * z) * rng.gamma(2.0, 0.5, n))
    pages = visits + rng.poisson(visits * np.exp(0.4 + 0.15 * z))
    pricing_views = rng.binomial(pages, _sigmoid(-2.3 + 0.7 * z + 0.5 * (need == 0)))
    tos = np.where(visits > 0, visits * np.exp(0.9 + 0.25 * z + 0.5 * rng.standard_normal(n)), 0.0)
    tos = np.round(tos, 1)
    downloads = rng.poisson(np.exp(-1.3 + 0.7 * z))
    email_opens = rng.poisson(np.exp(0.6 + 0.45 * z) * rng.gamma(3.0, 1.0 / 3.0, n))
    event = rng.random(n) < _sigmoid(-2.8 + 0.5 * z + 2.8 * (channel == CHANNELS.index("event")))
    recency = np.clip(np.floor(rng.exponential(np.exp(2.8 - 0.45 * z))), 0, 120).astype(np.int64)

    text, text_missing, keyword_effect = _inquiries(n, z, need, rng)

    month = _month_of(created)
    logit = (
        _CHANNEL_EFFECT[channel]
        + _INDUSTRY_EFFECT[industry]
        + _SIZE_EFFECT[size]
        + _INDUSTRY_SIZE[industry, size]
        + _NEED_EFFECT[need]
        + _BEHAVIOUR_EFFECT["visits"] * np.log1p(visits)
        + (_BEHAVIOUR_EFFECT["pricing_page_views"] + _CHANNEL_PRICING[channel]) * np.log1p(pricing_views)
        + _BEHAVIOUR_EFFECT["downloads"] * np.log1p(downloads)
        + _BEHAVIOUR_EFFECT["email_opens"] * np.log1p(email_opens)
        + _BEHAVIOUR_EFFECT["time_on_site"] * np.log1p(tos)
        + _EVENT_EFFECT * event
        + _RECENCY_EFFECT * recency
        + keyword_effect
        + _CONVERSION_MONTH[month]
        + _CONVERSION_NOISE_SD * rng.standard_normal(n)
    )
    # Sharpen the signal so a small "hot" segment exists (~1-2% of leads with p >= 0.8), as in
    # real CRMs where inbound demo/pricing requests from good-fit accounts convert most of the time.
    logit = _SIGNAL_SCALE * logit
    intercept = _bisect(lambda b: float(_sigmoid(logit + b).mean()), TARGET_CONVERSION)
    p = _sigmoid(logit + intercept)
    converted = rng.random(n) < p

    # 3..120 days later, squeezed into the window for leads created near the end
    delay = (3.0 + 117.0 * rng.beta(1.4, 4.0, n)) * _NS_DAY
    room = (end_ns - 1 - created).astype(np.float64)
    floor = np.minimum(3.0 * _NS_DAY, 0.5 * room)
    delay = np.where(delay < room, delay, floor + rng.random(n) * (room - floor))
    conv_ns = created + delay.astype(np.int64)
    conv_ns -= (conv_ns - start_ns) % _NS_SECOND
    conv_ns = np.maximum(conv_ns, created + 1 * _NS_SECOND)
    conv_ns = np.where(converted, conv_ns, _NAT)

    # observation noise, masked after p was computed
    industry_missing = rng.random(n) < 0.03
    size_missing = rng.random(n) < 0.03
    tos_obs = np.where(rng.random(n) < 0.04, np.nan, tos)
    emails = _emails(n, rng)
    lead_ids = _id_strings("L", n, 7)

    leads = pd.DataFrame(
        {
            "lead_id": _str_col(lead_ids),
            "created_at": _dt(created),
            "channel": _str_take(CHANNELS, channel),
            "industry": _str_take(INDUSTRIES, industry, industry_missing),
            "company_size": _str_take(COMPANY_SIZES, size, size_missing),
            "region": _str_take(REGIONS, region),
            "stated_need": _str_take(NEEDS, need),
            "visits": visits.astype(np.int64),
            "pages_viewed": pages.astype(np.int64),
            "pricing_page_views": pricing_views.astype(np.int64),
            "time_on_site": tos_obs,
            "downloads": downloads.astype(np.int64),
            "email_opens": email_opens.astype(np.int64),
            "event_attended": event,
            "days_since_last_activity": recency,
            "inquiry_text": _str_col(text, text_missing),
            "email": _str_col(emails),
            "converted": converted,
            "converted_at": _dt(conv_ns),
        }
    )
    truth = pd.DataFrame({"lead_id": _str_col(lead_ids), "p_convert": p})
    latent = {
        "lead_id": lead_ids,
        "industry": industry,
        "size": size,
        "region": region,
        "industry_missing": industry_missing,
        "size_missing": size_missing,
        "email": emails,
        "converted": converted,
        "converted_ns": conv_ns,
    }
    return leads, truth, latent


def _inquiries(
    n: int, z: np.ndarray, need: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Short inquiry texts (3-15 words), which are missing, and the summed log-odds of their keywords."""
    k = len(_KEYWORDS)
    base = np.array([kw[2] for kw in _KEYWORDS])
    slope = np.array([kw[3] for kw in _KEYWORDS])
    effect = np.array([kw[1] for kw in _KEYWORDS])
    prevalence = _sigmoid(base[None, :] + slope[None, :] * z[:, None])
    prevalence[:, 0] = _sigmoid(base[0] + slope[0] * z + 0.8 * (need == 0))  # "pricing" need -> says pricing
    present = rng.random((n, k)) < prevalence
    blank = rng.random(n) < 0.15
    present[blank] = False
    # keep at most two keywords, in random order
    priority = np.where(present, rng.random((n, k)), 2.0)
    order = np.argsort(priority, axis=1, kind="stable")[:, :2]
    kept = np.take_along_axis(priority, order, axis=1) < 2.0
    keyword_effect = np.where(kept, effect[order], 0.0).sum(axis=1)

    phrases = np.array([kw[4] for kw in _KEYWORDS])  # (k, 3)
    choice = rng.integers(0, 3, size=(n, 2))
    kw_text = [np.where(kept[:, j], np.char.add(phrases[order[:, j], choice[:, j]], " "), "") for j in range(2)]
    opener = np.char.add(np.asarray(_OPENERS)[rng.integers(0, len(_OPENERS), n)], " ")
    has_filler = ~kept[:, 0] | (rng.random(n) < 0.5)
    filler = np.where(has_filler, np.char.add(np.asarray(_FILLERS)[rng.integers(0, len(_FILLERS), n)], " "), "")
    closer = np.where(rng.random(n) < 0.5, np.asarray(_CLOSERS)[rng.integers(0, len(_CLOSERS), n)], "")
    text = opener
    for part in (kw_text[0], kw_text[1], filler, closer):
        text = np.char.add(text, part)
    return np.char.strip(text), blank, keyword_effect


# --------------------------------------------------------------------------- #
# Customers
# --------------------------------------------------------------------------- #
def _simulate_customers(
    lat: dict[str, np.ndarray], n_pre: int, start_ns: int, end_ns: int, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, np.ndarray]]:
    conv = np.flatnonzero(lat["converted"])
    n_conv = len(conv)
    pre_from = int((pd.Timestamp(start_ns) - pd.DateOffset(years=2)).as_unit("ns").value)
    pre_signup = pre_from + (rng.random(n_pre) * (start_ns - pre_from)).astype(np.int64)
    pre_signup -= (pre_signup - pre_from) % _NS_SECOND
    pre_industry = rng.choice(len(INDUSTRIES), size=n_pre, p=_INDUSTRY_P)
    pre_size = rng.choice(len(COMPANY_SIZES), size=n_pre, p=_SIZE_P)
    pre_region = rng.choice(len(REGIONS), size=n_pre, p=_REGION_P)
    pre_ind_missing = rng.random(n_pre) < 0.03
    pre_size_missing = rng.random(n_pre) < 0.03
    pre_emails = _emails(n_pre, rng)

    signup = np.concatenate([lat["converted_ns"][conv], pre_signup])
    order = np.argsort(signup, kind="stable")  # customer ids follow signup order
    signup = signup[order]
    lead_id = np.concatenate([lat["lead_id"][conv], np.full(n_pre, "", dtype=lat["lead_id"].dtype)])[order]
    lead_missing = np.concatenate([np.zeros(n_conv, bool), np.ones(n_pre, bool)])[order]
    industry = np.concatenate([lat["industry"][conv], pre_industry])[order]
    size = np.concatenate([lat["size"][conv], pre_size])[order]
    region = np.concatenate([lat["region"][conv], pre_region])[order]
    ind_missing = np.concatenate([lat["industry_missing"][conv], pre_ind_missing])[order]
    size_missing = np.concatenate([lat["size_missing"][conv], pre_size_missing])[order]
    email = np.concatenate([lat["email"][conv], pre_emails])[order]
    m = n_conv + n_pre
    customer_id = _id_strings("C", m, 7)

    small = np.array([0.7, 0.4, 0.0, -0.3, -0.6])[size]
    ps_industry = np.isin(industry, [INDUSTRIES.index("retail"), INDUSTRIES.index("education")]) * 0.5
    price_sensitive = rng.random(m) < _sigmoid(-1.4 + small + ps_industry)
    sat = np.clip(rng.normal(7.2 - 0.4 * price_sensitive, 1.5), 1.0, 10.0)  # latent satisfaction
    purchase_rate = _PURCHASE_RATE_BASE[size] * rng.gamma(_PURCHASE_RATE_SHAPE, 1.0 / _PURCHASE_RATE_SHAPE, m)
    mean_spend = _MEAN_SPEND_BASE[size] * rng.gamma(_MEAN_SPEND_SHAPE, 1.0 / _MEAN_SPEND_SHAPE, m)

    # complaints first (over [signup, end)), then the hazard they raise
    exposure = (end_ns - signup) / _NS_MONTH
    complaint_rate = 0.015 * np.exp(0.45 * (7.0 - sat)) * (1.0 + 0.15 * size)
    n_complaints = rng.poisson(complaint_rate * exposure)
    owner = np.repeat(np.arange(m), n_complaints)
    complaint_ns = signup[owner] + (rng.random(len(owner)) * (end_ns - signup[owner])).astype(np.int64)

    hazard_logit = (
        0.35 * (7.0 - sat)
        + 0.6 * np.log1p(n_complaints)
        + 0.5 * price_sensitive
        + _HAZARD_INDUSTRY[industry]
        + _HAZARD_SIZE[size]
        + 0.35 * rng.standard_normal(m)
    )

    def churned_share(b: float) -> float:
        return float((1.0 - (1.0 - _sigmoid(hazard_logit + b)) ** exposure).mean()) if m else _TARGET_CHURNED_SHARE

    hazard = _sigmoid(hazard_logit + _bisect(churned_share, _TARGET_CHURNED_SHARE))
    months_alive = np.minimum(rng.geometric(hazard), 1200)  # churn happens during this month
    churn_ns = signup + ((months_alive - rng.random(m)) * _NS_MONTH).astype(np.int64)
    churn_ns -= (churn_ns - start_ns) % _NS_SECOND
    churn_ns = np.maximum(churn_ns, signup + _NS_SECOND)
    churned_at = np.where(churn_ns < end_ns, churn_ns, _NAT)

    # the frustration that ends a relationship: some customers complain in their last 3 months
    burst = np.flatnonzero(rng.random(m) < _sigmoid(-0.6 + 0.3 * (7.0 - sat)))
    burst_ns = churn_ns[burst] - (rng.random(len(burst)) * _CHURN_DECAY_MONTHS * _NS_MONTH).astype(np.int64)
    owner = np.concatenate([owner, burst])
    complaint_ns = np.concatenate([complaint_ns, burst_ns])
    keep = (complaint_ns < churn_ns[owner]) & (complaint_ns >= signup[owner]) & (complaint_ns < end_ns)
    state = {
        "signup": signup,
        "churn": churn_ns,  # latent, may lie after the window
        "stop": np.minimum(churn_ns, end_ns),
        "size": size,
        "region": region,
        "price_sensitive": price_sensitive,
        "sat": sat,
        "purchase_rate": purchase_rate,
        "mean_spend": mean_spend,
        "complaint_owner": owner[keep],
        "complaint_ns": complaint_ns[keep],
        "customer_id": customer_id,
    }
    customers = pd.DataFrame(
        {
            "customer_id": _str_col(customer_id),
            "lead_id": _str_col(lead_id, lead_missing),
            "signup_date": _dt(signup),
            "industry": _str_take(INDUSTRIES, industry, ind_missing),
            "company_size": _str_take(COMPANY_SIZES, size, size_missing),
            "region": _str_take(REGIONS, region),
            "email": _str_col(email),
            "phone": _str_col(_phones(m, rng)),
            "price_sensitive": price_sensitive,
            "satisfaction": np.full(m, np.nan),
        }
    )
    truth = pd.DataFrame(
        {
            "customer_id": _str_col(customer_id),
            "purchase_rate": purchase_rate,
            "mean_spend": mean_spend,
            "churn_hazard": hazard,
            "churned_at": _dt(churned_at),
        }
    )
    return customers, truth, state


# --------------------------------------------------------------------------- #
# Orders, activities, promotions
# --------------------------------------------------------------------------- #
def _promotions(first_month: np.datetime64, last_year: int, rng: np.random.Generator) -> pd.DataFrame:
    """2-3 promotion months per region and calendar year, with a discount each."""
    first_year = int(first_month.astype("datetime64[Y]").astype(np.int64)) + 1970
    rows_month, rows_region, rows_disc = [], [], []
    for year in range(first_year, last_year + 1):
        for r in range(len(REGIONS)):
            k = int(rng.integers(2, 4))
            months = np.sort(rng.choice(12, size=k, replace=False))
            rows_month.append(np.datetime64(f"{year}-01", "M") + months)
            rows_region.append(np.full(k, r))
            rows_disc.append(rng.choice([0.10, 0.15, 0.20, 0.25], size=k))
    month = np.concatenate(rows_month).astype("datetime64[ns]")
    region = np.concatenate(rows_region)
    order = np.lexsort((region, month))
    return pd.DataFrame(
        {
            "month": month[order],
            "region": _str_take(REGIONS, region[order]),
            "discount": np.concatenate(rows_disc)[order],
        }
    )


def _simulate_events(
    st: dict[str, np.ndarray], start_ns: int, end_ns: int, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, np.ndarray]:
    m = len(st["signup"])
    first = _dt(np.array([min(int(st["signup"].min()) if m else start_ns, start_ns)])).astype("datetime64[M]")[0]
    last = _dt(np.array([end_ns - 1])).astype("datetime64[M]")[0]
    month_starts = np.arange(first, last + 2).astype("datetime64[ns]").astype(np.int64)  # boundaries
    n_months = len(month_starts) - 1
    cell_lo, cell_hi = month_starts[:-1], month_starts[1:]
    moy = _month_of(cell_lo)
    trend = np.maximum(1.0 + _ORDER_TREND_PER_YEAR * ((cell_lo + cell_hi) / 2 - start_ns) / _NS_YEAR, 0.5)
    month_mult = _ORDER_MONTH[moy] * trend

    last_year = int(last.astype("datetime64[Y]").astype(np.int64)) + 1970 + 1  # next year's plan too
    promotions = _promotions(first, last_year, rng)
    promo_month = promotions["month"].to_numpy().astype("datetime64[M]")
    promo_col = (promo_month - first).astype(np.int64)
    promo_region = pd.Categorical(promotions["region"], categories=REGIONS).codes
    discount = np.zeros((len(REGIONS), n_months + 24))
    discount[promo_region, promo_col] = promotions["discount"].to_numpy()
    discount = discount[:, :n_months]

    size, region, ps = st["size"], st["region"], st["price_sensitive"]
    visit_rate = 0.6 * rng.gamma(2.0, 0.5, m)
    call_rate = 0.15 * _CALL_SIZE[size]
    ticket_rate = 0.05 * _TICKET_SIZE[size] * (1.0 + 0.1 * np.clip(7.0 - st["sat"], 0, None))
    survey_rate = np.full(m, 0.12)
    lift = np.where(ps, _PROMO_LIFT[1], _PROMO_LIFT[0])

    orders: dict[str, list[np.ndarray]] = {k: [] for k in ("cust", "t", "amount", "product", "channel")}
    acts: dict[str, list[np.ndarray]] = {k: [] for k in ("cust", "t", "kind", "value")}
    chunk = max(1, _CELLS_PER_CHUNK // max(n_months, 1))
    for a in range(0, m, chunk):
        idx = np.arange(a, min(a + chunk, m))
        lo = np.maximum(cell_lo[None, :], st["signup"][idx, None])
        hi = np.minimum(cell_hi[None, :], st["stop"][idx, None])
        dur = np.maximum(hi - lo, 0)
        alive = dur / _NS_MONTH
        to_churn = (st["churn"][idx, None] - (lo + dur // 2)) / _NS_MONTH
        decay = _CHURN_DECAY_FLOOR + (1 - _CHURN_DECAY_FLOOR) * np.clip(to_churn / _CHURN_DECAY_MONTHS, 0, 1)
        disc = discount[region[idx]]
        lam = st["purchase_rate"][idx, None] * alive * month_mult[None, :] * (1 + lift[idx, None] * disc) * decay

        cust, t, cell = _draw(lam, lo, dur, idx, rng)
        n_o = len(cust)
        product = rng.choice(len(PRODUCTS), size=n_o, p=_PRODUCT_P)
        amount = rng.gamma(_ORDER_SPEND_SHAPE, st["mean_spend"][cust] / _ORDER_SPEND_SHAPE) * _PRODUCT_MULT[product]
        amount = np.maximum(np.round(amount * (1.0 - disc.ravel()[cell]), 2), 1.0)
        cum = _ORDER_CHANNEL_P.cumsum(axis=1)[size[cust]]
        channel = (rng.random(n_o)[:, None] > cum[:, :-1]).sum(axis=1)
        # ~1% returns: a later negative line for (part of) an earlier order
        ret = np.flatnonzero(rng.random(n_o) < _RETURN_SHARE)
        ret_t = t[ret] + ((2 + 43 * rng.random(len(ret))) * _NS_DAY).astype(np.int64)
        ret_t -= (ret_t - start_ns) % _NS_SECOND
        frac = np.where(rng.random(len(ret)) < 0.6, 1.0, 0.2 + 0.7 * rng.random(len(ret)))
        ok = ret_t < st["stop"][cust[ret]]
        ret, ret_t, frac = ret[ok], ret_t[ok], frac[ok]
        cust, product, channel = cust.astype(np.int32), product.astype(np.int8), channel.astype(np.int8)
        orders["cust"] += [cust, cust[ret]]
        orders["t"] += [t, ret_t]
        orders["amount"] += [amount, -np.round(amount[ret] * frac, 2)]
        orders["product"] += [product, product[ret]]
        orders["channel"] += [channel, channel[ret]]

        for kind, rate, decays in (
            (0, visit_rate, True),
            (1, call_rate, True),
            (2, ticket_rate, True),
            (4, survey_rate, False),
        ):
            lam_k = rate[idx, None] * alive * (decay if decays else 1.0)
            cust_k, t_k, _ = _draw(lam_k, lo, dur, idx, rng)
            acts["cust"].append(cust_k.astype(np.int32))
            acts["t"].append(t_k)
            acts["kind"].append(np.full(len(cust_k), kind, dtype=np.int8))
            if kind == 4:
                acts["value"].append(np.clip(np.round(st["sat"][cust_k] + rng.normal(0.0, 1.0, len(cust_k))), 1, 10))
            else:
                acts["value"].append(np.full(len(cust_k), np.nan))
    acts["cust"].append(st["complaint_owner"].astype(np.int32))
    acts["t"].append(st["complaint_ns"] - (st["complaint_ns"] - start_ns) % _NS_SECOND)
    acts["kind"].append(np.full(len(st["complaint_owner"]), 3, dtype=np.int8))
    acts["value"].append(np.full(len(st["complaint_owner"]), np.nan))

    o = {k: np.concatenate(v) if v else np.array([], dtype=np.int64) for k, v in orders.items()}
    o_order = np.lexsort((o["cust"], o["t"]))
    o = {k: v[o_order] for k, v in o.items()}
    cid = st["customer_id"]
    transactions = pd.DataFrame(
        {
            "order_id": _id_col("O", len(o["t"]), 9),
            "customer_id": _str_take(cid, o["cust"]),
            "order_date": _dt(o["t"]),
            "amount": o["amount"].astype(np.float64),
            "product": _str_take(PRODUCTS, o["product"]),
            "region": _str_take(REGIONS, region[o["cust"]]),
            "channel": _str_take(ORDER_CHANNELS, o["channel"]),
        }
    )

    ac = {k: np.concatenate(v) for k, v in acts.items()}
    a_order = np.lexsort((ac["kind"], ac["cust"], ac["t"]))
    ac = {k: v[a_order] for k, v in ac.items()}
    activities = pd.DataFrame(
        {
            "customer_id": _str_take(cid, ac["cust"]),
            "at": _dt(ac["t"]),
            "kind": _str_take(ACTIVITY_KINDS, ac["kind"]),
            "value": ac["value"].astype(np.float64),
        }
    )

    # satisfaction on file = the customer's last survey score (NaN if never surveyed)
    satisfaction = np.full(m, np.nan)
    surveys = ac["kind"] == 4
    satisfaction[ac["cust"][surveys]] = ac["value"][surveys]  # sorted by time: the last write wins
    return transactions, activities, promotions, satisfaction


def _draw(
    lam: np.ndarray, lo: np.ndarray, dur: np.ndarray, idx: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Poisson events per customer-month cell at uniform times inside each cell's alive span."""
    counts = rng.poisson(lam).ravel()
    cell = np.repeat(np.arange(counts.size), counts)
    cust = idx[cell // lam.shape[1]]
    offset = (rng.random(cell.size) * dur.ravel()[cell]).astype(np.int64)
    t = lo.ravel()[cell] + offset - offset % _NS_SECOND  # whole seconds after the cell start
    return cust, t, cell


# --------------------------------------------------------------------------- #
# I/O
# --------------------------------------------------------------------------- #
def _atomic_write(df: pd.DataFrame, path: Path, fmt: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        if fmt == "csv":
            df.to_csv(tmp, index=False)
        else:
            df.to_parquet(tmp, index=False)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _read_table(path: Path, name: str, fmt: str) -> pd.DataFrame:
    if fmt == "csv":
        df = pd.read_csv(path, **_CSV_READ_OPTIONS)
    else:
        df = pd.read_parquet(path)
    return _restore_dtypes(df, SCHEMA.get(name, {}))


def _restore_dtypes(df: pd.DataFrame, schema: Mapping[str, str]) -> pd.DataFrame:
    for col, kind in schema.items():
        if col not in df.columns:
            continue
        s = df[col]
        if kind == "datetime":
            df[col] = pd.to_datetime(s, format="ISO8601").astype("datetime64[ns]")
        elif kind == "str" and s.dtype != _STR_DTYPE:
            df[col] = _str_col(s.astype(object).where(s.notna(), np.nan).to_numpy(dtype=object))
        elif kind == "str" and _STR_DTYPE == object:
            df[col] = s.where(s.notna(), np.nan)
        elif kind == "float" and s.dtype != np.float64:
            df[col] = s.astype(np.float64)
        elif kind == "bool" and s.dtype != bool and not s.isna().any():
            df[col] = s.astype(bool)
        elif kind == "int" and s.dtype != np.int64 and not s.isna().any():
            df[col] = s.astype(np.int64)
    return df


# --------------------------------------------------------------------------- #
# Sales series for forecasting (appended; uses the CRM's regions, products and promotions)
# --------------------------------------------------------------------------- #
#: Promotion lift by product: value x (1 + lift * discount) in a promotion period.
SALES_PROMO_LIFT: dict[str, float] = {"core": 2.0, "addon": 3.0, "services": 1.0, "support": 0.5, "hardware": 4.0}
#: Share of a promotion's lift "pulled forward" from the next period (it dips by this x lift x discount).
SALES_PROMO_DIP = 0.3
#: Seasonal amplitude by product: the CRM's month-of-year profile raised to this power.
SALES_SEASON_AMPLITUDE: dict[str, float] = {"core": 1.0, "addon": 0.6, "services": 1.5, "support": 0.3, "hardware": 2.0}
#: Price elasticity of sales value by product (planned list-price changes are known in advance).
SALES_PRICE_ELASTICITY: dict[str, float] = {"core": -0.8, "addon": -1.2, "services": -0.5, "support": -0.3, "hardware": -1.5}
#: Sales expense = fixed share of the series level + variable share of sales + promotion cost.
SALES_EXPENSE_FIXED, SALES_EXPENSE_VARIABLE, SALES_EXPENSE_PROMO = 0.05, 0.10, 0.40


def make_sales(
    crm: CRMData | None = None,
    *,
    n_series: int | None = None,
    freq: Literal["M", "W"] = "M",
    start: str | pd.Timestamp = "2021-01-01",
    end: str | pd.Timestamp = "2025-12-31",
    future_periods: int | None = None,
    noise: float | None = None,
    random_state: int | None = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Region x product sales series built from known components, and those components.

    Each series' expected sales value in period ``t`` is::

        level * trend(t) * season(t) * promo(t) * price_effect(t)

    * ``level``: the series' mean monthly sales (from ``crm.transactions`` per
      region and product when ``crm`` is given, else drawn); per week it is 12/52 of that.
    * ``trend(t) = exp(growth * years since start)``, growth ~ N(6%, 4%) per year.
    * ``season(t)``: the CRM's month-of-year order profile raised to a per-product
      amplitude (:data:`SALES_SEASON_AMPLITUDE`); weekly series interpolate it smoothly.
    * ``promo(t) = 1 + lift * discount(t) - SALES_PROMO_DIP * lift * discount(t - 1)``:
      the region's promotion calendar (``crm.truth["promotions"]`` when given,
      including next year's plan) with per-product lift (:data:`SALES_PROMO_LIFT`)
      and a dip after each promotion (demand pulled forward).
    * ``price_effect(t) = price(t) ** elasticity``: planned list-price changes
      (most years one change of -5% to +12% per product), known in advance.

    Observed ``sales = expected * exp(N(0, noise) - noise^2 / 2)`` (``noise``: 0.05
    monthly, 0.10 weekly, more for small series). ``expense = 5% of level + 10%
    of sales + 40% x discount x sales``, with 3% noise. ``pipeline`` (open
    opportunities at the end of a period) is 1.5 x the next period's expected
    sales x N(1, 0.08): informative, but only known in the past.

    With ``n_series`` the region x product cells are split into that many items
    (a third key column ``item``), with log-normal levels. ``future_periods``
    (default 12 months / 52 weeks) adds rows after ``end`` that carry only the
    known-in-advance columns (``discount``, ``price``): the plan a forecast uses.

    Returns ``(sales, truth)``: ``sales`` has ``date``, the key columns, ``sales``,
    ``expense``, ``discount``, ``price``, ``pipeline``; ``truth`` has the same
    keys and dates with ``level``, ``trend``, ``season``, ``promo``,
    ``price_effect``, ``expected_sales``, ``expected_expense``.
    """
    if freq not in ("M", "W"):
        raise ValueError(f"freq must be 'M' (months) or 'W' (weeks starting Monday). Got {freq!r} instead.")
    if crm is not None and not isinstance(crm, CRMData):
        raise TypeError(f"crm must be a CRMData or None. Got {type(crm).__name__} instead.")
    if n_series is not None:
        _check_count(n_series, "n_series", minimum=1)
    start_ns, end_ns = _check_window(start, end)
    rng = _rng(random_state)
    per_year = 12 if freq == "M" else 52
    n_future = per_year if future_periods is None else _check_count(future_periods, "future_periods", minimum=0)
    sigma = (0.05 if freq == "M" else 0.10) if noise is None else float(noise)
    if sigma < 0:
        raise ValueError(f"noise must be a non-negative standard deviation. Got {noise!r} instead.")

    first = pd.Timestamp(start_ns)
    last = pd.Timestamp(end_ns - 1)
    if freq == "M":
        dates = pd.date_range(first.to_period("M").start_time, last.to_period("M").start_time, freq="MS")
        dates = dates.append(pd.date_range(dates[-1], periods=n_future + 1, freq="MS")[1:])
    else:
        monday = first.normalize() - pd.Timedelta(days=first.weekday())
        dates = pd.date_range(monday, last, freq="W-MON")
        dates = dates.append(pd.date_range(dates[-1], periods=n_future + 1, freq="W-MON")[1:])
    n_obs, n_t = len(dates) - n_future, len(dates)

    # series: every region x product cell, or n_series items spread over the cells
    cells = [(r, p) for r in range(len(REGIONS)) for p in range(len(PRODUCTS))]
    cell_level = _sales_cell_levels(crm, first, last, rng)
    if n_series is None:
        region = np.array([c[0] for c in cells])
        product = np.array([c[1] for c in cells])
        level = cell_level[region, product] * rng.lognormal(0.0, 0.1, len(cells))
        items = None
    else:
        cell = rng.choice(len(cells), size=n_series, p=(w := cell_level.ravel()) / w.sum())
        cell = np.sort(cell, kind="stable")
        region, product = cell // len(PRODUCTS), cell % len(PRODUCTS)
        share = rng.lognormal(0.0, 1.0, n_series)
        level = cell_level.ravel()[cell] * len(cells) / n_series * share / share.mean()
        items = _id_strings("I", n_series, 5)
    n_s = len(level)
    if freq == "W":
        level = level * 12.0 / 52.0

    years = ((dates - first) / pd.Timedelta(days=365.25)).to_numpy(dtype=float)
    growth = rng.normal(0.06, 0.04, n_s)
    trend = np.exp(growth[:, None] * years[None, :])

    amp = np.array([SALES_SEASON_AMPLITUDE[p] for p in PRODUCTS])[product]
    profile = _season_profile(dates, freq)
    season = profile[None, :] ** amp[:, None]
    season = season / season[:, :n_obs].mean(axis=1, keepdims=True)

    discount = _sales_discounts(crm, dates, freq, rng)[region]  # (series, periods)
    lift = np.array([SALES_PROMO_LIFT[p] for p in PRODUCTS])[product][:, None]
    previous = np.concatenate([np.zeros((n_s, 1)), discount[:, :-1]], axis=1)
    if freq == "W":  # the dip follows the promotion month, not each promotion week
        previous = np.where(discount > 0, 0.0, previous)
    promo = 1.0 + lift * discount - SALES_PROMO_DIP * lift * previous

    price = _sales_prices(dates, rng)[product]
    elasticity = np.array([SALES_PRICE_ELASTICITY[p] for p in PRODUCTS])[product][:, None]
    price_effect = price**elasticity

    expected = level[:, None] * trend * season * promo * price_effect
    sd = sigma * (1.0 + np.sqrt(1_000.0 / np.maximum(level, 1.0)))[:, None] if n_series is not None else sigma
    sales = expected * np.exp(rng.normal(0.0, 1.0, (n_s, n_t)) * sd - np.square(sd) / 2)
    expected_expense = level[:, None] * SALES_EXPENSE_FIXED + expected * (
        SALES_EXPENSE_VARIABLE + SALES_EXPENSE_PROMO * discount
    )
    expense = (
        level[:, None] * SALES_EXPENSE_FIXED + sales * (SALES_EXPENSE_VARIABLE + SALES_EXPENSE_PROMO * discount)
    ) * np.exp(rng.normal(0.0, 0.03, (n_s, n_t)) - 0.03**2 / 2)
    following = np.concatenate([expected[:, 1:], expected[:, -1:]], axis=1)
    pipeline = 1.5 * following * rng.normal(1.0, 0.08, (n_s, n_t)).clip(0.5, 1.5)

    observed = np.arange(n_t) < n_obs
    future = ~observed[None, :].repeat(n_s, axis=0)
    keys: dict[str, Any] = {
        "date": np.tile(dates.to_numpy(dtype="datetime64[ns]"), n_s),
        "region": _str_take(REGIONS, np.repeat(region, n_t)),
        "product": _str_take(PRODUCTS, np.repeat(product, n_t)),
    }
    if items is not None:
        keys["item"] = _str_col(np.repeat(items, n_t))
    frame = pd.DataFrame(
        {
            **keys,
            "sales": np.where(future, np.nan, np.round(sales, 2)).ravel(),
            "expense": np.where(future, np.nan, np.round(expense, 2)).ravel(),
            "discount": discount.ravel(),
            "price": np.round(price, 4).ravel(),
            "pipeline": np.where(future, np.nan, np.round(pipeline, 2)).ravel(),
        }
    )
    truth = pd.DataFrame(
        {
            **{k: (v.copy() if isinstance(v, pd.Series) else v) for k, v in keys.items()},
            "level": np.repeat(level, n_t),
            "trend": trend.ravel(),
            "season": season.ravel(),
            "promo": promo.ravel(),
            "price_effect": price_effect.ravel(),
            "expected_sales": expected.ravel(),
            "expected_expense": expected_expense.ravel(),
        }
    )
    return frame, truth


def _sales_cell_levels(crm: CRMData | None, first: pd.Timestamp, last: pd.Timestamp, rng: np.random.Generator) -> np.ndarray:
    """Mean monthly sales per (region, product): from the CRM's orders when given, else drawn."""
    if crm is not None and len(crm.transactions):
        tx = crm.transactions
        months = max(1, len(pd.period_range(tx["order_date"].min(), tx["order_date"].max(), freq="M")))
        r = pd.Categorical(tx["region"], categories=REGIONS).codes
        p = pd.Categorical(tx["product"], categories=PRODUCTS).codes
        ok = (r >= 0) & (p >= 0)
        total = np.zeros((len(REGIONS), len(PRODUCTS)))
        np.add.at(total, (r[ok], p[ok]), tx["amount"].to_numpy(dtype=float)[ok])
        return np.maximum(total / months, 1_000.0)
    return 400_000.0 * _REGION_P[:, None] * (_PRODUCT_P * _PRODUCT_MULT)[None, :] * rng.lognormal(0.0, 0.2, (len(REGIONS), len(PRODUCTS)))


def _season_profile(dates: pd.DatetimeIndex, freq: str) -> np.ndarray:
    """The CRM's month-of-year order profile per period (weekly: interpolated by day of year)."""
    if freq == "M":
        return _ORDER_MONTH[dates.month.to_numpy() - 1]
    mid = (np.arange(12) + 0.5) / 12.0
    pos = ((dates.dayofyear.to_numpy() - 1 + 3.5) / 365.25) % 1.0  # middle of the week
    xp = np.concatenate([mid - 1.0, mid, mid + 1.0])
    return np.interp(pos, xp, np.tile(_ORDER_MONTH, 3))


def _sales_discounts(crm: CRMData | None, dates: pd.DatetimeIndex, freq: str, rng: np.random.Generator) -> np.ndarray:
    """Discount per (region, period) from the promotion calendar (a week takes its month's discount)."""
    if crm is not None and "promotions" in crm.truth:
        promotions = crm.truth["promotions"]
    else:
        first = np.datetime64(dates[0].strftime("%Y-%m"), "M")
        promotions = _promotions(first, int(dates[-1].year), rng)
    month = pd.Series(dates).dt.to_period("M").to_numpy()
    lookup = {
        (pd.Timestamp(m).to_period("M"), str(r)): float(d)
        for m, r, d in zip(promotions["month"], promotions["region"], promotions["discount"])
    }
    out = np.zeros((len(REGIONS), len(dates)))
    for i, region in enumerate(REGIONS):
        out[i] = [lookup.get((m, region), 0.0) for m in month]
    return out


def _sales_prices(dates: pd.DatetimeIndex, rng: np.random.Generator) -> np.ndarray:
    """Planned list-price index per (product, period): most years one change (-5% to +12%) in a random month."""
    month = ((dates.year - dates.year[0]) * 12 + dates.month - 1).to_numpy()
    n_months = int(month.max()) + 1
    changes = np.zeros((len(PRODUCTS), n_months))
    for year in range(0, n_months, 12):
        happens = rng.random(len(PRODUCTS)) < 0.7
        when = year + rng.integers(0, 12, len(PRODUCTS))
        size = rng.uniform(-0.05, 0.12, len(PRODUCTS))
        for p in np.flatnonzero(happens & (when < n_months) & (when > 0)):
            changes[p, when[p]] = size[p]
    index = np.cumprod(1.0 + changes, axis=1)
    return index[:, month]


__all__ += ["make_sales", "SALES_PROMO_LIFT", "SALES_PROMO_DIP", "SALES_SEASON_AMPLITUDE", "SALES_PRICE_ELASTICITY"]
