"""LightGBM's thread count follows the data size when OpenMP workers sleep."""

from __future__ import annotations

import os

from salesml.core.boosting import PASSIVE_SINGLE_THREAD_ROWS, num_threads


def test_small_training_sets_use_one_thread_only_under_the_passive_wait_policy(monkeypatch):
    monkeypatch.delenv("SALESML_NUM_THREADS", raising=False)
    cores = os.cpu_count() or 1
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    assert num_threads(5_000) == 1
    assert num_threads(PASSIVE_SINGLE_THREAD_ROWS) == cores
    assert num_threads() == cores
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert num_threads(5_000) == cores
    monkeypatch.setenv("SALESML_NUM_THREADS", "3")
    assert num_threads(5_000) == 3
