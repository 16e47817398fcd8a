"""The email_campaigns DAG through Airflow (dag.test): sends once, and a rerun of the same interval
sends nothing new."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import psycopg
import pytest

from growthlab.airflow_env import postgres_connection
from tests.campaigns.conftest import write_simple_campaign
from tests.campaigns.faults import FaultySendGrid

pytestmark = pytest.mark.airflow


@pytest.fixture(scope="module")
def campaign_dag(settings, airflow_db):
    """A runner for dags/email_campaigns.py alone: other areas' DAG files cannot break these tests."""
    from growthlab.airflow_runner import DagRunner

    return DagRunner(settings.dags_folder / "email_campaigns.py", settings.home / "logs" / "dag-tests.log")


def test_dag_sends_once_and_a_rerun_of_the_interval_sends_nothing(
    campaign_dag, world, campaign_dir, monkeypatch
):
    server = FaultySendGrid()
    try:
        ids = [world.contact() for _ in range(6)]
        write_simple_campaign(campaign_dir)
        monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", postgres_connection(world.url))
        monkeypatch.setenv(
            "AIRFLOW_CONN_SENDGRID", json.dumps({"conn_type": "http", "host": server.url, "password": "SG.k"})
        )
        monkeypatch.setenv(
            "AIRFLOW_CONN_HUBSPOT",
            json.dumps({"conn_type": "http", "host": "http://127.0.0.1:9", "password": "pat-unused"}),
        )
        monkeypatch.setenv("GROWTHLAB_CAMPAIGNS_DIR", str(campaign_dir))
        at = datetime(2026, 9, 1, 14, tzinfo=UTC)
        first = campaign_dag.run("email_campaigns", at)
        assert first.ok, first.failed_tasks
        assert (
            sorted(p["custom_args"]["gl_contact_id"] for b in server.requests for p in b["personalizations"])
            == ids
        )
        again = campaign_dag.run("email_campaigns", at)
        assert again.ok and len(server.requests) == 1
        with psycopg.connect(world.url) as conn:
            assert conn.execute("select count(*) from ops.outbox").fetchone()[0] == 6
            # the run's "now" is its data interval end (the logical date of a manual run), not the wall clock
            assert conn.execute("select distinct planned_at from ops.outbox").fetchall() == [(at,)]
            assert (
                conn.execute("select count(*) from ops.audit_log where action = 'email.sent'").fetchone()[0]
                == 6
            )
    finally:
        server.close()


def test_an_invalid_campaign_file_fails_the_run_before_anything_is_sent(
    campaign_dag, world, campaign_dir, monkeypatch
):
    server = FaultySendGrid()
    try:
        world.contact()
        path = write_simple_campaign(campaign_dir)
        path.write_text(path.read_text().replace("when: no_open", "when: no_opem"))
        monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", postgres_connection(world.url))
        monkeypatch.setenv(
            "AIRFLOW_CONN_SENDGRID", json.dumps({"conn_type": "http", "host": server.url, "password": "SG.k"})
        )
        monkeypatch.setenv("GROWTHLAB_CAMPAIGNS_DIR", str(campaign_dir))
        result = campaign_dag.run(
            "email_campaigns", datetime(2026, 9, 1, 15, tzinfo=UTC), raise_on_failure=False
        )
        assert not result.ok and "load_campaigns" in result.failed_tasks
        assert server.requests == []
        with psycopg.connect(world.url) as conn:
            assert conn.execute("select count(*) from ops.outbox").fetchone()[0] == 0
    finally:
        server.close()
