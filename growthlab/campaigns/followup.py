"""Replies become work for the contact's owner: a HubSpot task through the real HubSpot client.

Each ops.followup_opportunities row (one per reply, created by growthlab.campaigns.signals) is
turned into a task (`POST /crm/v3/objects/tasks`, associated with the contact, assigned to the
contact's owner, due a few hours after the run's logical time). The row records the task id; a
failed call is retried on later runs (at most MAX_ATTEMPTS), and marked `failed` with the error.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5
TASK_TO_CONTACT = 204  # HubSpot-defined association type: task -> contact
RESPOND_WITHIN = timedelta(hours=4)


def hubspot_client(host: str | None, token: str | None) -> Any:
    from hubspot import HubSpot

    if not token:
        raise RuntimeError(
            "the `hubspot` connection has no token (password); set AIRFLOW_CONN_HUBSPOT or GROWTHLAB_HUBSPOT_TOKEN, "
            "or start the sandbox (`growthlab sandbox up`)"
        )
    host = (host or "https://api.hubapi.com").rstrip("/")
    if "://" not in host:
        host = f"https://{host}"
    return HubSpot(access_token=token, host=host)


def _iso(ts: datetime) -> str:
    """HubSpot's timestamp format: ISO 8601 UTC with milliseconds."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def task_properties(row: dict[str, Any], now: datetime) -> dict[str, str]:
    who = row.get("contact_name") or f"contact {row['contact_id']}"
    company = f" at {row['company_name']}" if row.get("company_name") else ""
    props = {
        "hs_task_subject": f"Reply from {who}{company}: follow up ({row.get('campaign_id') or 'email'})",
        "hs_task_body": (
            f"{who}{company} replied on {row['replied_at']:%Y-%m-%d %H:%M} UTC to the growthlab campaign "
            f"'{row.get('campaign_id')}' (step {row.get('step_id')}, variant {row.get('variant_id')}). "
            f"Their sequences are stopped; please answer personally. [growthlab:reply:{row['reply_ref']}]"
        ),
        "hs_timestamp": _iso(now + RESPOND_WITHIN),
        "hs_task_status": "NOT_STARTED",
        "hs_task_priority": "HIGH",
        "hs_task_type": "EMAIL",
    }
    if row.get("owner_id"):
        props["hubspot_owner_id"] = str(row["owner_id"])
    return props


def create_owner_tasks(
    conn: psycopg.Connection, client: Any, now: datetime, actor: str, limit: int = 200
) -> dict:
    from hubspot.crm.objects.tasks import (
        ApiException,
        AssociationSpec,
        PublicAssociationsForObject,
        PublicObjectId,
        SimplePublicObjectInputForCreate,
    )

    with conn.cursor() as cur:
        cur.execute(
            """
            select f.opportunity_id, f.reply_ref, f.contact_id, f.company_id, f.campaign_id, f.replied_at, f.owner_id,
                   o.step_id, o.variant_id, o.to_name as contact_name,
                   (select company_name from marts.dim_companies c where c.company_id = f.company_id) as company_name
            from ops.followup_opportunities f
            left join ops.outbox o on o.outbox_id = f.outbox_id
            where f.status = 'pending' and f.attempts < %s
            order by f.replied_at limit %s
            """,
            (MAX_ATTEMPTS, limit),
        )
        names = [d.name for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    created = failed = 0
    for row in rows:
        body = SimplePublicObjectInputForCreate(
            properties=task_properties(row, now),
            associations=[
                PublicAssociationsForObject(
                    to=PublicObjectId(id=str(row["contact_id"])),
                    types=[
                        AssociationSpec(
                            association_category="HUBSPOT_DEFINED", association_type_id=TASK_TO_CONTACT
                        )
                    ],
                )
            ],
        )
        try:
            task = client.crm.objects.tasks.basic_api.create(simple_public_object_input_for_create=body)
        except (ApiException, OSError) as exc:
            status = getattr(exc, "status", None)
            error = f"HTTP {status}: {str(getattr(exc, 'body', '') or exc)[:300]}"
            conn.execute(
                """
                update ops.followup_opportunities set attempts = attempts + 1, error = %s, updated_at = now(),
                       status = case when attempts + 1 >= %s then 'failed' else status end
                where opportunity_id = %s
                """,
                (error, MAX_ATTEMPTS, row["opportunity_id"]),
            )
            conn.commit()
            failed += 1
            log.warning("HubSpot task for reply %s failed: %s", row["reply_ref"], error)
            continue
        with conn.transaction():
            conn.execute(
                "update ops.followup_opportunities set status = 'created', hubspot_task_id = %s, attempts = attempts + 1, "
                "error = null, updated_at = now() where opportunity_id = %s",
                (str(task.id), row["opportunity_id"]),
            )
            conn.execute(
                "insert into ops.audit_log (actor, action, subject_type, subject_id, details) "
                "values (%s, 'followup.task_created', 'contact', %s, %s)",
                (
                    actor,
                    str(row["contact_id"]),
                    json.dumps(
                        {"task_id": str(task.id), "reply_ref": row["reply_ref"], "owner_id": row["owner_id"]}
                    ),
                ),
            )
        created += 1
    return {"created": created, "failed": failed}
