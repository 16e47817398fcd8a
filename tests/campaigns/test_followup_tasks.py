"""A reply becomes a HubSpot task for the contact's owner, through the real hubspot-api-client
against the stand-in HubSpot; a rerun creates no second task."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from growthlab.campaigns.followup import create_owner_tasks, hubspot_client

NOW = datetime(2026, 9, 1, 9, tzinfo=UTC)


def test_reply_opportunity_becomes_an_owner_task_in_hubspot(sandbox, marts_db):
    client = hubspot_client(sandbox.hubspot_url, sandbox.hubspot_token)
    contact = client.crm.contacts.basic_api.get_page(
        limit=1, properties=["hubspot_owner_id", "firstname"]
    ).results[0]
    owner = contact.properties.get("hubspot_owner_id")
    with psycopg.connect(marts_db) as conn:
        conn.execute(
            "insert into ops.followup_opportunities (reply_ref, contact_id, campaign_id, replied_at, owner_id)"
            " values ('reply-77', %s, 'decarb_platform', %s, %s)",
            (contact.id, NOW, owner),
        )
        first = create_owner_tasks(conn, client, NOW, "test")
        again = create_owner_tasks(conn, client, NOW, "test")
        task_id, status = conn.execute(
            "select hubspot_task_id, status from ops.followup_opportunities where reply_ref = 'reply-77'"
        ).fetchone()
        audited = conn.execute(
            "select count(*) from ops.audit_log where action = 'followup.task_created'"
        ).fetchone()
    assert first == {"created": 1, "failed": 0} and again == {"created": 0, "failed": 0}
    assert status == "created" and task_id
    task = client.crm.objects.tasks.basic_api.get_by_id(
        task_id,
        properties=[
            "hs_task_subject",
            "hs_task_body",
            "hs_task_status",
            "hs_task_priority",
            "hubspot_owner_id",
            "hs_timestamp",
        ],
        associations=["contacts"],
    )
    props = task.properties
    assert props["hs_task_status"] == "NOT_STARTED" and props["hs_task_priority"] == "HIGH"
    assert "[growthlab:reply:reply-77]" in props["hs_task_body"]
    assert props["hs_timestamp"].startswith("2026-09-01T13:00:00")  # due four hours after the run
    if owner:
        assert props["hubspot_owner_id"] == owner
    assert [a.id for a in task.associations["contacts"].results] == [contact.id]
    assert audited == (1,)
