"""`growthlab model ...` for humans: train, score, status, promote/rollback errors, on a warehouse."""

from __future__ import annotations

import json
import uuid

from growthlab.cli import main
from ml.synthetic import write_lead_features
from tests.fixtures.ml import ML_TODAY


def test_train_score_status_and_guarded_rollback(
    fresh_db, ml_world, ml_settings_sqlite, monkeypatch, tmp_path, capsys
):
    small = ml_world.features[ml_world.features["contact_id"] < "c0001500"]
    write_lead_features(fresh_db, small)
    name = f"lead_scoring_cli_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("GROWTHLAB_WAREHOUSE_URL", fresh_db)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", ml_settings_sqlite.tracking_uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", ml_settings_sqlite.tracking_uri)
    monkeypatch.setenv("GROWTHLAB_ML_MODEL_NAME", name)
    monkeypatch.setenv("GROWTHLAB_MLFLOW_ARTIFACTS", str(tmp_path / "artifacts"))

    assert main(["model", "train", "--as-of", ML_TODAY.isoformat()]) == 0
    out = capsys.readouterr().out
    assert f"{name} v1:" in out and "gate: first_model" in out

    assert main(["model", "score", "--as-of", ML_TODAY.isoformat()]) == 0
    out = capsys.readouterr().out
    active = int((small["as_of_date"] == ML_TODAY).sum())
    assert f"scored {active:,} contacts at {ML_TODAY} with v1" in out

    assert main(["model", "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["model"] == name and status["versions"][0]["aliases"] == ["champion"]
    assert status["latest_scoring_run"]["rows_scored"] == active and status["top_psi"]

    assert main(["model", "rollback", "1"]) == 2
    assert "already the champion" in capsys.readouterr().err
