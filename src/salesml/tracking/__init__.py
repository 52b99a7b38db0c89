"""MLflow tracking (and a no-op tracker), the registry and its publish gate, and the model
artifact: LightGBM text + JSON + a sha256 manifest, loaded by the pyfunc entry point."""

from salesml.tracking.tracker import MLflowTracker, NullTracker, Tracker, default_tracking_uri

__all__ = ["Tracker", "NullTracker", "MLflowTracker", "default_tracking_uri"]
