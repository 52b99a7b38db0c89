"""The model artifact: LightGBM text models + JSON, sealed by a manifest of digests.

A bundle is a folder::

    model.txt            LightGBM native text model (one file per booster)
    metadata.json        task, columns, encoder, calibration, thresholds, metrics, versions
    MANIFEST.json        format version and the sha256 of every other file

Nothing in it is pickled. :func:`read_bundle` checks the manifest *before*
parsing anything: a changed byte, a missing file or an extra file (a pickle
dropped in, say) is refused with :class:`IntegrityError`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ModelBundle", "IntegrityError", "write_bundle", "read_bundle", "verify_bundle", "BUNDLE_FORMAT"]

BUNDLE_FORMAT = "salesml-bundle/1"
MANIFEST = "MANIFEST.json"
METADATA = "metadata.json"
_PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".dill", ".cloudpickle", ".pt", ".sav")


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


def _sha256(path: Path) -> str:
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
        files[name] = _sha256(directory / name)
    meta = dict(bundle.metadata)
    meta["boosters"] = {role: f"{role}.txt" for role in sorted(bundle.boosters)}
    _write_atomic(directory / METADATA, json.dumps(meta, indent=2, sort_keys=True, default=str).encode("utf-8"))
    files[METADATA] = _sha256(directory / METADATA)
    manifest = {"format": BUNDLE_FORMAT, "files": files}
    _write_atomic(directory / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8"))
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
    present = {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()} - {MANIFEST}
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
        actual = _sha256(path)
        if actual != digest:
            raise IntegrityError(
                f"Refusing to load {directory}: {name} has sha256 {actual[:12]}..., the manifest says {digest[:12]}.... "
                "The file was changed after the model was written; retrain or restore it from the registry."
            )
    return manifest


def read_bundle(directory: str | Path) -> ModelBundle:
    """Verify, then load a bundle."""
    import lightgbm as lgb

    directory = Path(directory)
    verify_bundle(directory)
    metadata = json.loads((directory / METADATA).read_text("utf-8"))
    boosters = {
        role: lgb.Booster(model_str=(directory / name).read_text("utf-8"))
        for role, name in metadata.get("boosters", {}).items()
    }
    return ModelBundle(boosters=boosters, metadata=metadata, digest=_sha256(directory / MANIFEST))


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
