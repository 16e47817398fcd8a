"""maintenance_warehouse runs through Airflow (dag.test) against the embedded warehouse."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

pytestmark = pytest.mark.airflow


def test_maintenance_dag_runs_and_is_idempotent(dag_runner, warehouse_url):
    day = datetime(2026, 3, 1, tzinfo=UTC)
    first = dag_runner.run("maintenance_warehouse", day)
    assert first.ok, first.failed_tasks
    with psycopg.connect(warehouse_url) as conn:
        migrations = conn.execute("select count(*) from ops.schema_migrations").fetchone()[0]
        audits = conn.execute(
            "select count(*) from ops.audit_log where action = 'warehouse.analyzed'"
        ).fetchone()[0]
    second = dag_runner.run("maintenance_warehouse", datetime(2026, 3, 2, tzinfo=UTC))
    assert second.ok
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute("select count(*) from ops.schema_migrations").fetchone()[0] == migrations
        assert (
            conn.execute("select count(*) from ops.audit_log where action = 'warehouse.analyzed'").fetchone()[
                0
            ]
            == audits + 1
        )
