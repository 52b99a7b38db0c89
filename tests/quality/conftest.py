"""Shared fixtures for the data-quality tests: contact records with known truth, deduplicated once."""

from __future__ import annotations

import pytest

pytest.importorskip("splink", reason="the quality extra is needed: pip install 'salesml[quality]'")

from salesml.datasets.contacts import make_contacts
from salesml.quality.contacts import validate_contacts
from salesml.quality.duplicates import find_duplicates


@pytest.fixture(scope="session")
def contacts():
    """About 2,400 records of 1,500 customers (seeded)."""
    return make_contacts(1_500, random_state=11)


@pytest.fixture(scope="session")
def validated(contacts):
    return validate_contacts(contacts.records)


@pytest.fixture(scope="session")
def deduped(validated):
    return find_duplicates(validated)
