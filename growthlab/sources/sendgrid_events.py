"""SendGrid Event Webhook: the receiver (ASGI) and the load of its spool into raw_sendgrid.events.

Receiver (`growthlab receiver serve`, a process of its own): `POST /sendgrid/events` with the
headers `X-Twilio-Email-Event-Webhook-Signature` and `-Timestamp`.

* The ECDSA signature over timestamp + body is verified with sendgrid's `EventWebhook`; a missing,
  malformed or wrong signature gets 403, and so does a timestamp further than the tolerance
  (default 10 minutes) from the receiver's clock: a replayed request is refused.
* An accepted body is written to raw_sendgrid.webhook_batches (keyed by its sha256) and committed
  before the 200 goes out; a redelivered batch is stored once (times_received counts).
* `GET /healthz` answers 200 when the warehouse is reachable.

Load (`load_spooled_events`, the sendgrid_events DAG): pending spooled batches are parsed into
rows, landed, audited (expectations/sendgrid.py), published into raw_sendgrid.events deduplicated
on sg_event_id, and marked loaded in the same transaction.
"""

from __future__ import annotations

import binascii
import contextlib
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

from growthlab.sources.batches import Batch, start_batch
from growthlab.sources.landing import BatchLoad, Validator, raw_target
from growthlab.sources.quarantine import Rejected
from growthlab.warehouse.db import connect, redact
from growthlab.warehouse.loader import Column, Target

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
DEFAULT_TOLERANCE_S = 600
CUSTOM_ARGS = ("gl_campaign", "gl_step", "gl_variant", "gl_angle", "gl_contact_id", "gl_outbox_id")

COLUMNS = (
    Column("sg_event_id", "text"),
    Column("event", "text"),
    Column("email", "text"),
    Column("event_at", "timestamptz"),
    Column("sg_message_id", "text"),
    Column("sg_machine_open", "boolean"),
    *(Column(a, "text") for a in CUSTOM_ARGS),
    Column("payload", "jsonb"),
    Column("received_at", "timestamptz"),
)
# A redelivered event is the same event: when it was received does not make it new.
EVENTS: Target = raw_target(
    "raw_sendgrid.events",
    COLUMNS,
    ("sg_event_id",),
    compare=tuple(c.name for c in COLUMNS if c.name not in ("sg_event_id", "received_at")),
)


# -- signatures (pure) --------------------------------------------------------------------------


class Rejection(Exception):
    def __init__(self, status: int, reason: str) -> None:
        self.status, self.reason = status, reason
        super().__init__(f"{status}: {reason}")


@dataclass
class SignatureCheck:
    """Verifies Event Webhook signatures; `clock` returns epoch seconds (injectable for tests)."""

    public_key: str
    tolerance_s: int = DEFAULT_TOLERANCE_S  # <= 0: no staleness check (never in production)
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        from sendgrid.helpers.eventwebhook import EventWebhook

        try:
            self._webhook = EventWebhook(self.public_key.strip())
        except (ValueError, TypeError) as exc:
            raise ValueError(
                "the SendGrid webhook public key is not a base64 EC public key; copy it from "
                "Settings > Mail Settings > Signed Event Webhook"
            ) from exc

    def verify(self, body: bytes, signature: str | None, timestamp: str | None) -> None:
        """Raise Rejection(403) unless the request is signed by SendGrid, recently."""
        if not signature or not timestamp:
            raise Rejection(403, f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER}")
        try:
            signed_at = int(timestamp)
        except ValueError:
            raise Rejection(403, "the signature timestamp is not an integer") from None
        if self.tolerance_s > 0 and abs(self.clock() - signed_at) > self.tolerance_s:
            raise Rejection(403, f"stale signature: signed at {signed_at}, tolerance {self.tolerance_s}s")
        try:
            payload = body.decode("utf-8")
            ok = self._webhook.verify_signature(payload, signature, timestamp)
        except (UnicodeDecodeError, binascii.Error, ValueError):
            ok = False
        if not ok:
            raise Rejection(403, "signature does not match the body")


def count_events(body: bytes) -> int:
    try:
        events = json.loads(body)
    except ValueError:
        raise Rejection(400, "the body is not JSON") from None
    if not isinstance(events, list):
        raise Rejection(400, "the body is not a JSON array of events")
    return len(events)


# -- the spool ----------------------------------------------------------------------------------


SPOOL_UPSERT = """
insert into raw_sendgrid.webhook_batches (body_sha256, body, signature, signed_at, event_count)
values (%s, %s, %s, %s, %s)
on conflict (body_sha256) do update set times_received = raw_sendgrid.webhook_batches.times_received + 1
returning times_received = 1
"""


class Spool:
    """Durable storage of accepted batches: one committed row per distinct body."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: psycopg.Connection | None = None
        self._lock = threading.Lock()

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.url, autocommit=True)
        return self._conn

    def store(self, body: bytes, signature: str, signed_at: int, event_count: int) -> bool:
        """Commit the batch; True if it is new. Retries once on a dropped connection."""
        digest = hashlib.sha256(body).hexdigest()
        with self._lock:
            for attempt in (1, 2):
                try:
                    row = (
                        self._connection()
                        .execute(SPOOL_UPSERT, (digest, body, signature, signed_at, event_count))
                        .fetchone()
                    )
                    return bool(row[0])
                except psycopg.OperationalError:
                    self._conn = None
                    if attempt == 2:
                        raise
        raise AssertionError("unreachable")

    def ping(self) -> None:
        with self._lock:
            self._connection().execute("select 1")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


# -- the ASGI app -------------------------------------------------------------------------------


def create_app(url: str, check: SignatureCheck, path: str = "/sendgrid/events"):
    """The receiver as a Starlette app (serve it with uvicorn)."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    spool = Spool(url)

    async def receive(request: Request) -> JSONResponse:
        body = await request.body()
        try:
            check.verify(body, request.headers.get(SIGNATURE_HEADER), request.headers.get(TIMESTAMP_HEADER))
            count = count_events(body)
        except Rejection as exc:
            log.warning("webhook request refused (%d): %s", exc.status, exc.reason)
            return JSONResponse({"error": exc.reason}, status_code=exc.status)
        try:
            new = await run_in_threadpool(
                spool.store,
                body,
                request.headers[SIGNATURE_HEADER],
                int(request.headers[TIMESTAMP_HEADER]),
                count,
            )
        except psycopg.Error as exc:
            log.error("could not store a webhook batch: %s", str(exc).splitlines()[0])
            return JSONResponse({"error": "storage unavailable, retry later"}, status_code=503)
        log.info("webhook batch of %d events %s", count, "stored" if new else "already stored")
        return JSONResponse({"stored": count, "duplicate": not new})

    async def health(request: Request) -> JSONResponse:
        try:
            await run_in_threadpool(spool.ping)
        except Exception as exc:
            return JSONResponse({"ok": False, "error": type(exc).__name__}, status_code=503)
        return JSONResponse({"ok": True})

    @contextlib.asynccontextmanager
    async def lifespan(app):
        try:
            yield
        finally:
            spool.close()

    app = Starlette(
        routes=[Route(path, receive, methods=["POST"]), Route("/healthz", health, methods=["GET"])],
        lifespan=lifespan,
    )
    log.info("SendGrid webhook receiver on %s storing into %s", path, redact(url))
    return app


def public_key_from_environment(conn_json: str | None = None) -> str | None:
    """GROWTHLAB_SENDGRID_WEBHOOK_PUBLIC_KEY, else the `webhook_public_key` extra of the Airflow
    connection `sendgrid` (AIRFLOW_CONN_SENDGRID)."""
    key = os.environ.get("GROWTHLAB_SENDGRID_WEBHOOK_PUBLIC_KEY", "").strip()
    if key:
        return key
    raw = conn_json if conn_json is not None else os.environ.get("AIRFLOW_CONN_SENDGRID", "")
    if not raw:
        return None
    try:
        conn = json.loads(raw)
        extra = conn.get("extra") or {}
        if isinstance(extra, str):
            extra = json.loads(extra or "{}")
        return (extra.get("webhook_public_key") or "").strip() or None
    except (ValueError, AttributeError):
        return None


# -- spool -> raw_sendgrid.events ---------------------------------------------------------------


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return (
        value
        if isinstance(value, str)
        else json.dumps(value)
        if isinstance(value, dict | list)
        else str(value)
    )


def event_rows(events: list[Any], received_at: datetime, ref: str) -> tuple[list[tuple], list[Rejected]]:
    """Rows of raw_sendgrid.events (COLUMNS order) from one batch's events (pure)."""
    rows, rejects = [], []
    for i, ev in enumerate(events):
        where = f"{ref}[{i}]"
        if not isinstance(ev, dict):
            rejects.append(Rejected("parse.event", f"{where}: an event is not a JSON object", where, ev))
            continue
        event_id = _text(ev.get("sg_event_id"))
        if not event_id:
            rejects.append(Rejected("sg_event_id_not_null", f"{where}: no sg_event_id", where, ev))
            continue
        try:
            event_at = datetime.fromtimestamp(int(ev["timestamp"]), UTC)
        except (KeyError, TypeError, ValueError, OverflowError, OSError):
            rejects.append(
                Rejected(
                    "parse.timestamp",
                    f"{where}: timestamp {ev.get('timestamp')!r} is not epoch seconds",
                    event_id,
                    ev,
                )
            )
            continue
        machine = ev.get("sg_machine_open")
        rows.append(
            (
                event_id,
                _text(ev.get("event")),
                _text(ev.get("email")),
                event_at,
                _text(ev.get("sg_message_id")),
                None if machine is None else machine in (True, "true", 1, "1"),
                *(_text(ev.get(a)) for a in CUSTOM_ARGS),
                ev,
                received_at,
            )
        )
    return rows, rejects


@dataclass
class SpoolLoad:
    batch: Batch
    spooled_batches: int


def _pending(conn: psycopg.Connection, limit: int) -> list[tuple[str, datetime]]:
    rows = conn.execute(
        """select body_sha256, received_at from raw_sendgrid.webhook_batches
           where loaded_at is null order by received_at, body_sha256 limit %s""",
        (limit,),
    ).fetchall()
    conn.commit()
    return rows


def _bodies(conn: psycopg.Connection, digests: list[str]) -> Iterator[tuple[str, bytes, datetime]]:
    for start in range(0, len(digests), 200):
        part = digests[start : start + 200]
        rows = conn.execute(
            """select body_sha256, body, received_at from raw_sendgrid.webhook_batches
               where body_sha256 = any(%s) order by received_at, body_sha256""",
            (part,),
        ).fetchall()
        conn.commit()
        yield from ((d, bytes(b), r) for d, b, r in rows)


def load_spooled_events(
    url: str,
    *,
    as_of: datetime,
    run_id: str | None = None,
    max_batches: int = 50_000,
    validator: Validator | None = None,
) -> SpoolLoad:
    """Load every pending spooled batch into raw_sendgrid.events (write-audit-publish)."""
    from expectations.sendgrid import events_suite

    with connect(url) as conn:
        pending = _pending(conn, max_batches)
        digests = [d for d, _ in pending]
        batch = start_batch(conn, "sendgrid", "events", run_id=run_id, interval_end=as_of)
        batch.details = {"webhook_batches": len(digests)}

        def mark_loaded(c: psycopg.Connection) -> None:
            c.execute(
                """update raw_sendgrid.webhook_batches set loaded_at = now(), _batch_id = %s
                   where body_sha256 = any(%s)""",
                (batch.batch_id, digests),
            )

        # Sanity bound only: SendGrid stamps events with real time, the run's "now" may be simulated.
        suite = events_suite(max(as_of, datetime.now(UTC)))
        with BatchLoad(
            conn, url, EVENTS, suite, batch, validator=validator, after_publish=mark_loaded
        ) as load:
            for digest, body, received_at in _bodies(conn, digests):
                try:
                    events = json.loads(body)
                except ValueError:
                    events = None
                if not isinstance(events, list):  # the receiver checked; a hand-inserted row may not be
                    load.reject([Rejected("parse.body", "the spooled body is not a JSON array",
                                          digest, {"body": body.decode("utf-8", "replace")})])  # fmt: skip
                    continue
                rows, rejects = event_rows(events, received_at, f"webhook batch {digest[:12]}")
                load.land(rows)
                load.reject(rejects)
        load.publish()
    return SpoolLoad(batch, len(digests))


def spool_status(conn: psycopg.Connection) -> dict[str, Any]:
    row = conn.execute(
        """select count(*) filter (where loaded_at is null), coalesce(sum(event_count) filter
                  (where loaded_at is null), 0), max(received_at)
           from raw_sendgrid.webhook_batches"""
    ).fetchone()
    return {"pending_batches": row[0], "pending_events": int(row[1]), "last_received_at": row[2]}
