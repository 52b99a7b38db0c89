"""Retrain on new data through the publish gate (``salesml retrain``), the action behind the
monitoring report's retrain decision."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

__all__ = ["retrain"]


def retrain(
    config: Any,
    *,
    tables: Mapping[str, pd.DataFrame] | None = None,
    trials: int | None = None,
    reasons: Sequence[str] = (),
    callbacks: list | None = None,
) -> Any:
    """Train the task again on the data ``config`` names and put the result through the publish gate.

    The run is tagged ``salesml.trigger=retrain`` with the monitoring
    ``reasons``; the champion moves only if the gate passes (see
    :mod:`salesml.tracking.registry`). Returns the :class:`~salesml.core.flow.TrainResult`.
    """
    from salesml.core.flow import train

    result = train(config, tables=tables, trials=trials, register=True, callbacks=callbacks)
    if result.run_id:
        import mlflow

        from salesml.tracking.tracker import default_tracking_uri

        client = mlflow.MlflowClient(default_tracking_uri())
        client.set_tag(result.run_id, "salesml.trigger", "retrain")
        if reasons:
            client.set_tag(result.run_id, "salesml.retrain_reasons", "; ".join(reasons)[:5000])
    return result
