"""Data contracts: what each input table must look like, checked on entry.

Every table is validated with pandera in lazy mode so that *all* problems are
collected and reported together, each naming the column, the check, a few row
keys and how to fix it. Values of columns that may hold personal data are
never echoed in messages; row keys are shown as ``lead_id=L0042``, or as the
row position and a pseudonym when ``SALESML_PSEUDONYM_KEY`` is set (see
:mod:`salesml.trust.privacy`).
"""

from __future__ import annotations

import difflib
import logging
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

with warnings.catch_warnings():
    # pandera imports pyspark.pandas when pyspark is installed (salesml[spark]), which warns
    # about pandas 3 on every import; salesml's Spark path does not use pyspark.pandas.
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    import pandera.pandas as pa

from salesml.trust.privacy import describe_key, looks_personal, redact_values

logger = logging.getLogger(__name__)

__all__ = [
    "time_rules",
    "DataValidationError",
    "Problem",
    "ColumnRule",
    "validate_table",
    "parse_datetime",
    "BINARY_TRUE",
    "BINARY_FALSE",
]

#: How many row keys a message shows per problem before saying "+N more".
MAX_KEYS_SHOWN = 5

BINARY_TRUE = frozenset({True, 1, 1.0, "1", "true", "True", "TRUE", "yes", "Yes", "YES", "y", "Y"})
BINARY_FALSE = frozenset({False, 0, 0.0, "0", "false", "False", "FALSE", "no", "No", "NO", "n", "N"})


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input table."""

    table: str
    column: str | None
    check: str
    message: str
    fix: str
    keys: tuple[str, ...] = ()
    n_rows: int = 0

    def render(self) -> str:
        where = f"column '{self.column}'" if self.column else "table"
        text = f"[{self.table}] {where}: {self.message}"
        if self.n_rows:
            shown = ", ".join(self.keys[:MAX_KEYS_SHOWN])
            more = self.n_rows - min(len(self.keys), MAX_KEYS_SHOWN)
            text += f" ({self.n_rows} row{'s' if self.n_rows != 1 else ''}: {shown}"
            text += f" +{more} more)" if more > 0 else ")"
        return f"{text}. Fix: {self.fix}"


class DataValidationError(ValueError):
    """Raised when input data breaks its contract; lists every problem found."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        n = len(self.problems)
        lines = [f"{n} problem{'s' if n != 1 else ''} found in the input data:"]
        lines += [f"  - {p.render()}" for p in self.problems]
        super().__init__("\n".join(lines))

    def to_frame(self) -> pd.DataFrame:
        """The problems as a table (one row per problem)."""
        return pd.DataFrame(
            [
                {
                    "table": p.table,
                    "column": p.column,
                    "check": p.check,
                    "n_rows": p.n_rows,
                    "message": p.message,
                    "fix": p.fix,
                }
                for p in self.problems
            ]
        )


@dataclass(frozen=True)
class ColumnRule:
    """What one column must satisfy.

    ``kind`` is one of ``"id"`` (unique, non-null), ``"datetime"`` (parseable),
    ``"binary"`` (two classes, e.g. 0/1, True/False, yes/no), ``"number"``, or
    ``"any"``.
    """

    name: str
    kind: str = "any"
    nullable: bool = True
    unique: bool = False
    minimum: float | None = None
    role: str = ""  # how the configuration refers to it, e.g. "id column"


def parse_datetime(values: pd.Series) -> pd.Series:
    """Parse a column to tz-naive UTC datetimes; unparseable values become NaT."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").dt.tz_localize(None)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values.astype("datetime64[ns]")
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]").where(values.isna(), pd.NaT)
    parsed = pd.to_datetime(values, errors="coerce", utc=True, format="mixed")
    parsed = parsed.where((parsed.dt.year >= 1700) & (parsed.dt.year <= 2200))
    return parsed.dt.tz_localize(None).astype("datetime64[ns]")


def _parseable(values: pd.Series) -> pd.Series:
    return parse_datetime(values).notna() | values.isna()


def _binary(values: pd.Series) -> pd.Series:
    allowed = BINARY_TRUE | BINARY_FALSE
    return values.map(lambda v: v in allowed if not pd.isna(v) else True).astype(bool)


def _numeric(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce").notna() | values.isna()


_FIXES = {
    "not_nullable": "fill the missing values or drop those rows",
    "field_uniqueness": "remove or merge the duplicated rows so each key appears once",
    "unparseable date": "use ISO dates such as 2025-03-31 or 2025-03-31T14:00:00Z",
    "not binary": "encode the label as 0/1, true/false or yes/no",
    "not a number": "remove non-numeric text such as units or thousands separators",
    "below minimum": "correct or drop the out-of-range values",
}


def _schema_for(rules: Sequence[ColumnRule]) -> pa.DataFrameSchema:
    columns: dict[str, pa.Column] = {}
    for rule in rules:
        checks: list[pa.Check] = []
        if rule.kind == "datetime":
            checks.append(pa.Check(_parseable, error="unparseable date"))
        elif rule.kind == "binary":
            checks.append(pa.Check(_binary, error="not binary"))
        elif rule.kind == "number":
            checks.append(pa.Check(_numeric, error="not a number"))
        if rule.minimum is not None:
            minimum = rule.minimum
            checks.append(
                pa.Check(
                    lambda s, m=minimum: pd.to_numeric(s, errors="coerce").fillna(m) >= m,
                    error="below minimum",
                )
            )
        columns[rule.name] = pa.Column(
            checks=checks,
            nullable=rule.nullable,
            unique=rule.unique or rule.kind == "id",
            coerce=False,
            required=True,
        )
    return pa.DataFrameSchema(columns, strict=False)


def validate_table(
    df: pd.DataFrame,
    *,
    table: str,
    rules: Sequence[ColumnRule],
    key: str | None = None,
    personal: Iterable[str] = (),
    extra_checks: Iterable[Callable[[pd.DataFrame], list[Problem]]] = (),
    raise_errors: bool = True,
) -> list[Problem]:
    """Check ``df`` against ``rules`` and collect every problem.

    Parameters
    ----------
    df : the table.
    table : its name, used in messages ("leads").
    rules : one :class:`ColumnRule` per required column.
    key : the column whose values identify rows in messages (falls back to the
        row position).
    personal : columns whose values must never appear in a message.
    extra_checks : table-level checks returning more problems.
    raise_errors : raise :class:`DataValidationError` when anything is wrong.
    """
    problems: list[Problem] = []
    if len(df) == 0:
        problems.append(
            Problem(table, None, "empty", "the table has no rows", "check the export or the query that produced it")
        )
    # values of personal-looking columns are never echoed; the key column follows the row-key rule instead
    personal = set(personal) | {str(c) for c in df.columns if looks_personal(str(c)) and c != key}
    rule_by_name = {r.name: r for r in rules}
    try:
        _schema_for(rules).validate(df, lazy=True)
    except pa.errors.SchemaErrors as err:
        problems.extend(_problems_from_pandera(err.failure_cases, df, table, key, rule_by_name, personal))
    for check in extra_checks:
        problems.extend(check(df))
    if problems and raise_errors:
        raise DataValidationError(problems)
    return problems


def row_keys(df: pd.DataFrame, index: Iterable, key: str | None) -> tuple[str, ...]:
    """Readable keys for the given row labels: the key column's value, else the row label."""
    idx = list(index)
    if key is not None and key in df.columns:
        values = df.loc[idx, key] if idx else []
        return tuple(describe_key(key, v, i) if not pd.isna(v) else f"row {i}" for i, v in zip(idx, values))
    return tuple(f"row {i}" for i in idx)


def _problems_from_pandera(
    cases: pd.DataFrame,
    df: pd.DataFrame,
    table: str,
    key: str | None,
    rules: Mapping[str, ColumnRule],
    personal: set[str],
) -> list[Problem]:
    problems: list[Problem] = []
    missing = cases[cases["check"] == "column_in_dataframe"]
    for name in missing["failure_case"].astype(str):
        rule = rules.get(name)
        role = f" (the {rule.role})" if rule is not None and rule.role else ""
        close = difflib.get_close_matches(name, [str(c) for c in df.columns], n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'? Rename it or set the column name in the experiment YAML" if close else (
            "add the column or map its name in the experiment YAML (columns: section)"
        )
        problems.append(Problem(table, name, "missing", f"required column{role} is missing", hint))
    rest = cases[cases["check"] != "column_in_dataframe"]
    for (column, check), group in rest.groupby(["column", "check"], sort=False, dropna=False):
        check_name = str(check)
        base = check_name.split("(")[0]
        index = [i for i in group["index"].tolist() if i is not None and not (isinstance(i, float) and np.isnan(i))]
        index = list(dict.fromkeys(index))
        keys = row_keys(df, index[:MAX_KEYS_SHOWN], key if column != key or base != "field_uniqueness" else None)
        if base == "field_uniqueness":
            dups = group["failure_case"].astype(str)
            n_values = dups.nunique()
            message = f"{n_values} value{'s' if n_values != 1 else ''} appear more than once"
            if column not in personal:
                shown = dups.unique()[:3] if column != key else redact_values(str(column), dups.unique()[:3])
                message += f" (e.g. {', '.join(shown)})"
        elif base == "not_nullable":
            message = "has missing values where none are allowed"
        else:
            message = f"failed check '{check_name}'"
            if column not in personal:
                bad = group["failure_case"].astype(str).unique()[:3]
                bad = bad if column != key else redact_values(str(column), bad)
                sample = ", ".join(repr(v) for v in bad)
                message += f"; bad values: {sample}"
        fix = _FIXES.get(base, _FIXES.get(check_name, "correct the values"))
        problems.append(Problem(table, str(column), base, message, fix, keys, len(index)))
    return problems


def all_missing_columns(table: str, columns: Iterable[str] | None = None) -> Callable[[pd.DataFrame], list[Problem]]:
    """A table check: columns whose every value is missing carry no signal and usually mean a broken export."""

    def check(df: pd.DataFrame) -> list[Problem]:
        if len(df) == 0:
            return []
        names = list(df.columns if columns is None else [c for c in columns if c in df.columns])
        empty = [c for c in names if df[c].isna().all()]
        return [
            Problem(
                table,
                str(c),
                "all_missing",
                "every value is missing",
                "fix the export, or drop the column / list it under columns.exclude in the experiment YAML",
            )
            for c in empty
        ]

    return check



def time_rules(df: pd.DataFrame, column: str) -> list[ColumnRule]:
    """The time column's rule for a task whose time column is optional.

    A table without it (and without a column named like it, which is more likely
    a misspelling, reported with a suggestion) has no time: it is split at random.
    """
    if column not in df.columns and not difflib.get_close_matches(column, [str(c) for c in df.columns], n=1, cutoff=0.6):
        return []
    return [ColumnRule(column, "datetime", nullable=False, role="time column")]

@dataclass
class BinaryLabel:
    """Maps a binary label column (0/1, bool, yes/no) to 0/1 integers."""

    column: str
    classes_: tuple[int, ...] = field(default=(), init=False)

    def encode(self, values: pd.Series) -> np.ndarray:
        def one(v: object) -> float:
            if pd.isna(v):
                return np.nan
            if v in BINARY_TRUE:
                return 1.0
            if v in BINARY_FALSE:
                return 0.0
            return np.nan

        return values.map(one).to_numpy(dtype=float)
