"""HubSpot's email events API (`/email/public/v1/events`) and marketing email campaigns."""

from __future__ import annotations

import base64
import logging
import uuid
from typing import Any

from starlette.requests import Request

from growthlab.sandbox.hubspot import objects as ob
from growthlab.sandbox.hubspot.objects import HubSpotError
from growthlab.sandbox.hubspot.plumbing import (
    endpoint,
    hubspot_state,
    int_param,
    require_scope,
)
from growthlab.sandbox.web import json_response

log = logging.getLogger(__name__)


# ---- email events API ------------------------------------------------------------------------
def _uuid_of(value: int) -> str:
    return str(uuid.UUID(int=int(value) & ((1 << 128) - 1)))


def _encode_offset(created: int, event_id: int) -> str:
    return base64.urlsafe_b64encode(f"{created}:{event_id}".encode()).decode().rstrip("=")


def _decode_offset(token: str) -> tuple[int, int]:
    try:
        padded = token + "=" * (-len(token) % 4)
        created, event_id = base64.urlsafe_b64decode(padded).decode().split(":")
        return int(created), int(event_id)
    except (ValueError, UnicodeDecodeError):
        raise HubSpotError(
            400, f"offset {token!r} is not a valid paging token; pass the `offset` of the previous page"
        ) from None


_EVENT_DETAIL = {
    "CLICK": lambda d: {"url": d, "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"},
    "DROPPED": lambda d: {
        "dropReason": d,
        "dropMessage": "Previously bounced" if d == "PREVIOUSLY_BOUNCED" else "Previous spam",
    },
    "BOUNCE": lambda d: {
        "category": d,
        "response": "550 5.1.1 The email account does not exist",
        "status": "5.1.1",
    },
    "STATUSCHANGE": lambda d: {
        "source": "SOURCE_RECIPIENT",
        "subscriptions": [
            {"id": 7_345_001, "status": "UNSUBSCRIBED" if d == "UNSUBSCRIBED" else "SPAM_REPORT"}
        ],
    },
    "DELIVERED": lambda d: {"response": "250 2.0.0 OK", "smtpId": None},
}


def email_event_json(row) -> dict:
    event_id, created, type_, recipient, campaign_id, sent_by_id, sent_by_at, filtered, detail, subject = row
    event = {
        "appId": 113,
        "appName": "Batch",
        "created": int(created),
        "emailCampaignId": int(campaign_id),
        "id": _uuid_of(event_id),
        "portalId": ob.PORTAL_ID,
        "recipient": recipient,
        "sentBy": {"id": _uuid_of(sent_by_id), "created": int(sent_by_at)},
        "type": type_,
        "filteredEvent": bool(filtered),
    }
    if type_ == "SENT":
        event["subject"] = subject
        event["from"] = "growthlab <news@growthlab-energy.com>"
    elif type_ == "OPEN":
        event["userAgent"] = (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
        )
        event["browser"] = {
            "name": "Apple Mail" if filtered else "Chrome",
            "family": "Apple Mail" if filtered else "Chrome",
        }
    if type_ in _EVENT_DETAIL and detail is not None:
        event.update(_EVENT_DETAIL[type_](detail))
    return event


@endpoint
def email_events(request: Request, body: Any):
    st = hubspot_state(request)
    require_scope(request, "content")
    q = request.query_params
    limit = int_param(request, "limit", 100, 1000)
    where = ["true"]
    params: list[Any] = []
    for name, column, cast in (
        ("startTimestamp", "e.created >= %s", int),
        ("endTimestamp", "e.created <= %s", int),
        ("eventType", "e.type = %s", str.upper),
        ("recipient", "e.recipient = lower(%s)", str),
        ("campaignId", "e.campaign_id = %s", int),
    ):
        if q.get(name):
            try:
                params.append(cast(q[name]))
            except ValueError:
                raise HubSpotError(400, f"{name}={q[name]!r} is not valid") from None
            where.append(column)
    if q.get("excludeFilteredEvents", "false").lower() == "true":
        where.append("not e.filtered")
    if q.get("offset"):
        created, event_id = _decode_offset(q["offset"])
        where.append("(e.created, e.id) > (%s, %s)")
        params.extend([created, event_id])
    with st.pool.connection() as conn:
        rows = conn.execute(
            f"""select e.id, e.created, e.type, e.recipient, e.campaign_id, e.sent_by_id, e.sent_by_at, e.filtered,
                       e.detail, c.subject
                from hubspot.email_events e left join hubspot.email_campaigns c on c.id = e.campaign_id
                where {" and ".join(where)} order by e.created, e.id limit %s""",
            [*params, limit + 1],
        ).fetchall()
    has_more = len(rows) > limit
    rows = rows[:limit]
    out: dict[str, Any] = {"hasMore": has_more, "events": [email_event_json(r) for r in rows]}
    if rows:
        out["offset"] = _encode_offset(rows[-1][1], rows[-1][0])
    elif q.get("offset"):
        out["offset"] = q["offset"]
    return json_response(out)


@endpoint
def email_campaigns(request: Request, body: Any):
    st = hubspot_state(request)
    require_scope(request, "content")
    limit = int_param(request, "limit", 250, 1000)
    offset = int(request.query_params.get("offset") or 0)
    with st.pool.connection() as conn:
        rows = conn.execute(
            "select id, app_id from hubspot.email_campaigns where id > %s order by id limit %s",
            (offset, limit + 1),
        ).fetchall()
    out = {
        "campaigns": [
            {"id": r[0], "appId": r[1], "appName": "Batch", "lastUpdatedTime": 0} for r in rows[:limit]
        ],
        "hasMore": len(rows) > limit,
        "offset": str(rows[min(len(rows), limit) - 1][0]) if rows else str(offset),
    }
    return json_response(out)


@endpoint
def email_campaign(request: Request, body: Any):
    st = hubspot_state(request)
    require_scope(request, "content")
    try:
        cid = int(request.path_params["campaignId"])
    except ValueError:
        raise HubSpotError(404, "resource not found", "OBJECT_NOT_FOUND") from None
    with st.pool.connection() as conn:
        row = conn.execute(
            "select c.id, c.app_id, c.name, c.subject, c.type, "
            "count(*) filter (where e.type = 'SENT'), count(*) filter (where e.type = 'DELIVERED'), "
            "count(*) filter (where e.type = 'OPEN'), count(*) filter (where e.type = 'CLICK'), "
            "count(*) filter (where e.type = 'BOUNCE'), count(*) filter (where e.type = 'STATUSCHANGE') "
            "from hubspot.email_campaigns c left join hubspot.email_events e on e.campaign_id = c.id "
            "where c.id = %s group by c.id",
            (cid,),
        ).fetchone()
    if row is None:
        raise HubSpotError(404, "resource not found", "OBJECT_NOT_FOUND")
    return json_response(
        {
            "id": row[0],
            "appId": row[1],
            "appName": "Batch",
            "name": row[2],
            "subject": row[3],
            "type": row[4],
            "contentId": row[0] + 1_000_000,
            "counters": {
                "sent": row[5],
                "delivered": row[6],
                "open": row[7],
                "click": row[8],
                "bounce": row[9],
                "statuschange": row[10],
            },
        }
    )
