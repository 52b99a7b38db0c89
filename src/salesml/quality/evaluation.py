"""Scoring duplicate detection against known clusters: pairwise and cluster precision, recall and F1.

Pairwise scores compare the record pairs put in one cluster with the pairs that truly belong
together; cluster scores count clusters reproduced exactly (same set of records). Both are the
usual entity-resolution measures, and what tests and ``benchmarks/quality.py`` report.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["cluster_pairs", "cluster_scores", "pair_scores"]


def cluster_pairs(ids: pd.Series | np.ndarray, labels: pd.Series | np.ndarray) -> set[tuple[str, str]]:
    """Every pair of ids with the same label, as ``(smaller, larger)``."""
    frame = pd.DataFrame({"id": np.asarray(ids).astype(str), "label": np.asarray(labels).astype(str)})
    pairs: set[tuple[str, str]] = set()
    sizes = frame.groupby("label")["id"].transform("size")
    for _, members in frame[sizes > 1].groupby("label")["id"]:
        m = sorted(members)
        pairs.update((a, b) for i, a in enumerate(m) for b in m[i + 1:])
    return pairs


def _prf(tp: int, n_pred: int, n_true: int) -> dict[str, float]:
    precision = tp / n_pred if n_pred else 1.0
    recall = tp / n_true if n_true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "true_positives": float(tp),
            "predicted": float(n_pred), "actual": float(n_true)}


def pair_scores(predicted: set[tuple[str, str]], actual: set[tuple[str, str]]) -> dict[str, float]:
    """Pairwise precision, recall and F1 (plus the counts behind them)."""
    return _prf(len(predicted & actual), len(predicted), len(actual))


def cluster_scores(ids, predicted_labels, true_labels) -> dict[str, float]:
    """Cluster precision / recall / F1: the share of predicted / true clusters reproduced exactly."""
    ids = np.asarray(ids).astype(str)

    def clusters(labels) -> set[frozenset[str]]:
        frame = pd.DataFrame({"id": ids, "label": np.asarray(labels).astype(str)})
        return {frozenset(g) for _, g in frame.groupby("label")["id"]}

    pred, true = clusters(predicted_labels), clusters(true_labels)
    return _prf(len(pred & true), len(pred), len(true))
