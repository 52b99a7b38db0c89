"""Auto-tags declared in YAML, each with its definition and the evidence behind every tagged customer.

A tag is one entry of the ``tags:`` list of a quality settings file::

    tags:
      - name: inactive_6m
        kind: inactive            # rule: no order in the last `days` days before as_of
        definition: No order in the 6 months before the as-of date
        days: 182
      - name: high_clv
        kind: score               # model tag: a column of a salesml model's scores
        column: expected_revenue
        top_share: 0.2            # or min: 5000
      - name: churn_risk
        kind: score
        column: churn_probability
        min: 0.25
      - name: high_potential_industry
        kind: industry_conversion # industries converting above the overall rate, credibly
        credible: 0.9
      - name: price_sensitive
        kind: price_response      # orders respond to promotions in the order history
        min_lift: 1.2
        credible: 0.95

Kinds:

``inactive``
    the customer's last order (at or before ``as_of``) is more than ``days`` days old, or there is none.
``score``
    a model's score (``salesml segments`` writes ``expected_revenue`` and ``churn_probability``) is at
    least ``min``, or in the top ``top_share`` of customers.
``industry_conversion``
    from the leads table: each industry's conversion rate has a Beta(1 + converted, 1 + not converted)
    posterior; an industry is high-potential when the lower end of its central ``credible`` interval
    is above the overall conversion rate. Its customers get the tag.
``price_response``
    from the order history and the promotion calendar (``month``, ``region``, ``discount``): the
    customer's orders per month in promotion months against other months, over the months from
    their first to their last order (at or before ``as_of``). With a Jeffreys Beta posterior on the share of orders that fell in
    promotion months, the tag needs P(rate ratio > ``min_lift``) >= ``credible``.

Only data at or before ``as_of`` is used (orders, promotions, leads created), so the tags are
point-in-time correct. :func:`auto_tag` returns the long table of (customer, tag, evidence), one
``tags`` string per customer, and the tagged share (customers with at least one tag).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_TAGS", "TagResult", "auto_tag", "load_tags"]


class _Tag(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    definition: str = ""


class InactiveTag(_Tag):
    kind: Literal["inactive"]
    days: int = Field(182, gt=0)


class ScoreTag(_Tag):
    kind: Literal["score"]
    column: str
    min: float | None = None
    top_share: float | None = Field(None, gt=0, lt=1)


class IndustryTag(_Tag):
    kind: Literal["industry_conversion"]
    industry_column: str = "industry"
    converted_column: str = "converted"
    credible: float = Field(0.9, gt=0, lt=1)
    min_leads: int = Field(30, ge=1)


class PriceTag(_Tag):
    kind: Literal["price_response"]
    min_lift: float = Field(1.2, gt=0)
    credible: float = Field(0.95, gt=0, lt=1)
    min_orders: int = Field(5, ge=1)


Tag = Annotated[InactiveTag | ScoreTag | IndustryTag | PriceTag, Field(discriminator="kind")]
_TAGS = TypeAdapter(list[Tag])

#: The tags of the business plan, used when a settings file declares none.
DEFAULT_TAGS: list[dict[str, Any]] = [
    {"name": "inactive_6m", "kind": "inactive", "days": 182, "definition": "No order in the 6 months before as-of"},
    {"name": "high_potential_industry", "kind": "industry_conversion", "credible": 0.9,
     "definition": "Industry whose lead conversion rate is credibly (90%) above the overall rate"},
    {"name": "price_sensitive", "kind": "price_response", "min_lift": 1.2, "credible": 0.95,
     "definition": "Orders per month in promotion months above 1.2x other months (95% credible)"},
    {"name": "high_clv", "kind": "score", "column": "expected_revenue", "top_share": 0.2,
     "definition": "Top 20% of the CLV model's expected revenue"},
    {"name": "churn_risk", "kind": "score", "column": "churn_probability", "min": 0.25,
     "definition": "Churn model's probability at least 0.25"},
]


def load_tags(source: str | Path | Sequence[Mapping[str, Any]] | Mapping[str, Any] | None) -> list[Tag]:
    """Tags from a YAML file (its ``tags:`` list), a list of mappings, or ``None`` (:data:`DEFAULT_TAGS`)."""
    data: Any = DEFAULT_TAGS if source is None else source
    where = "the default tags"
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"Tag settings {path} do not exist.")
        data, where = (yaml.safe_load(path.read_text("utf-8")) or {}), str(path)
    if isinstance(data, Mapping):
        data = data.get("tags", DEFAULT_TAGS)
    try:
        tags = _TAGS.validate_python(list(data))
    except ValidationError as err:
        lines = [f"Invalid tags in {where}:"] + [f"  tags.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors()]
        raise ValueError("\n".join(lines)) from None
    names = [t.name for t in tags]
    if len(set(names)) != len(names):
        raise ValueError(f"Tag names must be unique. Got {names} instead.")
    return tags


@dataclass(frozen=True, eq=False)
class TagResult:
    """``evidence``: customer_id, tag, evidence; ``customers``: customer_id, tags (``;``-joined)."""

    evidence: pd.DataFrame = field(repr=False)
    customers: pd.DataFrame = field(repr=False)
    definitions: dict[str, str] = field(default_factory=dict)
    not_evaluated: dict[str, str] = field(default_factory=dict)

    @property
    def tagged_share(self) -> float:
        """Share of customers with at least one tag."""
        return float((self.customers["tags"] != "").mean()) if len(self.customers) else 0.0

    def counts(self) -> dict[str, int]:
        """Customers per tag (every declared tag, zero included)."""
        got = self.evidence["tag"].value_counts()
        return {name: int(got.get(name, 0)) for name in self.definitions}


def auto_tag(
    customers: pd.Series | Sequence[str],
    *,
    tags: Sequence[Tag] | str | Path | Sequence[Mapping[str, Any]] | None = None,
    as_of: str | pd.Timestamp | None = None,
    transactions: pd.DataFrame | None = None,
    leads: pd.DataFrame | None = None,
    promotions: pd.DataFrame | None = None,
    scores: pd.DataFrame | None = None,
    customer_table: pd.DataFrame | None = None,
    id_column: str = "customer_id",
    time_column: str = "order_date",
    region_column: str = "region",
) -> TagResult:
    """Tag ``customers`` (their ids) with every declared tag whose inputs are given.

    ``customer_table`` holds per-customer attributes (``industry``, ``region``); ``scores`` holds model
    scores by ``id_column``. A tag whose inputs are missing is listed in ``not_evaluated`` (with what it
    needs), not silently skipped.
    """
    declared = tags if tags and not isinstance(tags, (str, Path)) and isinstance(tags[0], _Tag) else load_tags(tags)
    ids = pd.Index(pd.Series(list(customers), dtype=object).astype(str).unique())
    cutoff = pd.Timestamp(as_of) if as_of is not None else (
        pd.to_datetime(transactions[time_column]).max() if transactions is not None and len(transactions) else None)
    orders = None
    if transactions is not None:
        orders = transactions.loc[:, [id_column, time_column]].copy()
        orders[id_column] = orders[id_column].astype(str)
        orders[time_column] = pd.to_datetime(orders[time_column])
        if cutoff is not None:
            orders = orders[orders[time_column] <= cutoff]
    attrs = None
    if customer_table is not None:
        attrs = customer_table.assign(**{id_column: customer_table[id_column].astype(str)}).drop_duplicates(id_column)
        attrs = attrs.set_index(id_column)
    rows: list[tuple[str, str, str]] = []
    skipped: dict[str, str] = {}
    for tag in declared:
        if isinstance(tag, InactiveTag):
            if orders is None:
                skipped[tag.name] = "needs the transactions table"
                continue
            rows += _inactive(tag, ids, orders, cutoff, id_column, time_column)
        elif isinstance(tag, ScoreTag):
            if scores is None or tag.column not in scores.columns:
                skipped[tag.name] = f"needs a scores table with column {tag.column!r}"
                continue
            rows += _score(tag, ids, scores, id_column)
        elif isinstance(tag, IndustryTag):
            if leads is None or attrs is None or tag.industry_column not in attrs.columns:
                skipped[tag.name] = f"needs the leads table and customers' {tag.industry_column!r}"
                continue
            led = leads
            if cutoff is not None and "created_at" in leads.columns:
                led = leads[pd.to_datetime(leads["created_at"]) <= cutoff]
            rows += _industry(tag, ids, led, attrs)
        elif isinstance(tag, PriceTag):
            if orders is None or promotions is None or attrs is None or region_column not in attrs.columns:
                skipped[tag.name] = f"needs transactions, a promotions calendar and customers' {region_column!r}"
                continue
            rows += _price(tag, ids, orders, promotions, attrs, cutoff, id_column, time_column, region_column)
    for name, why in skipped.items():
        logger.info("tag %s not evaluated: %s", name, why)
    evidence = pd.DataFrame(rows, columns=["customer_id", "tag", "evidence"])
    joined = evidence.groupby("customer_id")["tag"].agg(";".join) if len(evidence) else pd.Series(dtype=object)
    per_customer = pd.DataFrame({"customer_id": ids, "tags": joined.reindex(ids).fillna("").to_numpy()})
    return TagResult(evidence, per_customer, {t.name: t.definition for t in declared if t.name not in skipped}, skipped)


def _inactive(tag: InactiveTag, ids: pd.Index, orders: pd.DataFrame, cutoff, id_col: str, time_col: str):
    last = orders.groupby(id_col)[time_col].max().reindex(ids)
    out = []
    for cid, when in last.items():
        if pd.isna(when):
            out.append((cid, tag.name, f"no order up to {cutoff:%Y-%m-%d}"))
        elif (cutoff - when).days > tag.days:
            out.append((cid, tag.name, f"last order {when:%Y-%m-%d}, {(cutoff - when).days} days before {cutoff:%Y-%m-%d}"))
    return out


def _score(tag: ScoreTag, ids: pd.Index, scores: pd.DataFrame, id_col: str):
    s = scores.assign(_id=scores[id_col].astype(str)).drop_duplicates("_id").set_index("_id")[tag.column]
    s = pd.to_numeric(s, errors="coerce").reindex(ids)
    if tag.min is not None:
        cut, why = tag.min, f">= {tag.min:g}"
    else:
        share = tag.top_share or 0.2
        cut, why = float(s.quantile(1 - share)), f"in the top {share:.0%} (>= {float(s.quantile(1 - share)):.4g})"
    return [(cid, tag.name, f"{tag.column} {v:.4g} {why}") for cid, v in s.items() if pd.notna(v) and v >= cut]


def _industry(tag: IndustryTag, ids: pd.Index, leads: pd.DataFrame, attrs: pd.DataFrame):
    from scipy.stats import beta

    conv = leads[tag.converted_column].astype(bool)
    overall = float(conv.mean()) if len(conv) else 0.0
    table = pd.DataFrame({"industry": leads[tag.industry_column], "conv": conv}).dropna(subset=["industry"])
    g = table.groupby("industry")["conv"].agg(["sum", "count"])
    lo_q = (1 - tag.credible) / 2
    good = {}
    for industry, row in g.iterrows():
        if row["count"] < tag.min_leads:
            continue
        a, b = 1 + row["sum"], 1 + row["count"] - row["sum"]
        lo, hi = beta.ppf(lo_q, a, b), beta.ppf(1 - lo_q, a, b)
        if lo > overall:
            good[industry] = (f"industry {industry}: {row['sum'] / row['count']:.1%} of {int(row['count'])} leads converted "
                              f"({tag.credible:.0%} interval {lo:.1%}-{hi:.1%}) vs {overall:.1%} overall")
    ind = attrs[tag.industry_column].reindex(ids)
    return [(cid, tag.name, good[v]) for cid, v in ind.items() if v in good]


def _price(tag: PriceTag, ids, orders, promotions, attrs, cutoff, id_col, time_col, region_col):
    from scipy.stats import beta

    promo = promotions.assign(month=pd.to_datetime(promotions["month"]).dt.to_period("M"))
    promo = promo[promo["discount"].fillna(0) > 0]
    if cutoff is not None:
        promo = promo[promo["month"] <= pd.Timestamp(cutoff).to_period("M")]
    promo_months = promo.groupby(region_col)["month"].agg(set).to_dict()
    o = orders.assign(month=orders[time_col].dt.to_period("M"))
    end = pd.Timestamp(cutoff).to_period("M") if cutoff is not None else o["month"].max()
    out = []
    region = attrs[region_col].reindex(ids)
    for cid, grp in o.groupby(id_col):
        if cid not in region.index or pd.isna(region.get(cid)) or len(grp) < tag.min_orders:
            continue
        months = pd.period_range(grp["month"].min(), min(grp["month"].max(), end), freq="M")  # the active span
        in_promo = months.isin(list(promo_months.get(region[cid], set())))
        m_p, m_b = int(in_promo.sum()), int((~in_promo).sum())
        if m_p == 0 or m_b == 0:
            continue
        n_p = int(grp["month"].isin(months[in_promo]).sum())
        n_b = len(grp) - n_p
        p0 = tag.min_lift * m_p / (tag.min_lift * m_p + m_b)  # share in promotion months at which lift == min_lift
        prob = float(beta.sf(p0, 0.5 + n_p, 0.5 + n_b))
        if prob >= tag.credible:
            lift = (n_p / m_p) / (n_b / m_b) if n_b else float("inf")
            out.append((cid, tag.name, f"{n_p / m_p:.2f} orders/month in {m_p} promotion months vs {n_b / m_b:.2f} in "
                                       f"{m_b} others (lift {lift:.2f}, P(lift > {tag.min_lift:g}) = {prob:.2f})"))
    return out
