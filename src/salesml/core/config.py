"""Run settings: a typed object loaded from ``experiments/*.yaml``.

Three layers are kept apart: model hyperparameters (``model:``, LightGBM
parameters), run settings (everything in this file) and environment
(``MLFLOW_TRACKING_URI`` and credentials, never in YAML).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = ["ExperimentConfig", "DataSettings", "TuningSettings", "TrackingSettings", "load_config", "ConfigError"]


class ConfigError(ValueError):
    """The experiment file is not valid."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SqlSource(_Strict):
    url: str
    query: str


class DataSettings(_Strict):
    """Where the tables come from: the built-in generator, files, or SQL."""

    size: Literal["small", "medium", "large"] = "small"
    n_leads: int | None = None
    seed: int = 0
    tables: dict[str, str | SqlSource] = {}

    @field_validator("n_leads")
    @classmethod
    def _positive(cls, v: int | None) -> int | None:
        if v is not None and v < 100:
            raise ValueError(f"n_leads must be at least 100. Got {v} instead.")
        return v

    @property
    def builtin(self) -> bool:
        return not self.tables


class TuningSettings(_Strict):
    trials: int = 0
    timeout: float | None = None
    search_space: str | None = None
    storage: str | None = None
    study_name: str | None = None

    @field_validator("trials")
    @classmethod
    def _trials(cls, v: int) -> int:
        if v < 0:
            raise ValueError(f"trials must be 0 (no tuning) or a positive int. Got {v} instead.")
        return v


class TrackingSettings(_Strict):
    experiment: str | None = None
    publish: bool = True
    registered_name: str | None = None
    gate_tolerance: float = Field(0.95, gt=0.0, le=1.0)
    shap_rows: int = 2000


class SplitConfig(_Strict):
    """How rows split (:mod:`salesml.core.split`): ``auto`` is ``time`` when the rows have times, else
    ``stratified``; ``group`` keeps each value of the ``group`` column in one part. ``folds`` is K of
    the cross-validation inside the non-holdout rows (tuning, out-of-fold calibration, the refit's
    rounds); 0 or 1 turns it off."""

    method: Literal["auto", "time", "stratified", "group"] = "auto"
    group: str | None = None
    test_fraction: float = 0.2
    valid_fraction: float = 0.15
    folds: int = Field(5, ge=0, le=20)


class ExperimentConfig(_Strict):
    task: str
    data: DataSettings = DataSettings()
    columns: dict[str, Any] = {}
    split: SplitConfig = SplitConfig()
    tuning: TuningSettings = TuningSettings()
    tracking: TrackingSettings = TrackingSettings()
    model: dict[str, Any] = {}
    params: dict[str, Any] = {}
    random_state: int = 0


def load_config(source: str | Path | dict[str, Any] | ExperimentConfig) -> ExperimentConfig:
    """Read and check an experiment file (or dict); errors name the bad key and value."""
    if isinstance(source, ExperimentConfig):
        return source
    if isinstance(source, dict):
        raw, where = source, "the configuration"
    else:
        path = Path(source)
        if not path.is_file():
            raise ConfigError(f"Experiment file {path} does not exist. See experiments/ for examples.")
        raw, where = yaml.safe_load(path.read_text("utf-8")) or {}, str(path)
    try:
        return ExperimentConfig.model_validate(raw)
    except ValidationError as err:
        lines = [f"{where} is not a valid experiment:"]
        for e in err.errors():
            loc = ".".join(str(x) for x in e["loc"])
            lines.append(f"  - {loc}: {e['msg']} (got {e.get('input')!r})")
        raise ConfigError("\n".join(lines)) from None
