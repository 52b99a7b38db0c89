"""salesml: machine-learning pipelines for sales teams.

Lead scoring, CLV, churn and sales forecasting, each trained,
tuned (Optuna), tracked (MLflow) and explained (SHAP) by one shared flow::

    import salesml
    crm = salesml.make_crm(random_state=0)
    result = salesml.train("experiments/lead_scoring.yaml", tables=crm.tables())
    scorer = salesml.load_model("models:/salesml-lead-scoring@champion")
    scorer.score(new_leads)
    salesml.score_batch("models:/salesml-lead-scoring@champion", "tonight.parquet", "out/scores.parquet")

Customer snapshots (:mod:`salesml.snapshots`) feed CLV and churn, whose scores
make value x risk segments (:mod:`salesml.segments`).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from salesml.artifact import IntegrityError
from salesml.batch import BatchResult, RejectRateExceeded, score_batch
from salesml.config import ConfigError, ExperimentConfig, load_config
from salesml.contracts import DataValidationError
from salesml.datasets import CRMData, load_crm, make_crm, make_leads, make_sales
from salesml.features import MissingColumnsError, TabularEncoder
from salesml.flow import TrainResult, train
from salesml import segments, snapshots
from salesml.scoring import Scorer, load_model
from salesml.tasks import TASKS, get_task
from salesml.tasks.forecasting import forecast
from salesml.tracking import MLflowTracker, NullTracker

try:
    __version__ = version("salesml")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "make_crm",
    "make_leads",
    "load_crm",
    "CRMData",
    "train",
    "TrainResult",
    "snapshots",
    "segments",
    "load_model",
    "Scorer",
    "score_batch",
    "BatchResult",
    "RejectRateExceeded",
    "load_config",
    "ExperimentConfig",
    "TASKS",
    "get_task",
    "MLflowTracker",
    "NullTracker",
    "TabularEncoder",
    "DataValidationError",
    "MissingColumnsError",
    "IntegrityError",
    "ConfigError",
    "__version__",
    "make_sales",
    "forecast",
]
