"""Customers and their events: purchase rates, churn hazards, orders, activities, promotions."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._common import _bisect, _dt, _emails, _id_col, _id_strings, _month_of, _phones, _sigmoid, _str_col, _str_take
from .vocab import (
    _CALL_SIZE,
    _CELLS_PER_CHUNK,
    _CHURN_DECAY_FLOOR,
    _CHURN_DECAY_MONTHS,
    _HAZARD_INDUSTRY,
    _HAZARD_SIZE,
    _INDUSTRY_P,
    _MEAN_SPEND_BASE,
    _MEAN_SPEND_SHAPE,
    _NAT,
    _NS_DAY,
    _NS_MONTH,
    _NS_SECOND,
    _NS_YEAR,
    _ORDER_CHANNEL_P,
    _ORDER_MONTH,
    _ORDER_SPEND_SHAPE,
    _ORDER_TREND_PER_YEAR,
    _PRODUCT_MULT,
    _PRODUCT_P,
    _PROMO_LIFT,
    _PURCHASE_RATE_BASE,
    _PURCHASE_RATE_SHAPE,
    _REGION_P,
    _RETURN_SHARE,
    _SIZE_P,
    _TARGET_CHURNED_SHARE,
    _TICKET_SIZE,
    ACTIVITY_KINDS,
    COMPANY_SIZES,
    INDUSTRIES,
    ORDER_CHANNELS,
    PRODUCTS,
    REGIONS,
)


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
