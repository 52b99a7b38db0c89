"""Turning a user's table into model features, and back into words.

:class:`TabularEncoder` types every column automatically (numeric, boolean,
categorical, datetime, free text), learns what it needs from the training rows
only, and stores all of it as plain JSON so a model artifact needs no pickle.
It also turns a feature and its value back into a readable phrase for the
reasons attached to each score ("visited the pricing page 6 times").

Column typing rules (first match wins):

* listed under ``exclude`` or the id / label columns -> not a feature;
* looks like personal data (:mod:`salesml.trust.privacy`: the name says e-mail,
  phone, name, address, customer id...; or the values look like e-mails, phone
  numbers, national ids, person names, or are full of contact details) ->
  dropped unless listed in ``allow_personal``;
* boolean dtype, or only yes/no/true/false values -> ``bool`` (0/1);
* numeric dtype, or text of which >= 90 % of non-empty values are numbers ->
  ``numeric`` (the other values stop training unless ``allow_non_numeric``);
* datetime dtype, or text of which >= 95 % parses as dates -> ``datetime``
  (month, day of week and, when a reference time column is set, the age in days
  relative to it);
* text whose values average >= 3 words -> ``text``: one 0/1 feature per token
  or bigram of a vocabulary learnt from the training rows (tokens must appear
  in at least ``min_token_count`` rows, so rare words such as names never
  become features; e-mail/web addresses and phone numbers are cut out first and
  common given names and surnames are never tokens);
* other text with at most ``max_categories`` distinct values, or whose values
  repeat -> ``categorical`` (LightGBM native categories of at least
  ``min_category_count`` training rows and holding no contact details; unseen
  values at scoring time are treated as missing, never an error);
* otherwise (nearly unique short strings: identifiers) -> dropped.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from salesml.core.contracts import BINARY_FALSE, BINARY_TRUE, parse_datetime
from salesml.trust.privacy import has_contact_details, is_common_name, looks_personal, scan, scrub_text

logger = logging.getLogger(__name__)

__all__ = ["TabularEncoder", "ColumnPlan", "MissingColumnsError", "ROW_ISSUE_CODES", "looks_personal"]

_SINGULAR = re.compile(r"\b(1) ([A-Za-z-]+?)s\b")  # "1 times" -> "1 time"
_DATE_LIKE = re.compile(r"^\s*(\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{2,4}|\d{4}/\d{1,2}/\d{1,2})")
_TOKEN = re.compile(r"[a-z][a-z0-9]+")
_STOPWORDS = frozenset(
    "a an the and or but of to in on for with at by from is are was were be been it this that we our you your "
    "i me my us they them their as if so do does did have has had can could would should will just about "
    "into over under than then there here what which who whom how when where why all any some no not".split()
)

#: Reason codes a row can be rejected for at scoring time.
ROW_ISSUE_CODES = {
    "not_a_number": "value is not a number",
    "not_a_date": "value is not a parseable date",
    "not_boolean": "value is not true/false",
    "missing_value": "value is missing in a column that was never missing in training",
    "out_of_range": "value is below the lowest value the column can take (training values were never negative)",
    "not_finite": "value is infinite",
}

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class MissingColumnsError(KeyError):
    """The frame to score lacks columns the model was trained with."""

    def __init__(self, missing: Sequence[str]):
        self.missing = list(missing)
        names = ", ".join(f"'{c}'" for c in self.missing)
        many = len(self.missing) > 1
        super().__init__(
            f"The input lacks column{'s' if many else ''} {names} that the model was trained with. "
            f"Add {'them' if many else 'it'} (empty values are accepted only in columns that had missing values in "
            "training) or map the names in the experiment YAML."
        )

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@dataclass
class ColumnPlan:
    """How one input column becomes features (JSON-serialisable)."""

    name: str
    kind: str  # numeric | bool | categorical | datetime | text | dropped
    features: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    reason: str = ""  # why a column was dropped
    dtype: str = ""  # "int" when the training column was integer (the signature then says long)
    # The scoring contract learnt from the training rows (see :meth:`TabularEncoder.row_issues`).
    # Models saved before these existed load with the permissive defaults.
    nullable: bool = True  # False: training had no missing values, so a missing value cannot be scored
    minimum: float | None = None  # 0.0 when every training value was >= 0 (counts, durations, amounts)

    @property
    def is_feature(self) -> bool:
        return self.kind != "dropped"


def _label(column: str) -> str:
    return column.replace("_", " ").strip()


def _fmt(value: float) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "unknown"
    if float(value).is_integer():
        return f"{int(value)}"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def _is_string_like(s: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(s.dtype) or pd.api.types.is_object_dtype(s.dtype) or isinstance(
        s.dtype, pd.CategoricalDtype
    )


def _tokens(text: str) -> list[str]:
    """Words and bigrams of ``text`` after cutting out e-mail/web addresses and phone numbers."""
    words = [w for w in _TOKEN.findall(scrub_text(text).lower()) if w not in _STOPWORDS]
    return words + [f"{a} {b}" for a, b in zip(words, words[1:])]


class TabularEncoder:
    """Learn column types and encodings from training rows; apply them anywhere.

    Parameters
    ----------
    time_column : the row's reference time ("as of"), e.g. ``created_at``; its
        month and weekday become features and other datetime columns are
        measured in days before it.
    exclude : columns never used as features (id, label, post-outcome columns).
    allow_personal : personal-looking columns the user explicitly allows.
    max_categories : categories kept per column (most frequent first).
    min_token_count : rows a text token must appear in to become a feature.
    max_tokens : tokens kept per text column (most frequent first).
    min_category_count : training rows a category must appear in to be kept
        (default 20). Rarer values are folded, with unseen ones, into "new or
        unknown" before anything is learnt: they never reach the model, its
        metadata, input examples or monitoring reports (a value shared by a
        handful of rows, a surname say, points at those people and teaches the
        model nothing).
    allow_non_numeric : text columns typed numeric (>= 90 % of the non-empty
        values are numbers) whose other values may be read as missing. Any other such
        column stops :meth:`fit` with every offending column named: text in a
        number column is usually an export error, and training on it silently
        would teach the model that those rows are "unknown".
    """

    def __init__(
        self,
        *,
        time_column: str | None = None,
        exclude: Sequence[str] = (),
        allow_personal: Sequence[str] = (),
        max_categories: int = 100,
        min_token_count: int = 20,
        max_tokens: int = 60,
        min_category_count: int = 20,
        allow_non_numeric: Sequence[str] = (),
    ):
        self.time_column = time_column
        self.exclude = list(exclude)
        self.allow_personal = list(allow_personal)
        self.max_categories = max_categories
        self.min_token_count = min_token_count
        self.max_tokens = max_tokens
        self.min_category_count = min_category_count
        self.allow_non_numeric = list(allow_non_numeric)

    # ------------------------------------------------------------------ fit
    def fit(self, X: pd.DataFrame, y: Any = None) -> TabularEncoder:
        if X.shape[0] == 0:
            raise ValueError("TabularEncoder.fit needs at least one row. Got an empty frame.")
        excluded = set(self.exclude)
        # without the time column in the table (a table with no time), no "days before" features can be made
        self._has_time = self.time_column is not None and self.time_column in X.columns
        # the personal-data guard runs first and reports column names and reasons only
        self.personal_ = scan(X, allow=self.allow_personal, skip=excluded | {self.time_column})
        self._excluded_personal = {p.column: p.reason for p in self.personal_ if p.action == "excluded"}
        for finding in self.personal_:
            log = logger.warning if finding.action == "allowed" else logger.info
            log("personal-data guard: column %r %s: %s", finding.column, finding.action, finding.reason)
        plans: list[ColumnPlan] = []
        self._non_numeric: list[str] = []
        for name in X.columns:
            name = str(name)
            if name in excluded:
                continue
            if name == self.time_column:
                plans.append(ColumnPlan(name, "time", features=[f"{name}__month", f"{name}__weekday"]))
                _learn_contract(plans[-1], X[name])
                continue
            plans.append(self._plan(name, X[name]))
            _learn_contract(plans[-1], X[name])
        if self._non_numeric:
            raise ValueError(
                "Text in number columns of the training data: " + "; ".join(self._non_numeric) + ". Fix the export, "
                "or allow it explicitly (TabularEncoder(allow_non_numeric=[...]): those values are read as missing)."
            )
        self.columns_ = plans
        self.feature_names_ = [f for p in plans for f in p.features]
        self.categorical_features_ = [p.name for p in plans if p.kind == "categorical"]
        self.dropped_ = {p.name: p.reason for p in plans if p.kind == "dropped"}
        for name, why in self.dropped_.items():
            logger.info("column %r is not used as a feature: %s", name, why)
        return self

    def _plan(self, name: str, s: pd.Series) -> ColumnPlan:
        non_null = s.dropna()
        if name in self._excluded_personal:
            return ColumnPlan(name, "dropped", reason=self._excluded_personal[name])
        if len(non_null) == 0:
            return ColumnPlan(name, "dropped", reason="every value is missing")
        if pd.api.types.is_bool_dtype(s.dtype):
            return ColumnPlan(name, "bool", features=[name])
        if pd.api.types.is_numeric_dtype(s.dtype):
            return ColumnPlan(name, "numeric", features=[name], dtype="int" if pd.api.types.is_integer_dtype(s.dtype) else "")
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            return self._datetime_plan(name)
        if not _is_string_like(s):
            return ColumnPlan(name, "dropped", reason=f"unsupported dtype {s.dtype}")
        values = non_null.astype(str)
        uniques = set(values.unique()[:50])
        if len(uniques) <= 2 and uniques <= {str(v) for v in BINARY_TRUE | BINARY_FALSE}:
            return ColumnPlan(name, "bool", features=[name])
        numbers = pd.to_numeric(values, errors="coerce")
        filled = values.str.strip() != ""
        if filled.any() and numbers[filled].notna().mean() >= 0.9:
            bad = values[numbers.isna() & filled]
            if len(bad) and name not in self.allow_non_numeric:
                shown = "values redacted" if looks_personal(name) else "e.g. " + ", ".join(repr(v[:20]) for v in bad.unique()[:3])
                self._non_numeric.append(f"'{name}' has {len(bad):,} of {len(values):,} values that are not numbers ({shown})")
            return ColumnPlan(name, "numeric", features=[name])
        if values.head(2000).str.match(_DATE_LIKE).mean() >= 0.95 and parse_datetime(values.head(2000)).notna().mean() >= 0.95:
            return self._datetime_plan(name)
        words = values.str.split().str.len().mean()
        if words >= 3:
            return self._text_plan(name, values)
        counts = values.value_counts()
        # most frequent first, ties by value, so which categories are kept never depends on row or hash order
        counts = counts.iloc[np.lexsort((counts.index.to_numpy(dtype=str), -counts.to_numpy()))]
        if len(counts) <= self.max_categories or (counts >= 2).sum() >= 0.5 * len(counts):
            common = counts[counts >= self.min_category_count]
            kept = [c for c in common.index[: self.max_categories] if not has_contact_details(str(c))]
            return ColumnPlan(name, "categorical", features=[name], categories=sorted(kept))
        return ColumnPlan(name, "dropped", reason="nearly every value is different (an identifier?)")

    def _datetime_plan(self, name: str) -> ColumnPlan:
        features = [f"{name}__month", f"{name}__weekday"]
        if self.time_column is not None and getattr(self, "_has_time", True):
            features.append(f"{name}__days_before")
        return ColumnPlan(name, "datetime", features=features)

    def _text_plan(self, name: str, values: pd.Series) -> ColumnPlan:
        df = Counter()
        for text in values:
            df.update(set(_tokens(text)))
        # most frequent first, ties by the token itself: never by string-hash order (PYTHONHASHSEED)
        ranked = sorted(df.items(), key=lambda tc: (-tc[1], tc[0]))
        usable = (t for t, c in ranked if c >= self.min_token_count)
        kept = [t for t in usable if not any(is_common_name(w) for w in t.split())][: self.max_tokens]
        kept = sorted(kept)
        features = [f"{name}__n_words"] + [f"{name}__has__{t.replace(' ', '_')}" for t in kept]
        return ColumnPlan(name, "text", features=features, tokens=kept)

    # ------------------------------------------------------------ transform
    @property
    def required_columns(self) -> list[str]:
        """Input columns the model reads."""
        return [p.name for p in self.columns_ if p.is_feature]

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Encode ``X``; values that cannot be read (text in a number column...) become missing.

        Use :meth:`row_issues` first to find and reject such rows.
        """
        missing = [c for c in self.required_columns if c not in X.columns]
        if missing:
            raise MissingColumnsError(missing)
        out: dict[str, np.ndarray] = {}
        ref = parse_datetime(X[self.time_column]) if self.time_column and self.time_column in X.columns else None
        for plan in self.columns_:
            if not plan.is_feature:
                continue
            s = X[plan.name]
            if plan.kind == "numeric":
                out[plan.name] = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)
            elif plan.kind == "bool":
                out[plan.name] = _to_bool(s)
            elif plan.kind == "categorical":
                codes = pd.Categorical(_as_str(s), categories=plan.categories).codes.astype(np.float64)
                codes[codes < 0] = np.nan
                out[plan.name] = codes
            elif plan.kind in ("datetime", "time"):
                d = parse_datetime(s)
                out[plan.features[0]] = d.dt.month.to_numpy(dtype=np.float64)
                out[plan.features[1]] = d.dt.dayofweek.to_numpy(dtype=np.float64)
                if plan.kind == "datetime" and len(plan.features) > 2:
                    if ref is None:
                        raise MissingColumnsError([str(self.time_column)])
                    out[plan.features[2]] = ((ref - d).dt.total_seconds() / 86400.0).to_numpy(dtype=np.float64)
            elif plan.kind == "text":
                out.update(_text_features(plan, _as_str(s).fillna("")))
        return pd.DataFrame(out, index=X.index, columns=self.feature_names_)

    def row_issues(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per-row problems that make a row unscorable: one row per (row, column, reason code).

        Codes (:data:`ROW_ISSUE_CODES`): a value that cannot be read as the
        column's type (``not_a_number``, ``not_a_date``, ``not_boolean``), a
        missing value in a column that had none in training (``missing_value``;
        LightGBM would silently read it as 0), a negative value in a column
        whose training values were all >= 0 (``out_of_range``) and infinities
        (``not_finite``). Unseen categories are not issues: they are scored as
        "new or unknown".
        """
        records: list[pd.DataFrame] = []
        for plan in self.columns_:
            if not plan.is_feature or plan.name not in X.columns:
                continue
            s = X[plan.name]
            present = s.notna() & (_as_str(s).str.strip() != "") if _is_string_like(s) else s.notna()
            checks: list[tuple[pd.Series, str]] = []
            if not plan.nullable and plan.kind != "text":
                checks.append((~present, "missing_value"))
            if plan.kind == "numeric":
                number = pd.to_numeric(s, errors="coerce")
                checks.append((present & number.isna(), "not_a_number"))
                checks.append((np.isinf(number.to_numpy(dtype=np.float64)), "not_finite"))
                if plan.minimum is not None:
                    checks.append((number < plan.minimum, "out_of_range"))
            elif plan.kind in ("datetime", "time"):
                checks.append((present & parse_datetime(s).isna(), "not_a_date"))
            elif plan.kind == "bool" and not pd.api.types.is_bool_dtype(s.dtype):
                valid = [v for v in s.dropna().unique() if v in BINARY_TRUE or v in BINARY_FALSE or str(v) in _BOOL_STR]
                checks.append((present & ~s.isin(valid), "not_boolean"))
            for bad, code in checks:
                bad = np.asarray(bad, dtype=bool)
                if bad.any():
                    records.append(pd.DataFrame({"row": X.index[bad], "column": plan.name, "reason": code}))
        if not records:
            return pd.DataFrame({"row": pd.Series([], dtype=object), "column": [], "reason": []})
        return pd.concat(records, ignore_index=True)

    # ------------------------------------------------------------- describe
    def plan_of(self, feature: str) -> ColumnPlan:
        if not hasattr(self, "_feature_plan"):
            self._feature_plan = {f: p for p in self.columns_ for f in p.features}
        return self._feature_plan[feature]

    def describe(self, feature: str, value: float, templates: Mapping[str, Any] | None = None) -> str:
        """A readable phrase for ``feature`` taking encoded ``value``.

        ``templates`` maps a column name to a format string using ``{value}``
        (numbers, categories) or, for booleans and text tokens, a dict with
        ``"true"`` / ``"false"`` phrases (text: ``{token}`` is the word).
        """
        plan = self.plan_of(feature)
        template = (templates or {}).get(plan.name)
        label = _label(plan.name)
        missing = value is None or (isinstance(value, float) and np.isnan(value))
        if plan.kind == "numeric":
            if missing:
                return f"{label} is unknown"
            text = _fmt(value)
            if not isinstance(template, str):
                return f"{label} is {text}"
            phrase = template.format(value=text)
            return _SINGULAR.sub(r"\1 \2", phrase) if text == "1" else phrase
        if plan.kind == "bool":
            if missing:
                return f"{label} is unknown"
            if isinstance(template, Mapping):
                return str(template["true" if value >= 0.5 else "false"])
            return label if value >= 0.5 else f"not {label}"
        if plan.kind == "categorical":
            category = plan.categories[int(value)] if not missing else None
            if category is None:
                return f"{label} is new or unknown"
            return template.format(value=category) if isinstance(template, str) else f"{label} is {category}"
        if plan.kind in ("datetime", "time"):
            part = feature.rsplit("__", 1)[1]
            label = re.sub(r"[ _](at|on|date|time)$", "", label) or label
            if missing:
                return f"{label} is unknown"
            if part == "month":
                return f"{label} in {MONTHS[int(value) - 1]}"
            if part == "weekday":
                return f"{label} on a {WEEKDAYS[int(value)]}"
            if part == "hour":
                return f"{label} at {int(value):02d}:00"
            return f"{label} {_fmt(value)} days earlier"
        if plan.kind == "text":
            if feature.endswith("__n_words"):
                return f"{label} has {_fmt(value)} words"
            token = plan.tokens[plan.features.index(feature) - 1]
            if isinstance(template, Mapping):
                return str(template["true" if value >= 0.5 else "false"]).format(token=token)
            return f'{label} mentions "{token}"' if value >= 0.5 else f'{label} does not mention "{token}"'
        return f"{feature} = {_fmt(value)}"

    # ---------------------------------------------------------- persistence
    def to_dict(self) -> dict[str, Any]:
        return {
            "params": {
                "time_column": self.time_column,
                "exclude": self.exclude,
                "allow_personal": self.allow_personal,
                "max_categories": self.max_categories,
                "min_token_count": self.min_token_count,
                "max_tokens": self.max_tokens,
                "min_category_count": self.min_category_count,
                "allow_non_numeric": self.allow_non_numeric,
            },
            "columns": [asdict(p) for p in self.columns_],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TabularEncoder:
        enc = cls(**data["params"])
        enc.columns_ = [ColumnPlan(**p) for p in data["columns"]]
        enc.feature_names_ = [f for p in enc.columns_ for f in p.features]
        enc.categorical_features_ = [p.name for p in enc.columns_ if p.kind == "categorical"]
        enc.dropped_ = {p.name: p.reason for p in enc.columns_ if p.kind == "dropped"}
        return enc

    def example_row(self) -> dict[str, Any]:
        """A synthetic input row holding no real record: typical placeholder values per column."""
        row: dict[str, Any] = {}
        for plan in self.columns_:
            if plan.kind == "numeric":
                row[plan.name] = 1 if plan.dtype == "int" else 1.0
            elif plan.kind == "bool":
                row[plan.name] = False
            elif plan.kind == "categorical":
                row[plan.name] = plan.categories[0] if plan.categories else "unknown"
            elif plan.kind in ("datetime", "time"):
                row[plan.name] = pd.Timestamp("2025-01-15 10:00:00")
            elif plan.kind == "text":
                row[plan.name] = " ".join(plan.tokens[:3]) or "example text"
        return row


def _learn_contract(plan: ColumnPlan, s: pd.Series) -> None:
    """Record what a scoring row must satisfy for this column: non-missing, non-negative."""
    if not plan.is_feature:
        return
    plan.nullable = bool(s.isna().any())
    if plan.kind == "numeric":
        values = pd.to_numeric(s, errors="coerce")
        if values.notna().any() and float(values.min()) >= 0:
            plan.minimum = 0.0


_TRUE_STR = frozenset(str(v) for v in BINARY_TRUE)
_FALSE_STR = frozenset(str(v) for v in BINARY_FALSE)
_BOOL_STR = _TRUE_STR | _FALSE_STR


def _as_str(s: pd.Series) -> pd.Series:
    """Values as strings, keeping missing values missing (works on pandas 2 and 3)."""
    out = s.astype("string")
    return pd.Series(np.where(out.isna().to_numpy(), None, out.astype(object).to_numpy()), index=s.index, dtype=object)


def _text_features(plan: ColumnPlan, texts: pd.Series) -> dict[str, np.ndarray]:
    """Word count and token indicators, computed once per distinct text (CRM texts repeat a lot)."""
    codes, uniques = pd.factorize(texts, sort=False)
    position = {t: i for i, t in enumerate(plan.tokens)}
    table = np.zeros((len(uniques), len(plan.tokens) + 1), dtype=np.float64)
    for row, text in enumerate(uniques):
        table[row, 0] = len(str(text).split())
        for token in set(_tokens(str(text))):
            col = position.get(token)
            if col is not None:
                table[row, col + 1] = 1.0
    values = table[codes] if len(uniques) else np.zeros((len(texts), len(plan.tokens) + 1))
    return {feature: values[:, j] for j, feature in enumerate(plan.features)}


def _to_bool(s: pd.Series) -> np.ndarray:
    def one(v: object) -> float:
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            return np.nan
        if v in BINARY_TRUE or str(v) in _TRUE_STR:
            return 1.0
        if v in BINARY_FALSE or str(v) in _FALSE_STR:
            return 0.0
        return np.nan

    if pd.api.types.is_bool_dtype(s.dtype):
        return s.to_numpy(dtype=np.float64)
    return s.map(one).to_numpy(dtype=np.float64)


def feature_kinds(encoder: TabularEncoder) -> dict[str, str]:
    """Feature name -> the kind of its source column."""
    return {f: p.kind for p in encoder.columns_ for f in p.features}


def columns_by_kind(encoder: TabularEncoder) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in encoder.columns_:
        out.setdefault(p.kind, []).append(p.name)
    return out
