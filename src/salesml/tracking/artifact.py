"""The model artifact: LightGBM text models + JSON, sealed by a manifest of digests.

A bundle is a folder::

    model.txt            LightGBM native text model (one file per booster)
    metadata.json        task, columns, encoder, calibration, thresholds, metrics, versions
    MANIFEST.json        format version and the sha256 of every other file
    MANIFEST.sig         optional: HMAC-SHA256 of MANIFEST.json with SALESML_SIGNING_KEY

Nothing in it is pickled. :func:`read_bundle` checks the manifest *before*
parsing anything: a changed byte, a missing file or an extra file (a pickle
dropped in, say) is refused with :class:`IntegrityError`.

Signing: when ``SALESML_SIGNING_KEY`` is set, :func:`write_bundle` signs the
manifest (which holds every file's digest) and :func:`read_bundle` verifies
the signature; a signature that does not match is always refused, and with
``SALESML_REQUIRE_SIGNATURE=1`` an unsigned (or unverifiable) bundle is refused
too. :func:`refuse_pickles` checks a whole MLflow model folder, not only the
bundle, for pickle-like files.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ModelBundle",
    "IntegrityError",
    "write_bundle",
    "read_bundle",
    "verify_bundle",
    "sign_bundle",
    "verify_signature",
    "refuse_pickles",
    "BUNDLE_FORMAT",
]

logger = logging.getLogger(__name__)

BUNDLE_FORMAT = "salesml-bundle/1"
MANIFEST = "MANIFEST.json"
METADATA = "metadata.json"
SIGNATURE = "MANIFEST.sig"
SIGNATURE_ALGORITHM = "HMAC-SHA256"
_PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".dill", ".cloudpickle", ".pt", ".pth", ".ckpt", ".sav", ".npy", ".npz")


class IntegrityError(RuntimeError):
    """The model artifact is not the one that was written."""


@dataclass
class ModelBundle:
    """Fitted boosters (by role, e.g. ``{"model": booster}``) plus JSON metadata."""

    boosters: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)
    #: sha256 of the bundle's MANIFEST.json (which lists every file's digest): one value that
    #: identifies the artifact. Set by :func:`read_bundle`; ``None`` for a bundle not yet written.
    digest: str | None = None


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_bundle(bundle: ModelBundle, directory: str | Path) -> Path:
    """Write ``bundle`` into ``directory`` (created; must be empty) and seal it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if any(directory.iterdir()):
        raise FileExistsError(f"The bundle folder {directory} is not empty; write each bundle to a new folder.")
    files: dict[str, str] = {}
    for role, booster in sorted(bundle.boosters.items()):
        name = f"{role}.txt"
        _write_atomic(directory / name, booster.model_to_string().encode("utf-8"))
        files[name] = file_sha256(directory / name)
    meta = dict(bundle.metadata)
    meta["boosters"] = {role: f"{role}.txt" for role in sorted(bundle.boosters)}
    _write_atomic(directory / METADATA, json.dumps(meta, indent=2, sort_keys=True, default=str).encode("utf-8"))
    files[METADATA] = file_sha256(directory / METADATA)
    manifest = {"format": BUNDLE_FORMAT, "files": files}
    _write_atomic(directory / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8"))
    from salesml.trust.keys import SIGNING_KEY_ENV, key_from_env

    key = key_from_env(SIGNING_KEY_ENV, required=False)
    if key is not None:
        sign_bundle(directory, key)
    return directory


def verify_bundle(directory: str | Path) -> dict[str, Any]:
    """Check every digest and that no unlisted file is present; returns the manifest."""
    directory = Path(directory)
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise IntegrityError(f"{directory} is not a salesml model bundle: {MANIFEST} is missing.")
    try:
        manifest = json.loads(manifest_path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise IntegrityError(f"The manifest of {directory} is not valid JSON: {err}.") from err
    if manifest.get("format") != BUNDLE_FORMAT:
        raise IntegrityError(
            f"Unknown bundle format {manifest.get('format')!r} in {directory}; this salesml reads {BUNDLE_FORMAT}."
        )
    listed = dict(manifest.get("files", {}))
    present = {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()} - {MANIFEST, SIGNATURE}
    unexpected = sorted(present - set(listed))
    if unexpected:
        kind = "pickle-like " if any(u.endswith(_PICKLE_SUFFIXES) for u in unexpected) else ""
        raise IntegrityError(
            f"Refusing to load {directory}: it holds {kind}file(s) not in its manifest: {', '.join(unexpected)}. "
            "The artifact was modified after it was written; retrain or restore it from the registry."
        )
    for name, digest in sorted(listed.items()):
        path = directory / name
        if not path.is_file():
            raise IntegrityError(f"Refusing to load {directory}: {name} is listed in the manifest but missing.")
        actual = file_sha256(path)
        if actual != digest:
            raise IntegrityError(
                f"Refusing to load {directory}: {name} has sha256 {actual[:12]}..., the manifest says {digest[:12]}.... "
                "The file was changed after the model was written; retrain or restore it from the registry."
            )
    return manifest


def read_bundle(directory: str | Path) -> ModelBundle:
    """Verify (digests, then signature), then load a bundle."""
    import lightgbm as lgb

    directory = Path(directory)
    verify_bundle(directory)
    verify_signature(directory)
    metadata = json.loads((directory / METADATA).read_text("utf-8"))
    boosters = {
        role: lgb.Booster(model_str=(directory / name).read_text("utf-8"))
        for role, name in metadata.get("boosters", {}).items()
    }
    return ModelBundle(boosters=boosters, metadata=metadata, digest=file_sha256(directory / MANIFEST))


def _signature_of(directory: Path, key: bytes) -> str:
    return hmac.new(key, (directory / MANIFEST).read_bytes(), hashlib.sha256).hexdigest()


def sign_bundle(directory: str | Path, key: bytes | None = None) -> Path:
    """Sign a bundle's manifest with HMAC-SHA256 (key: argument, else ``SALESML_SIGNING_KEY``); returns the signature file.

    The manifest lists every file's sha256, so the signature covers the whole bundle.
    """
    from salesml.trust.keys import SIGNING_KEY_ENV, check_key, key_from_env, key_id

    directory = Path(directory)
    verify_bundle(directory)
    key = key_from_env(SIGNING_KEY_ENV) if key is None else check_key(key, env=SIGNING_KEY_ENV)
    assert key is not None
    record = {"algorithm": SIGNATURE_ALGORITHM, "key_id": key_id(key), "signature": _signature_of(directory, key)}
    _write_atomic(directory / SIGNATURE, json.dumps(record, indent=2, sort_keys=True).encode("utf-8"))
    return directory / SIGNATURE


def verify_signature(directory: str | Path, *, key: bytes | None = None, required: bool | None = None) -> str:
    """Check a bundle's signature; returns ``"verified"``, ``"unsigned"`` or ``"unverified"``.

    ``key`` defaults to ``SALESML_SIGNING_KEY`` and ``required`` to
    ``SALESML_REQUIRE_SIGNATURE``. Raises :class:`IntegrityError` when the
    signature does not match the manifest, or when a signature is required and
    the bundle is unsigned or no key is available to check it.
    """
    from salesml.trust.keys import SIGNING_KEY_ENV, check_key, key_from_env, key_id, signature_required

    directory = Path(directory)
    required = signature_required() if required is None else required
    key = key_from_env(SIGNING_KEY_ENV, required=False) if key is None else check_key(key, env=SIGNING_KEY_ENV)
    path = directory / SIGNATURE
    if not path.is_file():
        if required:
            raise IntegrityError(
                f"Refusing to load {directory}: it is not signed and SALESML_REQUIRE_SIGNATURE is on. "
                "Sign it with salesml.tracking.artifact.sign_bundle (SALESML_SIGNING_KEY set) or retrain with the key set."
            )
        return "unsigned"
    try:
        record = json.loads(path.read_text("utf-8"))
        algorithm, signature, signed_by = record["algorithm"], str(record["signature"]), str(record.get("key_id", "?"))
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as err:
        raise IntegrityError(f"Refusing to load {directory}: its {SIGNATURE} is not a valid signature record ({err}).") from err
    if algorithm != SIGNATURE_ALGORITHM:
        raise IntegrityError(f"Refusing to load {directory}: unknown signature algorithm {algorithm!r}; expected {SIGNATURE_ALGORITHM}.")
    if key is None:
        if required:
            raise IntegrityError(
                f"Refusing to load {directory}: SALESML_REQUIRE_SIGNATURE is on but SALESML_SIGNING_KEY is not set, "
                "so its signature cannot be checked. Set the key the model was signed with."
            )
        logger.warning("%s is signed (key %s) but SALESML_SIGNING_KEY is not set: signature not checked", directory, signed_by)
        return "unverified"
    if not hmac.compare_digest(signature, _signature_of(directory, key)):
        ours = key_id(key)
        hint = (
            f"it was signed with key {signed_by}, the environment holds key {ours}: set the key it was signed with"
            if signed_by != ours
            else "the manifest or the signature was changed after signing; retrain or restore it from the registry"
        )
        raise IntegrityError(f"Refusing to load {directory}: its signature does not match its manifest ({hint}).")
    return "verified"


def _pickle_like(path: Path) -> bool:
    if path.name.lower().endswith(_PICKLE_SUFFIXES):
        return True
    with path.open("rb") as fh:
        head = fh.read(4)
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:  # pickle protocol 2-5 header
        return True
    if head == b"PK\x03\x04":  # zip containers (torch, joblib archives) that carry pickles
        import zipfile

        try:
            with zipfile.ZipFile(path) as zf:
                return any(n.lower().endswith(_PICKLE_SUFFIXES) for n in zf.namelist())
        except zipfile.BadZipFile:
            return False
    return False


def refuse_pickles(folder: str | Path) -> None:
    """Raise :class:`IntegrityError` if any file under ``folder`` (an MLflow model folder, say) is pickle-like.

    Checks names (``.pkl``, ``.joblib``, ``.pt``...), pickle headers and zip
    archives holding pickles. Nothing is opened beyond its first bytes.
    """
    folder = Path(folder)
    found = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and _pickle_like(p))
    if found:
        raise IntegrityError(
            f"Refusing to load {folder}: it holds pickle-like file(s): {', '.join(found)}. salesml models are "
            "LightGBM text and JSON only; a pickle can run code when loaded. Restore the model from the registry or retrain."
        )


def library_versions() -> Mapping[str, str]:
    """Versions recorded in the metadata, to explain differences between environments."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("salesml", "lightgbm", "numpy", "pandas", "scikit-learn", "mlflow", "optuna", "shap"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover
            out[name] = "unknown"
    return out
