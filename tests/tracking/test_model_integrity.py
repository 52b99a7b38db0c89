"""Loading refuses tampered, unsigned-when-required and pickle-bearing models, and runs nothing from them first."""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
from pathlib import Path

import mlflow
import pytest

import salesml
from salesml.tracking.artifact import IntegrityError, read_bundle, sign_bundle, verify_signature
from salesml.trust.keys import KeyProblem

KEY = "signing-key-for-tests-c2VjcmV0LXNpZ25pbmc-91b2"
OTHER_KEY = "another-signing-key-b3RoZXIta2V5LXNpZ24-4a7e"


@pytest.fixture()
def signed(trained, tmp_path, monkeypatch):
    monkeypatch.setenv("SALESML_SIGNING_KEY", KEY)
    return trained.save(tmp_path / "signed")


@pytest.fixture()
def unsigned(trained, tmp_path, monkeypatch):
    monkeypatch.delenv("SALESML_SIGNING_KEY", raising=False)
    return trained.save(tmp_path / "unsigned")


def rewrite_consistently(bundle: Path) -> None:
    """What an attacker who can write files does: change the model and fix its digest in the manifest."""
    model = bundle / "model.txt"
    lines = model.read_text().split("\n")
    i = next(k for k, line in enumerate(lines) if line.startswith("leaf_value="))
    # same length (LightGBM records each tree's size): one leaf's value goes up by 1
    j = next(k for k, ch in enumerate(lines[i]) if ch.isdigit())
    lines[i] = lines[i][:j] + str((int(lines[i][j]) + 1) % 10) + lines[i][j + 1 :]
    model.write_text("\n".join(lines))
    manifest = json.loads((bundle / "MANIFEST.json").read_text())
    manifest["files"]["model.txt"] = hashlib.sha256(model.read_bytes()).hexdigest()
    (bundle / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))


def test_a_signed_bundle_loads_and_says_so(signed):
    assert (signed / "MANIFEST.sig").is_file()
    record = json.loads((signed / "MANIFEST.sig").read_text())
    assert record["algorithm"] == "HMAC-SHA256" and KEY not in json.dumps(record)
    assert verify_signature(signed) == "verified"
    assert salesml.load_model(signed).metadata["task"] == "lead-scoring"


def test_digests_alone_do_not_stop_a_consistent_rewrite_but_the_signature_does(signed, unsigned, monkeypatch):
    monkeypatch.setenv("SALESML_SIGNING_KEY", KEY)
    rewrite_consistently(unsigned)
    monkeypatch.setenv("SALESML_ALLOW_UNSIGNED", "1")  # the legacy opt-out: digests are all that is checked
    read_bundle(unsigned)  # the manifest agrees with the changed file: only a signature can tell
    monkeypatch.delenv("SALESML_ALLOW_UNSIGNED")
    rewrite_consistently(signed)
    with pytest.raises(IntegrityError, match="its signature does not match its manifest .*changed after signing"):
        salesml.load_model(signed)


def test_one_changed_byte_is_refused_even_when_signed(signed):
    data = bytearray((signed / "model.txt").read_bytes())
    data[len(data) // 3] ^= 0x01
    (signed / "model.txt").write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="model.txt has sha256 .* the manifest says"):
        salesml.load_model(signed)


def test_a_different_key_is_named_by_fingerprint(signed, monkeypatch):
    monkeypatch.setenv("SALESML_SIGNING_KEY", OTHER_KEY)
    with pytest.raises(IntegrityError, match=r"signed with key [0-9a-f]{12}, the environment holds key [0-9a-f]{12}"):
        salesml.load_model(signed)


def test_unsigned_is_refused_when_signatures_are_required(unsigned, monkeypatch):
    monkeypatch.setenv("SALESML_REQUIRE_SIGNATURE", "1")
    monkeypatch.setenv("SALESML_SIGNING_KEY", KEY)
    with pytest.raises(IntegrityError, match="it is not signed and SALESML_REQUIRE_SIGNATURE is on"):
        salesml.load_model(unsigned)
    sign_bundle(unsigned)  # signing an existing bundle afterwards makes it loadable
    assert verify_signature(unsigned) == "verified"


def test_required_signature_cannot_be_checked_without_the_key(signed, monkeypatch):
    monkeypatch.delenv("SALESML_SIGNING_KEY")
    assert verify_signature(signed) == "unverified"  # not required: loads, with a warning
    monkeypatch.setenv("SALESML_REQUIRE_SIGNATURE", "1")
    with pytest.raises(IntegrityError, match="SALESML_REQUIRE_SIGNATURE is on but SALESML_SIGNING_KEY is not set"):
        salesml.load_model(signed)


def test_a_weak_signing_key_is_refused(trained, tmp_path, monkeypatch):
    monkeypatch.setenv("SALESML_SIGNING_KEY", "secret")
    with pytest.raises(KeyProblem, match="SALESML_SIGNING_KEY is too short: 6 characters"):
        trained.save(tmp_path / "weak")


# ------------------------------------------------------- MLflow model folders
@pytest.fixture(scope="module")
def logged(tmp_path_factory, crm):
    """A model logged to a private MLflow store; each test works on its own copy of the downloaded folder."""
    root = tmp_path_factory.mktemp("integrity-store")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        mp.delenv("SALESML_SIGNING_KEY", raising=False)
        mp.chdir(root)
        result = salesml.train({"task": "lead-scoring"}, tables={"leads": crm.leads.head(6_000)})
        folder = Path(mlflow.artifacts.download_artifacts(result.model_uri, dst_path=str(root / "download")))
    return root, result, folder


@pytest.fixture()
def model_folder(logged, tmp_path):
    return Path(shutil.copytree(logged[2], tmp_path / "model"))


def test_the_mlflow_folder_loads(model_folder, logged):
    scorer = salesml.load_model(model_folder)
    assert scorer.booster.model_to_string() == logged[1].scorer.booster.model_to_string()


@pytest.mark.parametrize("where", ["python_model.pkl", "artifacts/extra/state.joblib", "artifacts/data.bin"])
def test_a_pickle_anywhere_in_the_mlflow_folder_is_refused(model_folder, where):
    target = model_folder / where
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(pickle.dumps({"run": "me"}, protocol=4))  # data.bin: no telling suffix, found by its header
    with pytest.raises(IntegrityError, match=f"holds pickle-like file\\(s\\): {where}.*a pickle can run code"):
        salesml.load_model(model_folder)


def test_a_pickle_dropped_into_the_registry_store_is_refused(logged):
    root, _, _ = logged
    (mlmodel,) = list((root / "mlartifacts").rglob("MLmodel"))  # the registered model's files in the artifact store
    logged_dir = mlmodel.parent
    evil = logged_dir / "artifacts" / "bundle_cache.pkl"
    evil.write_bytes(pickle.dumps([1, 2, 3]))
    try:
        with pytest.raises(IntegrityError, match="bundle_cache.pkl"):
            salesml.load_model("models:/salesml-lead-scoring@champion", tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    finally:
        evil.unlink()
    salesml.load_model("models:/salesml-lead-scoring@champion", tracking_uri=f"sqlite:///{root / 'mlflow.db'}")


def test_nothing_from_the_artifact_is_imported_or_run_when_loading(model_folder, tmp_path):
    marker = tmp_path / "code-ran"
    (code,) = list(model_folder.rglob("_pyfunc_model.py"))
    code.write_text(f"open({str(marker)!r}, 'w').write('pwned')\nraise SystemExit('the artifact ran code')\n")
    (model_folder / "sitecustomize.py").write_text(code.read_text())
    scorer = salesml.load_model(model_folder)
    assert scorer.task.name == "lead-scoring"
    assert not marker.exists()


# ----------------------------------------------- holes found by tamper tests
def reseal(bundle: Path) -> None:
    """Fix every digest in the manifest after an edit (what an attacker with write access does)."""
    manifest = json.loads((bundle / "MANIFEST.json").read_text())
    manifest["files"] = {n: hashlib.sha256((bundle / n).read_bytes()).hexdigest() for n in manifest["files"]}
    (bundle / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))


def test_deleting_the_signature_does_not_strip_it_when_a_key_is_set(signed, monkeypatch):
    meta = json.loads((signed / "metadata.json").read_text())
    meta["edited"] = "threshold lowered"
    (signed / "metadata.json").write_text(json.dumps(meta))
    reseal(signed)
    (signed / "MANIFEST.sig").unlink()
    monkeypatch.delenv("SALESML_REQUIRE_SIGNATURE", raising=False)
    with pytest.raises(IntegrityError, match="it is not signed, and this machine holds a signing key .*deleted MANIFEST.sig"):
        salesml.load_model(signed)
    monkeypatch.setenv("SALESML_ALLOW_UNSIGNED", "1")  # the explicit opt-out for legacy models
    assert salesml.load_model(signed).metadata["edited"] == "threshold lowered"


@pytest.mark.parametrize("entry", ["../outside_model.txt", "/tmp/outside_model.txt", "sub/../../outside_model.txt"])
def test_manifest_and_metadata_paths_are_confined_to_the_bundle(unsigned, entry):
    outside = unsigned.parent / "outside_model.txt"
    shutil.copy(unsigned / "model.txt", outside)
    meta = json.loads((unsigned / "metadata.json").read_text())
    meta["boosters"] = {"model": entry}
    (unsigned / "metadata.json").write_text(json.dumps(meta))
    manifest = json.loads((unsigned / "MANIFEST.json").read_text())
    manifest["files"] = {entry: hashlib.sha256(outside.read_bytes()).hexdigest(),
                         "metadata.json": hashlib.sha256((unsigned / "metadata.json").read_bytes()).hexdigest()}
    (unsigned / "model.txt").unlink()
    (unsigned / "MANIFEST.json").write_text(json.dumps(manifest))
    with pytest.raises(IntegrityError, match="not a file inside the bundle"):
        salesml.load_model(unsigned)


def test_metadata_cannot_name_a_booster_the_manifest_does_not_list(unsigned):
    (unsigned / "sub").mkdir()
    meta = json.loads((unsigned / "metadata.json").read_text())
    meta["boosters"] = {"model": "other.txt"}
    (unsigned / "metadata.json").write_text(json.dumps(meta))
    reseal(unsigned)
    with pytest.raises(IntegrityError, match="names 'other.txt', which its manifest does not list"):
        salesml.load_model(unsigned)


def test_a_symlink_in_the_bundle_is_refused(unsigned, tmp_path):
    (tmp_path / "elsewhere.txt").write_text("x")
    (unsigned / "link.txt").symlink_to(tmp_path / "elsewhere.txt")
    with pytest.raises(IntegrityError, match="symbolic link"):
        salesml.load_model(unsigned)


class Evil:
    def __reduce__(self):
        return (print, ("pwned",))


@pytest.mark.parametrize("protocol", range(6))
@pytest.mark.parametrize("wrap", ["plain", "gzip", "zip"])
def test_pickles_of_every_protocol_are_found_by_content_under_any_name(model_folder, protocol, wrap):
    import gzip
    import zipfile

    data = pickle.dumps({"model": Evil(), "weights": [1.5, 2.5]}, protocol=protocol)
    target = model_folder / "artifacts" / "notes.txt"
    if wrap == "gzip":
        data = gzip.compress(data)
    if wrap == "zip":
        with zipfile.ZipFile(target, "w") as zf:
            zf.writestr("state", data)
    else:
        target.write_bytes(data)
    with pytest.raises(IntegrityError, match="holds pickle-like file\\(s\\): artifacts/notes.txt"):
        salesml.load_model(model_folder)


def test_text_files_are_not_mistaken_for_pickles(tmp_path):
    from salesml.tracking.artifact import refuse_pickles

    for i, text in enumerate(["tree\nversion=v4\n", '{"a": [1, 2]}', "artifacts:\n  bundle: x\n", "(1, 2).", "", "a.b.c"]):
        (tmp_path / f"f{i}.txt").write_text(text)
    refuse_pickles(tmp_path)


def test_a_registered_version_is_bound_to_its_name_and_version(tmp_path, crm, monkeypatch):
    from salesml.tracking.artifact import REGISTRATION_TAG

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("SALESML_SIGNING_KEY", KEY)
    monkeypatch.chdir(tmp_path)
    leads = crm.leads.head(4_000)
    salesml.train({"task": "lead-scoring", "random_state": 0}, tables={"leads": leads})
    salesml.train({"task": "lead-scoring", "random_state": 1}, tables={"leads": leads})
    client = mlflow.MlflowClient(tracking_uri=uri)
    name = "salesml-lead-scoring"
    tag1 = client.get_model_version(name, "1").tags[REGISTRATION_TAG]
    assert KEY not in tag1
    salesml.load_model(f"models:/{name}/1")
    salesml.load_model(f"models:/{name}/2")
    client.set_model_version_tag(name, "2", REGISTRATION_TAG, tag1)  # a signature copied from another version
    with pytest.raises(IntegrityError, match="v2: its registration signature does not match"):
        salesml.load_model(f"models:/{name}/2")
    client.delete_model_version_tag(name, "2", REGISTRATION_TAG)
    with pytest.raises(IntegrityError, match="v2: it has no registration signature"):
        salesml.load_model(f"models:/{name}/2")
