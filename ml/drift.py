"""Population stability (PSI) of every feature and of the score against the training reference.

The reference is stored with the model (`bundle.json`): for each feature, bin edges (deciles of the
training rows; categorical: one bin per category) plus a bin for missing or unseen values, and the
share of training rows per bin; for the score, deciles of the calibrated probability on the
training rows' out-of-fold predictions (in-sample predictions are over-confident).
Counts are additive, so a scoring run accumulates them chunk by chunk and never holds all rows.

PSI = sum over bins of (actual - expected) * ln(actual / expected), with empty bins floored at
1e-4. Rules of thumb: < 0.1 stable, 0.1-0.25 moderate, > 0.25 large (alert).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from growthlab.warehouse.db import connect
from ml.features import CLOCK_BUCKETS

log = logging.getLogger(__name__)

EPSILON = 1e-4
SCORE_SUBJECT = "__score__"


@dataclass
class BinSpec:
    kind: str  # numeric | categorical
    edges: list[float] = field(default_factory=list)  # numeric: inner edges
    n_categories: int = 0
    expected: list[float] = field(default_factory=list)

    @property
    def n_bins(self) -> int:
        return (len(self.edges) + 2) if self.kind == "numeric" else (self.n_categories + 1)

    def bin(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        missing = np.isnan(values)
        if self.kind == "numeric":
            out = np.searchsorted(np.asarray(self.edges), np.where(missing, 0.0, values), side="right")
            out[missing] = self.n_bins - 1
            return out.astype(np.int64)
        out = np.where(missing, self.n_categories, values).astype(np.int64)
        out[(out < 0) | (out > self.n_categories)] = self.n_categories
        return out

    def counts(self, values: np.ndarray) -> np.ndarray:
        return np.bincount(self.bin(values), minlength=self.n_bins)

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "edges": self.edges,
            "n_categories": self.n_categories,
            "expected": self.expected,
        }

    @classmethod
    def from_dict(cls, data: dict) -> BinSpec:
        return cls(data["kind"], list(data["edges"]), int(data["n_categories"]), list(data["expected"]))


def numeric_spec(values: np.ndarray, bins: int = 10) -> BinSpec:
    values = np.asarray(values, dtype=np.float64)
    finite = values[~np.isnan(values)]
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1])).tolist() if len(finite) else []
    spec = BinSpec("numeric", edges=edges)
    spec.expected = _shares(spec.counts(values))
    return spec


def categorical_spec(codes: np.ndarray, n_categories: int) -> BinSpec:
    spec = BinSpec("categorical", n_categories=n_categories)
    spec.expected = _shares(spec.counts(codes))
    return spec


def _shares(counts: np.ndarray) -> list[float]:
    total = counts.sum()
    return (counts / total).tolist() if total else [0.0] * len(counts)


def psi(expected: np.ndarray | list[float], actual_counts: np.ndarray) -> float:
    e = np.maximum(np.asarray(expected, dtype=np.float64), EPSILON)
    total = actual_counts.sum()
    if total == 0:
        return float("nan")
    a = np.maximum(actual_counts / total, EPSILON)
    return float(np.sum((a - e) * np.log(a / e)))


@dataclass
class DriftReference:
    features: dict[str, BinSpec]
    score: BinSpec

    def to_dict(self) -> dict:
        return {
            "features": {k: v.to_dict() for k, v in self.features.items()},
            "score": self.score.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> DriftReference:
        return cls(
            {k: BinSpec.from_dict(v) for k, v in data["features"].items()},
            BinSpec.from_dict(data["score"]),
        )


def build_reference(
    X: np.ndarray, features: list[str], categories: dict[str, list[str]], scores: np.ndarray
) -> DriftReference:
    specs = {}
    for j, name in enumerate(features):
        if name in categories:
            specs[name] = categorical_spec(X[:, j], len(categories[name]))
        else:
            specs[name] = numeric_spec(X[:, j])
    return DriftReference(specs, numeric_spec(scores))


class DriftAccumulator:
    """Adds up bin counts chunk by chunk; `results()` gives PSI per feature and for the score."""

    def __init__(self, reference: DriftReference, features: list[str]) -> None:
        self.reference = reference
        self.features = features
        self.counts = {name: np.zeros(reference.features[name].n_bins, dtype=np.int64) for name in features}
        self.score_counts = np.zeros(reference.score.n_bins, dtype=np.int64)
        self.rows = 0

    def add(self, X: np.ndarray, scores: np.ndarray) -> None:
        for j, name in enumerate(self.features):
            self.counts[name] += self.reference.features[name].counts(X[:, j])
        self.score_counts += self.reference.score.counts(scores)
        self.rows += len(scores)

    def results(self) -> dict[str, dict]:
        out = {}
        for name in self.features:
            spec = self.reference.features[name]
            out[name] = {
                "psi": psi(spec.expected, self.counts[name]),
                "expected": spec.expected,
                "actual": _shares(self.counts[name]),
            }
        out[SCORE_SUBJECT] = {
            "psi": psi(self.reference.score.expected, self.score_counts),
            "expected": self.reference.score.expected,
            "actual": _shares(self.score_counts),
        }
        return out


def write_monitoring(
    conn, as_of_date: date, model_version: str, results: dict[str, dict], threshold: float
) -> int:
    """Replace this as-of date's and model version's PSI rows in ml.monitoring (idempotent).

    Runs on the caller's connection, inside its transaction (the scoring run's)."""
    with conn.cursor() as cur:
        cur.execute(
            "delete from ml.monitoring where as_of_date = %s and model_version = %s and metric = 'psi'",
            (as_of_date, model_version),
        )
        rows = [
            (
                as_of_date,
                model_version,
                "psi",
                subject,
                None if np.isnan(item["psi"]) else round(item["psi"], 6),
                threshold,
                json.dumps({"expected": item["expected"], "actual": item["actual"]}),
            )
            for subject, item in results.items()
        ]
        cur.executemany(
            "insert into ml.monitoring (as_of_date, model_version, metric, subject, value, threshold, details) "
            "values (%s, %s, %s, %s, %s, %s, %s)",
            rows,
        )
    return len(rows)


def raise_drift_alerts(url: str, as_of_date: date, model_version: str, threshold: float) -> list[tuple]:
    """Read this run's PSI rows; above the threshold: one ops.alerts row (once) and a warning.

    Day counters (ml/features.CLOCK_BUCKETS: days since created, since last engagement) are
    recorded but never alert: they move with the age of the contact base by construction, so
    against a training window months old they always "drift".

    Returns [(subject, psi)] above the threshold, worst first.
    """
    with connect(url) as conn:
        drifted = conn.execute(
            "select subject, value from ml.monitoring where as_of_date = %s and model_version = %s "
            "and metric = 'psi' and value > %s and not subject = any(%s) order by value desc",
            (as_of_date, model_version, threshold, list(CLOCK_BUCKETS)),
        ).fetchall()
        if not drifted:
            log.info(
                "drift: every PSI is at or below %.2f for model v%s on %s",
                threshold,
                model_version,
                as_of_date,
            )
            return []
        names = ", ".join(f"{'score' if s == SCORE_SUBJECT else s} ({v:.2f})" for s, v in drifted)
        message = (
            f"population drift vs training data above PSI {threshold:.2f} for {len(drifted)} input(s) of "
            f"lead_scoring v{model_version} on {as_of_date}: {names}. Check the marts build; retrain "
            f"(`growthlab model train`) if the shift is real"
        )
        log.warning(message)
        key = f"{as_of_date}/{model_version}"
        exists = conn.execute(
            "select 1 from ops.alerts where source = 'ml.drift' and details->>'key' = %s", (key,)
        ).fetchone()
        if not exists:
            conn.execute(
                "insert into ops.alerts (source, severity, message, details) values ('ml.drift', 'warning', %s, %s)",
                (
                    message,
                    json.dumps(
                        {
                            "key": key,
                            "as_of_date": as_of_date.isoformat(),
                            "model_version": model_version,
                            "threshold": threshold,
                            "psi": {s: v for s, v in drifted},
                        }
                    ),
                ),
            )
        conn.commit()
    return [tuple(row) for row in drifted]
