"""Metrics of a probabilistic classifier, as the gate, MLflow and evaluate-csv report them.

* ROC AUC and PR AUC (average precision): ranking quality.
* Brier score: mean squared error of the probability.
* ECE, expected calibration error with equal-mass bins (each bin the same number of rows). With a
  base rate near 5% equal-width bins put almost every row in the first bin and hide miscalibration
  of the top of the ranking, which is the part sales act on.
* Lift at the top decile: conversion rate of the 10% highest-scored rows / the base rate.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score


@dataclass(frozen=True)
class Metrics:
    rows: int
    positives: int
    base_rate: float
    roc_auc: float
    pr_auc: float
    brier: float
    ece: float
    lift_top_decile: float

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        return {f"{prefix}{k}": float(v) for k, v in asdict(self).items()}


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    if len(y) == 0:
        return float("nan")
    order = np.argsort(p, kind="mergesort")
    total = 0.0
    for part in np.array_split(order, min(bins, len(y))):
        if len(part):
            total += len(part) * abs(p[part].mean() - y[part].mean())
    return float(total / len(y))


def lift_at_top(y: np.ndarray, p: np.ndarray, share: float = 0.1) -> float:
    y = np.asarray(y, dtype=np.float64)
    base = y.mean() if len(y) else 0.0
    if base == 0:
        return float("nan")
    k = max(1, round(share * len(y)))
    top = np.argsort(-np.asarray(p, dtype=np.float64), kind="mergesort")[:k]
    return float(y[top].mean() / base)


def evaluate(y: np.ndarray, p: np.ndarray) -> Metrics:
    """All metrics; ranking metrics are NaN when the rows hold a single class."""
    y = np.asarray(y, dtype=np.int64)
    p = np.asarray(p, dtype=np.float64)
    both = len(np.unique(y)) == 2
    return Metrics(
        rows=len(y),
        positives=int(y.sum()),
        base_rate=float(y.mean()) if len(y) else float("nan"),
        roc_auc=float(roc_auc_score(y, p)) if both else float("nan"),
        pr_auc=float(average_precision_score(y, p)) if both else float("nan"),
        brier=float(brier_score_loss(y, p)) if len(y) else float("nan"),
        ece=expected_calibration_error(y, p),
        lift_top_decile=lift_at_top(y, p),
    )


def reliability_curve(y: np.ndarray, p: np.ndarray, bins: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """(mean predicted, observed rate) per equal-mass bin, for the calibration plot."""
    order = np.argsort(np.asarray(p), kind="mergesort")
    parts = [part for part in np.array_split(order, min(bins, len(order))) if len(part)]
    return (
        np.array([np.mean(np.asarray(p)[part]) for part in parts]),
        np.array([np.mean(np.asarray(y)[part]) for part in parts]),
    )
