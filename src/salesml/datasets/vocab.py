"""Vocabularies, true effects and time constants of the synthetic CRM."""

from __future__ import annotations

import numpy as np

#: Named data sizes: number of leads.
SIZES: dict[str, int] = {"small": 20_000, "medium": 100_000, "large": 1_000_000}

TABLES: tuple[str, ...] = ("leads", "customers", "transactions", "activities")
TRUTH_TABLES: tuple[str, ...] = ("leads", "customers", "promotions", "opportunities")
#: Opportunity tables (optional in a saved world: older folders have none).
OPPORTUNITY_TABLES: tuple[str, ...] = ("opportunities", "opportunity_stages", "opportunity_activities")

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
