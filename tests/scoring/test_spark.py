"""Spark local mode scores exactly like the single-machine job (one SparkSession for the module)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import salesml
from salesml.scoring.batch import score_batch

pytest.importorskip("pyspark", reason="pyspark is needed for Spark scoring: pip install 'salesml[spark]'")

AS_OF = "2026-01-01"


@pytest.fixture(scope="module")
def spark():
    from salesml.scoring.spark import local_session

    session = local_session("salesml-tests", cores=2, shuffle_partitions=2)
    yield session
    session.stop()


@pytest.fixture(scope="module")
def leads_file(tmp_path_factory):
    """3,000 new leads with faults a nightly export has: bad numbers, duplicates, missing keys, future dates."""
    leads, _ = salesml.datasets.make_leads(3_000, start="2025-01-01", end="2025-12-31", random_state=21)
    frame = leads.drop(columns=["converted", "converted_at"])
    frame["visits"] = frame["visits"].astype(str)
    frame.loc[[10, 20], "visits"] = ["n/a", "-"]
    frame.loc[[30, 31], "lead_id"] = [None, " "]
    frame.loc[[40, 2_500], "lead_id"] = frame.loc[[5, 6], "lead_id"].to_numpy()
    frame.loc[50, "created_at"] = pd.Timestamp("2031-01-01")
    frame.loc[60, "pages_viewed"] = -1
    path = tmp_path_factory.mktemp("spark") / "leads.parquet"
    # Spark reads microsecond timestamps (pandas writes nanoseconds by default).
    frame.to_parquet(path, index=False, coerce_timestamps="us", row_group_size=700)
    return path


def test_spark_scores_and_rejects_like_the_single_machine_job(spark, trained, leads_file, tmp_path):
    from salesml.scoring.spark import score_spark

    batch = score_batch(trained.scorer, leads_file, tmp_path / "s.parquet", as_of=AS_OF, reasons="flagged")
    expected = pd.read_parquet(tmp_path / "s.parquet").sort_values("lead_id").reset_index(drop=True)
    expected_rejects = pd.read_parquet(tmp_path / "s.rejects.parquet")

    result = score_spark(spark.read.parquet(str(leads_file)), trained.scorer, reasons="flagged", as_of=AS_OF)
    result.frame.persist()
    scores = result.scores.toPandas().sort_values("lead_id").reset_index(drop=True)
    rejects = result.rejects.toPandas()

    assert list(scores.columns) == list(expected.columns)
    assert len(scores) == batch.rows_scored == 2_992
    assert np.array_equal(scores["probability"].to_numpy(dtype=float), expected["probability"].to_numpy())
    for column in expected.columns.drop("probability"):
        assert scores[column].astype(str).tolist() == expected[column].astype(str).tolist(), column

    def lines(frame):
        return sorted(
            tuple("" if pd.isna(v) else str(v) for v in row)
            for row in frame[["lead_id", "column", "reason", "value"]].itertuples(index=False)
        )

    assert lines(rejects) == lines(expected_rejects)
    assert sorted(rejects["reason"]) == sorted(
        ["not_a_number", "not_a_number", "missing_key", "missing_key", "duplicate_key", "duplicate_key", "future_date", "out_of_range"]
    )
    assert result.model["digest"] == batch.manifest["model"]["digest"]
    result.frame.unpersist()


def test_local_time_zone_sessions_score_the_same_instants(spark, trained, leads_file):
    from pyspark.sql import functions as F

    from salesml.scoring.spark import score_spark

    utc = score_spark(spark.read.parquet(str(leads_file)).limit(300), trained.scorer, as_of=AS_OF).scores.toPandas()
    spark.conf.set("spark.sql.session.timeZone", "America/New_York")
    try:
        df = spark.read.parquet(str(leads_file)).limit(300)
        # The same instants as local-time timestamps of a New York session.
        df = df.withColumn("created_at", F.convert_timezone(F.lit("UTC"), F.lit("America/New_York"), "created_at").cast("timestamp"))
        local = score_spark(df, trained.scorer, as_of=AS_OF).scores.toPandas()
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")
    pd.testing.assert_frame_equal(local.sort_values("lead_id").reset_index(drop=True), utc.sort_values("lead_id").reset_index(drop=True))


def test_missing_columns_are_named_before_spark_runs(spark, trained, leads_file):
    from salesml.scoring.spark import score_spark

    with pytest.raises(salesml.MissingColumnsError, match="The input lacks column 'visits'"):
        score_spark(spark.read.parquet(str(leads_file)).drop("visits"), trained.scorer)
