"""Stump boosters compiled to per-feature step functions: LightGBM's margins and TreeSHAP, exactly."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from ml.additive import TOLERANCE, compile_additive


def _data(n: int = 4_000, seed: int = 1):
    rng = np.random.default_rng(seed)
    X = np.column_stack(
        [
            rng.normal(size=n),
            rng.poisson(2, size=n).astype(float),  # counts: thresholds between integers
            rng.integers(0, 12, size=n).astype(float),  # a categorical code
            rng.normal(size=n),
        ]
    )
    X[rng.random(n) < 0.1, 0] = np.nan
    X[rng.random(n) < 0.05, 2] = np.nan
    X[rng.random(n) < 0.3, 3] = 0.0
    cat_effect = np.array([0.8, -0.5, 0.3, 0.0, -0.9, 0.6, 0.1, -0.2, 0.4, -0.6, 0.2, 0.7])
    logit = (
        np.nan_to_num(X[:, 0]) + 0.4 * X[:, 1] + cat_effect[np.nan_to_num(X[:, 2], nan=3).astype(int)] - 1.0
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


def _train(X, y, **params) -> lgb.Booster:
    base = {"objective": "binary", "num_leaves": 2, "learning_rate": 0.1, "verbosity": -1, "seed": 3}
    dataset = lgb.Dataset(X, y, categorical_feature=[2])
    return lgb.train({**base, **params}, dataset, num_boost_round=150)


def _probe(X: np.ndarray) -> np.ndarray:
    """The training rows plus values never seen: NaNs, unseen and negative codes, exact zeros."""
    extra = np.array(
        [
            [np.nan, np.nan, np.nan, np.nan],
            [0.0, 0.0, 40.0, 0.0],
            [5.0, 30.0, -1.0, -0.0],
            [-5.0, 1.0, 11.0, 1e-40],
        ]
    )
    return np.vstack([X, extra])


@pytest.mark.parametrize(
    "params",
    [{}, {"zero_as_missing": True}, {"use_missing": False}, {"min_data_per_group": 5, "cat_smooth": 1.0}],
    ids=["default", "zero_as_missing", "no_missing", "fine_categories"],
)
def test_stumps_give_lightgbms_margins_and_contributions(params):
    X, y = _data()
    booster = _train(X, y, **params)
    additive = compile_additive(booster)
    assert additive is not None
    probe = _probe(X)
    expected_margin = booster.predict(probe, raw_score=True)
    expected_contrib = booster.predict(probe, pred_contrib=True)
    assert np.abs(additive.predict_raw(probe) - expected_margin).max() < TOLERANCE
    assert np.abs(additive.contributions(probe) - expected_contrib).max() < TOLERANCE
    assert additive.matches(booster, probe)
    # and the contributions still add up to the margin, as TreeSHAP's must
    assert np.allclose(additive.contributions(probe).sum(axis=1), expected_margin)


def test_deeper_trees_are_not_compiled_and_a_wrong_form_is_caught():
    X, y = _data()
    assert compile_additive(_train(X, y, num_leaves=7)) is None
    booster = _train(X, y)
    additive = compile_additive(booster)
    additive.bias += 1e-6  # a form that is off, however slightly, is not trusted
    assert not additive.matches(booster, X[:100])
