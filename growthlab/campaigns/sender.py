"""Send `ready` outbox rows through SendGrid, exactly once.

The protocol (docs/architecture.md, "Email campaigns: exactly once"):

1. **claim**: in one transaction, lock due `ready` rows (`FOR UPDATE SKIP LOCKED`), re-check
   every compliance gate against the current warehouse (suppression, consent, opt-out, the
   enrollment still active) and cancel the rows that fail it, then create an `ops.send_batches`
   row `claimed` and move the rest to `sending` with its batch id. Before that transaction the
   sender takes a session advisory lock on the batch id and holds it until the batch is recorded:
   the lock says "a live sender owns this batch".
2. **mark**: set the batch `posting` (committed) - from here on the request may reach SendGrid.
3. **post**: one `POST /v3/mail/send` through the real `sendgrid` client with up to 1,000
   personalizations, custom_args for attribution (gl_* and `gl_batch`) and categories.
4. **record**: on 202 the batch becomes `accepted` and its rows `sent` with the `X-Message-Id`,
   each with an `email.sent` audit row, in one transaction. A definite refusal (4xx; connection
   refused) releases the rows or fails them (400: the payload is wrong, retrying cannot help). An
   ambiguous outcome (timeout, reset, 5xx) leaves the batch `posting`.

A crash at any point leaves either a `claimed` batch (never posted: released on restart) or a
`posting` batch (maybe posted). `reconcile.reconcile_batches` settles the latter only when its
sender is gone (the advisory lock is free): SendGrid's events are the source of truth, so any
event carrying one of the batch's outbox ids proves acceptance (rows become `sent`); no event for
the batch although SendGrid has reported events from at least the grace period after the batch's
reference time (its latest `send_at`, at least the run's now and the newest event received when it
was claimed) proves it was not accepted (rows go back to `ready`). Until then the rows stay
`sending` and are never resent. Hence: never twice, and never forgotten as long as events flow.
"""

from __future__ import annotations

import json
import logging
import socket
import urllib.error
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from growthlab.campaigns.audience import recipients_by_id, suppressed_sql
from growthlab.campaigns.compliance import may_email
from growthlab.campaigns.validation import Catalog, LoadedCampaign

log = logging.getLogger(__name__)

MAX_PERSONALIZATIONS = 1000  # SendGrid's limit per request
MAX_SEND_AHEAD = timedelta(hours=72)  # SendGrid's limit on send_at
SUBSTITUTIONS_MAX_BYTES = 10_000  # per personalization
HTML_TAG = "-gl_html-"
TEXT_TAG = "-gl_text-"
ADVISORY_CLASS = 720_611_030  # pg_advisory_lock(class, key) namespace of send batches


@dataclass(frozen=True)
class SendOptions:
    batch_size: int = MAX_PERSONALIZATIONS
    ahead: timedelta = timedelta(hours=1)  # hand over mail scheduled before now + ahead (with send_at)
    max_attempts: int = 3
    max_batches: int | None = None  # stop after this many requests (None: all due rows)

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= MAX_PERSONALIZATIONS:
            raise ValueError(f"batch_size must be 1..{MAX_PERSONALIZATIONS}, got {self.batch_size}")
        if not timedelta(0) <= self.ahead <= MAX_SEND_AHEAD:
            raise ValueError("ahead must be between 0 and 72 hours (SendGrid's send_at limit)")


@dataclass
class SendResult:
    batches: int = 0
    sent: int = 0
    blocked: int = 0
    released: int = 0
    failed: int = 0
    ambiguous_batches: int = 0
    blocked_reasons: dict[str, int] = field(default_factory=dict)


class SendAborted(RuntimeError):
    """SendGrid refused or the outcome of a request is unknown; the message says what to do."""


# A hook called at each step of the protocol: tests inject crashes here; a no-op in production.
Checkpoint = Callable[[str, int], None]


def _no_checkpoint(point: str, batch_no: int) -> None:
    return None


def batch_lock_key(batch_id: uuid.UUID | str) -> int:
    return int(uuid.UUID(str(batch_id)).int % (2**31 - 1))


# ---------------------------------------------------------------------------------------- payload


def _personalization(
    row: dict[str, Any], campaign_step_number: int, batch_id: str, now: datetime, inline: bool
):
    p: dict[str, Any] = {
        "to": [{"email": row["to_email"], **({"name": row["to_name"]} if row["to_name"] else {})}],
        "subject": row["subject"],
        "headers": dict(row["headers"] or {}),
        "custom_args": {
            "gl_campaign": row["campaign_id"],
            "gl_step": str(campaign_step_number),
            "gl_variant": row["variant_id"],
            "gl_angle": row["angle"],
            "gl_contact_id": row["contact_id"],
            "gl_outbox_id": str(row["outbox_id"]),
            "gl_batch": batch_id,
        },
    }
    if not inline:
        p["substitutions"] = {HTML_TAG: row["body_html"], TEXT_TAG: row["body_text"]}
    send_at = row["scheduled_at"]
    if send_at > now:
        p["send_at"] = int(send_at.timestamp())
    return p


def substitution_bytes(row: dict[str, Any]) -> int:
    return len((HTML_TAG + row["body_html"] + TEXT_TAG + row["body_text"]).encode())


def build_request(
    loaded: LoadedCampaign, rows: list[dict[str, Any]], batch_id: str, now: datetime
) -> dict[str, Any]:
    """The `POST /v3/mail/send` body for one batch (pure).

    Several recipients share one request through substitutions (the per-recipient HTML and text
    replace the tags of the shared content); a batch of one carries its content inline.
    """
    campaign = loaded.campaign
    inline = len(rows) == 1
    body: dict[str, Any] = {
        "from": {"email": campaign.sender.from_email, "name": campaign.sender.from_name},
        "subject": campaign.name,  # every personalization overrides it
        "content": [
            {"type": "text/plain", "value": rows[0]["body_text"] if inline else TEXT_TAG},
            {"type": "text/html", "value": rows[0]["body_html"] if inline else HTML_TAG},
        ],
        "personalizations": [
            _personalization(
                r, campaign.step_number(r["step_id"]) if _has_step(campaign, r) else 0, batch_id, now, inline
            )
            for r in rows
        ],
        "categories": ["growthlab", campaign.id],
        "custom_args": {"gl_batch": batch_id},
        "tracking_settings": {
            "click_tracking": {"enable": True, "enable_text": False},
            "open_tracking": {"enable": True},
        },
    }
    if campaign.sender.reply_to:
        body["reply_to"] = {"email": campaign.sender.reply_to, "name": campaign.sender.from_name}
    return body


def _has_step(campaign, row) -> bool:
    return any(s.id == row["step_id"] for s in campaign.steps)


# ------------------------------------------------------------------------------------------ claim


def _gate(conn: psycopg.Connection, loaded: LoadedCampaign, rows: list[dict[str, Any]]) -> dict[int, str]:
    """outbox_id -> why it must not be sent now (rows absent from the result may go)."""
    blocked: dict[int, str] = {}
    recipients = recipients_by_id(conn, sorted({r["contact_id"] for r in rows}))
    hits = {
        oid
        for (oid,) in conn.execute(
            "select o.outbox_id from ops.outbox o where o.outbox_id = any(%(ids)s::bigint[]) and ("
            + suppressed_sql("o.to_email", "o.contact_id")
            + " or exists (select 1 from ops.suppression sp where sp.email_sha256 = o.email_sha256))",
            {"ids": [r["outbox_id"] for r in rows]},
        )
    }
    for row in rows:
        oid = row["outbox_id"]
        recipient = recipients.get(row["contact_id"])
        if oid in hits:
            blocked[oid] = "suppressed"
        elif row["enrollment_status"] != "active":
            blocked[oid] = f"enrollment_{row['enrollment_status']}"
        elif not row["to_email"]:
            blocked[oid] = "no_email"
        elif recipient is None:
            blocked[oid] = "contact_gone"
        elif recipient.get("email") and recipient["email"].strip().lower() != row["to_email"].strip().lower():
            blocked[oid] = "email_changed"
        elif recipient.get("can_email") is False:
            blocked[oid] = "marts_can_email_false"
        else:
            ok, why = may_email(
                recipient.get("country"),
                recipient.get("company_country"),
                recipient.get("marketing_consent"),
                recipient.get("email_optout"),
                loaded.campaign.consent,
                recipient.get("requires_consent"),
            )
            if not ok:
                blocked[oid] = why
    return blocked


def _claim(
    conn: psycopg.Connection,
    loaded: LoadedCampaign,
    batch_id: str,
    now: datetime,
    options: SendOptions,
    actor: str,
    result: SendResult,
) -> list[dict[str, Any]]:
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        rows = list(
            cur.execute(
                """
                select o.*, e.status as enrollment_status
                from ops.outbox o
                join ops.campaign_enrollments e on e.enrollment_id = o.enrollment_id
                where o.campaign_id = %s and o.status = 'ready' and o.scheduled_at < %s
                order by o.scheduled_at, o.outbox_id
                limit %s
                for update of o skip locked
                """,
                (loaded.campaign.id, now + options.ahead, options.batch_size),
            )
        )
        if not rows:
            return []
        blocked = _gate(conn, loaded, rows)
        for oid, reason in blocked.items():
            conn.execute(
                "update ops.outbox set status = 'cancelled', status_reason = %s, updated_at = now() "
                "where outbox_id = %s",
                (f"blocked at send time: {reason}", oid),
            )
            conn.execute(
                "insert into ops.audit_log (actor, action, subject_type, subject_id, details) "
                "values (%s, 'email.blocked', 'outbox', %s, %s)",
                (actor, str(oid), json.dumps({"reason": reason, "campaign": loaded.campaign.id})),
            )
            result.blocked += 1
            result.blocked_reasons[reason] = result.blocked_reasons.get(reason, 0) + 1
        rows = [r for r in rows if r["outbox_id"] not in blocked]
        if not rows:
            return []
        # The batch's reference time on SendGrid's clock: not before its latest send_at, the run's now,
        # or the newest event already received (SendGrid stamped that one before this request exists,
        # which keeps the rule sound for a backfill run whose logical now lies in the past).
        newest_event = conn.execute("select max(event_at) from raw_sendgrid.events").fetchone()[0]
        latest = max(
            [*(max(r["scheduled_at"], now) for r in rows), *([newest_event] if newest_event else [])]
        )
        conn.execute(
            """
            insert into ops.send_batches (batch_id, campaign_id, status, message_count, claimed_by, run_now,
                                          latest_send_at)
            values (%s, %s, 'claimed', %s, %s, %s, %s)
            """,
            (batch_id, loaded.campaign.id, len(rows), actor, now, latest),
        )
        conn.execute(
            "update ops.outbox set status = 'sending', batch_id = %s, attempts = attempts + 1, updated_at = now() "
            "where outbox_id = any(%s::bigint[])",
            (batch_id, [r["outbox_id"] for r in rows]),
        )
    return rows


# ------------------------------------------------------------------------------------ post/record


@dataclass(frozen=True)
class PostOutcome:
    kind: str  # accepted | rejected | refused_retry | ambiguous
    http_status: int | None = None
    x_message_id: str | None = None
    error: str | None = None


def post(client: Any, body: dict[str, Any]) -> PostOutcome:
    """Call SendGrid and classify the outcome (never raises for HTTP or network errors)."""
    from python_http_client import exceptions as http_exc

    try:
        response = client.send(body)
    except http_exc.HTTPError as exc:
        status = int(getattr(exc, "status_code", 0) or 0)
        detail = _error_text(getattr(exc, "body", b""))
        if status in (400, 413, 415):
            return PostOutcome("rejected", status, error=detail)
        if status in (401, 403, 404, 405, 429):
            return PostOutcome("refused_retry", status, error=detail)
        return PostOutcome("ambiguous", status, error=detail)
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, ConnectionRefusedError | socket.gaierror):
            return PostOutcome("refused_retry", None, error=f"connection refused: {reason}")
        return PostOutcome("ambiguous", None, error=f"network error: {reason}")
    except (TimeoutError, ConnectionError, OSError) as exc:
        if isinstance(exc, ConnectionRefusedError):
            return PostOutcome("refused_retry", None, error=f"connection refused: {exc}")
        return PostOutcome("ambiguous", None, error=f"network error: {type(exc).__name__}: {exc}")
    status = int(response.status_code)
    headers = response.headers
    x_message_id = headers.get("X-Message-Id") if headers is not None else None
    if status in (200, 202):
        return PostOutcome("accepted", status, x_message_id=x_message_id)
    return PostOutcome("ambiguous", status, error=f"unexpected HTTP {status}")


def _error_text(body: Any) -> str:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    return str(body)[:500]


def _record_accepted(
    conn: psycopg.Connection,
    batch_id: str,
    rows: list[dict[str, Any]],
    outcome: PostOutcome,
    now: datetime,
    actor: str,
    resolution: str | None = None,
) -> int:
    with conn.transaction():
        updated = conn.execute(
            """
            update ops.send_batches set status = %s, http_status = %s, x_message_id = %s, finished_at = now(),
                   resolution = %s
            where batch_id = %s and status = 'posting'
            """,
            (
                "accepted" if resolution is None else "confirmed",
                outcome.http_status,
                outcome.x_message_id,
                resolution,
                batch_id,
            ),
        ).rowcount
        if not updated:
            return 0
        n = mark_rows_sent(conn, batch_id, outcome.x_message_id, now, actor, resolution)
    return n


def mark_rows_sent(
    conn: psycopg.Connection,
    batch_id: str,
    x_message_id: str | None,
    now: datetime,
    actor: str,
    resolution: str | None,
) -> int:
    """Rows of an accepted batch -> sent, one `email.sent` audit row each, in one statement
    (inside the caller's transaction)."""
    row = conn.execute(
        """
        with sent as (
            update ops.outbox set status = 'sent', sg_message_id = coalesce(%(xid)s, sg_message_id),
                   sent_at = greatest(scheduled_at, %(now)s), updated_at = now()
            where batch_id = %(batch)s::uuid and status = 'sending'
            returning outbox_id, campaign_id, step_id, variant_id, contact_id
        ),
        audited as (
            insert into ops.audit_log (actor, action, subject_type, subject_id, details)
            select %(actor)s, 'email.sent', 'outbox', outbox_id::text,
                   jsonb_build_object('campaign', campaign_id, 'step', step_id, 'variant', variant_id,
                                      'contact_id', contact_id, 'batch_id', %(batch)s::text,
                                      'x_message_id', %(xid)s::text, 'resolution', %(resolution)s::text)
            from sent
            returning 1
        )
        select count(*) from audited
        """,
        {"xid": x_message_id, "now": now, "batch": batch_id, "actor": actor, "resolution": resolution},
    ).fetchone()
    return int(row[0])


def release_rows(
    conn: psycopg.Connection,
    batch_id: str,
    status: str,
    error: str | None,
    max_attempts: int,
    fail_rows: bool = False,
) -> int:
    """Give a batch's rows back (`ready`, or `failed` when attempts are used up or the payload is wrong)."""
    conn.execute(
        "update ops.send_batches set status = %s, error = %s, finished_at = now() where batch_id = %s",
        (status, error, batch_id),
    )
    failed = conn.execute(
        """
        update ops.outbox set status = 'failed', status_reason = %s, batch_id = null, updated_at = now()
        where batch_id = %s and status = 'sending' and (%s or attempts >= %s)
        """,
        (f"sendgrid: {error}", batch_id, fail_rows, max_attempts),
    ).rowcount
    released = conn.execute(
        "update ops.outbox set status = 'ready', batch_id = null, updated_at = now() "
        "where batch_id = %s and status = 'sending'",
        (batch_id,),
    ).rowcount
    return released + failed


# ------------------------------------------------------------------------------------------ send


def send_due(
    url: str,
    catalog: Catalog,
    client: Any,
    now: datetime,
    actor: str,
    options: SendOptions | None = None,
    checkpoint: Checkpoint = _no_checkpoint,
) -> SendResult:
    """Send every due `ready` row of the catalog's active campaigns. Raises SendAborted when
    SendGrid refuses us or an outcome is unknown (after recording what is known)."""
    from growthlab.warehouse.db import connect

    options = options or SendOptions()
    result = SendResult()
    batch_no = 0
    with connect(url, autocommit=True) as conn:
        for loaded in catalog.active():
            while options.max_batches is None or batch_no < options.max_batches:
                batch_id = str(uuid.uuid4())
                key = batch_lock_key(batch_id)
                conn.execute("select pg_advisory_lock(%s, %s)", (ADVISORY_CLASS, key))
                try:
                    blocked_before = result.blocked
                    rows = _claim(conn, loaded, batch_id, now, options, actor, result)
                    if not rows:
                        if result.blocked > blocked_before:
                            continue  # the whole batch was blocked: look at the next rows
                        break
                    batch_no += 1
                    checkpoint("claimed", batch_no)
                    body_rows, oversize = _split_oversize(rows)
                    if oversize and body_rows:
                        # Mail too large to share a request goes alone: give it back for the next batch.
                        _requeue(conn, batch_id, oversize)
                        rows = body_rows
                    _send_batch(
                        conn,
                        client,
                        loaded,
                        batch_id,
                        rows,
                        now,
                        actor,
                        options,
                        result,
                        checkpoint,
                        batch_no,
                    )
                finally:
                    conn.execute("select pg_advisory_unlock(%s, %s)", (ADVISORY_CLASS, key))
    log.info("send: %s", result)
    return result


def _split_oversize(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if len(rows) == 1:
        return rows, []
    fits = [r for r in rows if substitution_bytes(r) <= SUBSTITUTIONS_MAX_BYTES]
    big = [r for r in rows if substitution_bytes(r) > SUBSTITUTIONS_MAX_BYTES]
    if not fits:  # only big ones: send the first alone now, the rest in later batches
        return big[:1], big[1:]
    return fits, big


def _requeue(conn: psycopg.Connection, batch_id: str, rows: list[dict[str, Any]]) -> None:
    with conn.transaction():
        ids = [r["outbox_id"] for r in rows]
        conn.execute(
            "update ops.outbox set status = 'ready', batch_id = null, attempts = attempts - 1, updated_at = now() "
            "where outbox_id = any(%s::bigint[]) and batch_id = %s",
            (ids, batch_id),
        )
        conn.execute(
            "update ops.send_batches set message_count = message_count - %s where batch_id = %s",
            (len(ids), batch_id),
        )


def _send_batch(
    conn: psycopg.Connection,
    client: Any,
    loaded: LoadedCampaign,
    batch_id: str,
    rows: list[dict[str, Any]],
    now: datetime,
    actor: str,
    options: SendOptions,
    result: SendResult,
    checkpoint: Checkpoint,
    batch_no: int,
) -> None:
    body = build_request(loaded, rows, batch_id, now)
    checkpoint("built", batch_no)
    marked = conn.execute(
        "update ops.send_batches set status = 'posting', posted_at = now() where batch_id = %s and status = 'claimed'",
        (batch_id,),
    ).rowcount
    if not marked:
        raise SendAborted(f"batch {batch_id} was taken over while being built; rerun the send step")
    checkpoint("marked", batch_no)
    outcome = post(client, body)
    checkpoint("posted", batch_no)
    result.batches += 1
    if outcome.kind == "accepted":
        result.sent += _record_accepted(conn, batch_id, rows, outcome, now, actor)
        checkpoint("recorded", batch_no)
        return
    if outcome.kind == "ambiguous":
        conn.execute(
            "update ops.send_batches set error = %s, http_status = %s where batch_id = %s",
            (outcome.error, outcome.http_status, batch_id),
        )
        result.ambiguous_batches += 1
        raise SendAborted(
            f"SendGrid's answer to batch {batch_id} ({len(rows)} emails) is unknown ({outcome.error}); its rows "
            f"stay 'sending' and are settled from SendGrid's events by the reconcile step - nothing is resent "
            f"before that"
        )
    with conn.transaction():
        n = release_rows(
            conn,
            batch_id,
            "rejected",
            f"HTTP {outcome.http_status}: {outcome.error}",
            options.max_attempts,
            fail_rows=outcome.kind == "rejected",
        )
    if outcome.kind == "rejected":
        result.failed += n
        log.error("SendGrid rejected batch %s (HTTP %s): %s", batch_id, outcome.http_status, outcome.error)
        return
    result.released += n
    raise SendAborted(
        f"SendGrid refused the request (HTTP {outcome.http_status or '-'}: {outcome.error}); {n} emails are back in "
        f"the queue. Check the `sendgrid` connection (host, API key) or wait out the rate limit, then rerun"
    )
