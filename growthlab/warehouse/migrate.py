"""Ordered SQL migrations, recorded in ops.schema_migrations and applied once each.

A migration is a file `NNNN_name.sql` in growthlab/warehouse/migrations. Files are applied in
order, each in its own transaction, as the pipeline role (which therefore owns what they create).
Editing a migration after it was applied is refused: add a new one instead.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources

import psycopg
from psycopg import sql

from growthlab.warehouse.db import connect

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
LOCK_KEY = 720_611_001  # pg_advisory_lock key: one migrator at a time


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available() -> list[Migration]:
    folder = resources.files("growthlab.warehouse") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = NAME_RE.match(entry.name)
        if not match:
            if entry.name.endswith(".sql"):
                raise MigrationError(f"migration file {entry.name} must be named NNNN_snake_case.sql")
            continue
        found.append(Migration(int(match.group(1)), match.group(2), entry.read_text()))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(versions) != len(set(versions)):
        raise MigrationError(f"two migration files share a version number: {versions}")
    return found


def _ensure_table(conn: psycopg.Connection) -> None:
    conn.execute("create schema if not exists ops")
    conn.execute(
        """
        create table if not exists ops.schema_migrations (
            version    integer primary key,
            name       text not null,
            checksum   text not null,
            applied_at timestamptz not null default now()
        )
        """
    )


def apply_migrations(url: str, analyst_role: str | None = "analyst") -> list[Migration]:
    """Apply pending migrations, then (re)apply grants. Returns the migrations applied now."""
    applied_now: list[Migration] = []
    with connect(url, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(%s)", (LOCK_KEY,))
        try:
            _ensure_table(conn)
            done = {v: c for v, c in conn.execute("select version, checksum from ops.schema_migrations")}
            for mig in available():
                if mig.version in done:
                    if done[mig.version] != mig.checksum:
                        raise MigrationError(
                            f"migration {mig.version:04d}_{mig.name}.sql changed after it was applied; "
                            f"revert the edit and add a new migration instead"
                        )
                    continue
                log.info("applying migration %04d_%s", mig.version, mig.name)
                try:
                    with conn.transaction():
                        conn.execute(mig.sql)
                        conn.execute(
                            "insert into ops.schema_migrations (version, name, checksum) values (%s, %s, %s)",
                            (mig.version, mig.name, mig.checksum),
                        )
                except psycopg.Error as exc:
                    raise MigrationError(f"migration {mig.version:04d}_{mig.name}.sql failed: {exc}") from exc
                applied_now.append(mig)
            if analyst_role:
                apply_grants(conn, analyst_role)
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (LOCK_KEY,))
    return applied_now


PRIVATE_SCHEMAS = (
    "raw_hubspot",
    "raw_linkedin",
    "raw_sendgrid",
    "quarantine",
    "ops",
    "ml",
    "staging",
    "intermediate",
    "landing",
)


def apply_grants(conn: psycopg.Connection, analyst_role: str) -> None:
    """Analysts read marts and nothing else (PII in raw_*, ops and quarantine stays out of reach)."""
    if not conn.execute("select 1 from pg_roles where rolname = %s", (analyst_role,)).fetchone():
        log.warning(
            "role %s does not exist; analysts get no grants (create it and rerun migrations)", analyst_role
        )
        return
    role = sql.Identifier(analyst_role)
    for schema in PRIVATE_SCHEMAS:
        conn.execute(sql.SQL("revoke all on schema {} from public, {}").format(sql.Identifier(schema), role))
        conn.execute(
            sql.SQL("revoke all on all tables in schema {} from {}").format(sql.Identifier(schema), role)
        )
    conn.execute(sql.SQL("grant usage on schema marts to {}").format(role))
    conn.execute(sql.SQL("grant select on all tables in schema marts to {}").format(role))
    conn.execute(
        sql.SQL("alter default privileges in schema marts grant select on tables to {}").format(role)
    )


def applied(url: str) -> list[tuple[int, str]]:
    with connect(url) as conn:
        return [(v, n) for v, n in conn.execute("select version, name from ops.schema_migrations order by 1")]
