"""An opportunity-win model trained on the small built-in world, shared by the call-list and pipeline tests."""

from __future__ import annotations

import pytest

import salesml


@pytest.fixture(scope="session")
def world(small_crm):
    tables = salesml.get_task("opportunity-win").builtin_tables(small_crm)
    result = salesml.train({"task": "opportunity-win", "random_state": 0}, tables=tables, tracker=salesml.NullTracker())
    return small_crm, result
