"""Leakage check: features that alone predict the label suspiciously well.

Two findings, both reported:

* **leak**: a one-feature model (the feature binned into quantiles, or its categories, each bin
  scored by its smoothed positive rate on fitting rows, evaluated on other rows) reaches ROC AUC >=
  the threshold (default 0.98, or <= 0.02). Nothing honest predicts a 90-day conversion that well
  from one column: it is the label under another name (a window that includes the future, a status
  set by the conversion). Leaks are excluded from the model unless allowed in config.
* **suspect**: a strong feature whose one-feature model beats a model on *all the other features
  together*. That is how information recorded after the outcome looks in practice (the call
  duration of the bank marketing data: AUC 0.82 alone, 0.78 for the other 19 columns); it is kept
  but reported, for a human to decide.

Scores are out of sample: the bins are fitted on one part and evaluated on another, so an ID-like
column does not look predictive by memorising its rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold, StratifiedKFold

SUSPECT_FLOOR = 0.70  # below this a feature is not strong enough to be called suspect
SUSPECT_CANDIDATES = 2  # how many of the strongest features get the (costly) all-others comparison
BINS = 20
SMOOTHING = 20.0


@dataclass(frozen=True)
class FeatureFinding:
    feature: str
    single_auc: float
    verdict: str  # leak | suspect | ok
    others_auc: float | None = None
    excluded: bool = False
    allowed: bool = False

    @property
    def strength(self) -> float:
        return max(self.single_auc, 1.0 - self.single_auc)

    def describe(self) -> str:
        if self.verdict == "leak":
            action = (
                "kept because it is allowed in GROWTHLAB_ML_LEAKAGE_ALLOW"
                if self.allowed
                else "EXCLUDED from the model (allow it with GROWTHLAB_ML_LEAKAGE_ALLOW if it is legitimate)"
            )
            return (
                f"{self.feature}: LEAK - alone it predicts the label almost perfectly "
                f"(ROC AUC {self.single_auc:.3f}); {action}"
            )
        if self.verdict == "suspect":
            return (
                f"{self.feature}: SUSPECTED LEAK - alone it reaches ROC AUC {self.single_auc:.3f}, more than all "
                f"the other features together ({self.others_auc:.3f}); is it recorded after the outcome? "
                f"If so, drop it"
            )
        return f"{self.feature}: ok (alone ROC AUC {self.single_auc:.3f})"


@dataclass
class LeakageReport:
    threshold: float
    findings: list[FeatureFinding] = field(default_factory=list)

    @property
    def excluded(self) -> list[str]:
        return [f.feature for f in self.findings if f.excluded]

    @property
    def flagged(self) -> list[FeatureFinding]:
        return [f for f in self.findings if f.verdict != "ok"]

    def lines(self) -> list[str]:
        flagged = self.flagged
        if not flagged:
            strongest = max(self.findings, key=lambda f: f.strength, default=None)
            tail = f"; strongest single feature: {strongest.describe()}" if strongest else ""
            return [f"no leakage found (threshold ROC AUC {self.threshold:.2f}){tail}"]
        return [f.describe() for f in sorted(flagged, key=lambda f: -f.strength)]

    def as_dict(self) -> dict:
        return {"threshold": self.threshold, "findings": [asdict(f) for f in self.findings]}


def bin_keys(values: pd.Series, categorical: bool) -> np.ndarray:
    """Bin of every value, 0..K-1: categories, or quantile bins of the numbers (edges need no
    label, so they come from every row); missing values get a bin of their own."""
    if categorical:
        codes, uniques = pd.factorize(values.astype("string"), use_na_sentinel=True)
        return np.where(codes < 0, len(uniques), codes).astype(np.int64)
    a = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    finite = a[~np.isnan(a)]
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, BINS + 1)[1:-1])) if len(finite) else np.array([])
    out = np.searchsorted(edges, np.where(np.isnan(a), 0.0, a), side="right").astype(np.int64)
    out[np.isnan(a)] = len(edges) + 1
    return out


def bin_rates(keys_fit: np.ndarray, y_fit: np.ndarray, keys_other: np.ndarray) -> np.ndarray:
    """The one-feature model: each bin's smoothed positive rate on the fitting rows, looked up
    for the other rows (bins unseen when fitting get the prior)."""
    y_fit = np.asarray(y_fit, dtype=np.float64)
    prior = y_fit.mean()
    size = int(max(keys_fit.max(initial=0), keys_other.max(initial=0))) + 1
    positives = np.bincount(keys_fit, weights=y_fit, minlength=size)
    counts = np.bincount(keys_fit, minlength=size)
    rate = (positives + SMOOTHING * prior) / (counts + SMOOTHING)
    return rate[keys_other]


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    if len(np.unique(y)) < 2:
        return 0.5
    return float(roc_auc_score(y, p))


def single_feature_auc(
    frame: pd.DataFrame,
    y: np.ndarray,
    feature: str,
    categorical: bool,
    eval_frame: pd.DataFrame | None = None,
    eval_y: np.ndarray | None = None,
    folds: int = 5,
    seed: int = 0,
    groups: np.ndarray | None = None,
    splits: list | None = None,
) -> float:
    """Out-of-sample AUC of the one-feature model: fit->eval rows, or k-fold when no eval rows
    (grouped when `groups` is given, so a company's rows are never on both sides)."""
    if eval_frame is not None and eval_y is not None:
        keys = bin_keys(pd.concat([frame[feature], eval_frame[feature]], ignore_index=True), categorical)
        scores = bin_rates(keys[: len(frame)], y, keys[len(frame) :])
        return _auc(np.asarray(eval_y), scores)
    y = np.asarray(y)
    keys = bin_keys(frame[feature].reset_index(drop=True), categorical)
    oof = np.zeros(len(y))
    for fit_idx, other_idx in splits or _splits(y, folds, seed, groups):
        oof[other_idx] = bin_rates(keys[fit_idx], y[fit_idx], keys[other_idx])
    return _auc(y, oof)


def _splits(y: np.ndarray, folds: int, seed: int, groups: np.ndarray | None) -> list:
    if groups is not None:
        return list(GroupKFold(n_splits=folds).split(np.zeros(len(y)), y, groups))
    return list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))


def check_leakage(
    frame: pd.DataFrame,
    y: np.ndarray,
    features: Sequence[str],
    categorical: set[str] | frozenset[str],
    threshold: float = 0.98,
    allow: frozenset[str] | set[str] = frozenset(),
    others_auc: Callable[[list[str]], float] | None = None,
    eval_frame: pd.DataFrame | None = None,
    eval_y: np.ndarray | None = None,
    seed: int = 0,
    groups: np.ndarray | None = None,
) -> LeakageReport:
    """Score every feature alone; flag leaks and suspects. `others_auc(features)` returns the AUC
    of a model on the given features (evaluated out of sample); without it no suspects are named."""
    report = LeakageReport(threshold=threshold)
    splits = None if eval_frame is not None else _splits(np.asarray(y), 5, seed, groups)
    singles = {
        f: single_feature_auc(frame, y, f, f in categorical, eval_frame, eval_y, seed=seed, splits=splits)
        for f in features
    }
    low = 1.0 - threshold
    leaks = {f for f, auc in singles.items() if auc >= threshold or auc <= low}
    suspects: dict[str, float] = {}
    if others_auc is not None:
        candidates = sorted(
            (f for f in features if f not in leaks and max(singles[f], 1 - singles[f]) >= SUSPECT_FLOOR),
            key=lambda f: -max(singles[f], 1 - singles[f]),
        )[:SUSPECT_CANDIDATES]
        for f in candidates:
            rest = [g for g in features if g != f and g not in leaks]
            if not rest:
                continue
            auc_rest = others_auc(rest)
            if max(singles[f], 1 - singles[f]) >= auc_rest:
                suspects[f] = auc_rest
    for f in features:
        if f in leaks:
            report.findings.append(
                FeatureFinding(f, singles[f], "leak", excluded=f not in allow, allowed=f in allow)
            )
        elif f in suspects:
            report.findings.append(FeatureFinding(f, singles[f], "suspect", others_auc=suspects[f]))
        else:
            report.findings.append(FeatureFinding(f, singles[f], "ok"))
    return report
