"""Shared fixtures: small seeded CRM data, a trained lead-scoring model, a private MLflow store."""

from __future__ import annotations

import os

# Before LightGBM loads: OpenMP spin-waiting makes 2-thread training crawl on shared 2-core machines.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

import numpy as np
import pandas as pd
import pytest

import salesml


@pytest.fixture(scope="session")
def crm() -> salesml.CRMData:
    """A 20k-lead CRM world (seeded)."""
    return salesml.make_crm(20_000, random_state=3)


@pytest.fixture(scope="session")
def leads(crm) -> pd.DataFrame:
    return crm.leads


@pytest.fixture(scope="session")
def trained(crm):
    """Lead scoring trained without tracking or tuning (fast, deterministic)."""
    return salesml.train(
        {"task": "lead-scoring", "random_state": 0}, tables={"leads": crm.leads}, tracker=salesml.NullTracker()
    )


@pytest.fixture(scope="session")
def trained_clv(crm):
    """The CLV task on the 20k-lead world, untracked (shared by the CLV, segment and CLI tests)."""
    return salesml.train({"task": "clv", "random_state": 0}, tables=salesml.get_task("clv").builtin_tables(crm), tracker=salesml.NullTracker())


@pytest.fixture(scope="session")
def trained_churn(crm):
    """The churn task on the 20k-lead world, untracked."""
    return salesml.train({"task": "churn", "random_state": 0}, tables=salesml.get_task("churn").builtin_tables(crm), tracker=salesml.NullTracker())


@pytest.fixture(scope="session")
def small_crm() -> salesml.CRMData:
    """A small world (about 1,800 customers) for tests that train through MLflow or the CLI."""
    return salesml.make_crm(4_000, n_customers=1_500, random_state=5)


@pytest.fixture()
def mlflow_store(tmp_path, monkeypatch):
    """A private SQLite MLflow store for one test; the working directory is the test's tmp folder."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    return uri


def small_leads(n: int = 3_000, seed: int = 0) -> pd.DataFrame:
    leads, _ = salesml.datasets.make_leads(n, random_state=seed)
    return leads


def same_order(a: pd.DataFrame, key: str) -> pd.DataFrame:
    return a.sort_values(key, kind="stable").reset_index(drop=True)


__all__ = ["small_leads", "same_order", "np"]
