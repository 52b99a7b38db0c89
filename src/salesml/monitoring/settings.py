"""Monitoring settings: KPI targets and alert rules, drift thresholds, light bands and the retrain rule
(``experiments/monitoring.yaml``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from salesml.monitoring.drift import PSI_RED, PSI_YELLOW
from salesml.monitoring.kpis import KPI_GREEN_ABOVE, KPI_RED_BELOW

__all__ = ["MonitorSettings", "KpiSettings", "DriftSettings", "LightSettings", "RetrainSettings", "load_settings"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KpiSettings(_Strict):
    """A KPI's target and alert rules."""

    target: float | None = None
    direction: Literal["higher", "lower"] = "higher"
    rises_in_a_row: int | None = Field(None, ge=1)
    falls_in_a_row: int | None = Field(None, ge=1)
    max_change: float | None = Field(None, gt=0)
    title: str | None = None


class DriftSettings(_Strict):
    yellow: float = PSI_YELLOW
    red: float = PSI_RED
    bins: int = Field(10, ge=2, le=50)


class LightSettings(_Strict):
    red_below: float = KPI_RED_BELOW
    green_above: float = KPI_GREEN_ABOVE


class RetrainSettings(_Strict):
    """When ``salesml monitor`` recommends retraining (any one rule is enough)."""

    on_red_drift: bool = True
    metric_drop: float | None = Field(0.05, ge=0)
    max_age_days: int | None = Field(180, ge=1)


class MonitorSettings(_Strict):
    drift: DriftSettings = DriftSettings()
    lights: LightSettings = LightSettings()
    kpis: dict[str, KpiSettings] = {}
    retrain: RetrainSettings = RetrainSettings()
    experiment: str | None = None


def load_settings(source: str | Path | Mapping[str, Any] | MonitorSettings | None) -> MonitorSettings:
    """Monitoring settings from a YAML file or dict (``experiments/monitoring.yaml`` holds the mission's targets)."""
    if source is None:
        return MonitorSettings()
    if isinstance(source, MonitorSettings):
        return source
    if isinstance(source, Mapping):
        raw, where = dict(source), "the monitoring settings"
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"Monitoring settings {path} do not exist. See experiments/monitoring.yaml.")
        raw, where = yaml.safe_load(path.read_text("utf-8")) or {}, str(path)
    try:
        return MonitorSettings.model_validate(raw)
    except ValidationError as err:
        lines = [f"{where} are not valid monitoring settings:"]
        lines += [f"  - {'.'.join(str(x) for x in e['loc'])}: {e['msg']} (got {e.get('input')!r})" for e in err.errors()]
        raise ValueError("\n".join(lines)) from None
