"""MLflow "models from code" entry: the pyfunc wrapper MLflow serves.

MLflow stores this file's *source* beside the bundle and runs it when the model
is loaded through ``mlflow.pyfunc.load_model`` or ``mlflow models serve``; no
Python object is pickled. The wrapper verifies the bundle's digests before use.
"""

from __future__ import annotations

import mlflow
from mlflow.pyfunc import PythonModel


class SalesmlModel(PythonModel):
    def load_context(self, context) -> None:
        from salesml.tracking.artifact import read_bundle
        from salesml.scoring.scorer import Scorer

        self.scorer = Scorer(read_bundle(context.artifacts["bundle"]))

    def predict(self, context, model_input, params=None):
        reasons = (params or {}).get("reasons", "top")
        return self.scorer.score(model_input, reasons=reasons)


mlflow.models.set_model(SalesmlModel())
