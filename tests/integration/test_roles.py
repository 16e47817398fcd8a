"""The analyst role reads marts and nothing that holds PII; the pipeline role owns the schemas."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors

from growthlab.warehouse.maintenance import assert_analyst_isolated


def _analyst_url(pg_state, db_url: str) -> str:
    dbname = db_url.rsplit("/", 1)[1]
    return pg_state.url(dbname, pg_state.analyst_role)


@pytest.fixture
def populated(fresh_db):
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("create table raw_hubspot.contacts_probe (id text, email text)")
        conn.execute("insert into raw_hubspot.contacts_probe values ('1', 'a@b.com')")
        conn.execute("create table marts.probe_mart (id text)")
        conn.execute("insert into marts.probe_mart values ('1')")
    return fresh_db


@pytest.mark.parametrize("table", ["raw_hubspot.contacts_probe", "ops.audit_log", "ops.schema_migrations"])
def test_analyst_is_denied_raw_and_ops(pg_state, populated, table):
    with (
        psycopg.connect(_analyst_url(pg_state, populated)) as conn,
        pytest.raises(errors.InsufficientPrivilege),
    ):
        conn.execute(f"select * from {table}")


def test_analyst_reads_marts_created_after_the_grant(pg_state, populated):
    with psycopg.connect(_analyst_url(pg_state, populated)) as conn:
        assert conn.execute("select id from marts.probe_mart").fetchall() == [("1",)]


def test_pipeline_role_owns_the_contract_schemas(populated):
    with psycopg.connect(populated) as conn:
        owners = dict(
            conn.execute(
                "select nspname, pg_get_userbyid(nspowner) from pg_namespace "
                "where nspname in ('raw_hubspot','raw_linkedin','raw_sendgrid','quarantine','ml','ops','marts')"
            ).fetchall()
        )
    assert set(owners.values()) == {"growthlab"} and len(owners) == 7


def test_isolation_check_catches_a_leak(populated, pg_state):
    assert_analyst_isolated(populated)
    with psycopg.connect(populated, autocommit=True) as conn:
        conn.execute(f'grant usage on schema ops to "{pg_state.analyst_role}"')
    with pytest.raises(PermissionError, match="ops"):
        assert_analyst_isolated(populated)
