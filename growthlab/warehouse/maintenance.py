"""Maintenance tasks on the warehouse, called by the maintenance_warehouse DAG."""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime

from psycopg import sql

from growthlab.warehouse.db import connect
from growthlab.warehouse.migrate import PRIVATE_SCHEMAS, apply_migrations

log = logging.getLogger(__name__)

CONTRACT_SCHEMAS = ("raw_hubspot", "raw_linkedin", "raw_sendgrid", "quarantine", "ml", "ops", "marts")


def analyst_role() -> str:
    return os.environ.get("GROWTHLAB_ANALYST_ROLE", "analyst")


def migrate_and_grant(url: str) -> int:
    applied = apply_migrations(url, analyst_role())
    log.info("%d migration(s) applied", len(applied))
    return len(applied)


def assert_analyst_isolated(url: str) -> None:
    """Raise if the analyst role can use a private schema or cannot use marts."""
    role = analyst_role()
    with connect(url) as conn:
        if not conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone():
            log.warning("analyst role %s does not exist; nothing to check", role)
            return
        leaks = [
            schema
            for schema in PRIVATE_SCHEMAS
            if conn.execute("select has_schema_privilege(%s, %s, 'USAGE')", (role, schema)).fetchone()[0]
        ]
        if leaks:
            raise PermissionError(
                f"role {role} can use private schema(s) {', '.join(leaks)}; run the maintenance_warehouse "
                f"DAG's migrate task (or `growthlab warehouse up`) to re-apply grants"
            )
        if not conn.execute("select has_schema_privilege(%s, 'marts', 'USAGE')", (role,)).fetchone()[0]:
            raise PermissionError(f"role {role} cannot read marts; re-run migrations to grant it")


def analyze_and_audit(url: str, actor: str, as_of: datetime | None = None) -> None:
    with connect(url, autocommit=True) as conn:
        tables = conn.execute(
            "select schemaname, tablename from pg_tables where schemaname = any(%s)",
            (list(CONTRACT_SCHEMAS),),
        ).fetchall()
        for schema, table in tables:
            conn.execute(sql.SQL("analyze {}.{}").format(sql.Identifier(schema), sql.Identifier(table)))
        conn.execute(
            "insert into ops.audit_log (actor, action, subject_type, details) values (%s, %s, %s, %s)",
            (
                actor,
                "warehouse.analyzed",
                "warehouse",
                json.dumps({"tables": len(tables), "as_of": as_of.isoformat() if as_of else None}),
            ),
        )
    log.info("analyzed %d tables", len(tables))
