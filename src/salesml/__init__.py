"""salesml: machine-learning pipelines for sales teams.

Lead scoring, CLV, churn and sales forecasting, each trained,
tuned (Optuna), tracked (MLflow) and explained (SHAP) by one shared flow::

    import salesml
    crm = salesml.make_crm(random_state=0)
    result = salesml.train("experiments/lead_scoring.yaml", tables=crm.tables())
    scorer = salesml.load_model("models:/salesml-lead-scoring@champion")
    scorer.score(new_leads)
    salesml.score_batch("models:/salesml-lead-scoring@champion", "tonight.parquet", "out/scores.parquet")

Customer snapshots (:mod:`salesml.customers.snapshots`) feed CLV and churn, whose scores
make value x risk segments (:mod:`salesml.customers.segments`).
"""

from __future__ import annotations

import os as _os

# LightGBM's OpenMP threads spin-wait by default; on a shared or loaded machine that runs 10-20x slower.
# The wait policy is read once, when the OpenMP runtime loads (the first `import lightgbm`), so it is set
# here, before any salesml module imports LightGBM; a value the user set wins. See core/boosting.num_threads.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from importlib.metadata import PackageNotFoundError, version

from salesml import _aliases

_aliases.install()

from salesml.tracking.artifact import IntegrityError
from salesml.scoring.batch import BatchResult, RejectRateExceeded, score_batch
from salesml.core.config import ConfigError, ExperimentConfig, load_config
from salesml.core.contracts import DataValidationError
from salesml.datasets import ContactsData, CRMData, load_crm, make_contacts, make_crm, make_leads, make_sales
from salesml.core.features import MissingColumnsError, TabularEncoder
from salesml.core.flow import TrainResult, train
from salesml.customers import segments
from salesml.customers import snapshots
from salesml.scoring.scorer import Scorer, load_model
from salesml.tasks import TASKS, get_task
from salesml.tasks.forecasting import forecast
from salesml.tracking.tracker import MLflowTracker, NullTracker

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
    "make_contacts",
    "ContactsData",
]
