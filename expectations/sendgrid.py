"""Suite of raw_sendgrid.events (SendGrid Event Webhook)."""

from __future__ import annotations

from datetime import datetime

from expectations.suite import TableSuite, email_format, not_null, one_of, references, sane_time, unique

EVENT_TYPES = (
    "processed",
    "dropped",
    "delivered",
    "deferred",
    "bounce",
    "blocked",
    "open",
    "click",
    "spamreport",
    "unsubscribe",
    "group_unsubscribe",
    "group_resubscribe",
    "account_status_change",
)


def events_suite(as_of: datetime) -> TableSuite:
    return TableSuite(
        table="raw_sendgrid.events",
        source="sendgrid",
        key=("sg_event_id",),
        select=(
            "l._seq, l.sg_event_id, l.event, l.email, l.event_at, "
            "case when l.gl_contact_id is null then null "
            "when exists (select 1 from raw_hubspot.contacts c where c.id = l.gl_contact_id) then 1 "
            "else 0 end as contact_known"
        ),
        rules=(
            not_null("sg_event_id"),
            unique("sg_event_id"),
            not_null("event"),
            one_of("event", EVENT_TYPES, name="event_type"),
            email_format("email"),
            not_null("event_at"),
            sane_time("event_at", as_of),
            references("contact_known", "gl_contact_id"),
        ),
        payload="l.payload",
    )
