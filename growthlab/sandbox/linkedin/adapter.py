"""The LinkedIn outreach adapter (ASGI) and a "Share on LinkedIn" stand-in.

LinkedIn has no public API for invitations or messages; this is the interface a compliant
provider (or a human-in-the-loop task list) would implement. docs/architecture.md, "LinkedIn
outreach adapter", documents the requests and responses. In short (Bearer token auth):

* `GET /v1/senders`: the reps, their working hours, limits and current usage;
* `POST /v1/invitations` {sender, profile_url, note?, external_id}: queued for the next slot in
  the sender's working hours (randomised gaps); 429 past 100 invitations per rolling week;
  409 when already connected or invited; idempotent on `external_id`;
* `POST /v1/messages` {sender, profile_url, text, external_id, angle?}: to 1st-degree connections;
* `GET /v1/invitations/{id}`, `GET /v1/messages/{id}`, `DELETE /v1/invitations/{id}` (withdraw);
* `GET /v1/events?after=&limit=`: what happened since (invitation_sent, invitation_accepted,
  message_sent, message_received), pollable;
* `POST /rest/posts` (Share on LinkedIn, `LinkedIn-Version` header required): 201 with
  `x-restli-id: urn:li:share:...`; the post shows up in the author's Shares.csv.

Times are the sandbox's simulated time; acceptances and replies appear as `advance` moves it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from growthlab.sandbox import store
from growthlab.sandbox.catalog import ANGLES
from growthlab.sandbox.history_tables import conversation_ids
from growthlab.sandbox.timeutil import iso_ms
from growthlab.sandbox.web import DbPool, FaultInjector, json_response

log = logging.getLogger(__name__)

INVITATIONS_PER_WEEK = 100
ACTIONS_PER_DAY = 100
NOTE_MAX = 300
MESSAGE_MAX = 8000
PROFILE_URL = re.compile(r"^https?://(www\.)?linkedin\.com/in/([A-Za-z0-9\-_%]+)/?$")


class AdapterError(Exception):
    def __init__(self, http_status: int, error: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = http_status
        self.body = {"error": error, "message": message, **extra}
        self.headers: dict[str, str] = {}


@dataclass
class LinkedInState:
    pool: DbPool
    token: str
    admin_token: str
    faults: FaultInjector


def normalise_profile_url(url: str) -> str | None:
    match = PROFILE_URL.match((url or "").strip())
    if not match:
        return None
    return f"https://www.linkedin.com/in/{match.group(2).lower()}"


class Gate:
    def __init__(self, app, state: LinkedInState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/__sandbox__"):
            await self.app(scope, receive, send)
            return
        auth = dict(scope.get("headers", [])).get(b"authorization", b"").decode("latin-1").strip()
        if auth != f"Bearer {self.state.token}":
            body = {"serviceErrorCode": 65600, "message": "Invalid access token", "status": 401}
            await json_response(body, 401)(scope, receive, send)
            return
        fault = self.state.faults.decide()
        if fault in ("429", "5xx"):
            status = 429 if fault == "429" else self.state.faults.status_5xx()
            await json_response(
                {"error": "unavailable", "message": "try again later"}, status, {"Retry-After": "1"}
            )(scope, receive, send)
            return
        await self.app(scope, receive, send)


def endpoint(fn):
    async def wrapper(request: Request):
        body = None
        if request.method in ("POST", "PUT", "PATCH"):
            raw = await request.body()
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                return json_response({"error": "invalid_json", "message": "the body is not JSON"}, 400)
        try:
            return await run_in_threadpool(fn, request, body)
        except AdapterError as exc:
            return json_response(exc.body, exc.status, exc.headers or None)
        except Exception:
            log.exception("sandbox LinkedIn adapter: %s %s failed", request.method, request.url.path)
            return json_response({"error": "internal", "message": "internal error"}, 500)

    wrapper.__name__ = fn.__name__
    return wrapper


def _state(request: Request) -> LinkedInState:
    return request.app.state.linkedin


def _sender(conn, sender: Any) -> tuple:
    try:
        owner_id = int(sender)
    except (TypeError, ValueError):
        raise AdapterError(400, "invalid_sender", f"sender {sender!r} is not a HubSpot owner id") from None
    row = conn.execute(
        """select o.id, o.first_name, o.last_name, w.timezone, w.workday_start_min, w.workday_end_min, w.linkedin_slug
           from hubspot.owners o join world.owners w on w.owner_id = o.id where o.id = %s""",
        (owner_id,),
    ).fetchone()
    if row is None:
        raise AdapterError(404, "unknown_sender", f"sender {owner_id} is not a connected LinkedIn account")
    return row


def _gap_seconds(key: str) -> int:
    digest = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)
    return 120 + digest % 420  # 2 to 9 minutes between a sender's actions


def next_slot(
    now: datetime, tz: str, start_min: int, end_min: int, after: datetime | None, gap_s: int
) -> datetime:
    """The first moment >= now (and >= after + gap) within the sender's working hours (Mon-Fri)."""
    zone = ZoneInfo(tz)
    t = now if after is None else max(now, after + timedelta(seconds=gap_s))
    for _ in range(30):
        local = t.astimezone(zone)
        minute = local.hour * 60 + local.minute
        day_start = local.replace(hour=start_min // 60, minute=start_min % 60, second=0, microsecond=0)
        if local.weekday() >= 5 or minute >= end_min:
            nxt = (local + timedelta(days=1)).replace(
                hour=start_min // 60, minute=start_min % 60, second=0, microsecond=0
            )
            t = nxt.astimezone(now.tzinfo)
            continue
        if minute < start_min:
            t = day_start.astimezone(now.tzinfo)
        return t + timedelta(seconds=gap_s % 60)
    raise AdapterError(503, "no_slot", "no working-hours slot within 30 days")


def _usage(conn, owner_id: int, now: datetime) -> dict:
    week = conn.execute(
        "select count(*) from linkedin.invitations where owner_id = %s and status <> 'withdrawn' "
        "and coalesce(scheduled_for, sent_at, requested_at) > %s",
        (owner_id, now - timedelta(days=7)),
    ).fetchone()[0]
    return {"invitations_last_7_days": int(week)}


def _schedule(conn, owner, now: datetime, key: str, kind: str) -> datetime:
    owner_id, _, _, tz, start_min, end_min, _ = owner
    if kind == "invitation":
        week = _usage(conn, owner_id, now)["invitations_last_7_days"]
        if week >= INVITATIONS_PER_WEEK:
            oldest = conn.execute(
                "select min(coalesce(scheduled_for, sent_at, requested_at)) from linkedin.invitations "
                "where owner_id = %s and status <> 'withdrawn' and coalesce(scheduled_for, sent_at, requested_at) > %s",
                (owner_id, now - timedelta(days=7)),
            ).fetchone()[0]
            retry_at = oldest + timedelta(days=7)
            err = AdapterError(
                429,
                "weekly_invitation_limit",
                f"sender {owner_id} has sent {week} invitations in the last 7 days (limit {INVITATIONS_PER_WEEK}); "
                f"try again after {iso_ms(retry_at)}",
                limit=INVITATIONS_PER_WEEK,
                retry_at=iso_ms(retry_at),
            )
            err.headers["Retry-After"] = str(max(1, int((retry_at - now).total_seconds())))
            raise err
    last = conn.execute(
        "select max(scheduled_for) from (select scheduled_for from linkedin.invitations where owner_id = %s "
        "union all select scheduled_for from linkedin.messages where owner_id = %s) s",
        (owner_id, owner_id),
    ).fetchone()[0]
    slot = next_slot(now, tz, start_min, end_min, last, _gap_seconds(key))
    for _ in range(10):
        local_day = slot.astimezone(ZoneInfo(tz)).date()
        count = conn.execute(
            "select count(*) from (select scheduled_for from linkedin.invitations where owner_id = %s "
            "union all select scheduled_for from linkedin.messages where owner_id = %s) s "
            "where (scheduled_for at time zone %s)::date = %s",
            (owner_id, owner_id, tz, local_day),
        ).fetchone()[0]
        if count < ACTIONS_PER_DAY:
            return slot
        zone = ZoneInfo(tz)
        tomorrow = datetime(local_day.year, local_day.month, local_day.day, tzinfo=zone) + timedelta(days=1)
        slot = next_slot(tomorrow.astimezone(now.tzinfo), tz, start_min, end_min, None, _gap_seconds(key))
    return slot


def _contact_for(conn, url: str) -> int | None:
    row = conn.execute(
        "select id from hubspot.contacts where lower(rtrim(linkedin_url, '/')) = %s and not archived order by id limit 1",
        (url,),
    ).fetchone()
    return row[0] if row else None


def _invitation_json(row) -> dict:
    inv_id, owner_id, url, note, requested, scheduled, sent, status, responded, external_id = row
    return {
        "id": f"inv_{inv_id}",
        "sender": str(owner_id),
        "profile_url": url,
        "note": note,
        "status": status,
        "requested_at": iso_ms(requested),
        "scheduled_for": iso_ms(scheduled) if scheduled else None,
        "sent_at": iso_ms(sent) if sent else None,
        "responded_at": iso_ms(responded) if responded else None,
        "external_id": external_id,
    }


_INV_COLUMNS = "id, owner_id, profile_url, message, requested_at, scheduled_for, sent_at, status, responded_at, external_id"
_MSG_COLUMNS = "id, owner_id, profile_url, content, requested_at, scheduled_for, sent_at, status, conversation_id, external_id"


def _message_json(row) -> dict:
    msg_id, owner_id, url, text, requested, scheduled, sent, status, conversation, external_id = row
    return {
        "id": f"msg_{msg_id}",
        "sender": str(owner_id),
        "profile_url": url,
        "text": text,
        "status": status,
        "conversation_id": conversation,
        "requested_at": iso_ms(requested),
        "scheduled_for": iso_ms(scheduled) if scheduled else None,
        "sent_at": iso_ms(sent) if sent else None,
        "external_id": external_id,
    }


def _lock(conn) -> None:
    conn.execute("select pg_advisory_xact_lock_shared(%s)", (store.WORLD_LOCK,))


@endpoint
def create_invitation(request: Request, body: dict):
    st = _state(request)
    url = normalise_profile_url(str(body.get("profile_url", "")))
    if url is None:
        raise AdapterError(
            400, "invalid_profile_url", "profile_url must look like https://www.linkedin.com/in/<slug>"
        )
    note = body.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > NOTE_MAX):
        raise AdapterError(400, "invalid_note", f"note must be text of at most {NOTE_MAX} characters")
    external_id = body.get("external_id")
    if not external_id:
        raise AdapterError(
            400, "missing_external_id", "external_id (your id for this action) is required for idempotency"
        )
    with st.pool.connection() as conn, conn.transaction():
        _lock(conn)
        existing = conn.execute(
            f"select {_INV_COLUMNS} from linkedin.invitations where external_id = %s", (str(external_id),)
        ).fetchone()
        if existing is not None:
            return json_response(_invitation_json(existing), 200)
        owner = _sender(conn, body.get("sender"))
        if conn.execute(
            "select 1 from linkedin.connections where owner_id = %s and lower(rtrim(profile_url, '/')) = %s",
            (owner[0], url),
        ).fetchone():
            raise AdapterError(
                409, "already_connected", f"{url} is already a connection of sender {owner[0]}"
            )
        if conn.execute(
            "select 1 from linkedin.invitations where owner_id = %s and profile_url = %s and status in ('queued', 'sent')",
            (owner[0], url),
        ).fetchone():
            raise AdapterError(
                409, "already_invited", f"sender {owner[0]} already has a pending invitation to {url}"
            )
        now = store.sim_now(conn)
        slot = _schedule(conn, owner, now, str(external_id), "invitation")
        row = conn.execute(
            f"""insert into linkedin.invitations (id, owner_id, contact_id, profile_url, message, requested_at, scheduled_for,
                    status, source, external_id)
                values (nextval('linkedin.object_ids'), %s, %s, %s, %s, %s, %s, 'queued', 'adapter', %s)
                returning {_INV_COLUMNS}""",
            (owner[0], _contact_for(conn, url), url, note, now, slot, str(external_id)),
        ).fetchone()
    return json_response(_invitation_json(row), 202)


@endpoint
def create_message(request: Request, body: dict):
    st = _state(request)
    url = normalise_profile_url(str(body.get("profile_url", "")))
    if url is None:
        raise AdapterError(
            400, "invalid_profile_url", "profile_url must look like https://www.linkedin.com/in/<slug>"
        )
    text = body.get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > MESSAGE_MAX:
        raise AdapterError(400, "invalid_text", f"text must be 1 to {MESSAGE_MAX} characters")
    external_id = body.get("external_id")
    if not external_id:
        raise AdapterError(
            400, "missing_external_id", "external_id (your id for this action) is required for idempotency"
        )
    angle = body.get("angle")
    if angle is not None and angle not in ANGLES:
        raise AdapterError(400, "invalid_angle", f"angle must be one of {', '.join(ANGLES)} (or absent)")
    with st.pool.connection() as conn, conn.transaction():
        _lock(conn)
        existing = conn.execute(
            f"select {_MSG_COLUMNS} from linkedin.messages where external_id = %s", (str(external_id),)
        ).fetchone()
        if existing is not None:
            return json_response(_message_json(existing), 200)
        owner = _sender(conn, body.get("sender"))
        connection = conn.execute(
            "select contact_id from linkedin.connections where owner_id = %s and lower(rtrim(profile_url, '/')) = %s",
            (owner[0], url),
        ).fetchone()
        if connection is None:
            raise AdapterError(
                409, "not_connected", f"{url} is not a 1st-degree connection of sender {owner[0]}"
            )
        contact_id = connection[0] if connection[0] is not None else _contact_for(conn, url)
        now = store.sim_now(conn)
        slot = _schedule(conn, owner, now, str(external_id), "message")
        conversation = str(conversation_ids([owner[0]], [contact_id or 0])[0])
        row = conn.execute(
            f"""insert into linkedin.messages (id, conversation_id, owner_id, contact_id, profile_url, direction, content, angle,
                    requested_at, scheduled_for, status, source, external_id)
                values (nextval('linkedin.object_ids'), %s, %s, %s, %s, 'out', %s, %s, %s, %s, 'queued', 'adapter', %s)
                returning {_MSG_COLUMNS}""",
            (conversation, owner[0], contact_id, url, text, angle, now, slot, str(external_id)),
        ).fetchone()
    return json_response(_message_json(row), 202)


def _id(value: str, prefix: str) -> int:
    try:
        return int(value.removeprefix(prefix))
    except ValueError:
        raise AdapterError(404, "not_found", f"{value} does not exist") from None


@endpoint
def get_invitation(request: Request, body: Any):
    st = _state(request)
    with st.pool.connection() as conn:
        row = conn.execute(
            f"select {_INV_COLUMNS} from linkedin.invitations where id = %s",
            (_id(request.path_params["id"], "inv_"),),
        ).fetchone()
    if row is None:
        raise AdapterError(404, "not_found", f"invitation {request.path_params['id']} does not exist")
    return json_response(_invitation_json(row))


@endpoint
def withdraw_invitation(request: Request, body: Any):
    st = _state(request)
    inv_id = _id(request.path_params["id"], "inv_")
    with st.pool.connection() as conn, conn.transaction():
        _lock(conn)
        row = conn.execute(
            f"update linkedin.invitations set status = 'withdrawn' where id = %s and status in ('queued', 'sent') "
            f"returning {_INV_COLUMNS}",
            (inv_id,),
        ).fetchone()
    if row is None:
        raise AdapterError(409, "not_pending", f"invitation inv_{inv_id} is not pending")
    return json_response(_invitation_json(row))


@endpoint
def get_message(request: Request, body: Any):
    st = _state(request)
    with st.pool.connection() as conn:
        row = conn.execute(
            f"select {_MSG_COLUMNS} from linkedin.messages where id = %s",
            (_id(request.path_params["id"], "msg_"),),
        ).fetchone()
    if row is None:
        raise AdapterError(404, "not_found", f"message {request.path_params['id']} does not exist")
    return json_response(_message_json(row))


@endpoint
def list_events(request: Request, body: Any):
    st = _state(request)
    try:
        after = int(request.query_params.get("after") or 0)
        limit = min(1000, max(1, int(request.query_params.get("limit") or 100)))
    except ValueError:
        raise AdapterError(400, "invalid_paging", "after and limit must be integers") from None
    with st.pool.connection() as conn:
        rows = conn.execute(
            """select id, type, occurred_at, owner_id, profile_url, invitation_id, message_id, external_id, text
               from linkedin.adapter_events where id > %s order by id limit %s""",
            (after, limit + 1),
        ).fetchall()
    events = [
        {
            "id": str(r[0]),
            "type": r[1],
            "occurred_at": iso_ms(r[2]),
            "sender": str(r[3]),
            "profile_url": r[4],
            "invitation_id": f"inv_{r[5]}" if r[5] else None,
            "message_id": f"msg_{r[6]}" if r[6] else None,
            "external_id": r[7],
            "text": r[8] if r[1] == "message_received" else None,
        }
        for r in rows[:limit]
    ]
    return json_response(
        {
            "events": events,
            "has_more": len(rows) > limit,
            "next_after": events[-1]["id"] if events else str(after),
        }
    )


@endpoint
def list_senders(request: Request, body: Any):
    st = _state(request)
    with st.pool.connection() as conn:
        now = store.sim_now(conn)
        rows = conn.execute(
            """select o.id, o.first_name, o.last_name, w.timezone, w.workday_start_min, w.workday_end_min, w.linkedin_slug
               from hubspot.owners o join world.owners w on w.owner_id = o.id order by o.id"""
        ).fetchall()
        usage = {r[0]: _usage(conn, r[0], now) for r in rows}
    return json_response(
        {
            "senders": [
                {
                    "sender": str(r[0]),
                    "name": f"{r[1]} {r[2]}",
                    "profile_url": f"https://www.linkedin.com/in/{r[6]}",
                    "timezone": r[3],
                    "working_hours": {
                        "days": "mon-fri",
                        "start": f"{r[4] // 60:02d}:{r[4] % 60:02d}",
                        "end": f"{r[5] // 60:02d}:{r[5] % 60:02d}",
                    },
                    "limits": {
                        "invitations_per_week": INVITATIONS_PER_WEEK,
                        "actions_per_day": ACTIONS_PER_DAY,
                    },
                    "usage": usage[r[0]],
                }
                for r in rows
            ],
            "now": iso_ms(now),
        }
    )


@endpoint
def create_post(request: Request, body: dict):
    st = _state(request)
    version = request.headers.get("linkedin-version", "")
    if not re.fullmatch(r"\d{6}(\.\d{2})?", version):
        raise AdapterError(
            400,
            "VERSION_MISSING",
            "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
            status=400,
        )
    author = str(body.get("author", ""))
    match = re.fullmatch(r"urn:li:person:(\d+)", author)
    commentary = body.get("commentary")
    if not isinstance(commentary, str):
        raise AdapterError(422, "INVALID_POST", "commentary is required", status=422)
    visibility = body.get("visibility", "PUBLIC")
    if visibility not in ("PUBLIC", "CONNECTIONS", "LOGGED_IN"):
        raise AdapterError(
            422,
            "INVALID_POST",
            f"visibility {visibility!r} is not PUBLIC, CONNECTIONS or LOGGED_IN",
            status=422,
        )
    if body.get("lifecycleState", "PUBLISHED") != "PUBLISHED":
        raise AdapterError(422, "INVALID_POST", "lifecycleState must be PUBLISHED", status=422)
    article = ((body.get("content") or {}).get("article") or {}).get("source")
    with st.pool.connection() as conn, conn.transaction():
        _lock(conn)
        if (
            match is None
            or conn.execute(
                "select 1 from world.owners where owner_id = %s", (int(match.group(1)),)
            ).fetchone()
            is None
        ):
            raise AdapterError(
                403,
                "ACCESS_DENIED",
                f"Not enough permissions to post as {author!r}: authors are urn:li:person:<owner id>",
                status=403,
            )
        now = store.sim_now(conn)
        share_id = conn.execute("select nextval('linkedin.object_ids')").fetchone()[0]
        urn = f"urn:li:share:{7_200_000_000_000_000_000 + share_id}"
        conn.execute(
            "insert into linkedin.shares (owner_id, posted_at, share_urn, commentary, shared_url, visibility, source) "
            "values (%s, %s, %s, %s, %s, %s, 'adapter')",
            (
                int(match.group(1)),
                now,
                urn,
                commentary,
                article,
                "MEMBER_NETWORK" if visibility == "PUBLIC" else visibility,
            ),
        )
    return Response(status_code=201, headers={"x-restli-id": urn, "x-linkedin-id": urn})


async def health(request: Request):
    return json_response({"status": "ok", "service": "linkedin"})


def build_app(state: LinkedInState) -> Starlette:
    routes = [
        Route("/__sandbox__/health", health),
        Route("/v1/senders", list_senders, methods=["GET"]),
        Route("/v1/invitations", create_invitation, methods=["POST"]),
        Route("/v1/invitations/{id}", get_invitation, methods=["GET"]),
        Route("/v1/invitations/{id}", withdraw_invitation, methods=["DELETE"]),
        Route("/v1/messages", create_message, methods=["POST"]),
        Route("/v1/messages/{id}", get_message, methods=["GET"]),
        Route("/v1/events", list_events, methods=["GET"]),
        Route("/rest/posts", create_post, methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.state.linkedin = state
    app.add_middleware(Gate, state=state)
    return app
