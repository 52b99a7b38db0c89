"""KPIs against targets: attainment, traffic lights, the period KPI table and its alerts.

The rules (attainment, light bands, ``rises_in_a_row`` / ``falls_in_a_row`` /
``max_change`` alerts) are in :mod:`salesml.monitoring`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from salesml.core.contracts import parse_datetime
from salesml.monitoring.drift import _DECIMALS, Light, _short

__all__ = ["attainment", "kpi_light", "load_kpis", "kpi_alerts", "KPI_RED_BELOW", "KPI_GREEN_ABOVE"]

KPI_RED_BELOW = 0.8
KPI_GREEN_ABOVE = 0.9


def attainment(actual: float, target: float, direction: str = "higher") -> float:
    """How much of its target a KPI reaches: ``actual / target`` (higher is better) or ``target / actual`` (lower)."""
    if direction == "higher":
        if target <= 0:
            raise ValueError(f"A higher-is-better target must be positive. Got {target} instead.")
        return round(actual / target, _DECIMALS)
    if direction != "lower":
        raise ValueError(f"direction must be 'higher' or 'lower'. Got {direction!r} instead.")
    if target < 0:
        raise ValueError(f"A lower-is-better target must be zero or positive. Got {target} instead.")
    if actual <= 0:
        return math.inf
    if target == 0:
        return 0.0
    return round(target / actual, _DECIMALS)


def kpi_light(value: float, *, red_below: float = KPI_RED_BELOW, green_above: float = KPI_GREEN_ABOVE) -> Light:
    """red below ``red_below``, green above ``green_above``, yellow in between (both ends yellow)."""
    if value < red_below:
        return "red"
    if value > green_above:
        return "green"
    return "yellow"


def load_kpis(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """A period KPI table in long form (``period``, ``kpi``, ``value``), from long or wide input."""
    from salesml.core.sources import read_table

    df = source if isinstance(source, pd.DataFrame) else read_table(source)
    if "period" not in df.columns:
        raise ValueError(
            f"The KPI table needs a 'period' column. Got columns {list(df.columns)}. Use period, kpi, value "
            "(one row per period and KPI) or period plus one column per KPI."
        )
    if {"kpi", "value"} <= set(df.columns):
        long = df[["period", "kpi", "value"]].copy()
    else:
        long = df.melt(id_vars=["period"], var_name="kpi", value_name="value")
    long["kpi"] = long["kpi"].astype(str)
    long["value"] = pd.to_numeric(long["value"], errors="coerce")
    bad = long["value"].isna()
    if bad.any():
        kpis = sorted(long.loc[bad, "kpi"].unique())
        raise ValueError(f"The KPI table has missing or non-numeric values for {kpis}; fill them or drop those rows.")
    if long.duplicated(["period", "kpi"]).any():
        raise ValueError("The KPI table has more than one value for the same period and KPI; keep one per pair.")
    order = parse_datetime(long["period"].astype(str))
    long["_order"] = order if order.notna().all() else long["period"].astype(str)
    long = long.sort_values(["kpi", "_order"], kind="stable").drop(columns="_order").reset_index(drop=True)
    long["period"] = long["period"].astype(str)
    return long


def kpi_alerts(kpis: pd.DataFrame, settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every alert the period table fires, by KPI and period (``active`` at each KPI's latest period).

    ``settings`` maps KPI names to their :class:`~salesml.monitoring.settings.KpiSettings`.
    """
    alerts: list[dict[str, Any]] = []
    for name, rules in settings.items():
        series = kpis[kpis["kpi"] == name]
        if series.empty:
            continue
        periods, values = series["period"].tolist(), series["value"].to_numpy(dtype=float)
        last = len(values) - 1
        for n, sign, word in ((rules.rises_in_a_row, 1, "rose"), (rules.falls_in_a_row, -1, "fell")):
            if not n:
                continue
            steps = np.sign(np.diff(values)) == sign
            for t in range(n, len(values)):
                if steps[t - n : t].all():
                    trail = " -> ".join(_short(v) for v in values[t - n : t + 1])
                    alerts.append(
                        {
                            "kpi": name,
                            "period": periods[t],
                            "rule": f"{'rises' if sign > 0 else 'falls'}_in_a_row: {n}",
                            "message": f"{name} {word} {n} periods in a row ({trail})",
                            "active": t == last,
                        }
                    )
        if rules.max_change:
            for t in range(1, len(values)):
                prev, now = values[t - 1], values[t]
                change = math.inf if prev == 0 and now != 0 else 0.0 if prev == 0 else round(abs(now / prev - 1), _DECIMALS)
                if change > rules.max_change:
                    alerts.append(
                        {
                            "kpi": name,
                            "period": periods[t],
                            "rule": f"max_change: {rules.max_change:g}",
                            "message": f"{name} moved {_pct(now / prev - 1) if prev else 'from 0'} on the previous period "
                            f"({_short(prev)} -> {_short(now)}; limit {rules.max_change:.0%})",
                            "active": t == last,
                        }
                    )
    return alerts


def _pct(x: float) -> str:
    return f"{x:+.1%}"
