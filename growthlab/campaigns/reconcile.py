"""Settle send batches a crash or an unknown answer left open, from SendGrid's events.

Runs before every send and in the DAG's reconcile task. A batch is only touched when no live
sender holds its advisory lock (see growthlab.campaigns.sender):

* `claimed`: the request was never made (the `posting` mark precedes it) -> rows back to `ready`.
* `posting`: the request may have reached SendGrid.
  - an event in raw_sendgrid.events carrying one of the batch's outbox ids (and its `gl_batch`)
    proves SendGrid accepted the request (it accepts or refuses a request as a whole) -> the batch
    is `confirmed` and its rows `sent`, with the X-Message-Id read from the events;
  - no such event although SendGrid has reported events stamped at least `grace` after the
    batch's reference time (`latest_send_at`: its latest send_at, never earlier than the claiming
    run's now or the newest event received at claim time) -> it was `not_accepted`: rows back to
    `ready` (or `failed` after `max_attempts`);
  - otherwise: left as it is (rows stay `sending`, never resent) until the events say more.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from growthlab.campaigns.sender import ADVISORY_CLASS, batch_lock_key, mark_rows_sent, release_rows

log = logging.getLogger(__name__)
DEFAULT_GRACE = timedelta(minutes=30)


@dataclass
class ReconcileResult:
    released: int = 0
    confirmed: int = 0
    not_accepted: int = 0
    open_posting: int = 0
    busy: int = 0


def _evidence(conn: psycopg.Connection, batch_id: str) -> tuple[int, str | None]:
    """(events proving acceptance, X-Message-Id) of one batch."""
    row = conn.execute(
        """
        select count(*), min(nullif(split_part(ev.sg_message_id, '.', 1), ''))
        from raw_sendgrid.events ev
        join ops.outbox o on ev.gl_outbox_id = o.outbox_id::text
        where o.batch_id = %(batch)s::uuid
          and coalesce(ev.payload ->> 'gl_batch', ev.payload -> 'custom_args' ->> 'gl_batch', %(batch)s::text)
              = %(batch)s::text
        """,
        {"batch": str(batch_id)},
    ).fetchone()
    return int(row[0]), row[1]


def _events_reported_until(conn: psycopg.Connection) -> datetime | None:
    return conn.execute("select max(event_at) from raw_sendgrid.events").fetchone()[0]


def reconcile_batches(
    url: str,
    now: datetime,
    actor: str,
    grace: timedelta = DEFAULT_GRACE,
    max_attempts: int = 3,
) -> ReconcileResult:
    from growthlab.warehouse.db import connect

    result = ReconcileResult()
    with connect(url, autocommit=True) as conn:
        open_batches = conn.execute(
            "select batch_id::text from ops.send_batches where status in ('claimed', 'posting') order by claimed_at"
        ).fetchall()
        for (batch_id,) in open_batches:
            key = batch_lock_key(batch_id)
            if not conn.execute("select pg_try_advisory_lock(%s, %s)", (ADVISORY_CLASS, key)).fetchone()[0]:
                result.busy += 1  # a live sender owns it
                continue
            try:
                _settle(conn, batch_id, now, actor, grace, max_attempts, result)
            finally:
                conn.execute("select pg_advisory_unlock(%s, %s)", (ADVISORY_CLASS, key))
    if result.open_posting:
        log.warning(
            "%d send batch(es) wait for SendGrid's events to tell whether they were accepted; their emails are "
            "not resent until then",
            result.open_posting,
        )
    return result


def _settle(
    conn: psycopg.Connection,
    batch_id: str,
    now: datetime,
    actor: str,
    grace: timedelta,
    max_attempts: int,
    result: ReconcileResult,
) -> None:
    with conn.transaction():
        row = conn.execute(
            "select status, latest_send_at from ops.send_batches where batch_id = %s for update", (batch_id,)
        ).fetchone()
        if row is None or row[0] not in ("claimed", "posting"):
            return
        status, latest_send_at = row
        if status == "claimed":
            result.released += release_rows(
                conn, batch_id, "released", "never posted (sender stopped)", 10**6
            )
            _audit(conn, actor, batch_id, "batch.released", {"reason": "claimed but never posted"})
            return
        events, x_message_id = _evidence(conn, batch_id)
        if events:
            conn.execute(
                """
                update ops.send_batches set status = 'confirmed', x_message_id = coalesce(x_message_id, %s),
                       finished_at = now(), resolution = %s
                where batch_id = %s
                """,
                (x_message_id, f"{events} SendGrid event(s) carry its outbox ids", batch_id),
            )
            n = mark_rows_sent(conn, batch_id, x_message_id, now, actor, "confirmed by SendGrid events")
            result.confirmed += n
            _audit(conn, actor, batch_id, "batch.confirmed", {"emails": n, "events": events})
            return
        reported = _events_reported_until(conn)
        if reported is not None and reported >= latest_send_at + grace:
            conn.execute(
                "update ops.send_batches set resolution = %s where batch_id = %s",
                (f"no event for it although SendGrid reported events until {reported.isoformat()}", batch_id),
            )
            n = release_rows(
                conn, batch_id, "not_accepted", "not accepted by SendGrid (no events)", max_attempts
            )
            result.not_accepted += n
            _audit(
                conn,
                actor,
                batch_id,
                "batch.not_accepted",
                {"emails": n, "events_until": reported.isoformat()},
            )
            return
        result.open_posting += 1
        _alert_if_stuck(conn, batch_id)


STUCK_AFTER = timedelta(hours=6)


def _alert_if_stuck(conn: psycopg.Connection, batch_id: str) -> None:
    """One ops.alerts row per batch still unsettled STUCK_AFTER (wall clock) after it was posted."""
    conn.execute(
        """
        insert into ops.alerts (source, severity, message, details)
        select 'campaigns.reconcile', 'warning',
               format('send batch %%s (%%s emails, campaign %%s) has waited %%s for SendGrid''s events; its emails '
                      'are not resent until they say whether it was accepted. Check the event webhook and the '
                      'sendgrid_events DAG', b.batch_id, b.message_count, b.campaign_id,
                      date_trunc('minute', now() - b.posted_at)),
               jsonb_build_object('batch_id', b.batch_id::text, 'campaign_id', b.campaign_id)
        from ops.send_batches b
        where b.batch_id = %s::uuid and b.status = 'posting' and b.posted_at < now() - %s
          and not exists (select 1 from ops.alerts a where a.source = 'campaigns.reconcile'
                          and a.details ->> 'batch_id' = b.batch_id::text)
        """,
        (batch_id, STUCK_AFTER),
    )


def _audit(conn: psycopg.Connection, actor: str, batch_id: str, action: str, details: dict) -> None:
    import json

    conn.execute(
        "insert into ops.audit_log (actor, action, subject_type, subject_id, details) "
        "values (%s, %s, 'send_batch', %s, %s)",
        (actor, action, batch_id, json.dumps(details)),
    )
