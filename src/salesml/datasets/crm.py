"""The CRM world: :class:`CRMData`, :func:`make_crm`, :func:`make_leads` and their file I/O."""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from ._common import (
    _CSV_READ_OPTIONS,
    _STR_DTYPE,
    _check_count,
    _check_window,
    _rng,
    _str_col,
)
from .customers import _simulate_customers, _simulate_events
from .leads import _simulate_leads
from .opportunities import _simulate_opportunities
from .vocab import OPPORTUNITY_TABLES, TABLES, TRUTH_TABLES

logger = logging.getLogger(__name__)

#: Second word of the opportunity generator's seed ``[random_state, _OPPORTUNITY_STREAM]``: a stream apart
#: from the main one, so adding opportunities left the other tables byte-identical.
_OPPORTUNITY_STREAM = 17

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
    "opportunities": {
        "opportunity_id": "str",
        "account_id": "str",
        "owner": "str",
        "amount": "float",
        "product": "str",
        "region": "str",
        "created_at": "datetime",
        "expected_close": "datetime",
        "status": "str",
        "closed_at": "datetime",
    },
    "opportunity_stages": {"opportunity_id": "str", "stage": "str", "at": "datetime"},
    "opportunity_activities": {"opportunity_id": "str", "at": "datetime", "kind": "str", "value": "float"},
    "truth_opportunities": {"opportunity_id": "str", "quality": "float", "p_win": "float"},
}

#: Columns that identify a person or a record (never put them in model features or artifacts).
PERSONAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "leads": ("lead_id", "email"),
    "customers": ("customer_id", "lead_id", "email", "phone"),
    "transactions": ("order_id", "customer_id"),
    "activities": ("customer_id",),
    "opportunities": ("opportunity_id", "account_id", "owner"),
    "opportunity_stages": ("opportunity_id",),
    "opportunity_activities": ("opportunity_id",),
}

# --------------------------------------------------------------------------- #
# Public API
# --------------------------------------------------------------------------- #
@dataclass(frozen=True, eq=False)
class CRMData:
    """Observable CRM tables plus the hidden generating truth.

    ``truth`` holds ``"leads"`` (``lead_id``, ``p_convert``), ``"customers"``
    (``customer_id``, ``purchase_rate``, ``mean_spend``, ``churn_hazard``,
    ``churned_at``), ``"promotions"`` (``month``, ``region``, ``discount``) and
    ``"opportunities"`` (``opportunity_id``, ``quality``, ``p_win``) when generated; it is for
    tests and benchmarks only. The opportunity tables (:mod:`salesml.datasets.opportunities`)
    are apart from :meth:`tables` (see :meth:`opportunity_tables`).
    """

    leads: pd.DataFrame = field(repr=False)
    customers: pd.DataFrame = field(repr=False)
    transactions: pd.DataFrame = field(repr=False)
    activities: pd.DataFrame = field(repr=False)
    truth: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    opportunities: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    opportunity_stages: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    opportunity_activities: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The four observable tables by name (no truth)."""
        return {name: getattr(self, name) for name in TABLES}

    def opportunity_tables(self) -> dict[str, pd.DataFrame]:
        """The opportunity tables by name: ``opportunities``, ``opportunity_stages``, ``opportunity_activities``."""
        return {name: getattr(self, name) for name in OPPORTUNITY_TABLES}

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
    n_opportunities: int | None = None,
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
    n_opportunities : number of opportunities created in the window (on existing customers); default
        ``max(300, n_leads // 8)``. They draw from a child seed, so the other tables do not depend on it.
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
    n_opp = max(300, n // 8) if n_opportunities is None else _check_count(n_opportunities, "n_opportunities", minimum=0)
    opp_rng = np.random.default_rng() if random_state is None else np.random.default_rng([int(random_state), _OPPORTUNITY_STREAM])
    opportunities, stages, opp_activities, truth_opp = _simulate_opportunities(
        n_opp, customers, transactions, start_ns, end_ns, opp_rng
    )
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
        truth={"leads": truth_leads, "customers": truth_customers, "promotions": promotions, "opportunities": truth_opp},
        opportunities=opportunities,
        opportunity_stages=stages,
        opportunity_activities=opp_activities,
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
    frames.update({name: df for name, df in data.opportunity_tables().items() if len(df.columns)})
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
    tables.update(
        {
            name: _read_table(folder / f"{name}.{fmt}", name, fmt)
            for name in OPPORTUNITY_TABLES
            if (folder / f"{name}.{fmt}").exists()
        }
    )
    truth = {
        name: _read_table(folder / f"truth_{name}.{fmt}", f"truth_{name}", fmt)
        for name in TRUTH_TABLES
        if (folder / f"truth_{name}.{fmt}").exists()
    }
    return CRMData(truth=truth, **tables)


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
