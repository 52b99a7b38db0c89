"""Sales series for forecasting (uses the CRM's regions, products and promotions)."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from ._common import _check_count, _check_window, _id_strings, _rng, _str_col, _str_take
from .crm import CRMData
from .customers import _promotions
from .vocab import _ORDER_MONTH, _PRODUCT_MULT, _PRODUCT_P, _REGION_P, PRODUCTS, REGIONS

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


