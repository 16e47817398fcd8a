"""Events drive the sequences: engagement onto the outbox, suppressions, replies and stops.

Sources, read incrementally (watermarks in ops.sync_state, source `campaigns`):

* raw_sendgrid.events (by `gl_outbox_id`): first processed / delivered / human open / machine open /
  click / bounce / dropped / spam report / unsubscribe of each outbox row.
* the same events suppress the address everywhere (ops.suppression, scope `all`) on unsubscribe,
  group_unsubscribe, spamreport, a hard bounce (`type` bounce, not `blocked`) and dropped.
* raw_hubspot.emails (hs_email_direction INCOMING_EMAIL) with their contact association: a reply
  is matched to the outbox row whose X-Message-Id its In-Reply-To quotes (and whose contact
  replied), else to the contact's latest email of the previous 30 days. A reply whose subject
  starts with "unsubscribe" (our List-Unsubscribe mailto) suppresses instead.

Then: a reply stops every active sequence of the contact (`replied`) and of their colleagues at
the same company (`company_replied`) and opens a follow-up opportunity for the owner; a
suppression stops the contact's sequences (`suppressed:<reason>`). Planned and ready emails of
stopped sequences are cancelled. Everything is idempotent: rerunning changes nothing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from growthlab.campaigns.compliance import email_sha256

log = logging.getLogger(__name__)

SUPPRESSING_EVENTS = {
    "unsubscribe": "unsubscribe",
    "group_unsubscribe": "group_unsubscribe",
    "spamreport": "spamreport",
    "bounce": "bounce",
    "dropped": "dropped",
}
REPLY_WINDOW_DAYS = 30


@dataclass
class SignalResult:
    engagement_rows: int = 0
    suppressed: int = 0
    replies: int = 0
    stopped: int = 0
    cancelled: int = 0
    opportunities: int = 0


# Rows are re-read this far behind the watermark: a load that committed late with an earlier
# _synced_at is still seen (every step here is idempotent, so overlap is harmless).
WATERMARK_OVERLAP = timedelta(minutes=15)


def _watermark(conn: psycopg.Connection, obj: str) -> datetime | None:
    row = conn.execute(
        "select watermark from ops.sync_state where source = 'campaigns' and object = %s", (obj,)
    ).fetchone()
    return row[0] - WATERMARK_OVERLAP if row and row[0] is not None else None


def _set_watermark(conn: psycopg.Connection, obj: str, value: datetime | None) -> None:
    if value is None:
        return
    conn.execute(
        """
        insert into ops.sync_state (source, object, watermark, updated_at) values ('campaigns', %s, %s, now())
        on conflict (source, object) do update set watermark = greatest(ops.sync_state.watermark, excluded.watermark),
            updated_at = now()
        """,
        (obj, value),
    )


def refresh_engagement(conn: psycopg.Connection) -> int:
    """Fold new SendGrid events into the outbox rows they belong to. Returns rows changed."""
    since = _watermark(conn, "outbox_engagement")
    top = conn.execute("select max(_synced_at) from raw_sendgrid.events").fetchone()[0]
    if top is None or (since is not None and top <= since):
        return 0
    changed = conn.execute(
        """
        with ids as (
            select distinct gl_outbox_id from raw_sendgrid.events
            where gl_outbox_id ~ '^[0-9]{1,18}$' and (%(since)s::timestamptz is null or _synced_at > %(since)s)
        ),
        ev as (
            select e.gl_outbox_id::bigint as outbox_id,
                min(event_at) filter (where event = 'processed') as processed_at,
                min(event_at) filter (where event = 'delivered') as delivered_at,
                min(event_at) filter (where event = 'open' and not coalesce(sg_machine_open, false)) as opened_at,
                min(event_at) filter (where event = 'open' and coalesce(sg_machine_open, false)) as machine_opened_at,
                min(event_at) filter (where event = 'click') as clicked_at,
                min(event_at) filter (where event = 'bounce'
                                      and coalesce(payload ->> 'type', 'bounce') <> 'blocked') as bounced_at,
                min(event_at) filter (where event = 'dropped') as dropped_at,
                min(event_at) filter (where event = 'spamreport') as spam_reported_at,
                min(event_at) filter (where event in ('unsubscribe', 'group_unsubscribe')) as unsubscribed_at
            from raw_sendgrid.events e join ids using (gl_outbox_id)
            group by 1
        )
        update ops.outbox o set
            processed_at = ev.processed_at, delivered_at = ev.delivered_at, opened_at = ev.opened_at,
            machine_opened_at = ev.machine_opened_at, clicked_at = ev.clicked_at, bounced_at = ev.bounced_at,
            dropped_at = ev.dropped_at, spam_reported_at = ev.spam_reported_at, unsubscribed_at = ev.unsubscribed_at,
            updated_at = now()
        from ev
        where o.outbox_id = ev.outbox_id
          and (o.processed_at, o.delivered_at, o.opened_at, o.machine_opened_at, o.clicked_at, o.bounced_at,
               o.dropped_at, o.spam_reported_at, o.unsubscribed_at)
              is distinct from
              (ev.processed_at, ev.delivered_at, ev.opened_at, ev.machine_opened_at, ev.clicked_at, ev.bounced_at,
               ev.dropped_at, ev.spam_reported_at, ev.unsubscribed_at)
        """,
        {"since": since},
    ).rowcount
    _set_watermark(conn, "outbox_engagement", top)
    return changed


def suppress(
    conn: psycopg.Connection,
    email: str | None,
    reason: str,
    source: str,
    occurred_at: datetime,
    actor: str,
    contact_id: str | None = None,
    source_ref: str | None = None,
    email_hash: str | None = None,
    details: dict | None = None,
) -> bool:
    """Add an address to the suppression list (idempotent per address and reason)."""
    key = email_hash or (email_sha256(email) if email else None)
    if key is None:
        return False
    inserted = conn.execute(
        """
        insert into ops.suppression (email_sha256, reason, contact_id, source, source_ref, suppressed_at, details)
        values (%s, %s, %s, %s, %s, %s, %s)
        on conflict (email_sha256, reason) do nothing
        """,
        (key, reason, contact_id, source, source_ref, occurred_at, json.dumps(details or {})),
    ).rowcount
    if inserted:
        conn.execute(
            "insert into ops.audit_log (actor, action, subject_type, subject_id, details) "
            "values (%s, 'contact.suppressed', 'email_sha256', %s, %s)",
            (
                actor,
                key,
                json.dumps(
                    {
                        "reason": reason,
                        "source": source,
                        "contact_id": contact_id,
                        "source_ref": source_ref,
                        "occurred_at": occurred_at.isoformat(),
                    }
                ),
            ),
        )
    return bool(inserted)


def suppress_from_events(conn: psycopg.Connection, actor: str) -> int:
    since = _watermark(conn, "suppression_events")
    rows = conn.execute(
        """
        select sg_event_id, event, email, event_at, gl_contact_id, coalesce(payload ->> 'type', ''), _synced_at
        from raw_sendgrid.events
        where event = any(%s::text[]) and email is not null
          and (%s::timestamptz is null or _synced_at > %s)
        order by event_at
        """,
        (list(SUPPRESSING_EVENTS), since, since),
    ).fetchall()
    added = 0
    top = since
    for sg_event_id, event, email, event_at, contact_id, bounce_type, synced in rows:
        top = synced if top is None else max(top, synced)
        if event == "bounce" and bounce_type == "blocked":
            continue  # a temporary block, not an invalid address
        added += suppress(
            conn,
            email,
            SUPPRESSING_EVENTS[event],
            "sendgrid_event",
            event_at,
            actor,
            contact_id=contact_id,
            source_ref=sg_event_id,
        )
    _set_watermark(conn, "suppression_events", top)
    return added


REPLIES_SQL = """
with replies as (
    select em.id as reply_ref,
           a.to_id as contact_id,
           coalesce(
               nullif(em.properties ->> 'hs_timestamp', '')::timestamptz, em.created_at
           ) as replied_at,
           nullif(btrim(substring(em.properties ->> 'hs_email_headers'
                                  from '(?i)"In-Reply-To"\\s*:\\s*"([^"]*)"'), ' <>'), '') as in_reply_to,
           coalesce(em.properties ->> 'hs_email_subject', '') as subject,
           em._synced_at
    from raw_hubspot.emails em
    join raw_hubspot.associations a
      on a.from_type = 'emails' and a.from_id = em.id and a.to_type = 'contacts' and not a.removed
    where upper(coalesce(em.properties ->> 'hs_email_direction', '')) = 'INCOMING_EMAIL'
      and not em.archived
      and (%(since)s::timestamptz is null or em._synced_at > %(since)s)
)
select r.reply_ref, r.contact_id, r.replied_at, r.subject, r._synced_at,
       coalesce(
           (select o.outbox_id from ops.outbox o
             where r.in_reply_to is not null and o.sg_message_id = r.in_reply_to and o.contact_id = r.contact_id
             order by o.sent_at limit 1),
           (select o.outbox_id from ops.outbox o
             where o.contact_id = r.contact_id and o.status = 'sent' and o.sent_at <= r.replied_at
               and o.sent_at > r.replied_at - make_interval(days => %(window)s)
             order by o.sent_at desc limit 1)
       ) as outbox_id
from replies r
where r.replied_at is not null
"""


def apply_replies(conn: psycopg.Connection, actor: str) -> tuple[int, int]:
    """Mark replied outbox rows and open follow-up opportunities. Returns (replies, opportunities)."""
    since = _watermark(conn, "hubspot_replies")
    rows = conn.execute(REPLIES_SQL, {"since": since, "window": REPLY_WINDOW_DAYS}).fetchall()
    replies = opportunities = 0
    top = since
    for reply_ref, contact_id, replied_at, subject, synced, outbox_id in rows:
        top = synced if top is None else max(top, synced)
        if subject.strip().lower().startswith("unsubscribe"):
            email = conn.execute(
                "select to_email, email_sha256 from ops.outbox where contact_id = %s order by outbox_id desc limit 1",
                (contact_id,),
            ).fetchone()
            if email:
                suppress(
                    conn,
                    email[0],
                    "unsubscribe",
                    "mailto_unsubscribe",
                    replied_at,
                    actor,
                    contact_id=contact_id,
                    source_ref=reply_ref,
                    email_hash=email[1],
                )
            continue
        if outbox_id is None:
            continue  # not an answer to growthlab mail (the marts still count it as engagement)
        replies += conn.execute(
            "update ops.outbox set replied_at = least(coalesce(replied_at, %s), %s), updated_at = now() "
            "where outbox_id = %s and replied_at is distinct from least(coalesce(replied_at, %s), %s)",
            (replied_at, replied_at, outbox_id, replied_at, replied_at),
        ).rowcount
        opportunities += conn.execute(
            """
            insert into ops.followup_opportunities (reply_ref, contact_id, company_id, campaign_id, outbox_id,
                                                    replied_at, owner_id)
            select %s, o.contact_id, o.company_id, o.campaign_id, o.outbox_id, %s,
                   (select owner_id::text from marts.dim_contacts where contact_id = o.contact_id)
            from ops.outbox o where o.outbox_id = %s
            on conflict (reply_ref) do nothing
            """,
            (reply_ref, replied_at, outbox_id),
        ).rowcount
    _set_watermark(conn, "hubspot_replies", top)
    return replies, opportunities


def _stop(
    conn: psycopg.Connection, where_sql: str, params: dict, reason_sql: str, now: datetime, actor: str
) -> int:
    stopped = conn.execute(
        f"""
        update ops.campaign_enrollments e set status = 'stopped', stopped_reason = {reason_sql},
               ended_at = %(now)s, updated_at = now()
        where e.status = 'active' and ({where_sql})
        returning e.enrollment_id, e.campaign_id, e.contact_id, e.stopped_reason
        """,
        {**params, "now": now},
    ).fetchall()
    for enrollment_id, campaign_id, contact_id, reason in stopped:
        conn.execute(
            "insert into ops.audit_log (actor, action, subject_type, subject_id, details) "
            "values (%s, 'enrollment.stopped', 'enrollment', %s, %s)",
            (
                actor,
                str(enrollment_id),
                json.dumps({"campaign": campaign_id, "contact_id": contact_id, "reason": reason}),
            ),
        )
    return len(stopped)


def stop_sequences(conn: psycopg.Connection, now: datetime, actor: str) -> tuple[int, int]:
    """Stop sequences after replies and suppressions; cancel their unsent emails. (stopped, cancelled)."""
    stopped = _stop(
        conn,
        "exists (select 1 from ops.outbox o where o.contact_id = e.contact_id and o.replied_at is not null)",
        {},
        "'replied'",
        now,
        actor,
    )
    stopped += _stop(
        conn,
        "e.company_id is not null and exists (select 1 from ops.outbox o where o.company_id = e.company_id "
        "and o.contact_id <> e.contact_id and o.replied_at is not null and o.replied_at > %(now)s - interval '60 days')",
        {},
        "'company_replied'",
        now,
        actor,
    )
    stopped += _stop(
        conn,
        """exists (select 1 from ops.suppression s
                   where s.contact_id = e.contact_id
                      or s.email_sha256 in (select o.email_sha256 from ops.outbox o where o.contact_id = e.contact_id))""",
        {},
        """'suppressed:' || (select s.reason from ops.suppression s
                             where s.contact_id = e.contact_id
                                or s.email_sha256 in (select o.email_sha256 from ops.outbox o
                                                      where o.contact_id = e.contact_id)
                             order by s.suppressed_at limit 1)""",
        now,
        actor,
    )
    cancelled = conn.execute(
        """
        update ops.outbox o set status = 'cancelled', status_reason = 'sequence stopped: ' || e.stopped_reason,
               updated_at = now()
        from ops.campaign_enrollments e
        where e.enrollment_id = o.enrollment_id and e.status = 'stopped' and o.status in ('planned', 'ready')
        """
    ).rowcount
    return stopped, cancelled


def apply_signals(conn: psycopg.Connection, now: datetime, actor: str) -> SignalResult:
    """Everything above, in one transaction."""
    result = SignalResult()
    with conn.transaction():
        result.engagement_rows = refresh_engagement(conn)
        result.suppressed = suppress_from_events(conn, actor)
        result.replies, result.opportunities = apply_replies(conn, actor)
        result.stopped, result.cancelled = stop_sequences(conn, now, actor)
    log.info("signals: %s", result)
    return result
