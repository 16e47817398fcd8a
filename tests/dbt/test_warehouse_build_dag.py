"""warehouse_build through Airflow (dag.test): builds, publishes the `marts` Asset, stops on a failed test."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from growthlab.airflow_env import postgres_connection
from tests.fixtures.databases import clone_database, drop_database

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

MART_COUNTS = """
select 'lead_features', count(*) from marts.lead_features
union all select 'fct_email_sends', count(*) from marts.fct_email_sends
union all select 'fct_email_events', count(*) from marts.fct_email_events
union all select 'contact_engagement_daily', count(*) from marts.contact_engagement_daily
union all select 'email_campaign_performance', count(*) from marts.email_campaign_performance
"""


def marts_events(run_id: str) -> int:
    """Asset events of `marts` emitted by the run."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        return (
            session.query(AssetEvent)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .filter(AssetModel.name == "marts", AssetEvent.source_run_id == run_id)
            .count()
        )


def snapshot(url: str) -> dict:
    with psycopg.connect(url) as conn:
        counts = dict(conn.execute(MART_COUNTS).fetchall())
        features = conn.execute(
            "select md5(string_agg(f::text, '' order by contact_id, as_of_date)) from marts.lead_features f"
        ).fetchone()[0]
    return {"counts": counts, "lead_features_md5": features}


def test_warehouse_build_rebuilds_idempotently_and_emits_marts(dag_runner, dbt_warehouse, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", postgres_connection(dbt_warehouse.url))
    before = snapshot(dbt_warehouse.url)
    as_of = datetime.combine(dbt_warehouse.as_of, datetime.min.time(), tzinfo=UTC)

    result = dag_runner.run("warehouse_build", as_of)

    assert result.ok, result.failed_tasks
    assert marts_events(result.run_id) == 1
    # Same data, same as-of date: the incremental rebuild through Airflow changes nothing.
    assert snapshot(dbt_warehouse.url) == before
    with psycopg.connect(dbt_warehouse.url) as conn:
        details = conn.execute(
            "select details from ops.audit_log where action = 'warehouse.built' and subject_id = %s",
            (result.run_id,),
        ).fetchone()[0]
    assert details["as_of_date"] == dbt_warehouse.as_of.isoformat()
    assert details["rows"]["lead_features"] == before["counts"]["lead_features"]


@pytest.fixture
def broken_copy(pg_state, dbt_warehouse):
    """A copy of the built warehouse where one contact's seniority is not an accepted value.

    Changed as ingestion changes a row: with a new `_synced_at` (what incremental staging reads).
    """
    name = clone_database(pg_state, dbt_warehouse.database, "dbtbroken")
    url = pg_state.url(name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """update raw_hubspot.contacts
               set properties = properties || '{"seniority": "wizard"}', _synced_at = now()
               where id = (select min(id) from raw_hubspot.contacts where not archived)"""
        )
    yield url
    drop_database(pg_state, name)


def test_a_failing_test_stops_its_dependants_and_names_the_model(
    dag_runner, dbt_warehouse, broken_copy, monkeypatch
):
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", postgres_connection(broken_copy))
    with psycopg.connect(broken_copy) as conn:
        built_before = conn.execute(
            "select count(*) from ops.audit_log where action = 'warehouse.built'"
        ).fetchone()[0]
    as_of = datetime.combine(dbt_warehouse.as_of, datetime.min.time(), tzinfo=UTC)

    result = dag_runner.run("warehouse_build", as_of, raise_on_failure=False)

    assert result.state == "failed"
    # The model whose test failed is named by its task; what reads it never ran; nothing published.
    assert "dbt.dim_contacts.test" in result.failed_tasks
    # (models without data tests, such as lead_features, whose values its contract checks, are one task)
    assert {"dbt.lead_features_run", "dbt.email_campaign_performance_run", "publish"} <= set(
        result.failed_tasks
    )
    assert not any(task.startswith("dbt.stg_") for task in result.failed_tasks)
    assert marts_events(result.run_id) == 0
    with psycopg.connect(broken_copy) as conn:
        assert (
            conn.execute("select count(*) from ops.audit_log where action = 'warehouse.built'").fetchone()[0]
            == built_before
        )
