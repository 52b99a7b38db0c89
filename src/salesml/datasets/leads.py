"""Leads: latent intent, behaviour counts, inquiry text and the true conversion probability."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._common import _bisect, _dt, _emails, _id_strings, _month_of, _sigmoid, _str_col, _str_take
from .vocab import (
    _BEHAVIOUR_EFFECT,
    _CHANNEL_EFFECT,
    _CHANNEL_INTENT,
    _CHANNEL_P,
    _CHANNEL_PRICING,
    _CLOSERS,
    _CONVERSION_MONTH,
    _CONVERSION_NOISE_SD,
    _EVENT_EFFECT,
    _FILLERS,
    _INDUSTRY_EFFECT,
    _INDUSTRY_P,
    _INDUSTRY_SIZE,
    _KEYWORDS,
    _NAT,
    _NEED_EFFECT,
    _NEED_P,
    _NS_DAY,
    _NS_SECOND,
    _NS_YEAR,
    _OPENERS,
    _RECENCY_EFFECT,
    _REGION_P,
    _SIZE_EFFECT,
    _SIZE_P,
    CHANNELS,
    COMPANY_SIZES,
    INDUSTRIES,
    NEEDS,
    REGIONS,
    TARGET_CONVERSION,
)


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
