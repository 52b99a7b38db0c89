"""Opportunity win: will this open opportunity be won within the horizon?

Rows are point-in-time snapshots: every ``snapshot_every_days`` (default 14) from the first
opportunity, each opportunity open at that date (created at or before it, no ``won``/``lost``
stage at or before it) gets one row whose features come only from the stage changes,
activities, closures and orders at or before the date (:meth:`OpportunityWin.snapshot_features`):
age, stage reached and time in it, stage velocity, days since the last activity and activity
counts, close-date pushes and days to the (pushed) expected close, the owner's past win rate and
the account's past wins (opportunities *closed* by the date, so never the row's own outcome),
the account's orders and revenue in the 12 months before creation, and the amount, product and
region. The target is a ``won`` stage within ``(date, date + horizon]`` (default 90 days); a
row is labelled only when its window ends by the end of the data.

Input tables (names as in :mod:`salesml.datasets.opportunities`): ``opportunities`` and
``opportunity_stages`` (required), ``opportunity_activities`` and ``transactions`` (optional).
Scoring input: :meth:`OpportunityWin.snapshot` as of a date, one row per open opportunity.

Output per row: ``probability`` (calibrated P(win within the horizon)), ``expected_value``
(probability x amount), ``expected_close_month``, ``grade`` (A-D by probability) and, from the
shared scorer, the top reasons. Compared on the holdout with the CRM's stage rule (a fixed
probability per stage, ``stage_probabilities``) and a logistic regression on the same features.
Train rows whose window reaches past the validation start (and validation rows past the
holdout start) are left out, so no label is seen that the holdout's period decides.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from pydantic import field_validator

from salesml.core.contracts import (
    DataValidationError,
    Problem,
    parse_datetime,
    row_keys,
)
from salesml.core.metrics import classification_metrics, recall_at
from salesml.core.split import TimeSplit
from salesml.core.task import (
    Dataset,
    SplitSettings,
    Task,
    TaskColumns,
    TaskParams,
    descending_probabilities,
    too_few_of_each_class,
)

__all__ = ["OPPORTUNITY_TEMPLATES", "STAGE_ORDER", "OpportunityColumns", "OpportunityParams", "OpportunityWin"]

#: Open stages in order, then the two ends.
STAGE_ORDER: tuple[str, ...] = ("qualify", "needs_analysis", "proposal", "negotiation", "won", "lost")
_OPEN = STAGE_ORDER[:4]
_PUSH = "close_date_pushed"
_DAY = pd.Timedelta(days=1)
#: Closed deals' worth of weight the overall win rate gets in an owner's shrunk win rate.
_SHRINK = 10.0

OPPORTUNITY_TEMPLATES: dict[str, Any] = {
    "stage": "in stage {value}",
    "stage_index": "stage number {value}",
    "age_days": "open for {value} days",
    "days_in_stage": "{value} days in the current stage",
    "stage_velocity": "{value} stages advanced per 30 days",
    "days_since_last_activity": "last activity {value} days ago",
    "activities_total": "{value} activities so far",
    "activities_30d": "{value} activities in the last 30 days",
    "close_date_pushes": "close date pushed {value} times",
    "days_to_expected_close": "{value} days to the expected close",
    "owner_closed": "owner closed {value} deals before",
    "owner_win_rate": "owner's past win rate {value}",
    "owner_win_rate_shrunk": "owner's past win rate {value} (shrunk to the overall rate)",
    "account_opportunities_closed": "account closed {value} deals before",
    "account_wins": "account won {value} deals before",
    "account_orders_12m": "account placed {value} orders in the year before",
    "account_revenue_12m": "account revenue {value} in the year before",
    "amount": "amount {value}",
    "product": "product is {value}",
    "region": "region is {value}",
    "created_month": "opened in month {value}",
}


class OpportunityColumns(TaskColumns):
    """Column names of the snapshot rows and of the raw tables."""

    id: str = "opportunity_id"
    time: str = "snapshot_date"
    label: str | None = None
    exclude: list[str] = ["account_id", "owner", "expected_close"]
    account: str = "account_id"
    owner: str = "owner"
    amount: str = "amount"
    created: str = "created_at"
    expected_close: str = "expected_close"
    stage: str = "stage"
    stage_time: str = "at"
    activity_time: str = "at"
    activity_kind: str = "kind"
    activity_value: str = "value"
    attributes: list[str] = ["product", "region"]
    customer: str = "customer_id"
    order_date: str = "order_date"
    order_amount: str = "amount"


class OpportunityParams(TaskParams):
    horizon_days: int = 90
    snapshot_every_days: int = 14
    as_of: datetime | None = None
    stage_probabilities: dict[str, float] = {"qualify": 0.10, "needs_analysis": 0.25, "proposal": 0.45, "negotiation": 0.70}
    grades: dict[str, float] = {"A": 0.6, "B": 0.35, "C": 0.15}
    lowest_grade: str = "D"
    reason_templates: dict[str, Any] = OPPORTUNITY_TEMPLATES
    min_won: int = 40
    min_not_won: int = 40

    @field_validator("horizon_days", "snapshot_every_days")
    @classmethod
    def _positive(cls, v: int, info: Any) -> int:
        if v < 1:
            raise ValueError(f"{info.field_name} must be a positive number of days. Got {v} instead.")
        return v

    @field_validator("grades")
    @classmethod
    def _grades(cls, v: dict[str, float]) -> dict[str, float]:
        return descending_probabilities(v, name="grades", first="best grade", example="A: 0.6, B: 0.35")


class OpportunityWin(Task):
    """Calibrated P(win within the horizon) of open opportunities, expected value, grade and reasons."""

    name = "opportunity-win"
    title = "Opportunity win"
    tables = ("opportunities", "opportunity_stages")
    optional_tables = ("opportunity_activities", "transactions")
    objective = "binary"
    eval_metric = "auc"
    primary_metric = "roc_auc"
    greater_is_better = True
    calibration = "sigmoid"
    default_search_space = "lightgbm"
    Columns = OpportunityColumns
    Params = OpportunityParams
    columns: OpportunityColumns
    params: OpportunityParams

    # ------------------------------------------------------------ tables
    @classmethod
    def builtin_tables(cls, crm: Any) -> dict[str, pd.DataFrame]:
        return {**crm.opportunity_tables(), "transactions": crm.transactions}

    @classmethod
    def builtin_scoring_input(cls, crm: Any, random_state: int = 0) -> pd.DataFrame:
        """Every opportunity open at the end of the built-in data ("today")."""
        task = cls()
        tables = cls.builtin_tables(crm)
        return task.snapshot(tables, as_of=task.data_end(tables))

    def data_end(self, tables: Mapping[str, pd.DataFrame]) -> pd.Timestamp:
        """``params.as_of``, else the last stage change or activity (the day after it, at midnight)."""
        if self.params.as_of is not None:
            return pd.Timestamp(self.params.as_of)
        c = self.columns
        times = [parse_datetime(tables["opportunity_stages"][c.stage_time]).max()]
        acts = tables.get("opportunity_activities")
        if acts is not None and len(acts):
            times.append(parse_datetime(acts[c.activity_time]).max())
        return pd.Timestamp(max(t for t in times if pd.notna(t))).normalize() + _DAY

    # -------------------------------------------------------- validation
    def validate(self, tables: Mapping[str, pd.DataFrame]) -> None:
        """Every problem of the opportunity tables in one report (:class:`DataValidationError`)."""
        missing = [t for t in self.tables if t not in tables]
        if missing:
            raise ValueError(f"Opportunity win needs tables {', '.join(self.tables)}; missing: {', '.join(missing)}.")
        problems = self.problems(tables)
        if problems:
            raise DataValidationError(problems)

    def problems(self, tables: Mapping[str, pd.DataFrame]) -> list[Problem]:
        c = self.columns
        opp, stages = tables["opportunities"], tables["opportunity_stages"]
        out: list[Problem] = []
        need = {"opportunities": (opp, [c.id, c.owner, c.amount, c.created]), "opportunity_stages": (stages, [c.id, c.stage, c.stage_time])}
        for name, (df, cols) in need.items():
            absent = [col for col in cols if col not in df.columns]
            if absent:
                out.append(Problem(name, None, "missing_columns", f"columns {', '.join(absent)} are missing",
                                   "add them or map your names in the experiment's columns section"))
        if out:
            return out
        if len(opp) == 0:
            return [Problem("opportunities", None, "empty", "the table has no rows", "check the export")]

        def rows(df: pd.DataFrame, mask: pd.Series | np.ndarray, table: str, column: str, check: str, message: str, fix: str) -> None:
            mask = np.asarray(mask, dtype=bool)
            if mask.any():
                idx = df.index[mask]
                out.append(Problem(table, column, check, message, fix, keys=row_keys(df, idx[:20], c.id), n_rows=int(mask.sum())))

        rows(opp, opp[c.id].isna(), "opportunities", c.id, "missing", "opportunity id is missing", "give every opportunity an id")
        rows(opp, opp[c.id].duplicated(keep=False) & opp[c.id].notna(), "opportunities", c.id, "duplicate",
             "opportunity id appears more than once", "keep one row per opportunity")
        amount = pd.to_numeric(opp[c.amount], errors="coerce")
        rows(opp, amount.isna(), "opportunities", c.amount, "missing", "amount is missing or not a number",
             "fill the deal value (a positive number)")
        rows(opp, amount < 0, "opportunities", c.amount, "negative", "amount is negative", "deal values must be >= 0")
        rows(opp, opp[c.owner].isna(), "opportunities", c.owner, "missing", "owner is missing", "assign an owner (sales rep)")
        rows(opp, parse_datetime(opp[c.created]).isna(), "opportunities", c.created, "not_a_date",
             "created time is missing or not a date", "fill the creation time (ISO 8601)")

        at = parse_datetime(stages[c.stage_time])
        stage = stages[c.stage].astype("string").str.strip().str.lower()
        rows(stages, ~stage.isin(STAGE_ORDER), "opportunity_stages", c.stage, "unknown_stage",
             f"stage is not one of {', '.join(STAGE_ORDER)}", "map your CRM's stage names to these in the export")
        rows(stages, at.isna(), "opportunity_stages", c.stage_time, "not_a_date", "stage time is missing or not a date",
             "fill the time of every stage change")
        rows(stages, ~stages[c.id].isin(opp[c.id]), "opportunity_stages", c.id, "unknown_opportunity",
             "stage row of an opportunity not in the opportunities table", "export the opportunities of every stage row")
        order = stage.map({s: i for i, s in enumerate(STAGE_ORDER)}).astype(float).clip(upper=4)
        frame = pd.DataFrame({"id": stages[c.id], "at": at, "order": order, "won": stage == "won", "lost": stage == "lost"})
        frame = frame[frame["at"].notna() & frame["order"].notna()].sort_values(["id", "at", "order"], kind="stable")
        back = frame.groupby("id", sort=False)["order"].cummax().shift(1).where(frame["id"].eq(frame["id"].shift(1)))
        bad_ids = frame.loc[frame["order"] < back, "id"].unique()
        rows(stages, stages[c.id].isin(bad_ids), "opportunity_stages", c.stage, "out_of_order",
             "stage history goes back to an earlier stage", "check the stage times: stages must follow "
             + " -> ".join(_OPEN) + " -> won/lost")
        ends = frame.groupby("id")[["won", "lost"]].any()
        both = ends.index[ends["won"] & ends["lost"]]
        rows(stages, stages[c.id].isin(both), "opportunity_stages", c.stage, "won_and_lost",
             "opportunity has both a won and a lost stage", "keep the one true outcome")
        return out

    # ----------------------------------------------------------- dataset
    def build_dataset(self, tables: Mapping[str, pd.DataFrame]) -> Dataset:
        end = self.data_end(tables)
        horizon = self.params.horizon_days * _DAY
        created = parse_datetime(tables["opportunities"][self.columns.created])
        first = created.min().normalize() + self.params.snapshot_every_days * _DAY
        dates = pd.date_range(first, end - horizon, freq=f"{self.params.snapshot_every_days}D")
        frame, won_at = self._rows(tables, dates, with_outcome=True)
        target = ((won_at > frame[self.columns.time]) & (won_at <= frame[self.columns.time] + horizon)).to_numpy(dtype=int)
        return Dataset(frame=frame, target=target, time=frame[self.columns.time], key=frame[self.columns.id])

    def snapshot(self, tables: Mapping[str, pd.DataFrame], as_of: Any = None) -> pd.DataFrame:
        """The scoring input: every opportunity open at ``as_of`` (default: the end of the data)."""
        when = pd.Timestamp(as_of) if as_of is not None else self.data_end(tables)
        frame, _ = self._rows(tables, pd.DatetimeIndex([when]), with_outcome=False)
        return frame

    def snapshot_features(self, tables: Mapping[str, pd.DataFrame], dates: Any) -> pd.DataFrame:
        """Feature rows of every opportunity open at each of ``dates`` (events at or before each date only)."""
        return self._rows(tables, pd.DatetimeIndex(pd.to_datetime(dates)), with_outcome=False)[0]

    def _rows(self, tables: Mapping[str, pd.DataFrame], dates: pd.DatetimeIndex, *, with_outcome: bool) -> tuple[pd.DataFrame, pd.Series]:
        c = self.columns
        opp = tables["opportunities"].reset_index(drop=True)
        ids = opp[c.id].astype(str)
        created = parse_datetime(opp[c.created])
        st = tables["opportunity_stages"]
        stages = pd.DataFrame(
            {"oid": st[c.id].astype(str), "at": parse_datetime(st[c.stage_time]),
             "stage": st[c.stage].astype("string").str.strip().str.lower().astype(object)}
        ).dropna(subset=["at"])
        closes = stages[stages["stage"].isin(["won", "lost"])].sort_values("at").drop_duplicates("oid")
        close_at = ids.map(closes.set_index("oid")["at"]).astype("datetime64[ns]")
        won_at_opp = ids.map(closes[closes["stage"] == "won"].set_index("oid")["at"]).astype("datetime64[ns]")

        # pairs (opportunity, date) with created <= date < close
        d = np.sort(dates.to_numpy(dtype="datetime64[ns]"))
        lo = np.searchsorted(d, created.to_numpy(dtype="datetime64[ns]"), side="left")
        ca = close_at.to_numpy(dtype="datetime64[ns]").view(np.int64)
        ca = np.where(ca == np.iinfo(np.int64).min, np.iinfo(np.int64).max, ca)  # still open: open at every date
        hi = np.searchsorted(d.view(np.int64), ca, side="left")
        n_each = np.clip(hi - lo, 0, None)
        n_each[created.isna().to_numpy()] = 0
        pos = np.repeat(np.arange(len(opp)), n_each)
        offset = np.arange(len(pos)) - np.repeat(np.cumsum(n_each) - n_each, n_each)
        when = pd.Series(d[np.repeat(lo, n_each) + offset] if len(pos) else np.array([], dtype="datetime64[ns]"))
        rows = pd.DataFrame({"_pos": pos, "oid": ids.to_numpy()[pos], "t": when.to_numpy()})
        rows = rows.sort_values("t", kind="stable").reset_index(drop=True)

        # stage reached at t
        open_stages = stages[stages["stage"].isin(_OPEN)].sort_values("at", kind="stable")
        open_stages = open_stages.assign(stage_index=open_stages["stage"].map({s: i for i, s in enumerate(_OPEN)}))
        m = pd.merge_asof(rows, open_stages.rename(columns={"at": "stage_at"}), left_on="t", right_on="stage_at", by="oid")
        age = (rows["t"] - created.to_numpy()[rows["_pos"]]).dt.total_seconds().to_numpy() / 86_400
        out = pd.DataFrame({c.id: rows["oid"].to_numpy(), c.time: rows["t"].to_numpy()})
        for col in (c.account, c.owner):
            out[col] = opp[col].to_numpy()[rows["_pos"]] if col in opp.columns else np.nan
        out[c.amount] = pd.to_numeric(opp[c.amount], errors="coerce").to_numpy()[rows["_pos"]]
        for col in c.attributes:
            if col in opp.columns:
                out[col] = opp[col].to_numpy()[rows["_pos"]]
        out["created_month"] = created.dt.month.to_numpy()[rows["_pos"]]
        out["stage"] = m["stage"].fillna("qualify").to_numpy()
        stage_index = m["stage_index"].fillna(0).to_numpy(dtype=float)
        out["stage_index"] = stage_index
        out["age_days"] = age
        out["days_in_stage"] = np.where(m["stage_at"].isna(), age, (rows["t"] - m["stage_at"]).dt.total_seconds() / 86_400)
        out["stage_velocity"] = np.round(30 * stage_index / np.maximum(age, 1.0), 3)

        # activities and close-date pushes at or before t
        acts = tables.get("opportunity_activities")
        expected = parse_datetime(opp[c.expected_close]) if c.expected_close in opp.columns else pd.Series(pd.NaT, index=opp.index)
        pushed_days = np.zeros(len(rows))
        if acts is not None and len(acts):
            a = pd.DataFrame(
                {"oid": acts[c.id].astype(str), "at": parse_datetime(acts[c.activity_time]),
                 "kind": acts[c.activity_kind].astype(object),
                 "value": pd.to_numeric(acts[c.activity_value], errors="coerce").fillna(0.0)}
            ).dropna(subset=["at"]).sort_values(["oid", "at"], kind="stable")
            work = a[a["kind"] != _PUSH].copy()
            work["n"] = work.groupby("oid").cumcount() + 1.0
            work = work.sort_values("at", kind="stable")
            now = pd.merge_asof(rows, work[["oid", "at", "n"]], left_on="t", right_on="at", by="oid")
            before = pd.merge_asof(rows.assign(t30=rows["t"] - 30 * _DAY), work[["oid", "at", "n"]], left_on="t30", right_on="at", by="oid")
            last = now["at"]
            out["days_since_last_activity"] = (rows["t"] - last).dt.total_seconds().to_numpy() / 86_400
            out["activities_total"] = now["n"].fillna(0).to_numpy()
            out["activities_30d"] = (now["n"].fillna(0) - before["n"].fillna(0)).to_numpy()
            push = a[a["kind"] == _PUSH].copy()
            push["n"] = push.groupby("oid").cumcount() + 1.0
            push["days"] = push.groupby("oid")["value"].cumsum()
            push = push.sort_values("at", kind="stable")
            p = pd.merge_asof(rows, push[["oid", "at", "n", "days"]], left_on="t", right_on="at", by="oid")
            out["close_date_pushes"] = p["n"].fillna(0).to_numpy()
            pushed_days = p["days"].fillna(0).to_numpy()
        else:
            out["days_since_last_activity"] = np.nan
            out["activities_total"] = 0.0
            out["activities_30d"] = 0.0
            out["close_date_pushes"] = 0.0
        exp_now = expected.to_numpy(dtype="datetime64[ns]")[rows["_pos"]] + (pushed_days * 86_400).astype("timedelta64[s]")
        out[c.expected_close] = exp_now
        out["days_to_expected_close"] = (pd.Series(exp_now) - rows["t"]).dt.total_seconds().to_numpy() / 86_400

        # owner's and account's closures strictly known at t (the row is open at t, so never its own)
        closed = pd.DataFrame({"oid": ids, "at": close_at, "won": won_at_opp.notna().astype(float)})
        for col in (c.owner, c.account):
            if col in opp.columns:
                closed[col] = opp[col].astype(object).to_numpy()
        closed = closed.dropna(subset=["at"]).sort_values("at", kind="stable")
        # the win rate of every deal closed by t: the prior an owner's few closed deals are shrunk towards
        overall = closed.assign(_n=np.arange(1, len(closed) + 1, dtype=float), _w=closed["won"].cumsum())
        g = pd.merge_asof(rows[["t"]], overall[["at", "_n", "_w"]], left_on="t", right_on="at")
        prior = np.where(g["_n"].fillna(0).to_numpy() > 0, g["_w"].to_numpy() / np.maximum(g["_n"].fillna(0).to_numpy(), 1), np.nan)
        for col, prefix in ((c.owner, "owner"), (c.account, "account")):
            if col not in closed.columns:
                continue
            cl = closed.dropna(subset=[col]).copy()
            cl["_n"] = cl.groupby(col).cumcount() + 1.0
            cl["_w"] = cl.groupby(col)["won"].cumsum()
            left = rows.assign(**{col: out[col].astype(object).to_numpy()})
            left[col] = left[col].fillna("(missing)")
            k = pd.merge_asof(left, cl[[col, "at", "_n", "_w"]], left_on="t", right_on="at", by=col)
            n_closed = k["_n"].fillna(0).to_numpy()
            if prefix == "owner":
                out["owner_closed"] = n_closed
                wins = k["_w"].fillna(0).to_numpy()
                out["owner_win_rate"] = np.round(np.where(n_closed > 0, wins / np.maximum(n_closed, 1), np.nan), 4)
                shrunk = (wins + _SHRINK * prior) / (n_closed + _SHRINK)
                out["owner_win_rate_shrunk"] = np.round(np.where(np.isnan(prior), np.nan, shrunk), 4)
            else:
                out["account_opportunities_closed"] = n_closed
                out["account_wins"] = k["_w"].fillna(0).to_numpy()

        # the account's orders in the 12 months before creation
        tx = tables.get("transactions")
        if tx is not None and len(tx) and c.account in opp.columns:
            t = pd.DataFrame(
                {c.account: tx[c.customer].astype(str), "at": parse_datetime(tx[c.order_date]),
                 "amt": pd.to_numeric(tx[c.order_amount], errors="coerce").fillna(0.0)}
            ).dropna(subset=["at"]).sort_values([c.account, "at"], kind="stable")
            t["_n"] = t.groupby(c.account).cumcount() + 1.0
            t["_r"] = t.groupby(c.account)["amt"].cumsum()
            t = t.sort_values("at", kind="stable")
            base = pd.DataFrame({c.account: opp[c.account].astype(str).to_numpy(), "created": created.to_numpy(), "_i": np.arange(len(opp))})
            base = base.dropna(subset=["created"]).sort_values("created", kind="stable")
            upto = pd.merge_asof(base, t, left_on="created", right_on="at", by=c.account, allow_exact_matches=False)
            year = pd.merge_asof(base.assign(y=base["created"] - 365 * _DAY), t, left_on="y", right_on="at", by=c.account, allow_exact_matches=False)
            orders = np.zeros(len(opp))
            revenue = np.zeros(len(opp))
            orders[base["_i"].to_numpy()] = upto["_n"].fillna(0).to_numpy() - year["_n"].fillna(0).to_numpy()
            revenue[base["_i"].to_numpy()] = upto["_r"].fillna(0).to_numpy() - year["_r"].fillna(0).to_numpy()
            out["account_orders_12m"] = orders[rows["_pos"]]
            out["account_revenue_12m"] = np.round(revenue[rows["_pos"]], 2)
        won = pd.Series(won_at_opp.to_numpy()[rows["_pos"]]) if with_outcome else pd.Series(pd.NaT, index=out.index)
        return out, won

    def split(self, dataset: Dataset, settings: SplitSettings) -> TimeSplit:
        """The shared split, then train rows whose horizon window reaches the validation start (and validation
        rows reaching the holdout start) are dropped: their labels are decided in the later period."""
        split = super().split(dataset, settings)
        if split.method != "time":
            return split
        window_end = pd.to_datetime(dataset.time).to_numpy(dtype="datetime64[ns]") + np.timedelta64(self.params.horizon_days, "D")
        return dataclasses.replace(
            split,
            train=split.train & (window_end <= np.datetime64(split.valid_start)),
            valid=split.valid & (window_end <= np.datetime64(split.test_start)),
        )

    # ---------------------------------------------------------- baselines
    def stage_rule(self, frame: pd.DataFrame) -> np.ndarray:
        """The CRM's fixed probability per stage (``params.stage_probabilities``)."""
        return frame["stage"].map(self.params.stage_probabilities).fillna(0.0).to_numpy(dtype=float)

    def baselines(
        self, dataset: Dataset, split: TimeSplit, model_predict: Callable[[pd.DataFrame], np.ndarray]
    ) -> dict[str, np.ndarray]:
        """The stage rule and a logistic regression on the numeric features (median-imputed, standardised)
        and the categorical ones (one-hot)."""
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        frame = dataset.frame
        test = frame.iloc[np.flatnonzero(split.test)]
        out = {"stage_rule": self.stage_rule(test)}
        c = self.columns
        skip = {c.id, c.time, *c.exclude}
        numeric = [k for k in frame.columns if k not in skip and pd.api.types.is_numeric_dtype(frame[k])]
        categorical = [k for k in ("stage", *c.attributes) if k in frame.columns and k not in skip]
        y = dataset.target[split.train]
        if len(np.unique(y)) == 2:
            prep = ColumnTransformer([
                ("num", make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler()), numeric),
                ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
            ])
            model = make_pipeline(prep, LogisticRegression(max_iter=2000))

            def table(part: pd.DataFrame) -> pd.DataFrame:
                return pd.concat([part[numeric].astype(float), part[categorical].astype(str)], axis=1)

            model.fit(table(frame.iloc[np.flatnonzero(split.train)]), y)
            out["logistic_regression"] = model.predict_proba(table(test))[:, 1]
        return out

    # ------------------------------------------------------------- output
    def grade(self, prob: np.ndarray) -> np.ndarray:
        grades = np.full(len(prob), self.params.lowest_grade, dtype=object)
        for name, cut in sorted(self.params.grades.items(), key=lambda kv: kv[1]):
            grades[np.asarray(prob) >= cut] = name
        return grades

    def postprocess(self, pred: np.ndarray, frame: pd.DataFrame) -> pd.DataFrame:
        c = self.columns
        prob = np.asarray(pred, dtype=float)
        amount = pd.to_numeric(frame[c.amount], errors="coerce").to_numpy(dtype=float) if c.amount in frame.columns else np.full(len(frame), np.nan)
        t = parse_datetime(frame[c.time]) if c.time in frame.columns else pd.Series(pd.NaT, index=frame.index)
        exp = parse_datetime(frame[c.expected_close]) if c.expected_close in frame.columns else pd.Series(pd.NaT, index=frame.index)
        # a passed (or unknown) close date is expected next month
        close = exp.where(exp > t, t + pd.offsets.MonthBegin(1))
        month = close.dt.to_period("M").astype(str).where(close.notna(), None)
        return pd.DataFrame(
            {
                "probability": prob,
                "expected_value": np.round(prob * amount, 2),
                "expected_close_month": month.to_numpy(dtype=object),
                "grade": self.grade(prob),
            },
            index=frame.index,
        )

    # ------------------------------------------------------------ metrics
    def evaluate(self, y_true: np.ndarray, pred: np.ndarray, output: pd.DataFrame) -> dict[str, float]:
        metrics = classification_metrics(y_true, pred)
        metrics["recall_top_20pct"] = recall_at(y_true, pred, 0.2)
        return metrics

    def figures(self, y_true: np.ndarray, pred: np.ndarray, output: pd.DataFrame) -> dict[str, Any]:
        from salesml.core import plots

        return {"plots/calibration_curve.png": plots.calibration_plot(y_true, pred), "plots/lift_gain.png": plots.gain_plot(y_true, pred)}

    def comparison_figures(self, y_true: np.ndarray, predictions: Mapping[str, np.ndarray]) -> dict[str, Any]:
        from salesml.core import plots

        return {"plots/gain_vs_baselines.png": plots.gain_comparison_plot(y_true, predictions)}

    def data_problems(self, y_train: np.ndarray, y_test: np.ndarray) -> list[str]:
        return too_few_of_each_class(
            y_train, y_test, min_positive=self.params.min_won, min_negative=self.params.min_not_won,
            positive="won", negative="not won", rows="opportunity snapshots",
        )

    def summary(self, metrics: Mapping[str, float], scored: pd.DataFrame | None) -> dict[str, Any]:
        out: dict[str, Any] = {"holdout ROC-AUC": round(metrics["test.roc_auc"], 3)}
        for name in ("stage_rule", "logistic_regression"):
            if f"baseline.{name}.roc_auc" in metrics:
                out[f"{name} ROC-AUC"] = round(metrics[f"baseline.{name}.roc_auc"], 3)
        if scored is not None:
            out["open opportunities scored"] = len(scored)
            out["expected value"] = round(float(scored["expected_value"].sum()), 0)
            out["grades"] = {str(k): int(v) for k, v in scored["grade"].value_counts().sort_index().items()}
        return out
