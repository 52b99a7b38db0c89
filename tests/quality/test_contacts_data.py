"""The contact generator: deterministic, its truth consistent with the records it describes."""

from __future__ import annotations

import pandas as pd
import pytest

import salesml
from salesml.datasets.contacts import CONTACT_COLUMNS, make_contacts


def test_same_seed_same_frames_other_seed_other_frames():
    a, b = make_contacts(300, random_state=5), make_contacts(300, random_state=5)
    pd.testing.assert_frame_equal(a.records, b.records)
    pd.testing.assert_frame_equal(a.truth, b.truth)
    assert not make_contacts(300, random_state=6).records.equals(a.records)


def test_truth_describes_every_record(contacts):
    r, t = contacts.records, contacts.truth
    assert tuple(r.columns) == CONTACT_COLUMNS and r["record_id"].is_unique
    assert t["record_id"].tolist() == r["record_id"].tolist()
    assert t["entity_id"].nunique() == 1_500
    assert t.groupby("entity_id")["is_original"].sum().eq(1).all()  # one original per customer
    sizes = t["entity_id"].value_counts()
    assert 0.2 < (sizes > 1).mean() < 0.4 and sizes.max() <= 4  # duplicate_share 0.3, at most 3 duplicates
    assert (t["email_status"] == "missing").sum() == r["email"].isna().sum()
    assert (t["phone_status"] == "missing").sum() == r["phone"].isna().sum()
    assert (r["country"] == "CN").mean() == pytest.approx(0.4, abs=0.08)
    assert r["company_name"].str.contains("有限|公司", regex=True).any() and r["contact_name"].str.contains(" ").any()
    assert len(contacts.true_pairs()) == int((sizes * (sizes - 1) // 2).sum())


def test_duplicates_really_vary(contacts):
    r = contacts.records.merge(contacts.truth, on="record_id")
    dup = r[~r["is_original"]].set_index("entity_id")
    orig = r[r["is_original"]].set_index("entity_id").loc[dup.index]
    for col in ("contact_name", "company_name", "email", "phone"):
        changed = (dup[col].fillna("") != orig[col].fillna("")).mean()
        assert 0.05 < changed < 0.8, (col, changed)


def test_arguments_are_checked_and_exported():
    with pytest.raises(ValueError, match="n_entities must be a positive int. Got 0 instead."):
        make_contacts(0)
    with pytest.raises(ValueError, match="duplicate_share must be between 0 and 1. Got 1.5 instead."):
        make_contacts(10, duplicate_share=1.5)
    assert salesml.make_contacts is make_contacts and "make_contacts" in salesml.__all__
    assert salesml.datasets.make_contacts is make_contacts
