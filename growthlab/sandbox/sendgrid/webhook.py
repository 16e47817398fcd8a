"""SendGrid's signed Event Webhook: event payloads, batches, ECDSA signatures, delivery with retries.

Events wait in `sendgrid.events` until the webhook is enabled with a URL; they are then grouped in
batches (`sendgrid.deliveries`, at most BATCH_EVENTS events, oldest first) and POSTed with the
headers SendGrid sends:

    X-Twilio-Email-Event-Webhook-Signature: base64 DER ECDSA(P-256, SHA-256) over timestamp + body
    X-Twilio-Email-Event-Webhook-Timestamp: unix seconds of the attempt

A batch that fails (non-2xx, timeout, refused connection) stays pending and is retried with an
exponential backoff (2 s, 4 s, ... up to 5 min); nothing is dropped. Delivery is at least once:
receivers deduplicate on `sg_event_id`, as with the real SendGrid.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
from dataclasses import dataclass

import httpx
import psycopg
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from growthlab.sandbox import store

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
BATCH_EVENTS = 500
MAX_BACKOFF_S = 300.0
TIMEOUT_S = 10.0
# Event types and the settings flag that switches each on.
EVENT_FLAGS = {
    "processed": "processed",
    "delivered": "delivered",
    "deferred": "deferred",
    "bounce": "bounce",
    "dropped": "dropped",
    "open": "open",
    "click": "click",
    "spamreport": "spam_report",
    "unsubscribe": "unsubscribe",
    "group_unsubscribe": "group_unsubscribe",
    "group_resubscribe": "group_resubscribe",
}
SETTING_FLAGS = tuple(dict.fromkeys(EVENT_FLAGS.values()))


def sign(private_pem: str, timestamp: str, payload: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    signature = key.sign((timestamp + payload).encode("utf-8"), ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(signature).decode()


def sg_event_id(message_id: int, code: int, extra: int = 0) -> str:
    digest = hashlib.sha256(f"{message_id}:{code}:{extra}".encode()).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


# ---- settings --------------------------------------------------------------------------------
def default_settings() -> dict:
    return {"enabled": False, "url": "", "signed": False, **{flag: False for flag in SETTING_FLAGS}}


def get_settings(conn: psycopg.Connection) -> dict:
    return {**default_settings(), **(store.get_meta(conn, "sendgrid_webhook", {}) or {})}


def update_settings(conn: psycopg.Connection, changes: dict) -> dict:
    settings = get_settings(conn)
    settings.update(changes)
    store.set_meta(conn, "sendgrid_webhook", settings)
    return settings


def configure_webhook(database_url: str, *, url: str, enabled: bool = True, signed: bool = True) -> dict:
    """Point the webhook at `url` with every event type on (what tests use instead of the API)."""
    with store.open_db(database_url, autocommit=True) as conn:
        return update_settings(
            conn, {"url": url, "enabled": enabled, "signed": signed, **{flag: True for flag in SETTING_FLAGS}}
        )


# ---- batching and delivery -------------------------------------------------------------------
def batch_pending(conn: psycopg.Connection, settings: dict) -> int:
    """Group undelivered events into delivery batches (when the webhook is on). Returns batches made."""
    if not settings.get("enabled") or not settings.get("url"):
        return 0
    wanted = [event for event, flag in EVENT_FLAGS.items() if settings.get(flag)]
    made = 0
    with conn.transaction():
        # Events of switched-off types are never sent (as with SendGrid): mark them done.
        conn.execute(
            "update sendgrid.events set delivery_id = 0 where delivery_id is null and not (event = any(%s))",
            (wanted,),
        )
        while True:
            rows = conn.execute(
                "select sg_event_id, payload::text from sendgrid.events where delivery_id is null "
                "order by occurred_at, sg_event_id limit %s for update skip locked",
                (BATCH_EVENTS,),
            ).fetchall()
            if not rows:
                return made
            payload = "[" + ",".join(r[1] for r in rows) + "]\r\n"
            delivery_id = conn.execute(
                "insert into sendgrid.deliveries (url, event_count, payload) values (%s, %s, %s) returning id",
                (settings["url"], len(rows), payload),
            ).fetchone()[0]
            conn.execute(
                "update sendgrid.events set delivery_id = %s where sg_event_id = any(%s)",
                (delivery_id, [r[0] for r in rows]),
            )
            made += 1


@dataclass
class DeliveryReport:
    attempted: int = 0
    delivered: int = 0
    failed: int = 0
    events: int = 0
    pending: int = 0

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def deliver_due(
    conn: psycopg.Connection, *, force: bool = False, limit: int = 50, client: httpx.Client | None = None
) -> DeliveryReport:
    """POST due batches once each (force: ignore the backoff). Failures are rescheduled."""
    report = DeliveryReport()
    settings = get_settings(conn)
    if not settings.get("enabled") or not settings.get("url"):
        report.pending = _pending(conn)
        return report
    signing = store.get_meta(conn, "sendgrid_signing")
    own_client = client is None
    client = client or httpx.Client(timeout=TIMEOUT_S)
    try:
        while report.attempted < limit:
            with conn.transaction():
                # Forced rounds wait for a batch the background worker is sending, then see it done.
                lock = "for update" if force else "for update skip locked"
                row = conn.execute(
                    "select id, payload, attempts, event_count from sendgrid.deliveries "
                    "where delivered_at is null and (%s or next_attempt_at <= clock_timestamp()) "
                    f"order by id limit 1 {lock}",
                    (force,),
                ).fetchone()
                if row is None:
                    break
                delivery_id, payload, attempts, count = row
                report.attempted += 1
                status, err = _post(client, settings, signing, payload)
                if status is not None and 200 <= status < 300:
                    conn.execute(
                        "update sendgrid.deliveries set delivered_at = clock_timestamp(), attempts = attempts + 1, "
                        "last_status = %s, last_error = null where id = %s",
                        (status, delivery_id),
                    )
                    report.delivered += 1
                    report.events += count
                else:
                    backoff = min(MAX_BACKOFF_S, 2.0 * 2**attempts)
                    conn.execute(
                        "update sendgrid.deliveries set attempts = attempts + 1, last_status = %s, last_error = %s, "
                        "next_attempt_at = clock_timestamp() + make_interval(secs => %s) where id = %s",
                        (status, err, backoff, delivery_id),
                    )
                    report.failed += 1
                    log.info(
                        "webhook batch %s failed (%s); retry in %.0fs", delivery_id, err or status, backoff
                    )
                    if force:
                        break
    finally:
        if own_client:
            client.close()
    report.pending = _pending(conn)
    return report


def _pending(conn: psycopg.Connection) -> int:
    return int(
        conn.execute("select count(*) from sendgrid.deliveries where delivered_at is null").fetchone()[0]
    )


def _post(client: httpx.Client, settings: dict, signing: dict, payload: str) -> tuple[int | None, str | None]:
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "User-Agent": "SendGrid Event API"}
    if settings.get("signed"):
        headers[SIGNATURE_HEADER] = sign(signing["private_pem"], timestamp, payload)
        headers[TIMESTAMP_HEADER] = timestamp
    try:
        response = client.post(settings["url"], content=payload.encode("utf-8"), headers=headers)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, response.text[:500]


def deliver_pending(database_url: str, force: bool = False) -> dict:
    """Batch what is waiting and deliver what is due; returns counts (attempted, delivered, failed, ...)."""
    with store.open_db(database_url, autocommit=True) as conn:
        batch_pending(conn, get_settings(conn))
        return deliver_due(conn, force=force).as_dict()


def send_test_event(conn: psycopg.Connection, url: str) -> int | None:
    """`POST /v3/user/webhooks/event/test`: one signed sample event to `url`; returns the status."""
    settings = {**get_settings(conn), "url": url}
    signing = store.get_meta(conn, "sendgrid_signing")
    now = int(time.time())
    payload = (
        json.dumps(
            [
                {
                    "email": "example@test.com",
                    "timestamp": now,
                    "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
                    "event": "processed",
                    "category": ["cat facts"],
                    "sg_event_id": sg_event_id(0, now),
                    "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
                }
            ]
        )
        + "\r\n"
    )
    with httpx.Client(timeout=TIMEOUT_S) as client:
        status, _ = _post(client, settings, signing, payload)
    return status
