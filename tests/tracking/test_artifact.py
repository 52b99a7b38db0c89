from __future__ import annotations

import pickle

import pytest

from salesml.tracking.artifact import IntegrityError, read_bundle, verify_bundle, write_bundle
from salesml.scoring.scorer import Scorer, load_model


@pytest.fixture()
def bundle_dir(trained, tmp_path):
    return trained.save(tmp_path / "bundle")


def test_round_trip_scores_identically(trained, bundle_dir, leads):
    again = load_model(bundle_dir)
    sample = leads.sample(500, random_state=0)
    import pandas as pd

    pd.testing.assert_frame_equal(again.score(sample), trained.scorer.score(sample))


def test_bundle_holds_text_and_json_only(bundle_dir):
    names = sorted(p.name for p in bundle_dir.iterdir())
    assert names == ["MANIFEST.json", "metadata.json", "model.txt"]
    for p in bundle_dir.iterdir():
        assert not p.read_bytes().startswith(b"\x80"), f"{p.name} looks like a pickle"


def test_one_changed_byte_is_refused(bundle_dir):
    model = bundle_dir / "model.txt"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x01
    model.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=r"model.txt has sha256 .* the manifest says .*changed after the model was written"):
        read_bundle(bundle_dir)


def test_dropped_in_pickle_is_refused(bundle_dir):
    (bundle_dir / "extra.pkl").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(IntegrityError, match=r"holds pickle-like file\(s\) not in its manifest: extra.pkl"):
        verify_bundle(bundle_dir)


def test_missing_manifest_is_refused(bundle_dir):
    (bundle_dir / "MANIFEST.json").unlink()
    with pytest.raises(IntegrityError, match="is not a salesml model bundle: MANIFEST.json is missing"):
        load_model(bundle_dir)


def test_write_refuses_a_non_empty_folder(trained, bundle_dir):
    with pytest.raises(FileExistsError, match="is not empty"):
        write_bundle(trained.scorer.bundle, bundle_dir)


def test_scorer_from_bundle_keeps_metadata(trained, bundle_dir):
    s = Scorer(read_bundle(bundle_dir))
    assert s.metadata["task"] == "lead-scoring"
    assert s.metadata["metrics"] == trained.metrics
