"""The model registry and its publish gate.

Every model that passes the data-sufficiency check is registered as a new
version of ``salesml-<task>``. The alias ``champion`` moves to it only when
the gate passes: there is no champion yet, or the candidate's primary metric
is at least ``tolerance`` (default 95 %) of the champion's, both measured on
the candidate's holdout when the champion can be re-scored there. The rule,
both figures and the decision are written as tags on the version.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass

logger = logging.getLogger(__name__)

__all__ = ["GateDecision", "gate", "publish", "CHAMPION"]

CHAMPION = "champion"


@dataclass(frozen=True)
class GateDecision:
    promoted: bool
    reason: str
    metric: str
    candidate: float
    champion: float | None = None
    champion_version: str | None = None
    tolerance: float = 0.95
    champion_measured_on: str = ""

    def as_tags(self) -> dict[str, str]:
        return {f"salesml.gate.{k}": "" if v is None else str(v) for k, v in asdict(self).items()}


def gate(
    *,
    metric: str,
    candidate: float,
    champion: float | None,
    greater_is_better: bool,
    tolerance: float = 0.95,
    champion_version: str | None = None,
    champion_measured_on: str = "",
) -> GateDecision:
    """Decide whether a candidate may replace the champion."""
    if champion is None:
        return GateDecision(True, "no champion yet", metric, candidate, None, None, tolerance)
    if greater_is_better:
        passed = candidate >= tolerance * champion
        rule = f"{metric} {candidate:.4f} {'>=' if passed else '<'} {tolerance:.2f} x champion {champion:.4f}"
    else:
        passed = candidate <= champion / tolerance
        rule = f"{metric} {candidate:.4f} {'<=' if passed else '>'} champion {champion:.4f} / {tolerance:.2f}"
    return GateDecision(passed, rule, metric, candidate, champion, champion_version, tolerance, champion_measured_on)


def publish(
    client,
    *,
    name: str,
    model_uri: str,
    run_id: str | None,
    metric: str,
    candidate: float,
    greater_is_better: bool,
    tolerance: float = 0.95,
    rescore_champion: Callable[[str], float] | None = None,
) -> tuple[str, GateDecision]:
    """Register ``model_uri`` as a new version of ``name`` and move the champion alias if the gate passes."""
    import mlflow
    from mlflow.exceptions import MlflowException

    champion_value: float | None = None
    champion_version: str | None = None
    measured_on = ""
    try:
        current = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        current = None
    if current is not None:
        champion_version = str(current.version)
        if rescore_champion is not None:
            try:
                champion_value = float(rescore_champion(f"models:/{name}/{current.version}"))
                measured_on = "candidate holdout"
            except Exception as err:  # the champion may read other columns than the new data has
                logger.warning("could not re-score champion v%s on the new holdout (%s); using its logged metric", current.version, err)
        if champion_value is None and current.run_id:
            logged = client.get_run(current.run_id).data.metrics.get(f"test.{metric}")
            if logged is not None:
                champion_value = float(logged)
                measured_on = "its own holdout"
    decision = gate(
        metric=metric,
        candidate=candidate,
        champion=champion_value,
        greater_is_better=greater_is_better,
        tolerance=tolerance,
        champion_version=champion_version,
        champion_measured_on=measured_on,
    )
    version = mlflow.register_model(model_uri, name, tags=decision.as_tags() | ({"salesml.run_id": run_id} if run_id else {}))
    if decision.promoted:
        client.set_registered_model_alias(name, CHAMPION, version.version)
    logger.info("registered %s v%s: %s (%s)", name, version.version, "champion" if decision.promoted else "not promoted", decision.reason)
    return str(version.version), decision
