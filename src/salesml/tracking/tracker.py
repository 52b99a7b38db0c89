"""Experiment tracking, passed into the training flow as a collaborator.

:class:`MLflowTracker` logs to MLflow: a local SQLite store (``./mlflow.db``,
artifacts under ``./mlartifacts``) when ``MLFLOW_TRACKING_URI`` is not set, or
the server the environment names. :class:`NullTracker` does nothing, for tests
and quick notebook work. Both satisfy :class:`Tracker`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pandas as pd

logger = logging.getLogger(__name__)

__all__ = ["Tracker", "NullTracker", "MLflowTracker", "default_tracking_uri", "store_lock"]

_PYFUNC_CODE = Path(__file__).with_name("_pyfunc_model.py")
# MLflow's per-file download bars flood logs of batch jobs and CI.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def default_tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` if set, else a SQLite store in the working directory."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path('mlflow.db').resolve()}"


_HELD: dict[str, list[Any]] = {}  # lock path -> [open file, depth]: re-entrant within a process
_HELD_GUARD = threading.Lock()


@contextlib.contextmanager
def store_lock(tracking_uri: str) -> Iterator[None]:
    """Hold an exclusive lock on a local SQLite MLflow store (a no-op for servers, which serialise themselves).

    Creating a store's tables, creating an experiment, and the registry's
    read-modify-write of the champion alias and history all happen under it, so
    two trainings started at once on a fresh ``mlflow.db`` both succeed and
    neither loses the other's promotion. Re-entrant within one process.
    """
    if not tracking_uri.startswith("sqlite:///"):
        yield
        return
    import fcntl

    db = Path(tracking_uri.removeprefix("sqlite:///")).resolve()
    path = str(db.with_name(db.name + ".salesml-lock"))
    with _HELD_GUARD:
        held = _HELD.get(path)
        if held is not None:
            held[1] += 1
    if held is None:
        db.parent.mkdir(parents=True, exist_ok=True)
        fh = open(path, "a")  # noqa: SIM115 - held for the duration of the block
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)  # blocks: the other job's step takes seconds at most
        with _HELD_GUARD:
            _HELD[path] = [fh, 1]
    try:
        yield
    finally:
        with _HELD_GUARD:
            entry = _HELD[path]
            entry[1] -= 1
            if entry[1] == 0:
                del _HELD[path]
                entry[0].close()  # releases the flock


@runtime_checkable
class Tracker(Protocol):
    """What the training flow needs from a tracking backend."""

    def run(self, name: str, *, nested: bool = False, tags: Mapping[str, str] | None = None) -> Any: ...
    def log_params(self, params: Mapping[str, Any]) -> None: ...
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None: ...
    def log_figure(self, figure: Any, path: str) -> None: ...
    def log_dict(self, data: Mapping[str, Any], path: str) -> None: ...
    def log_table(self, table: pd.DataFrame, path: str) -> None: ...
    def set_tags(self, tags: Mapping[str, str]) -> None: ...
    def log_model(self, bundle_dir: Path, *, input_example: pd.DataFrame, output_example: pd.DataFrame) -> str | None: ...


class NullTracker:
    """A tracker that records nothing (tests, quick experiments)."""

    run_id: str | None = None

    @contextlib.contextmanager
    def run(self, name: str, *, nested: bool = False, tags: Mapping[str, str] | None = None) -> Iterator[None]:
        yield None

    def log_params(self, params: Mapping[str, Any]) -> None:
        return None

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        return None

    def log_figure(self, figure: Any, path: str) -> None:
        import matplotlib.pyplot as plt

        plt.close(figure)

    def log_dict(self, data: Mapping[str, Any], path: str) -> None:
        return None

    def log_table(self, table: pd.DataFrame, path: str) -> None:
        return None

    def set_tags(self, tags: Mapping[str, str]) -> None:
        return None

    def log_model(self, bundle_dir: Path, *, input_example: pd.DataFrame, output_example: pd.DataFrame) -> None:
        return None


def _flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{name}."))
        else:
            text = json.dumps(value, default=str) if isinstance(value, (list, tuple)) else str(value)
            out[name] = text[:6000]
    return out


class MLflowTracker:
    """Log runs, metrics, plots and models to MLflow.

    Parameters
    ----------
    experiment : the MLflow experiment name (one per task: ``salesml-lead-scoring``).
    tracking_uri : overrides ``MLFLOW_TRACKING_URI`` / the local default.
    artifact_root : where a *new* experiment of a local SQLite store keeps artifacts
        (default ``mlartifacts/`` beside the database file); ignored for servers.
    """

    def __init__(self, experiment: str, *, tracking_uri: str | None = None, artifact_root: str | None = None):
        import mlflow

        self.experiment = experiment
        self.tracking_uri = tracking_uri or default_tracking_uri()
        mlflow.set_tracking_uri(self.tracking_uri)
        with store_lock(self.tracking_uri):  # first use creates the tables: one process at a time
            self.client = mlflow.MlflowClient(tracking_uri=self.tracking_uri)
            self.client._get_registry_client()  # the registry store too (same tables, created on first use)
            found = self.client.get_experiment_by_name(experiment)
            if found is None:
                location = None
                if self.tracking_uri.startswith("sqlite:///"):
                    # keep artifacts beside the database file, wherever the working directory is
                    db = Path(self.tracking_uri.removeprefix("sqlite:///"))
                    location = Path(artifact_root or db.parent / "mlartifacts").resolve().as_uri()
                self.experiment_id = self.client.create_experiment(experiment, artifact_location=location)
            else:
                self.experiment_id = found.experiment_id
        self.run_id: str | None = None

    @contextlib.contextmanager
    def run(self, name: str, *, nested: bool = False, tags: Mapping[str, str] | None = None) -> Iterator[str]:
        import mlflow

        # `mlflow run` hands its own run to the entry point through MLFLOW_RUN_ID; our runs
        # live in the task's experiment, so keep that launcher run aside and link to it.
        launcher = os.environ.pop("MLFLOW_RUN_ID", None)
        all_tags = dict(tags or {})
        if launcher:
            all_tags["salesml.launcher_run_id"] = launcher
        try:
            with mlflow.start_run(
                run_name=name, experiment_id=self.experiment_id, nested=nested, tags=all_tags
            ) as active:
                previous, self.run_id = self.run_id, active.info.run_id
                try:
                    yield active.info.run_id
                finally:
                    self.run_id = previous
        finally:
            if launcher:
                os.environ["MLFLOW_RUN_ID"] = launcher

    def log_params(self, params: Mapping[str, Any]) -> None:
        import mlflow

        mlflow.log_params(_flatten(params))

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        import mlflow

        clean = {k: float(v) for k, v in metrics.items() if v is not None}
        mlflow.log_metrics(clean, step=step)

    def log_figure(self, figure: Any, path: str) -> None:
        import matplotlib.pyplot as plt
        import mlflow

        mlflow.log_figure(figure, path)
        plt.close(figure)

    def log_dict(self, data: Mapping[str, Any], path: str) -> None:
        import mlflow

        mlflow.log_dict(dict(data), path)

    def log_table(self, table: pd.DataFrame, path: str) -> None:
        import mlflow

        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / Path(path).name
            table.to_csv(target, index=False)
            mlflow.log_artifact(str(target), artifact_path=str(Path(path).parent) if "/" in path else None)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        import mlflow

        mlflow.set_tags(dict(tags))

    def log_model(self, bundle_dir: Path, *, input_example: pd.DataFrame, output_example: pd.DataFrame) -> str:
        """Log the bundle as an MLflow pyfunc model ("models from code": no pickle); returns its URI."""
        from mlflow.models import infer_signature

        with warnings.catch_warnings():
            # Our example is made up on purpose (no customer data), so MLflow's hints about
            # integer columns and predict() type hints do not apply.
            warnings.filterwarnings("ignore", message=".*[Ii]nteger column.*")
            warnings.filterwarnings("ignore", message=".*type hints to the `predict` method.*")
            # The served model takes `reasons` (top / flagged / all / none) as a request parameter.
            signature = infer_signature(input_example, output_example, params={"reasons": "top"})
            return self._log_model(bundle_dir, input_example, signature)

    def _log_model(self, bundle_dir: Path, input_example: pd.DataFrame, signature: Any) -> str:
        import mlflow

        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(_PYFUNC_CODE),
            artifacts={"bundle": str(bundle_dir)},
            signature=signature,
            input_example=input_example,
            pip_requirements=_requirements(),
        )
        return info.model_uri


def _requirements() -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    reqs = []
    for name in ("salesml", "lightgbm", "numpy", "pandas", "scikit-learn", "scipy", "pandera", "pyyaml"):
        try:
            reqs.append(f"{name}=={version(name)}")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            continue
    return reqs
