"""The MLflow registry: one run per training, the calibrated pyfunc, the champion/challenger gate."""

from __future__ import annotations

import mlflow
import numpy as np
import psycopg
import pytest

from ml.features import ENGAGEMENT_FEATURES
from ml.registry import (
    CHALLENGER,
    CHAMPION,
    RegistryError,
    alias_version,
    promote,
    rollback,
    run_gate,
    version_tags,
)
from ml.retrain import train_and_register
from ml.tracking import client
from tests.fixtures.ml import ML_TODAY


@pytest.fixture(scope="module")
def small(ml_labelled):
    """Part of the synthetic contacts: enough signal, quicker fits."""
    return ml_labelled[ml_labelled["contact_id"] < "c0002000"].reset_index(drop=True)


def _holdout(frame, holdout_date: str):
    return frame[frame["as_of_date"].astype(str) == holdout_date]


def test_gate_promotes_a_better_model_and_keeps_a_worse_one(small, unique_ml_settings, fresh_db):
    s = unique_ml_settings
    # v1: a weak model that never saw engagement (as if the engagement marts were empty)
    weak = small.copy()
    weak[[f for f in ENGAGEMENT_FEATURES if f != "emails_delivered_90d"]] = 0
    v1 = train_and_register(weak, ML_TODAY, s, actor="test")
    assert v1.version == "1" and not v1.reused
    holdout = _holdout(small, v1.holdout_date)
    first = run_gate(s, v1.version, holdout, v1.holdout_date, fresh_db, "test")
    assert first.decision == "first_model" and alias_version(s, CHAMPION) == v1.version

    # v2: the real data: better by far, as well calibrated -> champion
    v2 = train_and_register(small, ML_TODAY, s, actor="test")
    assert alias_version(s, CHALLENGER) == v2.version
    better = run_gate(s, v2.version, holdout, v2.holdout_date, fresh_db, "test")
    print(f"\nv2 vs v1: {better.reason}")
    assert better.decision == "promoted"
    assert better.challenger.roc_auc >= better.champion.roc_auc + s.min_auc_gain
    assert alias_version(s, CHAMPION) == v2.version and alias_version(s, CHALLENGER) is None

    # v3: trained on shuffled labels (holdout untouched) -> stays challenger, decision tagged
    shuffled = small.copy()
    mask = shuffled["as_of_date"].astype(str) != v2.holdout_date
    rng = np.random.default_rng(0)
    shuffled.loc[mask, "converted_90d"] = rng.permutation(shuffled.loc[mask, "converted_90d"].to_numpy())
    v3 = train_and_register(shuffled, ML_TODAY, s, actor="test")
    worse = run_gate(s, v3.version, holdout, v3.holdout_date, fresh_db, "test")
    print(f"v3 vs v2: {worse.reason}")
    assert worse.decision == "kept_challenger" and not worse.promoted
    assert alias_version(s, CHAMPION) == v2.version and alias_version(s, CHALLENGER) == v3.version
    tags = version_tags(s, v3.version)
    assert tags["gate.decision"] == "kept_challenger" and tags["gate.champion_version"] == v2.version
    assert float(tags["gate.challenger.roc_auc"]) < float(tags["gate.champion.roc_auc"])
    assert "ROC AUC" in tags["gate.reason"]
    # gating again changes nothing
    assert run_gate(s, v3.version, holdout, v3.holdout_date, fresh_db, "test").decision == "kept_challenger"

    # humans: v3 never served, so it cannot be "rolled back" to; promote it anyway, then roll back to v2
    with pytest.raises(RegistryError, match="never been champion"):
        rollback(s, v3.version, fresh_db)
    with pytest.raises(RegistryError, match="no version 99"):
        promote(s, "99", fresh_db)
    assert promote(s, v3.version, fresh_db, reason="test override", actor="tester") == v2.version
    assert alias_version(s, CHAMPION) == v3.version
    assert rollback(s, v2.version, fresh_db, reason="v3 is worse", actor="tester") == v3.version
    assert alias_version(s, CHAMPION) == v2.version
    with pytest.raises(RegistryError, match="already the champion"):
        promote(s, v2.version, fresh_db)
    with psycopg.connect(fresh_db) as conn:
        actions = conn.execute(
            "select action, subject_id, actor, details->>'previous_champion' from ops.audit_log order by audit_id"
        ).fetchall()
    name = s.model_name
    assert actions == [
        ("model.promoted", f"{name}/{v1.version}", "test", None),
        ("model.promoted", f"{name}/{v2.version}", "test", v1.version),
        ("model.kept_challenger", f"{name}/{v3.version}", "test", v2.version),
        ("model.promoted", f"{name}/{v3.version}", "tester", v2.version),
        ("model.rolled_back", f"{name}/{v2.version}", "tester", v3.version),
    ]

    _check_run_and_served_model(s, v2, small, holdout)


def _check_run_and_served_model(s, trained, frame, holdout):
    again = train_and_register(frame, ML_TODAY, s, actor="test")
    assert again.reused and again.version == trained.version  # same date, same data: no new version

    c = client(s)
    run = c.get_run(trained.run_id)
    for metric in (
        "holdout_roc_auc",
        "holdout_pr_auc",
        "holdout_brier",
        "holdout_ece",
        "holdout_lift_top_decile",
    ):
        assert metric in run.data.metrics
    assert run.data.metrics["rows_train"] > 0 and run.data.params["holdout_date"] == trained.holdout_date
    artifacts = {a.path for a in c.list_artifacts(trained.run_id)}
    assert {
        "calibration_curve.png",
        "feature_importance.png",
        "shap_summary.png",
        "leakage_report.json",
    } <= artifacts

    model = mlflow.pyfunc.load_model(f"models:/{s.model_name}@champion")
    assert model.metadata.signature is not None
    features = model.metadata.get_input_schema().input_names()
    assert "converted_90d" not in features and "human_opens_30d" in features
    # numbers as the warehouse returns them (float64), categories as strings
    rows = holdout[features].copy()
    numeric = [f for f in features if rows[f].dtype.kind in "iuf"]
    rows[numeric] = rows[numeric].astype("float64")
    out = model.predict(rows)
    assert list(out.columns) == ["probability", "fit_score", "engagement_score", "grade"]
    # calibrated: the mean predicted probability matches the holdout conversion rate
    assert abs(out["probability"].mean() - holdout["converted_90d"].mean()) < 0.03
