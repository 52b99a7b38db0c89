"""Batch scoring that loses nothing.

:func:`score_batch` streams an input (CSV, Parquet file or folder, SQL query or
table) chunk by chunk through a registered model and writes as it goes:

1. every record is checked against the model's input contract
   (:class:`RowValidator`): readable types, values the model can score
   (no missing values where training had none, no negative counts, no
   infinities), a key, a time that is not in the future, and a key not seen
   earlier in the input (:class:`KeyRegistry`, spilled to SQLite so memory
   stays flat);
2. good records are scored (reasons only where asked: ``top``, ``flagged``,
   ``all`` or ``none``); bad ones go to the rejects output, one line per
   problem, with the record's position, key, column and reason code;
3. rows in = rows scored + rows rejected is checked; above
   ``max_reject_rate`` the job fails and publishes nothing;
4. the outputs are published atomically with a manifest (counts, sha256 of
   each output, model name, version and digest, input fingerprint, time).

Re-running on the same input with the same model and options gives
byte-identical data files. The manifest is identical too except its ``run``
section (start and end time, as-of time, duration), kept apart on purpose so
that a diff of two manifests shows only what changed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from salesml.core.contracts import parse_datetime
from salesml.core.features import ROW_ISSUE_CODES, _as_str, looks_personal
from salesml.scoring.scorer import REASON_MODES, Scorer, load_model
from salesml.scoring.streams import Chunk, Sink, Source, open_sink, open_source

logger = logging.getLogger(__name__)

__all__ = [
    "score_batch",
    "BatchResult",
    "Progress",
    "RowValidator",
    "KeyRegistry",
    "ChunkScorer",
    "output_schemas",
    "RejectRateExceeded",
    "ReconciliationError",
    "REJECT_REASONS",
    "MANIFEST_FORMAT",
    "load_for_batch",
    "verify_outputs",
]

MANIFEST_FORMAT = "salesml-batch/1"

#: Every reason a record can be rejected for, and what it means.
REJECT_REASONS: dict[str, str] = {
    "malformed_row": "the record cannot be split into the header's fields (a field too many or too few, or a quote never closed)",
    "truncated_row": "the file ends inside this record (cut off while being written or copied)",
    "bad_encoding": "the record is not UTF-8 text (a Latin-1 / Windows-1252 export?): re-export the file as UTF-8",
    "missing_key": "the key column is empty",
    "duplicate_key": "the key appeared in an earlier record of the input (the first record with a key is scored)",
    "future_date": "the record's time is after the job's as-of time",
    **ROW_ISSUE_CODES,
}

#: Characters of an offending value kept in the rejects output.
MAX_VALUE_CHARS = 60


class RejectRateExceeded(RuntimeError):
    """More records were rejected than ``max_reject_rate`` allows; nothing was published."""

    def __init__(self, message: str, counts: Mapping[str, Any]):
        super().__init__(message)
        self.counts = dict(counts)


class ReconciliationError(RuntimeError):
    """Rows in != rows scored + rows rejected: a bug, never published."""


@dataclass(frozen=True)
class Progress:
    """Counts after a chunk, for progress bars (and tests that interrupt a job)."""

    rows_in: int
    rows_scored: int
    rows_rejected: int
    total: int | None
    chunks: int


@dataclass
class BatchResult:
    """What a batch job published."""

    manifest: dict[str, Any]

    @property
    def rows_in(self) -> int:
        return int(self.manifest["counts"]["rows_in"])

    @property
    def rows_scored(self) -> int:
        return int(self.manifest["counts"]["rows_scored"])

    @property
    def rows_rejected(self) -> int:
        return int(self.manifest["counts"]["rows_rejected"])

    def summary(self) -> str:
        c = self.manifest["counts"]
        return (
            f"rows in {c['rows_in']:,} = scored {c['rows_scored']:,} + rejected {c['rows_rejected']:,} "
            f"(reject rate {c['reject_rate']:.2%})"
        )


# ------------------------------------------------------------------ validation
def key_text(values: pd.Series) -> pd.Series:
    """Keys as text (missing or blank -> missing), so keys compare the same from any source."""
    out = values.astype("string")
    return out.where(out.str.strip() != "", pd.NA)


class RowValidator:
    """Checks records against a model's input contract; one problem per (row, column, reason).

    Parameters
    ----------
    scorer : the model; its encoder holds what each column may contain.
    as_of : records whose time column is later than this are ``future_date``
        (tz-naive UTC; default: now).
    """

    def __init__(self, scorer: Scorer, as_of: pd.Timestamp | None = None):
        self.scorer = scorer
        self.as_of = _naive_utc(as_of) if as_of is not None else _naive_utc(pd.Timestamp.now(tz="UTC"))
        self.key = scorer.key_column
        self.time = scorer.task.columns.time if scorer.task.columns.time in scorer.encoder.required_columns else None
        order = [self.key, *scorer.encoder.required_columns]
        self._order = {c: i for i, c in enumerate(order)}

    def check(self, frame: pd.DataFrame, keys: pd.Series | None = None) -> pd.DataFrame:
        """Problems of ``frame``'s rows (by index label): columns ``row``, ``column``, ``reason``."""
        keys = key_text(frame[self.key]) if keys is None else keys
        parts = []
        missing = keys.isna().to_numpy()
        if missing.any():
            parts.append(pd.DataFrame({"row": frame.index[missing], "column": self.key, "reason": "missing_key"}))
        issues = self.scorer.encoder.row_issues(frame)
        if len(issues):
            parts.append(issues)
        if self.time is not None:
            future = (parse_datetime(frame[self.time]) > self.as_of).to_numpy()
            if future.any():
                parts.append(pd.DataFrame({"row": frame.index[future], "column": self.time, "reason": "future_date"}))
        return self._sorted(parts)

    def _sorted(self, parts: list[pd.DataFrame]) -> pd.DataFrame:
        if not parts:
            return pd.DataFrame({"row": pd.Series([], dtype=np.int64), "column": pd.Series([], dtype=object), "reason": pd.Series([], dtype=object)})
        out = pd.concat(parts, ignore_index=True)
        out["row"] = out["row"].astype(np.int64)
        rank = out["column"].map(lambda c: self._order.get(c, -1))
        return out.assign(_rank=rank).sort_values(["row", "_rank"], kind="stable").drop(columns="_rank").reset_index(drop=True)


class KeyRegistry:
    """Keys seen so far in a job, kept in a temporary SQLite file so memory stays flat.

    :meth:`duplicates` tells which of a chunk's keys appeared earlier in the input
    (in an earlier chunk or earlier in the same chunk) and remembers the new ones.
    Keys are stored exactly (no hashing, so no false duplicates).
    """

    def __init__(self, directory: str | Path | None = None):
        self.directory = directory

    def __enter__(self) -> KeyRegistry:
        self._dir = tempfile.mkdtemp(prefix="salesml-keys-", dir=self.directory)
        self._db = sqlite3.connect(os.path.join(self._dir, "keys.db"), isolation_level=None)
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-65536", "temp_store=FILE"):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.execute("CREATE TABLE seen (k TEXT PRIMARY KEY) WITHOUT ROWID")
        self._db.execute("CREATE TABLE chunk (pos INTEGER, k TEXT)")
        return self

    def __exit__(self, *exc: Any) -> None:
        self._db.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def duplicates(self, keys: pd.Series) -> np.ndarray:
        """A mask over ``keys`` (missing keys are never duplicates)."""
        present = keys.notna().to_numpy()
        mask = np.zeros(len(keys), dtype=bool)
        if not present.any():
            return mask
        values = keys[present].astype(str)
        within = values.duplicated(keep="first").to_numpy()
        idx = np.flatnonzero(present)
        db = self._db
        db.execute("BEGIN")
        db.execute("DELETE FROM chunk")
        db.executemany("INSERT INTO chunk VALUES (?, ?)", zip(range(len(values)), values.tolist()))
        earlier = [pos for (pos,) in db.execute("SELECT pos FROM chunk WHERE k IN (SELECT k FROM seen)")]
        db.execute("INSERT OR IGNORE INTO seen SELECT k FROM chunk")
        db.execute("COMMIT")
        dup = within.copy()
        dup[earlier] = True
        mask[idx] = dup
        return mask


def _naive_utc(ts: Any) -> pd.Timestamp:
    ts = pd.Timestamp(ts)
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else ts


# ---------------------------------------------------------------------- model
def _content_digest(scorer: Scorer) -> str:
    h = hashlib.sha256()
    for role, booster in sorted(scorer.bundle.boosters.items()):
        h.update(role.encode())
        h.update(booster.model_to_string().encode())
    h.update(json.dumps(scorer.metadata, sort_keys=True, default=str).encode())
    return h.hexdigest()


def load_for_batch(model: str | Path | Scorer, *, tracking_uri: str | None = None) -> tuple[Scorer, dict[str, Any]]:
    """Load a model and say exactly which one it is (registry name, version, digest).

    A registry alias (``models:/name@champion``) is resolved to its version
    first and that version is loaded, so the manifest names the model that
    really scored even if the alias moves during the job.
    """
    info: dict[str, Any] = {"uri": None, "name": None, "version": None, "alias": None}
    if isinstance(model, Scorer):
        scorer = model
        info["uri"] = scorer.metadata.get("source_uri")
    else:
        uri = str(model)
        info["uri"] = uri
        if uri.startswith("models:/"):
            import mlflow

            from salesml.tracking.tracker import default_tracking_uri

            ref = uri[len("models:/") :]
            from salesml.scoring.scorer import existing_store

            client = mlflow.MlflowClient(tracking_uri=existing_store(tracking_uri or default_tracking_uri(), uri))
            if "@" in ref:
                name, alias = ref.split("@", 1)
                version = str(client.get_model_version_by_alias(name, alias).version)
                info.update(name=name, alias=alias, version=version)
                uri = f"models:/{name}/{version}"
            elif "/" in ref and ref.rsplit("/", 1)[1].isdigit():
                name, version = ref.rsplit("/", 1)
                info.update(name=name, version=version)
        scorer = load_model(uri, tracking_uri=tracking_uri)
    info["task"] = scorer.task.name
    info["digest"] = f"sha256:{scorer.bundle.digest or _content_digest(scorer)}"
    return scorer, info


def output_schemas(scorer: Scorer, reasons: str) -> dict[str, Any]:
    """Arrow schemas of the two outputs, fixed before the first chunk (chunks may lack values)."""
    import pyarrow as pa

    example = pd.DataFrame([{scorer.key_column: "example", **scorer.encoder.example_row()}])
    scored = scorer.score(example, reasons=reasons)
    scored[scorer.key_column] = key_text(scored[scorer.key_column])
    scores = pa.Schema.from_pandas(scored, preserve_index=False).remove_metadata()
    scores = pa.schema([pa.field(f.name, pa.string() if pa.types.is_large_string(f.type) else f.type) for f in scores])
    rejects = pa.schema(
        [
            pa.field("row", pa.int64()),
            pa.field(scorer.key_column, pa.string()),
            pa.field("column", pa.string()),
            pa.field("reason", pa.string()),
            pa.field("value", pa.string()),
        ]
    )
    return {"scores": scores, "rejects": rejects}


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("salesml", "lightgbm", "numpy", "pandas", "pyarrow"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover
            out[name] = "unknown"
    return out


# ------------------------------------------------------------------------ job
@dataclass
class _Tally:
    rows_in: int = 0
    rows_scored: int = 0
    rows_rejected: int = 0
    problems: int = 0
    chunks: int = 0
    by_reason: Counter = field(default_factory=Counter)
    by_column: Counter = field(default_factory=Counter)
    by_pair: Counter = field(default_factory=Counter)
    examples: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    unseen: Counter = field(default_factory=Counter)


class ChunkScorer:
    """Validates and scores one chunk of records; used by the streaming job and by :mod:`salesml.scoring.spark`.

    Parameters
    ----------
    scorer : the model.
    reasons : which reasons to compute (:data:`salesml.scoring.scorer.REASON_MODES`).
    as_of : the time after which a record's time is ``future_date``.
    registry : finds keys seen in earlier chunks; ``None`` when the caller
        marks duplicates itself (Spark does it with a window over the whole input).
    """

    def __init__(
        self,
        scorer: Scorer,
        reasons: str,
        as_of: pd.Timestamp | None,
        registry: KeyRegistry | None = None,
        pseudonymiser: Any = None,
    ):
        self.pseudonymiser = pseudonymiser
        self.scorer = scorer
        self.reasons = reasons
        self.key = scorer.key_column
        self.validator = RowValidator(scorer, as_of)
        self.registry = registry
        self.tally = _Tally()
        plans = {p.name: p for p in scorer.encoder.columns_}
        self.categorical = {p.name: set(p.categories) for p in plans.values() if p.kind == "categorical"}
        self.redact = {p.name for p in plans.values() if p.kind == "text" or looks_personal(p.name)}

    def run_chunk(self, chunk: Chunk, duplicates: np.ndarray | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Scores of the chunk's good records and its rejects (one line per problem); counts are kept."""
        frame = chunk.frame
        keys = key_text(frame[self.key]) if len(frame) else pd.Series([], dtype="string")
        problems = [self.validator.check(frame, keys)] if len(frame) else []
        if duplicates is None:
            duplicates = self.registry.duplicates(keys) if (len(frame) and self.registry is not None) else np.zeros(len(frame), dtype=bool)
        if duplicates.any():
            problems.append(pd.DataFrame({"row": frame.index[duplicates], "column": self.key, "reason": "duplicate_key"}))
        if chunk.malformed:
            rows = sorted(chunk.malformed)
            problems.append(pd.DataFrame({"row": rows, "column": None, "reason": [chunk.malformed[r][0] for r in rows]}))
        found = self.validator._sorted(problems)
        bad = set(found["row"].tolist())
        good_mask = ~frame.index.isin(list(bad)) if bad else np.ones(len(frame), dtype=bool)
        good = frame[good_mask].copy()
        good[self.key] = keys[good_mask]
        scored = self.scorer.score(good, reasons=self.reasons)
        rejects = self._rejects(found, frame, keys, chunk)
        self._count(chunk, scored, found, rejects, good)
        if self.pseudonymiser is not None:  # ids leave the job only as keyed pseudonyms
            scored[self.key] = self.pseudonymiser(scored[self.key])
            named = rejects[self.key].notna()
            rejects.loc[named, self.key] = self.pseudonymiser(rejects.loc[named, self.key])
        return scored, rejects

    def _rejects(self, found: pd.DataFrame, frame: pd.DataFrame, keys: pd.Series, chunk: Chunk) -> pd.DataFrame:
        if not len(found):
            return pd.DataFrame({c: [] for c in ("row", self.key, "column", "reason", "value")})
        rows = found["row"].to_numpy()
        in_frame = np.isin(rows, frame.index.to_numpy())
        key_of = keys.reindex(rows).astype(object).where(in_frame, None)
        for i in np.flatnonzero(~in_frame):  # a malformed record: its key if it could still be read
            key_of.iloc[i] = chunk.readable.get(int(rows[i]), {}).get(self.key)
        values: list[str | None] = []
        for row, column, reason, ok in zip(rows, found["column"], found["reason"], in_frame):
            if not ok or column is None:
                detail = chunk.malformed.get(int(row), (None, None))[1]
                values.append(detail)
            elif reason in ("missing_key", "duplicate_key", "missing_value") or column in self.redact or column == self.key:
                values.append(None)
            else:
                v = frame.at[row, column]
                values.append(None if pd.isna(v) else str(v)[:MAX_VALUE_CHARS])
        return pd.DataFrame(
            {
                "row": rows.astype(np.int64),
                self.key: [None if pd.isna(k) else str(k) for k in key_of],
                "column": found["column"].to_numpy(dtype=object),
                "reason": found["reason"].to_numpy(dtype=object),
                "value": values,
            }
        )

    def _count(self, chunk: Chunk, scored: pd.DataFrame, found: pd.DataFrame, rejects: pd.DataFrame, good: pd.DataFrame) -> None:
        t = self.tally
        t.chunks += 1
        t.rows_in += chunk.n_records
        t.rows_scored += len(scored)
        t.rows_rejected += int(found["row"].nunique())
        t.problems += len(found)
        for (column, reason), group in rejects.groupby(["column", "reason"], dropna=False, sort=False):
            column = None if pd.isna(column) else str(column)
            n_rows = int(group["row"].nunique())
            t.by_reason[reason] += n_rows
            t.by_column[column or "(record)"] += n_rows
            t.by_pair[(column or "(record)", reason)] += n_rows
            examples = t.examples.setdefault((column or "(record)", reason), [])
            for key, row in zip(group[self.key], group["row"]):
                if len(examples) >= 3:
                    break
                examples.append(f"{self.key}={key}" if key is not None else f"row {row}")
        for column, categories in self.categorical.items():
            s = _as_str(good[column])
            t.unseen[column] += int((s.notna() & ~s.isin(categories)).sum())


def score_batch(
    model: str | Path | Scorer,
    source: str | Path | Source,
    sink: str | Path | Sink,
    *,
    reasons: str = "top",
    max_reject_rate: float = 0.05,
    chunk_size: int = 50_000,
    as_of: Any = None,
    threads: int | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    tracking_uri: str | None = None,
    keys_dir: str | Path | None = None,
    pseudonymise: bool = False,
) -> BatchResult:
    """Score ``source`` with ``model`` into ``sink``; publish everything or nothing.

    Parameters
    ----------
    model : a registry URI (``models:/salesml-lead-scoring@champion``), a run
        URI, a model folder, or a loaded :class:`~salesml.scoring.scorer.Scorer`.
    source : a CSV path, a Parquet file or folder, or a :class:`~salesml.scoring.streams.Source`
        (use :func:`~salesml.scoring.streams.open_source` for SQL).
    sink : a .csv/.parquet path (rejects and manifest go beside it) or a
        :class:`~salesml.scoring.streams.Sink` (use :func:`~salesml.scoring.streams.open_sink` for SQL).
    reasons : ``top``, ``flagged``, ``all`` or ``none`` (see :data:`salesml.scoring.scorer.REASON_MODES`).
    pseudonymise : write the key column of scores and rejects as keyed pseudonyms
        (HMAC-SHA256 with ``SALESML_PSEUDONYM_KEY``) instead of raw ids.
    max_reject_rate : the share of rejected records above which the job fails
        and publishes nothing (0.05 = 5 %).
    chunk_size : records per chunk; memory grows with it, not with the input.
    as_of : records with a time after this are rejected as ``future_date``
        (default: now, UTC).
    threads : LightGBM threads for prediction (default: LightGBM's).
    on_progress : called after every chunk with a :class:`Progress`.
    keys_dir : where the temporary key registry goes (default: the system temp folder).
    """
    if reasons not in REASON_MODES:
        raise ValueError(f"reasons must be one of {', '.join(REASON_MODES)}. Got {reasons!r} instead.")
    if not 0 <= max_reject_rate <= 1:
        raise ValueError(f"max_reject_rate must be a share between 0 and 1 (0.05 = 5%). Got {max_reject_rate} instead.")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive number of records. Got {chunk_size} instead.")
    started = datetime.now(timezone.utc)
    clock = time.perf_counter()
    as_of_ts = _naive_utc(as_of) if as_of is not None else _naive_utc(pd.Timestamp(started))
    scorer, model_info = load_for_batch(model, tracking_uri=tracking_uri)
    if not scorer.task.rowwise:
        raise ValueError(
            f"This {scorer.task.title} model's output depends on the whole batch (e.g. capacity mode: follow the "
            "top N), which a streaming job cannot compute chunk by chunk. Score with a model without it and pick "
            "the top N from the output."
        )
    if threads:
        scorer.predict_params["num_threads"] = int(threads)
    source = open_source(source)
    sink = open_sink(sink)
    _refuse_overwriting_the_input(source, sink)
    if getattr(source, "table", None) and getattr(source, "order_by", "") is None:
        source.order_by = scorer.key_column  # a table has no order: read it in key order, so re-runs match
    columns = scorer.input_columns
    available = source.columns()
    missing = [c for c in columns if c not in available]
    if missing:
        from salesml.core.features import MissingColumnsError

        raise MissingColumnsError(missing)
    total = source.total_rows()
    schemas = output_schemas(scorer, reasons)
    try:
        sink.open(schemas)
        if getattr(source, "url", None) is not None and getattr(sink, "url", None) == source.url:
            source.connection = sink.connection  # one database: read inside the job's own transaction
        with KeyRegistry(keys_dir) as registry:
            pseudonymiser = None
            if pseudonymise:
                from salesml.trust.privacy import Pseudonymiser

                pseudonymiser = Pseudonymiser.from_env()
            job = ChunkScorer(scorer, reasons, as_of_ts, registry, pseudonymiser)
            for chunk in source.chunks(chunk_size, columns):
                scored, rejects = job.run_chunk(chunk)
                sink.write("scores", scored)
                sink.write("rejects", rejects)
                if on_progress is not None:
                    t = job.tally
                    on_progress(Progress(t.rows_in, t.rows_scored, t.rows_rejected, total, t.chunks))
        t = job.tally
        outputs = sink.finish()
        if t.rows_in != t.rows_scored + t.rows_rejected or outputs["scores"].rows != t.rows_scored or outputs["rejects"].rows != t.problems:
            raise ReconciliationError(
                f"Rows do not add up: {t.rows_in} in, {t.rows_scored} scored ({outputs['scores'].rows} written), "
                f"{t.rows_rejected} rejected ({t.problems} problems, {outputs['rejects'].rows} written). Nothing was "
                "published; please report this as a salesml bug."
            )
        rate = t.rows_rejected / t.rows_in if t.rows_in else 0.0
        if rate > max_reject_rate:
            raise RejectRateExceeded(_reject_message(t, rate, max_reject_rate), {"rows_in": t.rows_in, "rows_rejected": t.rows_rejected})
        finished = datetime.now(timezone.utc)
        manifest = {
            "format": MANIFEST_FORMAT,
            "task": scorer.task.name,
            "model": model_info,
            "input": {**source.describe(), "fingerprint": source.fingerprint()},
            "options": {"reasons": reasons, "chunk_size": chunk_size, "max_reject_rate": max_reject_rate},
            "counts": {
                "rows_in": t.rows_in,
                "rows_scored": t.rows_scored,
                "rows_rejected": t.rows_rejected,
                "reject_rate": round(rate, 6),
                "problems": t.problems,
                "reconciliation": f"{t.rows_in} in = {t.rows_scored} scored + {t.rows_rejected} rejected",
            },
            "rejects_by_reason": dict(sorted(t.by_reason.items())),
            "rejects_by_column": dict(sorted(t.by_column.items())),
            "unseen_categories": {k: v for k, v in sorted(t.unseen.items()) if v},
            "outputs": {part: info.as_dict() for part, info in outputs.items()},
            "software": _versions(),
            "run": {
                "started_at": started.isoformat(timespec="seconds"),
                "finished_at": finished.isoformat(timespec="seconds"),
                "seconds": round(time.perf_counter() - clock, 3),
                "as_of": as_of_ts.isoformat(),
                "threads": threads,
            },
        }
        sink.publish(manifest)
    except BaseException:
        sink.abort()
        raise
    finally:
        if getattr(source, "connection", None) is not None:
            source.connection = None  # it was the sink's, now closed
    logger.info("batch scoring done: %s", BatchResult(manifest).summary())
    return BatchResult(manifest)


def _refuse_overwriting_the_input(source: Source, sink: Sink) -> None:
    inp = getattr(source, "path", None)
    outputs = [*getattr(sink, "paths", {}).values(), getattr(sink, "manifest_path", None)]
    if inp is not None:
        inp = Path(inp).resolve()
        for out in filter(None, outputs):
            out = Path(out).resolve()
            if out == inp or inp in out.parents:
                raise ValueError(f"The output {out} would overwrite the input {inp}; write the scores elsewhere.")
    url, table = getattr(source, "url", None), getattr(source, "table", None)
    if url is not None and url == getattr(sink, "url", None) and table in getattr(sink, "tables", {}).values():
        raise ValueError(f"The output table {table!r} is the input table; write the scores to another table.")


def _reject_message(t: _Tally, rate: float, limit: float) -> str:
    lines = [
        f"{t.rows_rejected:,} of {t.rows_in:,} records ({rate:.2%}) were rejected, above the maximum reject rate "
        f"{limit:.2%}; nothing was published. Most common problems:"
    ]
    for (column, reason), n in t.by_pair.most_common(5):
        examples = ", ".join(t.examples.get((column, reason), []))
        lines.append(f"  - {reason} in '{column}': {n:,} records (e.g. {examples}): {REJECT_REASONS.get(reason, reason)}")
    lines.append("Fix the input, or raise --max-reject-rate if these rejects are expected.")
    return "\n".join(lines)


def verify_outputs(manifest_path: str | Path) -> dict[str, Any]:
    """Check that the files a manifest names are the ones it describes (sha256); returns the manifest.

    The manifest path of a :class:`~salesml.scoring.streams.FileSink` is a link
    through the output's ``current`` run: it is resolved once, and the files are
    read from that same run folder, so a job publishing meanwhile cannot pair
    this manifest with another run's files.
    """
    link = Path(manifest_path)
    path = link.resolve()
    run = path.parent if path.parent.parent.name == "runs" and path.parent.parent.parent.name.endswith(".salesml") else None
    manifest = json.loads(path.read_text("utf-8"))
    for part, info in manifest["outputs"].items():
        target = run / Path(info["location"]).name if run is not None else link.parent / info["location"]
        h = hashlib.sha256()
        with target.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        if h.hexdigest() != info["sha256"]:
            raise ValueError(f"{target} does not match its manifest {path}: sha256 {h.hexdigest()[:12]}..., expected {info['sha256'][:12]}....")
    return manifest
