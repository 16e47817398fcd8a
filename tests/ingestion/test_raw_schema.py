"""The raw tables of the warehouse contract exist with their keys, and the batch ledger balances."""

from __future__ import annotations

import psycopg
import pytest

from growthlab.warehouse.db import connect

RAW_TABLES = {
    "raw_hubspot": [
        "companies",
        "contacts",
        "deals",
        "meetings",
        "emails",
        "owners",
        "associations",
        "email_events",
    ],
    "raw_linkedin": [
        "exports",
        "profiles",
        "connections",
        "invitations",
        "messages",
        "positions",
        "shares",
        "contact_matches",
    ],
    "raw_sendgrid": ["webhook_batches", "events"],
    "quarantine": ["rows"],
    "ops": ["ingest_batches", "sync_state", "validation_results"],
}


def test_every_contract_table_exists_and_has_a_primary_key(warehouse_url):
    with connect(warehouse_url) as conn:
        rows = conn.execute(
            """
            select t.table_schema, t.table_name
            from information_schema.tables t
            join information_schema.table_constraints c
              on c.table_schema = t.table_schema and c.table_name = t.table_name
             and c.constraint_type = 'PRIMARY KEY'
            """
        ).fetchall()
    have = {(s, t) for s, t in rows}
    for schema, tables in RAW_TABLES.items():
        for table in tables:
            assert (schema, table) in have, f"{schema}.{table} missing or without a primary key"


def test_a_succeeded_batch_must_balance(warehouse_url):
    with connect(warehouse_url) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            """insert into ops.ingest_batches (batch_id, source, object, rows_in, rows_loaded,
                   rows_quarantined, status) values ('t-unbalanced', 'test', 't', 10, 8, 1, 'succeeded')"""
        )


def test_analyst_cannot_read_raw_or_quarantine(pg_state):
    url = pg_state.url("warehouse", pg_state.analyst_role)
    with connect(url) as conn:
        for table in ("raw_hubspot.contacts", "raw_sendgrid.events", "quarantine.rows"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"select 1 from {table}")
            conn.rollback()
