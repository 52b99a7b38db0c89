"""The model registry, its publish gate, and the champion's history.

Every model that passes the data-sufficiency check is registered as a new
version of ``salesml-<task>``. The alias ``champion`` moves to it only when
the gate passes: there is no champion yet, or the candidate's primary metric
is at least ``tolerance`` (default 95 %) of the champion's, both measured on
the candidate's holdout when the champion can be re-scored there. The rule,
both figures and the decision are written as tags on the version
(``salesml.gate.*``).

History: whenever the champion changes (the gate, a manual :func:`promote`, a
:func:`rollback`), the alias ``previous-champion`` points at the one it
replaced, both versions get tags saying when and why, and the registered model
keeps the whole sequence as JSON in its tag ``salesml.champion_history``.
Rolling back replays that history: it undoes the latest promotion, so two
rollbacks after promoting v1, v2, v3 leave v1 as champion. From the command
line: ``salesml promote --task lead-scoring --version 3``,
``salesml rollback --task lead-scoring``, ``salesml history --task lead-scoring``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

logger = logging.getLogger(__name__)

__all__ = [
    "GateDecision",
    "GateRefused",
    "gate",
    "publish",
    "promote",
    "rollback",
    "set_champion",
    "champion_history",
    "CHAMPION",
    "PREVIOUS_CHAMPION",
]

CHAMPION = "champion"
PREVIOUS_CHAMPION = "previous-champion"
HISTORY_TAG = "salesml.champion_history"
#: Champion changes kept in the history tag (the oldest are dropped beyond this).
MAX_HISTORY = 500


class GateRefused(ValueError):
    """A manual promotion the publish gate does not allow (pass ``force`` to override)."""


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
    rule: str = ""

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
    rule = (
        f"promote when there is no champion, or when the candidate's {metric} is "
        + (f">= {tolerance:g} x the champion's" if greater_is_better else f"<= the champion's / {tolerance:g}")
        + " (both on the candidate's holdout when the champion can be re-scored there)"
    )
    if champion is None:
        return GateDecision(True, "no champion yet", metric, candidate, None, None, tolerance, rule=rule)
    if greater_is_better:
        passed = candidate >= tolerance * champion
        rule_text = f"{metric} {candidate:.4f} {'>=' if passed else '<'} {tolerance:.2f} x champion {champion:.4f}"
    else:
        passed = candidate <= champion / tolerance
        rule_text = f"{metric} {candidate:.4f} {'<=' if passed else '>'} champion {champion:.4f} / {tolerance:.2f}"
    return GateDecision(passed, rule_text, metric, candidate, champion, champion_version, tolerance, champion_measured_on, rule)


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
    fingerprint: str | None = None,
) -> tuple[str, GateDecision]:
    """Register ``model_uri`` as a new version of ``name`` and move the champion alias if the gate passes.

    The champion is compared on the candidate's holdout (``rescore_champion``). When it cannot be
    re-scored there, its logged metric is used only if it was trained under the same data contract and
    config (``fingerprint``, the run tag ``salesml.fingerprint``); otherwise the figures are not
    comparable, the candidate is registered but not promoted, and the reason says how to promote it
    explicitly (``salesml promote --version N --force``).
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    champion_value: float | None = None
    champion_version: str | None = None
    measured_on = ""
    not_comparable = ""
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
                not_comparable = f"champion v{current.version} cannot be scored on this candidate's holdout ({err})"
                logger.warning("%s", not_comparable)
        if champion_value is None and current.run_id:
            run = client.get_run(current.run_id)
            same = fingerprint is not None and run.data.tags.get("salesml.fingerprint") == fingerprint
            logged = run.data.metrics.get(f"test.{metric}")
            if logged is not None and same:
                champion_value = float(logged)
                measured_on = "its own holdout (same data contract and config)"
            elif not not_comparable:
                not_comparable = f"champion v{current.version} was trained under another data contract or config"
    if not_comparable:
        decision = GateDecision(
            False,
            f"not comparable: {not_comparable}; its {metric} on other data does not say which model is better. "
            f"Promote explicitly if this one should serve: salesml promote --version N --force",
            metric, candidate, None, str(current.version), tolerance, "", "the champion is compared on the "
            "candidate's holdout; a champion that cannot be scored there is not beaten by a figure from other data",
        )
    else:
        decision = gate(
            metric=metric,
            candidate=candidate,
            champion=champion_value,
            greater_is_better=greater_is_better,
            tolerance=tolerance,
            champion_version=champion_version,
            champion_measured_on=measured_on,
        )
    tags = decision.as_tags() | {
        "salesml.gate.decided_at": _now(),
        "salesml.gate.decision": "promoted to champion"
        if decision.promoted
        else f"not promoted; champion stays v{champion_version}",
    }
    version = mlflow.register_model(model_uri, name, tags=tags | ({"salesml.run_id": run_id} if run_id else {}))
    if decision.promoted:
        set_champion(client, name, str(version.version), by="gate", reason=decision.reason)
    logger.info("registered %s v%s: %s (%s)", name, version.version, "champion" if decision.promoted else "not promoted", decision.reason)
    return str(version.version), decision


# ------------------------------------------------------------------ history
def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _alias_version(client, name: str, alias: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def champion_history(client, name: str) -> list[dict[str, Any]]:
    """Every change of ``name``'s champion, oldest first: when, what, which versions, by whom, why."""
    tags = client.get_registered_model(name).tags or {}
    raw = tags.get(HISTORY_TAG)
    return list(json.loads(raw)) if raw else []


def _stack(history: list[dict[str, Any]]) -> list[str]:
    """The champions in order, replaying the history: a promotion pushes, a rollback pops."""
    stack: list[str] = []
    for event in history:
        if event["action"] == "promoted":
            stack.append(str(event["version"]))
        elif event["action"] == "rolled back" and stack:
            stack.pop()
    return stack


def _record(client, name: str, event: dict[str, Any]) -> None:
    history = champion_history(client, name) + [event]
    client.set_registered_model_tag(name, HISTORY_TAG, json.dumps(history[-MAX_HISTORY:]))


def set_champion(client, name: str, version: str, *, by: str, reason: str) -> dict[str, Any]:
    """Make ``version`` the champion, keeping the replaced one as ``previous-champion``; returns the event recorded."""
    version = str(version)
    client.get_model_version(name, version)  # fails clearly when the version does not exist
    current = _alias_version(client, name, CHAMPION)
    if current == version:
        raise ValueError(f"{name} v{version} is already the champion.")
    at = _now()
    client.set_registered_model_alias(name, CHAMPION, version)
    if current is not None:
        client.set_registered_model_alias(name, PREVIOUS_CHAMPION, current)
        client.set_model_version_tag(name, current, "salesml.champion_until", at)
        client.set_model_version_tag(name, current, "salesml.replaced_by", version)
    for key, value in {"salesml.champion_since": at, "salesml.promoted_by": by, "salesml.promotion_reason": reason}.items():
        client.set_model_version_tag(name, version, key, value)
    event = {"at": at, "action": "promoted", "version": version, "previous": current, "by": by, "reason": reason}
    _record(client, name, event)
    logger.info("%s: champion is now v%s (was %s; %s)", name, version, f"v{current}" if current else "none", reason)
    return event


def promote(
    client,
    name: str,
    version: str | int,
    *,
    metric: str,
    greater_is_better: bool,
    tolerance: float = 0.95,
    force: bool = False,
    reason: str = "",
) -> GateDecision:
    """Manually make ``version`` the champion, through the publish gate on the logged holdout figures.

    The candidate's and the champion's ``test.<metric>`` come from their
    training runs (each on its own holdout: the data is not at hand here). A
    version below the gate is refused with :class:`GateRefused` unless
    ``force`` is set; the decision, the figures and ``reason`` are recorded as
    ``salesml.promotion.*`` tags on the version either way it goes through.
    """
    version = str(version)
    mv = client.get_model_version(name, version)
    current = _alias_version(client, name, CHAMPION)
    if current == version:
        raise ValueError(f"{name} v{version} is already the champion.")

    def logged(v) -> float | None:
        run_id = v.run_id or (v.tags or {}).get("salesml.run_id")
        value = client.get_run(run_id).data.metrics.get(f"test.{metric}") if run_id else None
        return None if value is None else float(value)

    candidate = logged(mv)
    champion = logged(client.get_model_version(name, current)) if current else None
    if candidate is None:
        if not force:
            raise GateRefused(
                f"{name} v{version} has no logged test.{metric} to put through the gate. "
                "Use --force (and a --reason) to promote it anyway."
            )
        decision = GateDecision(True, f"forced: no logged test.{metric}", metric, float("nan"), champion, current, tolerance)
    else:
        decision = gate(
            metric=metric,
            candidate=candidate,
            champion=champion,
            greater_is_better=greater_is_better,
            tolerance=tolerance,
            champion_version=current,
            champion_measured_on="its own holdout" if champion is not None else "",
        )
    if not decision.promoted and not force:
        raise GateRefused(
            f"{name} v{version} does not pass the publish gate: {decision.reason}. The champion stays "
            f"v{current}. Use --force with a --reason to promote it anyway."
        )
    forced = not decision.promoted
    tags = {k.replace("salesml.gate.", "salesml.promotion."): v for k, v in decision.as_tags().items()}
    tags |= {"salesml.promotion.forced": str(forced), "salesml.promotion.reason": reason, "salesml.promotion.at": _now()}
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    why = reason or decision.reason
    set_champion(client, name, version, by="manual (forced past the gate)" if forced else "manual", reason=why)
    return decision


def rollback(client, name: str, *, reason: str = "") -> dict[str, Any]:
    """Undo the latest promotion: the champion before it becomes champion again; returns the event recorded."""
    current = _alias_version(client, name, CHAMPION)
    if current is None:
        raise ValueError(f"{name} has no champion, so there is nothing to roll back.")
    stack = _stack(champion_history(client, name))
    if not stack or stack[-1] != current:  # the alias was moved outside salesml: trust the alias
        stack.append(current)
    if len(stack) < 2:
        previous = _alias_version(client, name, PREVIOUS_CHAMPION)
        if previous is None or previous == current:
            raise ValueError(
                f"{name} has no previous champion to roll back to (v{current} is the only champion it has had). "
                "Promote another version with `salesml promote` instead."
            )
        stack = [previous, current]
    target, before = stack[-2], (stack[-3] if len(stack) >= 3 else None)
    client.get_model_version(name, target)  # fails clearly if it was deleted
    at = _now()
    client.set_registered_model_alias(name, CHAMPION, target)
    if before is not None:
        client.set_registered_model_alias(name, PREVIOUS_CHAMPION, before)
    else:
        from mlflow.exceptions import MlflowException

        try:
            client.delete_registered_model_alias(name, PREVIOUS_CHAMPION)
        except MlflowException:
            pass
    why = reason or "rollback"
    client.set_model_version_tag(name, current, "salesml.rolled_back_at", at)
    client.set_model_version_tag(name, current, "salesml.rollback_reason", why)
    client.set_model_version_tag(name, current, "salesml.champion_until", at)
    client.set_model_version_tag(name, target, "salesml.champion_since", at)
    event = {"at": at, "action": "rolled back", "version": target, "previous": current, "by": "rollback", "reason": why}
    _record(client, name, event)
    logger.info("%s: rolled back from v%s to v%s (%s)", name, current, target, why)
    return event
