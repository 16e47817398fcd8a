"""After a build: check the marts are there and readable, and record the build in ops.audit_log.

The `marts` Asset that scoring and campaigns wait for is emitted by the task that calls
`record_build`, so downstream DAGs only start once every mart exists and has been counted.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date

from psycopg import sql

from growthlab.warehouse.db import connect

log = logging.getLogger(__name__)

# What downstream areas read; a build that lacks one of these is not published.
REQUIRED_MARTS = (
    "dim_companies",
    "dim_contacts",
    "lead_features",
    "fct_email_sends",
    "fct_email_events",
    "fct_linkedin_touches",
    "fct_meetings",
    "contact_engagement_daily",
    "email_campaign_performance",
    "linkedin_performance",
    "pipeline_growth",
)


class MartsMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class BuildRecord:
    as_of_date: str | None
    rows: dict[str, int]
    lead_features_as_of: str | None


def record_build(
    url: str, actor: str, as_of_date: date | str | None = None, run_id: str | None = None
) -> BuildRecord:
    """Count every mart, fail naming the missing ones, append `warehouse.built` to ops.audit_log."""
    with connect(url, autocommit=True) as conn:
        present = {
            name
            for (name,) in conn.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        }
        missing = [m for m in REQUIRED_MARTS if m not in present]
        if missing:
            raise MartsMissing(
                f"the build left no marts.{', marts.'.join(missing)}; see the failed dbt tasks of this run "
                f"(or run `growthlab dbt build --select {' '.join(missing)}`)"
            )
        rows = {
            name: int(
                conn.execute(
                    sql.SQL("select count(*) from marts.{}").format(sql.Identifier(name))
                ).fetchone()[0]
            )
            for name in REQUIRED_MARTS
        }
        latest = conn.execute("select max(as_of_date)::text from marts.lead_features").fetchone()[0]
        record = BuildRecord(
            as_of_date=str(as_of_date) if as_of_date is not None else None,
            rows=rows,
            lead_features_as_of=latest,
        )
        conn.execute(
            "insert into ops.audit_log (actor, action, subject_type, subject_id, details) values (%s, %s, %s, %s, %s)",
            (
                actor,
                "warehouse.built",
                "marts",
                run_id,
                json.dumps({"as_of_date": record.as_of_date, "lead_features_as_of": latest, "rows": rows}),
            ),
        )
    log.info("marts published: %s", ", ".join(f"{k}={v}" for k, v in rows.items()))
    return record
