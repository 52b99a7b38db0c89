"""Loading a trained model and scoring with it.

``salesml.load_model(uri)`` accepts a registry URI
(``models:/salesml-lead-scoring@champion``), a run or logged-model URI, an
MLflow model folder or a bare bundle folder. The whole folder is checked for
pickle-like files, then the bundle's digests (and signature, see
:mod:`salesml.tracking.artifact`) before anything in it is parsed, and nothing from the
artifact is imported or executed: the pyfunc code file MLflow keeps beside it
is not run here.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from salesml.tracking.artifact import REGISTRATION_TAG, ModelBundle, read_bundle, refuse_pickles, verify_registration
from salesml.core.calibration import Calibrator
from salesml.core.explain import contributions
from salesml.core.explain import reasons as explain_reasons
from salesml.core.features import TabularEncoder
from salesml.core.linear import LinearModel

logger = logging.getLogger(__name__)

__all__ = ["Scorer", "load_model", "REASON_MODES"]

Reasons = Literal["top", "flagged", "all", "none"]
#: ``top``: the top reasons for every row; ``flagged``: only for the rows the task flags
#: (lead scoring: ``follow_up``), empty elsewhere; ``all``: the top reasons plus every
#: feature's contribution; ``none``: scores only (reasons cost ~80x a prediction).
REASON_MODES: tuple[str, ...] = ("top", "flagged", "all", "none")
CONTRIBUTION_PREFIX = "contribution__"


class Scorer:
    """A trained salesml model: encoder + booster + calibration + the task's business rules.

    ``score(df)`` returns one row per input row, in the same order and with the
    same index: the key column, the task's outputs (for lead scoring:
    probability, score, grade, follow_up, threshold) and, unless
    ``reasons="none"``, the top reasons.
    """

    def __init__(self, bundle: ModelBundle):
        from salesml.tasks import get_task

        meta = bundle.metadata
        self.bundle = bundle
        self.metadata = meta
        self.task = get_task(meta["task"])(columns=meta["columns"], params=meta["params"])
        # models written before the single state hook kept interval widths under "postprocess_state"
        self.task.load_state(meta.get("task_state") or meta.get("postprocess_state") or {})
        self.encoder = TabularEncoder.from_dict(meta["encoder"])
        self.calibrator = Calibrator.from_dict(meta["calibration"])
        self.booster = bundle.boosters["model"]
        #: the logistic regression blended with the booster (None: the booster alone), see salesml.core.linear
        self.linear = LinearModel.from_dict(meta["linear"]) if meta.get("linear") else None
        #: Extra ``Booster.predict`` parameters for every prediction, e.g. ``{"num_threads": 1}``.
        self.predict_params: dict[str, Any] = {}

    def with_params(self, **params: Any) -> Scorer:
        """The same model with other business rules (thresholds, tiers...), without retraining.

        ``scorer.with_params(threshold=60, segment_thresholds={"industry": {"software": 50}})``
        """
        meta = dict(self.metadata)
        meta["params"] = {**meta["params"], **params}
        self.task.Params.model_validate(meta["params"])  # fail here, with the task's message
        return Scorer(ModelBundle(boosters=self.bundle.boosters, metadata=meta))

    @property
    def key_column(self) -> str:
        return self.task.columns.id

    @property
    def input_columns(self) -> list[str]:
        """Columns a scoring input must have (the key plus the model's inputs)."""
        return [self.key_column, *[c for c in self.encoder.required_columns if c != self.key_column]]

    def predict_model(self, df: pd.DataFrame) -> np.ndarray:
        """The LightGBM model's calibrated prediction for each row (before :meth:`Task.predict`)."""
        X = self.encoder.transform(df)
        return self.calibrator.transform(self._raw(X, X.to_numpy(dtype=np.float64)))

    def margin(self, df: pd.DataFrame) -> np.ndarray:
        """The model's raw score (log-odds for binary tasks) for each input row, before calibration; the
        contributions of ``score(df, reasons="all")`` add up to it."""
        X = self.encoder.transform(df)
        return self._raw(X, X.to_numpy(dtype=np.float64))

    def _raw(self, X: pd.DataFrame, matrix: np.ndarray) -> np.ndarray:
        """The model's raw score: the booster's, blended with the linear part when there is one."""
        raw = self.booster.predict(matrix, raw_score=True, **self.predict_params)
        if self.linear is not None:
            w = self.linear.weight
            raw = w * raw + (1.0 - w) * self.linear.raw(X)
        return raw

    def contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Per-feature contributions and base value in raw-score space (they add up to the raw score)."""
        values, base = contributions(self.booster, X, **self.predict_params)
        if self.linear is not None and len(X):
            w = self.linear.weight
            lin_values, lin_base = self.linear.contributions(X)
            values, base = w * values + (1.0 - w) * lin_values, w * base + (1.0 - w) * lin_base
        return values, base

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        """The calibrated prediction (probability or value) for each row."""
        return self.task.predict(df, self.predict_model(df))

    def score(self, df: pd.DataFrame, *, reasons: Reasons | bool = "top", n_reasons: int = 3) -> pd.DataFrame:
        """Score a frame: key, business outputs and (optionally) the top reasons per row.

        ``reasons`` is one of :data:`REASON_MODES` (``True``/``False`` mean
        ``"top"``/``"none"``). Reasons are computed only for the rows that get
        them, so ``"flagged"`` costs a fraction of ``"top"``.
        """
        mode = ("top" if reasons else "none") if isinstance(reasons, bool) else reasons
        if mode not in REASON_MODES:
            raise ValueError(f"reasons must be one of {', '.join(map(repr, REASON_MODES))}. Got {reasons!r} instead.")
        flag = self.task.flag_column
        if mode == "flagged" and flag is None:
            raise ValueError(
                f"reasons='flagged' explains the rows a task flags, but {self.task.title} declares no flag column. "
                "Use reasons='top' or 'none'."
            )
        X = self.encoder.transform(df)
        matrix = X.to_numpy(dtype=np.float64)
        raw = self._raw(X, matrix)
        pred = self.task.predict(df, self.calibrator.transform(raw))
        output = self.task.postprocess(pred, df)
        parts = [output]
        if self.key_column in df.columns:
            parts.insert(0, df[[self.key_column]])
        if mode != "none" and self.task.explained_by_model():
            rows = np.flatnonzero(output[flag].to_numpy(dtype=bool)) if mode == "flagged" else np.arange(len(df))
            values, base = self.contributions(X.iloc[rows])
            found = explain_reasons(values, X.iloc[rows], self.encoder, n=n_reasons, templates=self.task.reason_templates())
            if len(rows) < len(df):  # rows not explained get empty reasons
                full = pd.DataFrame("", index=X.index, columns=found.columns, dtype=object)
                full.iloc[rows] = found.to_numpy(dtype=object)
                found = full.astype(pd.Series([""]).dtype)  # the dtype pandas gives text (as "top" has)
            parts.append(found)
            if mode == "all":
                names = [f"{CONTRIBUTION_PREFIX}{f}" for f in X.columns] + [f"{CONTRIBUTION_PREFIX}base"]
                parts.append(pd.DataFrame(np.column_stack([values, base]), index=X.index, columns=names))
        return pd.concat(parts, axis=1)

    def score_one(self, record: Mapping[str, Any], *, reasons: Reasons | bool = "top") -> dict[str, Any]:
        """Score a single record (a dict of column -> value)."""
        frame = pd.DataFrame([dict(record)])
        return self.score(frame, reasons=reasons).iloc[0].to_dict()


def _bundle_dir(path: Path) -> Path:
    """Find the bundle inside an MLflow model folder (or accept a bundle folder)."""
    if (path / "MANIFEST.json").is_file() or (path / "metadata.json").is_file():
        return path  # a bundle folder; read_bundle refuses it if the manifest is gone
    candidate = path / "artifacts" / "bundle"
    if (candidate / "MANIFEST.json").is_file():
        return candidate
    raise FileNotFoundError(
        f"No salesml model found at {path}: expected a MANIFEST.json there or under artifacts/bundle/. "
        "Pass a models:/ URI, a runs:/ URI or the folder a salesml model was saved to."
    )


def existing_store(store: str, uri: str) -> str:
    """``store`` when it exists: MLflow would create an empty SQLite store, then fail to find ``uri`` in it."""
    if store.startswith("sqlite:///") and not Path(store.removeprefix("sqlite:///")).is_file():
        raise FileNotFoundError(
            f"No MLflow store at {store.removeprefix('sqlite:///')} to load {uri} from. Set MLFLOW_TRACKING_URI "
            "(or --tracking-uri) to the store the model was registered in, or pass a model folder."
        )
    return store


def _registered_version(uri: str, tracking_uri: str) -> tuple[str, str, str | None] | None:
    """(name, version, registration signature tag) of a ``models:/name/version`` or ``models:/name@alias`` URI."""
    if not uri.startswith("models:/"):
        return None
    ref = uri[len("models:/") :]
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    if "@" in ref:
        name, alias = ref.split("@", 1)
        mv = client.get_model_version_by_alias(name, alias)
    elif "/" in ref and ref.rsplit("/", 1)[1].isdigit():
        name, version = ref.rsplit("/", 1)
        mv = client.get_model_version(name, version)
    else:
        return None  # a logged model (models:/m-...): not a registered version
    return name, str(mv.version), (mv.tags or {}).get(REGISTRATION_TAG)


def load_model(uri: str | Path, *, tracking_uri: str | None = None) -> Scorer:
    """Load a salesml model from the registry, a run, or a local folder, verifying its digests."""
    path = Path(str(uri))
    if path.exists():
        refuse_pickles(path)
        return Scorer(read_bundle(_bundle_dir(path)))
    import mlflow

    from salesml.tracking.tracker import default_tracking_uri

    store = existing_store(tracking_uri or default_tracking_uri(), str(uri))
    mlflow.set_tracking_uri(store)
    with tempfile.TemporaryDirectory(prefix="salesml-model-") as tmp:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=str(uri), dst_path=tmp))
        refuse_pickles(local)
        bundle = read_bundle(_bundle_dir(local))
    registered = _registered_version(str(uri), tracking_uri or default_tracking_uri())
    if registered is not None:  # the bundle must be the one signed for this name and version
        name, version, tag = registered
        verify_registration(name, version, str(bundle.digest), tag)
    scorer = Scorer(bundle)
    scorer.metadata = {**scorer.metadata, "source_uri": str(uri)}
    return scorer
