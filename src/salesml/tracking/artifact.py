"""The model artifact: LightGBM text models + JSON, sealed by a manifest of digests.

A bundle is a folder::

    model.txt            LightGBM native text model (one file per booster)
    metadata.json        task, columns, encoder, calibration, thresholds, metrics, versions
    MANIFEST.json        format version and the sha256 of every other file
    MANIFEST.sig         optional: HMAC-SHA256 of MANIFEST.json with SALESML_SIGNING_KEY

Nothing in it is pickled. :func:`read_bundle` checks the manifest *before*
parsing anything: a changed byte, a missing file or an extra file (a pickle
dropped in, say) is refused with :class:`IntegrityError`.

Every path in the manifest and the metadata must name a regular file inside
the bundle (no ``..``, no absolute path, no symbolic link): a manifest cannot
make salesml read a model from elsewhere.

Signing: when ``SALESML_SIGNING_KEY`` is set, :func:`write_bundle` signs the
manifest (which holds every file's digest) and :func:`read_bundle` verifies
the signature. A signature that does not match is always refused; with a key
set, an unsigned bundle is refused too (deleting ``MANIFEST.sig`` does not
strip the protection), unless ``SALESML_ALLOW_UNSIGNED=1`` is set for legacy
models. ``SALESML_REQUIRE_SIGNATURE=1`` also refuses signed bundles on a
machine that holds no key to check them. A registered version carries a
second signature (:func:`registration_signature`, tag ``salesml.signature``)
binding the bundle's digest to the registered name and version, so a signed
bundle cannot be passed off as another model or version.

:func:`refuse_pickles` checks a whole MLflow model folder, not only the
bundle, for pickles by content (every protocol, 0 to 5, whatever the file's
name; also inside zip, gzip, bz2 and xz containers).
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import hmac
import io
import json
import logging
import lzma
import os
import pickletools
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
    "registration_signature",
    "verify_registration",
    "REGISTRATION_TAG",
    "BUNDLE_FORMAT",
]

logger = logging.getLogger(__name__)

BUNDLE_FORMAT = "salesml-bundle/1"
MANIFEST = "MANIFEST.json"
METADATA = "metadata.json"
SIGNATURE = "MANIFEST.sig"
SIGNATURE_ALGORITHM = "HMAC-SHA256"
#: Model-version tag holding the signature that binds a bundle to its registered name and version.
REGISTRATION_TAG = "salesml.signature"
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
    for name in listed:
        _confined(directory, name, "its manifest")
    links = sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_symlink())
    if links:
        raise IntegrityError(
            f"Refusing to load {directory}: it holds symbolic link(s) {', '.join(links)}; a bundle holds regular files only."
        )
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


def _confined(directory: Path, name: Any, where: str) -> Path:
    """``directory / name`` when ``name`` is a plain relative path inside the bundle; else :class:`IntegrityError`."""
    text = str(name)
    parts = Path(text).parts
    if not isinstance(name, str) or not text or Path(text).is_absolute() or ".." in parts or "\\" in text or ":" in text:
        raise IntegrityError(
            f"Refusing to load {directory}: {where} names {text!r}, which is not a file inside the bundle. "
            "A bundle only refers to its own files; the artifact was modified after it was written."
        )
    path = directory / text
    if not path.resolve().is_relative_to(directory.resolve()):
        raise IntegrityError(f"Refusing to load {directory}: {where} names {text!r}, which resolves outside the bundle.")
    return path


def read_bundle(directory: str | Path) -> ModelBundle:
    """Verify (digests, then signature), then load a bundle."""
    import lightgbm as lgb

    directory = Path(directory)
    manifest = verify_bundle(directory)
    verify_signature(directory)
    metadata = json.loads((directory / METADATA).read_text("utf-8"))
    boosters = {}
    for role, name in metadata.get("boosters", {}).items():
        path = _confined(directory, name, "its metadata")
        if str(name) not in manifest.get("files", {}):
            raise IntegrityError(f"Refusing to load {directory}: its metadata names {name!r}, which its manifest does not list.")
        boosters[role] = lgb.Booster(model_str=path.read_text("utf-8"))
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
    from salesml.trust.keys import (
        SIGNING_KEY_ENV,
        check_key,
        key_from_env,
        key_id,
        signature_required,
        unsigned_allowed,
    )

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
        if key is not None:
            if not unsigned_allowed():
                raise IntegrityError(
                    f"Refusing to load {directory}: it is not signed, and this machine holds a signing key "
                    f"(SALESML_SIGNING_KEY, key {key_id(key)}), so every model must be. A deleted MANIFEST.sig "
                    "looks exactly like this. Sign it with salesml.tracking.artifact.sign_bundle if you trust it, "
                    "or set SALESML_ALLOW_UNSIGNED=1 to load legacy unsigned models."
                )
            logger.warning("%s is not signed; loaded because SALESML_ALLOW_UNSIGNED is set", directory)
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


class _Discard(io.TextIOBase):
    def write(self, text: str) -> int:  # pragma: no cover - trivial
        return len(text)


def _is_pickle_stream(fh: Any) -> bool:
    """Whether ``fh`` (at its start) holds a complete, well-formed pickle of any protocol (0-5).

    Protocols 2-5 start with the PROTO opcode; 0 and 1 have no header, so the
    opcode stream itself is checked with :func:`pickletools.dis` (stack and memo
    discipline up to STOP): text, JSON and LightGBM models fail within a few bytes.
    """
    head = fh.read(2)
    if len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return True
    if not head:
        return False
    try:
        fh.seek(0)
        stream = fh
    except (OSError, AttributeError, io.UnsupportedOperation):  # pragma: no cover - every opener used here can seek
        stream = io.BytesIO(head + fh.read())
    try:
        pickletools.dis(stream, out=_Discard())
    except Exception:  # noqa: BLE001 - not a pickle: an unknown opcode, a stack underflow, EOF before STOP...
        return False
    return True


_COMPRESSED = ((b"\x1f\x8b", gzip.open), (b"BZh", bz2.open), (b"\xfd7zXZ\x00", lzma.open))


def _pickle_like(path: Path) -> bool:
    if path.name.lower().endswith(_PICKLE_SUFFIXES):
        return True
    with path.open("rb") as fh:
        head = fh.read(8)
        fh.seek(0)
        if _is_pickle_stream(fh):
            return True
    for magic, opener in _COMPRESSED:  # joblib and others compress pickles
        if head.startswith(magic):
            try:
                with opener(path, "rb") as fh:
                    return _is_pickle_stream(fh)
            except (OSError, EOFError, lzma.LZMAError):
                return False
    if head.startswith(b"PK\x03\x04"):  # zip containers (torch, joblib archives) that carry pickles
        import zipfile

        try:
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    if info.filename.lower().endswith(_PICKLE_SUFFIXES):
                        return True
                    with zf.open(info) as member:
                        if _is_pickle_stream(member):
                            return True
        except zipfile.BadZipFile:
            return False
    return False


def refuse_pickles(folder: str | Path) -> None:
    """Raise :class:`IntegrityError` if any file under ``folder`` (an MLflow model folder, say) is pickle-like.

    Checks names (``.pkl``, ``.joblib``, ``.pt``...) and content: a pickle of
    any protocol (0-5) under any name, also inside zip, gzip, bz2 or xz files.
    Files are only read as bytes (:mod:`pickletools`); nothing is unpickled.
    """
    folder = Path(folder)
    found = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and _pickle_like(p))
    if found:
        raise IntegrityError(
            f"Refusing to load {folder}: it holds pickle-like file(s): {', '.join(found)}. salesml models are "
            "LightGBM text and JSON only; a pickle can run code when loaded. Restore the model from the registry or retrain."
        )


def _registration_message(name: str, version: str, digest: str) -> bytes:
    return f"salesml-registration/1\n{name}\n{version}\n{digest}".encode()


def registration_signature(name: str, version: str | int, digest: str, key: bytes) -> str:
    """The tag value binding a bundle (``digest``: sha256 of its MANIFEST.json) to a registered name and version."""
    from salesml.trust.keys import key_id

    sig = hmac.new(key, _registration_message(name, str(version), digest), hashlib.sha256).hexdigest()
    return json.dumps({"algorithm": SIGNATURE_ALGORITHM, "key_id": key_id(key), "signature": sig}, sort_keys=True)


def verify_registration(name: str, version: str | int, digest: str, tag: str | None) -> str:
    """Check a registered version's :data:`REGISTRATION_TAG`; returns ``"verified"``, ``"unsigned"`` or ``"unverified"``.

    With ``SALESML_SIGNING_KEY`` set, a missing tag is refused (unless
    ``SALESML_ALLOW_UNSIGNED=1``) and a tag that does not match this name,
    version and bundle is always refused.
    """
    from salesml.trust.keys import (
        SIGNING_KEY_ENV,
        key_from_env,
        signature_required,
        unsigned_allowed,
    )

    key = key_from_env(SIGNING_KEY_ENV, required=False)
    where = f"{name} v{version}"
    if key is None:
        if signature_required():
            raise IntegrityError(
                f"Refusing to load {where}: SALESML_REQUIRE_SIGNATURE is on but SALESML_SIGNING_KEY is not set, "
                "so its registration signature cannot be checked."
            )
        return "unverified" if tag else "unsigned"
    if not tag:
        if unsigned_allowed():
            logger.warning("%s has no registration signature; loaded because SALESML_ALLOW_UNSIGNED is set", where)
            return "unsigned"
        raise IntegrityError(
            f"Refusing to load {where}: it has no registration signature (tag {REGISTRATION_TAG}) and this machine "
            "holds a signing key. Register it again with the key set, or set SALESML_ALLOW_UNSIGNED=1 for legacy models."
        )
    try:
        record = json.loads(tag)
        signature = str(record["signature"])
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise IntegrityError(f"Refusing to load {where}: its {REGISTRATION_TAG} tag is not a signature record ({err}).") from err
    expected = hmac.new(key, _registration_message(name, str(version), digest), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(signature, expected):
        raise IntegrityError(
            f"Refusing to load {where}: its registration signature does not match this name, version and bundle "
            "(the artifact was swapped, or the signature copied from another version, or signed with another key)."
        )
    return "verified"


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
