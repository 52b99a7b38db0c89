"""Using a trained model: the Scorer (load_model), batch scoring with rejects and manifests,
chunked sources and atomic sinks (files, SQL), and Spark."""

from salesml.scoring.scorer import REASON_MODES, Scorer, load_model

__all__ = ["Scorer", "load_model", "REASON_MODES"]
