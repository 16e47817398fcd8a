"""GDPR erasure: `growthlab campaigns forget EMAIL`.

The address goes on the suppression list as a hash (reason `gdpr_erasure`, scope `all`, so no
channel contacts it again), every sequence of the contact stops, unsent emails are cancelled, and
the personal data growthlab's campaign tables hold (address, name, the email bodies) is erased
from ops.outbox; counts and engagement timestamps stay for reporting. The request is recorded in
ops.privacy_requests (by hash) for the other areas that hold personal data (raw_* tables, HubSpot).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

import psycopg

from growthlab.campaigns.compliance import email_sha256
from growthlab.campaigns.signals import stop_sequences, suppress

log = logging.getLogger(__name__)


@dataclass
class ForgetResult:
    email_sha256: str
    contacts: list[str]
    stopped: int
    cancelled: int
    redacted: int


def forget(conn: psycopg.Connection, email: str, actor: str, now: datetime) -> ForgetResult:
    if "@" not in email:
        raise ValueError(f"{email!r} is not an email address")
    key = email_sha256(email)
    with conn.transaction():
        found = {
            r[0] for r in conn.execute("select contact_id from ops.outbox where email_sha256 = %s", (key,))
        }
        if _has_dim_contacts(conn):
            found |= {
                r[0]
                for r in conn.execute(
                    "select contact_id::text from marts.dim_contacts where lower(trim(email)) = %s",
                    (email.strip().lower(),),
                )
            }
        contacts = sorted(found)
        conn.execute(
            "insert into ops.privacy_requests (email_sha256, kind, requested_by, details) values (%s, 'erasure', %s, %s)",
            (key, actor, json.dumps({"contacts": contacts})),
        )
        suppress(
            conn,
            None,
            "gdpr_erasure",
            "privacy_request",
            now,
            actor,
            contact_id=contacts[0] if contacts else None,
            email_hash=key,
        )
        stopped, cancelled = stop_sequences(conn, now, actor)
        redacted = conn.execute(
            """
            update ops.outbox set to_email = null, to_name = null, subject = null, body_html = null,
                   body_text = null, headers = null, updated_at = now()
            where email_sha256 = %s and (to_email is not null or body_html is not null)
            """,
            (key,),
        ).rowcount
        conn.execute(
            "update ops.privacy_requests set processed_at = now() where email_sha256 = %s and processed_at is null",
            (key,),
        )
        conn.execute(
            "insert into ops.audit_log (actor, action, subject_type, subject_id, details) "
            "values (%s, 'privacy.erased', 'email_sha256', %s, %s)",
            (
                actor,
                key,
                json.dumps(
                    {
                        "contacts": contacts,
                        "stopped": stopped,
                        "cancelled": cancelled,
                        "outbox_rows_redacted": redacted,
                    }
                ),
            ),
        )
    log.info(
        "forgot %s: %d contact(s), %d sequence(s) stopped, %d email(s) redacted",
        key[:12],
        len(contacts),
        stopped,
        redacted,
    )
    return ForgetResult(key, contacts, stopped, cancelled, redacted)


def _has_dim_contacts(conn: psycopg.Connection) -> bool:
    return conn.execute("select to_regclass('marts.dim_contacts') is not null").fetchone()[0]
