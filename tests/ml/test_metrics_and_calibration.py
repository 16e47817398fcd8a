"""Metrics and calibration on data whose true probabilities are known."""

from __future__ import annotations

import numpy as np
import pytest

from ml.calibrate import fit_calibrator
from ml.evaluate import evaluate, expected_calibration_error, lift_at_top


def _data(n=40_000, seed=0):
    rng = np.random.default_rng(seed)
    margin = rng.normal(0, 1.5, n)
    p_true = 1 / (1 + np.exp(-(0.8 * margin - 3.0)))  # a distorted, imbalanced truth
    y = (rng.random(n) < p_true).astype(int)
    return margin, p_true, y


def test_platt_recovers_the_true_probabilities_and_keeps_the_ranking():
    margin, _p_true, y = _data()
    cal = fit_calibrator(margin, y, "platt")
    assert abs(cal.a - 0.8) < 0.08 and abs(cal.b + 3.0) < 0.15
    p = cal(margin)
    assert expected_calibration_error(y, p) < 0.01
    raw = evaluate(y, 1 / (1 + np.exp(-margin)))  # uncalibrated: far too high
    calibrated = evaluate(y, p)
    assert raw.ece > 0.15
    assert calibrated.roc_auc == raw.roc_auc  # strictly monotone: the ranking is untouched
    assert calibrated.brier < raw.brier


def test_isotonic_calibrates_too():
    margin, _, y = _data(seed=1)
    p = fit_calibrator(margin, y, "isotonic")(margin)
    assert np.all(np.diff(p[np.argsort(margin)]) >= -1e-12)
    assert expected_calibration_error(y, p) < 0.01


def test_lift_and_metrics_on_a_known_ranking():
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0] * 10)
    p = np.where(y == 1, 0.9, 0.1)
    p[0] = 0.05  # one positive ranked last
    m = evaluate(y, p)
    assert m.positives == 20 and m.base_rate == 0.2
    assert lift_at_top(y, p) == 5.0  # the top 10% are all positives: 1.0 / 0.2
    assert m.roc_auc == pytest.approx(1 - 80 / (20 * 80))  # one positive below all 80 negatives
