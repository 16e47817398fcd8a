"""Figures logged with each training run: calibration curve, feature importance, SHAP summary."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

from ml.evaluate import reliability_curve
from ml.model import ScoringBundle


def calibration_figure(y: np.ndarray, p: np.ndarray, title: str):
    fig, ax = plt.subplots(figsize=(5, 5))
    mean_p, rate = reliability_curve(y, p, bins=10)
    top = max(float(np.max(mean_p, initial=0)), float(np.max(rate, initial=0)), 0.05) * 1.1
    ax.plot([0, top], [0, top], color="grey", linestyle="--", linewidth=1, label="perfect calibration")
    ax.plot(mean_p, rate, marker="o", label="model (10 equal-mass bins)")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed conversion rate")
    ax.set_title(title)
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def importance_figure(bundle: ScoringBundle, top: int = 20):
    gain = bundle.main.feature_importance(importance_type="gain")
    names = bundle.main.feature_name()
    order = np.argsort(gain)[::-1][:top][::-1]
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(order) + 1.2))
    ax.barh([names[i] for i in order], gain[order] / max(gain.sum(), 1e-12))
    ax.set_xlabel("share of total split gain")
    ax.set_title("feature importance (main model)")
    fig.tight_layout()
    return fig


def shap_summary_figure(bundle: ScoringBundle, X: np.ndarray, top: int = 15, seed: int = 0):
    """Beeswarm-style summary: each dot a row, x its TreeSHAP contribution, colour the feature value
    (its rank within the sample), features sorted by mean |contribution|."""
    rng = np.random.default_rng(seed)
    sample = X[rng.choice(len(X), size=min(len(X), 2000), replace=False)] if len(X) else X
    contrib = bundle.contributions(sample)[:, : X.shape[1]]
    names = bundle.features
    order = np.argsort(np.abs(contrib).mean(axis=0))[::-1][:top][::-1]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(order) + 1.5))
    for row, j in enumerate(order):
        values = sample[:, j]
        finite = ~np.isnan(values)
        colour = np.full(len(values), 0.5)
        if finite.any():
            ranks = values[finite].argsort().argsort()
            colour[finite] = ranks / max(finite.sum() - 1, 1)
        jitter = rng.uniform(-0.3, 0.3, len(values))
        points = ax.scatter(
            contrib[:, j], row + jitter, c=colour, cmap="coolwarm", s=4, alpha=0.6, vmin=0, vmax=1
        )
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_yticks(range(len(order)), [names[j] for j in order])
    ax.set_xlabel("contribution to the log-odds (TreeSHAP)")
    ax.set_title("SHAP summary (holdout rows; colour: low to high feature value)")
    if len(order):
        fig.colorbar(points, ax=ax, label="feature value (rank)")
    fig.tight_layout()
    return fig
