"""The linkedin_ingest and sendgrid_events DAGs through Airflow (dag.test), twice per interval."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from starlette.testclient import TestClient

from growthlab.airflow_env import postgres_connection
from growthlab.sources.sendgrid_events import SignatureCheck, create_app
from growthlab.warehouse.db import connect
from tests.ingestion.test_linkedin_export import as_real_export, reference_files, write_export
from tests.ingestion.test_sendgrid import Signer, event

pytestmark = pytest.mark.airflow

LOGICAL = datetime(2026, 8, 31, 9, 0, tzinfo=UTC)


def table_counts(url: str, tables: list[str]) -> dict[str, int]:
    with connect(url) as conn:
        return {t: conn.execute(f"select count(*) from {t}").fetchone()[0] for t in tables}


def test_linkedin_ingest_dag_twice_adds_nothing_the_second_time(dag_runner, fresh_db, tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", postgres_connection(fresh_db))
    inbox = tmp_path / "inbox"
    monkeypatch.setenv("GROWTHLAB_LINKEDIN_INBOX", str(inbox))
    write_export(
        inbox, {k: as_real_export(v) for k, v in reference_files().items()}, as_zip=True, name="rep1"
    )
    tables = ["raw_linkedin.connections", "raw_linkedin.messages", "raw_linkedin.shares", "quarantine.rows"]

    first = dag_runner.run("linkedin_ingest", LOGICAL)
    assert first.ok
    after_first = table_counts(fresh_db, tables)
    assert after_first == {
        "raw_linkedin.connections": 3, "raw_linkedin.messages": 2, "raw_linkedin.shares": 2, "quarantine.rows": 1,
    }  # fmt: skip
    # The same archive dropped again (a rep exports twice): same content, nothing new.
    write_export(
        inbox, {k: as_real_export(v) for k, v in reference_files().items()}, as_zip=True, name="rep1-again"
    )
    second = dag_runner.run("linkedin_ingest", LOGICAL)
    assert second.ok
    assert table_counts(fresh_db, tables) == after_first
    with connect(fresh_db) as conn:
        assert (
            conn.execute(
                """select count(*) from ops.ingest_batches where source = 'linkedin'
               and (status <> 'succeeded' or rows_in <> rows_loaded + rows_quarantined)"""
            ).fetchone()[0]
            == 0
        )


def test_sendgrid_events_dag_loads_the_spool_once(dag_runner, fresh_db, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", postgres_connection(fresh_db))
    signer = Signer()
    body = json.dumps([event(i) for i in range(12)] + [event(3)]).encode()
    with TestClient(create_app(fresh_db, SignatureCheck(signer.public_key))) as client:
        assert client.post("/sendgrid/events", content=body, headers=signer.headers(body)).status_code == 200
    first = dag_runner.run("sendgrid_events", LOGICAL)
    assert first.ok
    counts = table_counts(fresh_db, ["raw_sendgrid.events"])
    assert counts == {"raw_sendgrid.events": 12}
    second = dag_runner.run("sendgrid_events", LOGICAL)
    assert second.ok  # the task skips: nothing waiting, no Asset event
    assert table_counts(fresh_db, ["raw_sendgrid.events"]) == counts
