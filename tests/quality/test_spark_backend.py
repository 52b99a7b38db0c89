"""Spark and DuckDB give the same clusters (Splink's Spark backend, local mode; needs Java)."""

from __future__ import annotations

import shutil

import pytest

from salesml.datasets.contacts import make_contacts
from salesml.quality.duplicates import find_duplicates
from salesml.quality.evaluation import cluster_pairs

pytest.importorskip("pyspark", reason="pyspark is needed for the Spark backend: pip install 'salesml[spark]'")
if shutil.which("java") is None:
    pytest.skip("Spark local mode needs Java 17+", allow_module_level=True)


@pytest.mark.slow
def test_spark_and_duckdb_give_the_same_clusters():
    records = make_contacts(60, random_state=4).records
    duck = find_duplicates(records)
    try:
        spark = find_duplicates(records, {"backend": "spark"})
    finally:  # leave no session behind: later Spark tests build theirs with their own settings
        from pyspark.sql import SparkSession

        active = SparkSession.getActiveSession()
        if active is not None:
            active.stop()
    a, b = duck.clusters, spark.clusters
    assert a["id"].tolist() == b["id"].tolist()
    assert cluster_pairs(a["id"], a["cluster_id"]) == cluster_pairs(b["id"], b["cluster_id"])
    assert a["cluster_id"].tolist() == b["cluster_id"].tolist()  # same survivors too
    assert len(duck.pairs) and set(zip(duck.pairs["id_l"], duck.pairs["id_r"])) == set(zip(spark.pairs["id_l"], spark.pairs["id_r"]))
