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

Modules: :mod:`.crm` (the tables, :func:`make_crm`, file I/O), :mod:`.leads`,
:mod:`.customers` (customers, orders, activities, promotions), :mod:`.sales`
(series for forecasting), :mod:`.contacts` (contact records with planted duplicates and invalid
contacts, for :mod:`salesml.quality`), :mod:`.vocab` (vocabularies and true effects).
"""

from __future__ import annotations

from .contacts import CONTACT_COLUMNS, ContactsData, make_contacts
from .crm import PERSONAL_COLUMNS, SCHEMA, CRMData, load_crm, make_crm, make_leads, write_crm
from .sales import (
    SALES_PRICE_ELASTICITY,
    SALES_PROMO_DIP,
    SALES_PROMO_LIFT,
    SALES_SEASON_AMPLITUDE,
    make_sales,
)
from .vocab import (
    ACTIVITY_KINDS,
    CHANNELS,
    COMPANY_SIZES,
    INDUSTRIES,
    KEYWORD_EFFECTS,
    NEEDS,
    ORDER_CHANNELS,
    PRODUCTS,
    REGIONS,
    SIZES,
)

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
    "make_sales",
    "make_contacts",
    "ContactsData",
    "CONTACT_COLUMNS",
    "SALES_PROMO_LIFT",
    "SALES_PROMO_DIP",
    "SALES_SEASON_AMPLITUDE",
    "SALES_PRICE_ELASTICITY",
]
