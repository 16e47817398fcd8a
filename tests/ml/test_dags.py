"""lead_model_train and lead_scoring run through Airflow (dag.test) on a warehouse with lead_features.

MLflow here is the session Postgres `mlflow` database, as in production (MLFLOW_TRACKING_URI from
the Airflow environment); the registered model name is unique to the test.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import psycopg
import pytest

from growthlab.airflow_env import postgres_connection
from ml.synthetic import write_lead_features
from tests.fixtures.ml import ML_TODAY

pytestmark = pytest.mark.airflow


def _task_states(dag_id: str, run_id: str) -> dict[str, str]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(TaskInstance.task_id, TaskInstance.state)
            .filter(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
            .all()
        )
    return {task: str(getattr(state, "value", state)) for task, state in rows}


def test_monthly_training_then_scoring_through_airflow(dag_runner, fresh_db, ml_world, monkeypatch, tmp_path):
    name = f"lead_scoring_dag_{uuid.uuid4().hex[:8]}"
    small = ml_world.features[ml_world.features["contact_id"] < "c0002000"]
    write_lead_features(fresh_db, small)
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", postgres_connection(fresh_db))
    monkeypatch.setenv(
        "AIRFLOW_CONN_HUBSPOT", json.dumps({"conn_type": "http", "host": "https://api.hubapi.com"})
    )
    monkeypatch.setenv("GROWTHLAB_ML_MODEL_NAME", name)
    monkeypatch.setenv("GROWTHLAB_MLFLOW_ARTIFACTS", str(tmp_path / "mlartifacts"))
    day = datetime(ML_TODAY.year, ML_TODAY.month, ML_TODAY.day, tzinfo=UTC)

    trained = dag_runner.run("lead_model_train", day)
    assert trained.ok, trained.failed_tasks
    from ml.config import ml_settings
    from ml.registry import CHAMPION, alias_version

    settings = ml_settings()
    assert settings.model_name == name and settings.tracking_uri.startswith("postgresql")
    assert alias_version(settings, CHAMPION) == "1"
    with psycopg.connect(fresh_db) as conn:
        audit = conn.execute("select action, actor from ops.audit_log").fetchall()
    assert audit == [("model.promoted", "lead_model_train.gate")]

    scored = dag_runner.run("lead_scoring", day)
    assert scored.ok, scored.failed_tasks
    states = _task_states("lead_scoring", scored.run_id)
    assert states == {"score": "success", "check_drift": "success", "push_to_hubspot": "skipped"}
    active = small[small["as_of_date"] == ML_TODAY]
    with psycopg.connect(fresh_db) as conn:
        count, versions_seen, with_reasons = conn.execute(
            "select count(*), array_agg(distinct model_version), count(*) filter (where jsonb_array_length(reasons) = 3) "
            "from ml.lead_scores"
        ).fetchone()
        assert count == len(active) == with_reasons and versions_seen == ["1"]
        assert conn.execute("select count(*) from ml.monitoring").fetchone()[0] > 30

    # a second scoring run for the same date rewrites nothing (training's idempotency: test_registry)
    rescored = dag_runner.run("lead_scoring", day)
    assert rescored.ok
    with psycopg.connect(fresh_db) as conn:
        runs = conn.execute(
            "select rows_scored, rows_written, rows_reasoned from ml.scoring_runs order by run_id"
        ).fetchall()
    assert runs == [(len(active), len(active), len(active)), (len(active), 0, 0)]
    print(
        f"\ndag.test seconds: train {trained.seconds:.1f}, score {scored.seconds:.1f}, rescore {rescored.seconds:.1f}"
    )
