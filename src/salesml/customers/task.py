"""What the customer tasks (CLV, churn) share: point-in-time snapshots from order history.

Training data: :mod:`salesml.customers.snapshots` builds one row per customer per
monthly cutoff (features from events strictly before it, targets from the next
``horizon``). The latest cutoff whose window the data completes is the
holdout, the latest one whose window ends by the holdout cutoff is the
validation slice, and up to ``n_cutoffs`` earlier cutoffs whose windows end by
the validation cutoff are the training rows (:class:`~salesml.customers.snapshots.CutoffPlan`).

Input tables: ``transactions`` (required), ``customers`` and ``activities``
(optional), or instead one ``prepared`` table with a row per customer (and
time), a label column and ready-made features, as subscription businesses
often have. A prepared table is split like lead scoring: by its time column,
the latest rows are the holdout.

Scoring input (``Scorer.score(frame)``): a snapshot frame with the same
columns, one row per customer, as :meth:`CustomerTask.snapshot` builds from
raw tables (``salesml snapshot`` on the command line)::

    task = scorer.task
    frame = task.snapshot({"transactions": orders, "customers": customers, "activities": activities}, as_of="2026-01-01")
    scorer.score(frame)
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import field_validator

from salesml.customers import snapshots
from salesml.core.contracts import ColumnRule, DataValidationError, Problem, parse_datetime, time_rules, validate_table
from salesml.core.features import TabularEncoder
from salesml.core.split import TimeSplit, time_split
from salesml.core.task import Dataset, SplitSettings, Task, TaskColumns, TaskParams

logger = logging.getLogger(__name__)

__all__ = ["CustomerTask", "CustomerColumns", "CustomerParams", "CUSTOMER_TEMPLATES"]

#: Phrases for the snapshot features (default windows); other columns get generic phrases.
CUSTOMER_TEMPLATES: dict[str, Any] = {
    "tenure_days": "a customer for {value} days",
    "orders_total": "{value} orders so far",
    "orders_1m": "{value} orders in the last month",
    "orders_3m": "{value} orders in the last 3 months",
    "orders_6m": "{value} orders in the last 6 months",
    "orders_12m": "{value} orders in the last 12 months",
    "revenue_total": "revenue so far {value}",
    "revenue_1m": "revenue in the last month {value}",
    "revenue_3m": "revenue in the last 3 months {value}",
    "revenue_6m": "revenue in the last 6 months {value}",
    "revenue_12m": "revenue in the last 12 months {value}",
    "avg_order_value": "average order {value}",
    "days_since_first_order": "first ordered {value} days ago",
    "days_since_last_order": "last ordered {value} days ago",
    "repeat_orders": "{value} repeat orders",
    "mean_repeat_order_value": "average repeat order {value}",
    "mean_days_between_orders": "orders every {value} days on average",
    "std_days_between_orders": "order gaps vary by {value} days",
    "orders_prev_3m": "{value} orders in the 3 months before the last 3",
    "order_trend_3m": "order trend over 3 months {value}",
    "revenue_trend_3m": "revenue trend over 3 months {value}",
    "orders_down_20pct": {"true": "orders fell 20% or more over the last 3 months", "false": "orders did not fall 20% over the last 3 months"},
    "returns_12m": "{value} returns in the last 12 months",
    "returned_amount_12m": "returned {value} in the last 12 months",
    "main_product": "buys mostly {value}",
    "main_product_share": "main product share {value}",
    "n_products": "buys {value} products",
    "main_channel": "orders mostly through {value}",
    "main_channel_share": "main channel share {value}",
    "n_channels": "uses {value} order channels",
    "visits_3m": "{value} visits in the last 3 months",
    "visits_12m": "{value} visits in the last 12 months",
    "calls_3m": "{value} calls in the last 3 months",
    "calls_12m": "{value} calls in the last 12 months",
    "tickets_3m": "{value} support tickets in the last 3 months",
    "tickets_12m": "{value} support tickets in the last 12 months",
    "complaints_3m": "{value} complaints in the last 3 months",
    "complaints_12m": "{value} complaints in the last 12 months",
    "surveys_3m": "{value} surveys in the last 3 months",
    "surveys_12m": "{value} surveys in the last 12 months",
    "last_survey_score": "last survey score {value}",
    "mean_survey_score_12m": "average survey score {value} over 12 months",
    "days_since_last_survey": "last surveyed {value} days ago",
    "days_since_last_activity": "last contact {value} days ago",
    "industry": "industry is {value}",
    "company_size": "company size is {value} employees",
    "region": "region is {value}",
    "price_sensitive": {"true": "price-sensitive", "false": "not price-sensitive"},
    "cutoff_month": "scored in month {value}",
}


class CustomerColumns(TaskColumns, snapshots.TableColumns):
    """Column names: the id, the time of a snapshot row, and the raw tables' columns
    (:class:`salesml.customers.snapshots.TableColumns`)."""

    id: str = "customer_id"
    time: str = "cutoff"
    label: str | None = None  # a prepared table's label column


class CustomerParams(TaskParams):
    """Settings shared by the customer tasks (see :mod:`salesml.customers.snapshots` for the policies)."""

    horizon: str = "12M"
    n_cutoffs: int = 12
    cutoffs: list[str] | None = None
    min_history: str = "3M"
    returns: Literal["net", "drop", "error"] = "net"
    duplicates: Literal["drop", "keep", "error"] = "drop"
    future: Literal["error", "drop"] = "error"
    date_format: str | None = None
    as_of: datetime | None = None
    population: Literal["all", "active"] = "all"
    active_within: str = "12M"
    activity_kinds: list[str] = list(snapshots.ACTIVITY_KINDS)
    windows: list[int] = [1, 3, 6, 12]
    reason_templates: dict[str, Any] = CUSTOMER_TEMPLATES

    @field_validator("horizon", "min_history", "active_within")
    @classmethod
    def _length(cls, v: str, info: Any) -> str:
        snapshots.parse_horizon(v, info.field_name)
        return v

    @field_validator("n_cutoffs")
    @classmethod
    def _n_cutoffs(cls, v: int) -> int:
        if v < 1:
            raise ValueError(f"n_cutoffs must be a positive number of training cutoffs. Got {v} instead.")
        return v


class CustomerTask(Task):
    """Base of the tasks that learn from customers' order history at monthly cutoffs."""

    tables = ("transactions",)
    optional_tables = ("customers", "activities", "prepared")
    Columns: ClassVar[type[TaskColumns]] = CustomerColumns
    Params: ClassVar[type[TaskParams]] = CustomerParams
    columns: CustomerColumns
    params: CustomerParams
    #: Whether the task's predictions can be rescaled from a shorter window to its horizon, so that a
    #: short history may train on shorter windows (:func:`salesml.customers.snapshots.plan_cutoffs`).
    rescales_horizon: ClassVar[bool] = False
    #: The cutoff plan of the last :meth:`build_dataset` (its split follows it).
    plan_: snapshots.CutoffPlan | None = None

    # ----------------------------------------------------------- settings
    @property
    def horizon(self) -> snapshots.Horizon:
        return snapshots.parse_horizon(self.params.horizon)

    def snapshot_settings(self) -> snapshots.SnapshotSettings:
        c, p = self.columns, self.params
        cols = snapshots.SnapshotColumns(customer_id=c.id, **c.model_dump(include=set(snapshots.TableColumns.model_fields)))
        return snapshots.SnapshotSettings(
            columns=cols, returns=p.returns, duplicates=p.duplicates, future=p.future, date_format=p.date_format, as_of=p.as_of,
            population=p.population, active_within=p.active_within, activity_kinds=p.activity_kinds, windows=p.windows,
        )

    def missing_tables(self, available: Collection[str]) -> list[str]:
        return [] if "prepared" in available else super().missing_tables(available)

    # ------------------------------------------------------------- tables
    @classmethod
    def builtin_tables(cls, crm: Any) -> dict[str, pd.DataFrame]:
        return {"transactions": crm.transactions, "customers": crm.customers, "activities": crm.activities}

    @classmethod
    def builtin_scoring_input(cls, crm: Any, random_state: int = 0) -> pd.DataFrame:
        """Every customer as of the end of the built-in data ("today")."""
        task = cls()
        tables = cls.builtin_tables(crm)
        return task.snapshot(tables, as_of=snapshots.data_end(tables["transactions"], task.snapshot_settings()))

    def snapshot(self, tables: Mapping[str, pd.DataFrame], as_of: Any = None) -> pd.DataFrame:
        """The scoring input as of ``as_of`` (default: the end of the order history), one row per customer.

        Every customer of the input tables is accounted for (logged): each is in the snapshot, or was
        first seen at or after ``as_of``, or (``population: active``) had no order in the
        ``active_within`` before it. Any other missing customer stops with a message.
        """
        settings = self.snapshot_settings()
        when = as_of if as_of is not None else snapshots.data_end(tables["transactions"], settings)
        frame = snapshots.build(
            tables["transactions"], cutoffs=[when], customers=tables.get("customers"),
            activities=tables.get("activities"), settings=settings,
        )
        self._account_for_customers(tables, frame, when, settings)
        return self._rename_time(frame)

    def _account_for_customers(
        self, tables: Mapping[str, pd.DataFrame], frame: pd.DataFrame, when: Any, settings: snapshots.SnapshotSettings
    ) -> None:
        c = settings.columns
        lines, _ = snapshots.prepare_transactions(tables["transactions"], settings)
        ids = [lines[c.customer_id].astype(str)]
        customers = tables.get("customers")
        if customers is not None:
            ids.append(customers[c.customer_id].dropna().astype(str))
        every = pd.Index(pd.concat(ids).unique())
        out = set(frame[c.customer_id].astype(str))
        missing = every.difference(pd.Index(list(out)))
        cutoff = pd.Timestamp(when)
        codes, first_seen, _ = snapshots._universe(lines, customers, settings)
        seen = pd.Series(first_seen, index=codes)
        later = missing[seen.reindex(missing).to_numpy() >= cutoff.value]
        inactive = missing.difference(later) if settings.population == "active" else pd.Index([])
        unexplained = missing.difference(later).difference(inactive)
        logger.info(
            "snapshot as of %s: %d customers in the input, %d in the snapshot, %d first seen at or after it, %d inactive",
            f"{cutoff:%Y-%m-%d %H:%M}", len(every), len(out), len(later), len(inactive),
        )
        if len(unexplained):
            raise DataValidationError(
                [
                    Problem(
                        "transactions", c.customer_id, "customers_lost",
                        f"{len(unexplained)} customers of the input are missing from the snapshot", "report this as a bug",
                        n_rows=len(unexplained),
                    )
                ]
            )

    def _rename_time(self, frame: pd.DataFrame) -> pd.DataFrame:
        if self.columns.time != snapshots.CUTOFF:
            frame = frame.rename(columns={snapshots.CUTOFF: self.columns.time})
        return frame

    def plan(self, tables: Mapping[str, pd.DataFrame]) -> snapshots.CutoffPlan:
        return snapshots.plan_cutoffs(
            tables["transactions"], horizon=self.horizon, n_train=self.params.n_cutoffs,
            min_history=self.params.min_history, cutoffs=self.params.cutoffs,
            customers=tables.get("customers"), settings=self.snapshot_settings(),
            shorter_training_windows=self.rescales_horizon,
        )

    # --------------------------------------------------------- validation
    def validate(self, tables: Mapping[str, pd.DataFrame]) -> None:
        if "prepared" in tables:
            self._validate_prepared(tables["prepared"])
            return
        if "transactions" not in tables:
            raise ValueError(
                f"{self.title} needs a 'transactions' table (or a 'prepared' one). Got tables: {sorted(tables)}."
            )
        c = self.columns
        settings = self.snapshot_settings()
        problems: list[Problem] = []
        tx = tables["transactions"]
        key = c.order_id if c.order_id and c.order_id in tx.columns else None
        problems += validate_table(
            tx, table="transactions", key=key, raise_errors=False,
            rules=[
                ColumnRule(c.id, "any", nullable=False, role="customer id column"),
                # read by snapshots.parse_dates (YYYYMMDD, params.date_format), checked in prepare_transactions
                ColumnRule(c.order_date, "any", nullable=False, role="order date column"),
                ColumnRule(c.amount, "number", nullable=False, role="amount column"),
            ],
        )
        if not problems:
            problems += snapshots.prepare_transactions(tx, settings)[1]
        if "customers" in tables:
            cust = tables["customers"]
            rules = [ColumnRule(c.id, "id", nullable=False, role="customer id column")]
            if c.signup and c.signup in cust.columns:
                rules.append(ColumnRule(c.signup, "datetime", role="signup date column"))
            problems += validate_table(cust, table="customers", key=c.id, rules=rules, raise_errors=False)
        if "activities" in tables:
            problems += validate_table(
                tables["activities"], table="activities", raise_errors=False,
                rules=[
                    ColumnRule(c.id, "any", nullable=False, role="customer id column"),
                    ColumnRule(c.activity_time, "datetime", nullable=False, role="activity time column"),
                    ColumnRule(c.activity_kind, "any", nullable=False, role="activity kind column"),
                ],
            )
        if not problems:
            try:
                self.plan(tables)
            except DataValidationError as err:
                problems += err.problems
        if problems:
            raise DataValidationError(problems)

    def _validate_prepared(self, table: pd.DataFrame) -> None:
        c = self.columns
        if not c.label:
            raise ValueError(
                "A prepared table needs its label column named: set columns.label in the experiment YAML "
                f"(e.g. label: {'churned' if self.objective == 'binary' else 'revenue_next_12m'})."
            )
        rules = [
            ColumnRule(c.id, "any", nullable=False, role="id column"),
            ColumnRule(c.label, "binary" if self.objective == "binary" else "number", nullable=False, role="label column"),
        ]
        rules[1:1] = time_rules(table, c.time)  # optional: a table without it is split at random (Task.split)
        validate_table(table, table="prepared", rules=rules)

    # ----------------------------------------------------------- datasets
    @abstractmethod
    def target(self, snapshot: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(target, keep)`` from a snapshot with target columns: the label and which rows belong to the task."""

    @abstractmethod
    def prepared_target(self, label: pd.Series) -> np.ndarray:
        """A prepared table's label column as the model's target."""

    def build_dataset(self, tables: Mapping[str, pd.DataFrame]) -> Dataset:
        c = self.columns
        if "prepared" in tables:
            table = tables["prepared"]
            return Dataset(
                frame=table.drop(columns=[c.label]), target=self.prepared_target(table[c.label]),
                time=parse_datetime(table[c.time]) if c.time in table.columns else pd.Series(pd.NaT, index=table.index),
                key=table[c.id],
            )
        plan = self.plan_ = self.plan(tables)
        build = {
            "customers": tables.get("customers"), "activities": tables.get("activities"),
            "settings": self.snapshot_settings(),
        }
        if plan.train_horizon is None or plan.train_horizon == self.horizon:
            snap = snapshots.build(tables["transactions"], cutoffs=plan.all, horizon=self.horizon, **build)
        else:  # short history: shorter windows before the holdout, the full horizon on it
            snap = pd.concat(
                [
                    snapshots.build(tables["transactions"], cutoffs=[*plan.train, plan.valid], horizon=plan.train_horizon, **build),
                    snapshots.build(tables["transactions"], cutoffs=[plan.holdout], horizon=self.horizon, **build),
                ],
                ignore_index=True,
            )
        target, keep = self.target(snap)
        snap = snap.loc[keep].reset_index(drop=True)
        frame = self._rename_time(snap.drop(columns=[t for t in snapshots.TARGET_COLUMNS if t in snap.columns]))
        return Dataset(frame=frame, target=np.asarray(target)[keep], time=frame[c.time], key=frame[c.id])

    def make_encoder(self) -> TabularEncoder:
        """The cutoff is the row's "as of" time, not a feature (``cutoff_month`` carries the season)."""
        c = self.columns
        exclude = [c.id, c.time, *([c.label] if c.label else []), *c.exclude]
        return TabularEncoder(time_column=None, exclude=exclude, allow_personal=c.allow_personal)

    def split(self, dataset: Dataset, settings: SplitSettings) -> TimeSplit:
        """Whole cutoffs: the latest is the holdout, the validation and training targets end before the next slice.

        A prepared table without times, or a ``stratified`` / ``group`` method, is split as any table is
        (:meth:`Task.split`)."""
        times = pd.to_datetime(dataset.time)
        if settings.method in ("stratified", "group") or not times.notna().any():
            return super().split(dataset, settings)
        cuts = sorted(times.unique())
        if len(cuts) > 10 and not self._looks_like_cutoffs(times):
            return time_split(times, test_fraction=settings.test_fraction, valid_fraction=settings.valid_fraction)
        plan = self.plan_
        if plan is not None and sorted(plan.all) == [pd.Timestamp(c) for c in cuts]:
            train, valid, holdout = list(plan.train), plan.valid, plan.holdout
        else:
            train, valid, holdout = snapshots.split_cutoffs(cuts, self.horizon)
        if not train:
            raise ValueError(
                f"The rows' {len(cuts)} cutoffs leave no training cutoff whose {self.horizon} target window ends by the "
                "validation cutoff. Provide more cutoffs or a shorter horizon."
            )
        t = times.to_numpy()
        return TimeSplit(
            train=np.isin(t, np.array(train, dtype="datetime64[ns]")),
            valid=t == np.datetime64(valid),
            test=t == np.datetime64(holdout),
            valid_start=pd.Timestamp(valid),
            test_start=pd.Timestamp(holdout),
        )

    def tuning_folds(self, dataset: Dataset, split: TimeSplit) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Cross-validation folds for rows split at random (a prepared table); none for cutoffs in time, whose
        targets overlap the next cutoffs' windows (trials are then scored on the validation cutoff)."""
        return [] if split.method == "time" else super().tuning_folds(dataset, split)

    @staticmethod
    def _looks_like_cutoffs(times: pd.Series) -> bool:
        """Many rows share few instants (a snapshot stack) rather than each row having its own time."""
        return times.nunique() <= max(60, len(times) // 50)
