"""Scoring a Spark DataFrame with a registered salesml model (``pip install 'salesml[spark]'``).

:func:`score_spark` runs the same code as the single-machine job
(:class:`salesml.scoring.batch.ChunkScorer`: the same validation, reason codes,
scores and reasons) inside ``mapInPandas``, so a record scores identically on
a laptop and on a cluster::

    from salesml.scoring.spark import score_spark
    result = score_spark(spark.read.parquet("s3://crm/leads/"), "models:/salesml-lead-scoring@champion")
    result.frame.persist()                       # one scoring pass feeds both outputs
    result.scores.write.parquet("s3://crm/scores/")
    result.rejects.write.parquet("s3://crm/rejects/")

How it differs from :func:`salesml.scoring.batch.score_batch`:

* duplicate keys are found with a window over the whole DataFrame (the
  first record in Spark's row order is scored), not a key registry;
* ``row`` in the rejects is Spark's ``monotonically_increasing_id`` of the
  record, not its line number;
* writing, atomic publishing and the manifest are left to Spark (its
  committers) or to the caller; :attr:`SparkScores.model` says which model
  version and digest scored.

The model travels to the executors as its bundle files (LightGBM text and
JSON); each executor verifies the digests before use and keeps the loaded
model for the rest of the job. Executors need salesml installed, and
``PYSPARK_PYTHON`` must name a Python that has it (:func:`local_session` sets
it for local mode).
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from salesml.scoring.batch import ChunkScorer, load_for_batch, output_schemas
from salesml.scoring.scorer import REASON_MODES, Scorer
from salesml.scoring.streams import Chunk

logger = logging.getLogger(__name__)

__all__ = ["score_spark", "SparkScores", "local_session"]

ROW = "_salesml_row"
DUPLICATE = "_salesml_duplicate"
STATUS = "_salesml_status"
REJECT_FIELDS = ("row", "column", "reason", "value")


def _pyspark():
    try:
        import pyspark  # noqa: F401
        from pyspark.sql import functions as F
        from pyspark.sql import types as T
        from pyspark.sql.window import Window
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("pyspark is needed for Spark scoring: pip install 'salesml[spark]'") from err
    return F, T, Window


def local_session(app_name: str = "salesml", *, cores: int | str = "*", shuffle_partitions: int = 8):
    """A local-mode SparkSession for laptops, tests and benchmarks (UTC, no UI, this Python on the workers)."""
    _pyspark()
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    return (
        SparkSession.builder.master(f"local[{cores}]")
        .appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )


@dataclass
class SparkScores:
    """The result of :func:`score_spark`: lazily evaluated Spark DataFrames."""

    frame: Any  # every output line: scored records and reject lines, with a status column
    model: dict[str, Any]
    key: str
    score_columns: list[str]

    @property
    def scores(self):
        """One row per scored record, the same columns as :func:`salesml.scoring.batch.score_batch` writes."""
        _pyspark()
        from pyspark.sql import functions as F

        return self.frame.filter(F.col(STATUS) == "scored").select(*self.score_columns)

    @property
    def rejects(self):
        """One row per problem of a rejected record: row id, key, column, reason code, value."""
        from pyspark.sql import functions as F

        return self.frame.filter(F.col(STATUS) == "rejected").select("row", self.key, "column", "reason", "value")


_LOADED: dict[str, Scorer] = {}


def _scorer_from_files(files: Mapping[str, bytes], digest: str) -> Scorer:
    """Executor side: the model from its bundle files, digests verified, loaded once per worker."""
    scorer = _LOADED.get(digest)
    if scorer is None:
        from salesml.tracking.artifact import read_bundle

        with tempfile.TemporaryDirectory(prefix="salesml-spark-model-") as tmp:
            for name, data in files.items():
                (Path(tmp) / name).write_bytes(data)
            scorer = Scorer(read_bundle(tmp))
        _LOADED[digest] = scorer
    return scorer


def _bundle_files(scorer: Scorer) -> dict[str, bytes]:
    from salesml.tracking.artifact import write_bundle

    with tempfile.TemporaryDirectory(prefix="salesml-spark-model-") as tmp:
        folder = write_bundle(scorer.bundle, Path(tmp) / "bundle")
        return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def _spark_type(arrow_type: Any):
    import pyarrow as pa

    _, T, _ = _pyspark()
    if pa.types.is_boolean(arrow_type):
        return T.BooleanType()
    if pa.types.is_integer(arrow_type):
        return T.LongType()
    if pa.types.is_floating(arrow_type):
        return T.DoubleType()
    if pa.types.is_timestamp(arrow_type):
        return T.TimestampNTZType()
    return T.StringType()


def _typed(frame: pd.DataFrame, schema: Any) -> pd.DataFrame:
    """``frame`` with every column of ``schema``, absent ones null, in types Arrow maps to Spark's exactly."""
    _, T, _ = _pyspark()
    nullable = {T.LongType: "Int64", T.DoubleType: "Float64", T.BooleanType: "boolean"}
    out = {}
    for field in schema.fields:
        dtype = nullable.get(type(field.dataType), object)
        if field.name in frame.columns:
            column = frame[field.name]
            out[field.name] = column.astype(dtype) if dtype is not object else column.astype(object).where(column.notna(), None)
        else:
            out[field.name] = pd.Series([None] * len(frame), dtype=dtype, index=frame.index)
    return pd.DataFrame(out, index=frame.index)


def score_spark(
    df: Any,
    model: str | Path | Scorer,
    *,
    reasons: str = "none",
    as_of: Any = None,
    tracking_uri: str | None = None,
) -> SparkScores:
    """Score a Spark DataFrame with a salesml model; see the module docstring.

    Parameters
    ----------
    df : the records, with at least the model's input columns (others are ignored).
    model : a registry URI, run URI, model folder or loaded :class:`~salesml.scoring.scorer.Scorer`.
    reasons : ``top``, ``flagged``, ``all`` or ``none`` (default: scores only).
    as_of : records dated after this are rejected as ``future_date`` (default: now, UTC).
    """
    F, T, Window = _pyspark()
    if reasons not in REASON_MODES:
        raise ValueError(f"reasons must be one of {', '.join(REASON_MODES)}. Got {reasons!r} instead.")
    scorer, info = load_for_batch(model, tracking_uri=tracking_uri)
    if not scorer.task.rowwise:
        raise ValueError(f"This {scorer.task.title} model's output depends on the whole batch; it cannot be scored in partitions.")
    as_of_ts = pd.Timestamp.now(tz="UTC").tz_localize(None) if as_of is None else pd.Timestamp(as_of)
    if as_of_ts.tzinfo is not None:
        as_of_ts = as_of_ts.tz_convert("UTC").tz_localize(None)
    key = scorer.key_column
    columns = scorer.input_columns
    missing = [c for c in columns if c not in df.columns]
    if missing:
        from salesml.core.features import MissingColumnsError

        raise MissingColumnsError(missing)

    # Local-time timestamps reach pandas in the session's time zone; hand them over as ISO text with
    # their offset so every session gives the same UTC times as the single-machine path.
    session_tz = df.sparkSession.conf.get("spark.sql.session.timeZone")
    selected = []
    for name in columns:
        field = df.schema[name]
        if isinstance(field.dataType, T.TimestampType) and session_tz not in ("UTC", "Etc/UTC", "GMT", "Z"):
            selected.append(F.date_format(F.col(name), "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX").alias(name))
        else:
            selected.append(F.col(name))
    base = df.select(*selected).withColumn(ROW, F.monotonically_increasing_id())
    key_text = F.when(F.trim(F.col(key).cast("string")) != "", F.col(key).cast("string"))
    first = Window.partitionBy(key_text).orderBy(ROW)
    marked = base.withColumn(DUPLICATE, key_text.isNotNull() & (F.row_number().over(first) > 1))

    schemas = output_schemas(scorer, reasons)
    score_fields = [T.StructField(f.name, _spark_type(f.type), True) for f in schemas["scores"]]
    score_columns = [f.name for f in schemas["scores"]]
    out_schema = T.StructType(
        [
            T.StructField(STATUS, T.StringType(), False),
            *score_fields,
            T.StructField("row", T.LongType(), True),
            T.StructField("column", T.StringType(), True),
            T.StructField("reason", T.StringType(), True),
            T.StructField("value", T.StringType(), True),
        ]
    )
    files = _bundle_files(scorer)
    digest = info["digest"]

    def score_partition(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        model_here = _scorer_from_files(files, digest)
        chunker = ChunkScorer(model_here, reasons, as_of_ts)
        for batch in batches:
            batch = batch.set_index(ROW)
            batch.index.name = None
            duplicates = batch.pop(DUPLICATE).to_numpy(dtype=bool)
            scored, rejects = chunker.run_chunk(Chunk(batch), duplicates=duplicates)
            yield _typed(scored.reset_index(drop=True).assign(**{STATUS: "scored"}), out_schema)
            if len(rejects):
                yield _typed(rejects.reset_index(drop=True).assign(**{STATUS: "rejected"}), out_schema)

    with warnings.catch_warnings():  # pyspark 4 warns about pandas 3 on every call; the path is tested
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
        frame = marked.mapInPandas(score_partition, out_schema)
    return SparkScores(frame=frame, model=info, key=key, score_columns=score_columns)
