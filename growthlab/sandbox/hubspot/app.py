"""The stand-in HubSpot API (an ASGI app): what `hubspot-api-client` talks to in tests and the demo.

Endpoints (all with `Authorization: Bearer <private app token>`):

* CRM v3 objects `contacts`, `companies`, `deals`, `meetings`, `emails`: list (`limit` <= 100,
  `after`, `properties`, `associations`, `archived`), get, create, update, archive, `batch/read`,
  `batch/create`, `batch/update`, `batch/upsert`, `batch/archive` (<= 100 inputs), `search`;
* owners `/crm/v3/owners/`; properties `/crm/v3/properties/{objectType}`;
* associations v4 (`/crm/v4/objects/...` and `/crm/v4/associations/.../batch/...`);
* the email events API `/email/public/v1/events` (offset/hasMore paging) and campaigns;
* `/sandbox/v1/owners/{ownerId}/calendar` (not HubSpot's: the reps' working hours and busy slots);
* `/__sandbox__/health`, `/__sandbox__/faults` (admin token), `/__sandbox__/clock`.

Private-app rate limits as for a Professional portal: 190 requests per rolling 10 s per token, 5
searches per second, 650,000 per day, with HubSpot's headers and 429 body.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route

from growthlab.sandbox import store
from growthlab.sandbox.hubspot.associations import (
    v4_archive,
    v4_batch_archive,
    v4_batch_create,
    v4_batch_read,
    v4_create,
    v4_create_default,
    v4_list,
)
from growthlab.sandbox.hubspot.crm import (
    archive_object,
    batch_archive,
    batch_create,
    batch_read,
    batch_update,
    batch_upsert,
    create_object,
    create_property,
    get_object,
    get_owner,
    list_objects,
    list_owners,
    list_properties,
    search_objects,
    update_object,
)
from growthlab.sandbox.hubspot.email_events import email_campaign, email_campaigns, email_events
from growthlab.sandbox.hubspot.gate import (
    ALL_SCOPES,
    READONLY_SCOPES,
    Gate,
    HubSpotState,
    RateLimits,
    tokens_from_secrets,
)
from growthlab.sandbox.hubspot.objects import HubSpotError
from growthlab.sandbox.hubspot.plumbing import (
    endpoint,
    hubspot_state,
    require_scope,
)
from growthlab.sandbox.timeutil import iso_ms, parse_hubspot_time
from growthlab.sandbox.web import json_response

log = logging.getLogger(__name__)


# ---- owners' calendars (sandbox-specific) ----------------------------------------------------
@endpoint
def owner_calendar(request: Request, body: Any):
    st = hubspot_state(request)
    require_scope(request, "crm.objects.owners.read")
    try:
        owner_id = int(request.path_params["ownerId"])
    except ValueError:
        raise HubSpotError(404, "resource not found", "OBJECT_NOT_FOUND") from None
    with st.pool.connection() as conn:
        owner = conn.execute(
            "select timezone, workday_start_min, workday_end_min from world.owners where owner_id = %s",
            (owner_id,),
        ).fetchone()
        if owner is None:
            raise HubSpotError(404, f"owner {owner_id} does not exist", "OBJECT_NOT_FOUND")
        now = store.sim_now(conn)
        start = (
            parse_hubspot_time(request.query_params["start"]) if request.query_params.get("start") else now
        )
        end = (
            parse_hubspot_time(request.query_params["end"])
            if request.query_params.get("end")
            else start + timedelta(days=14)
        )
        if end <= start or end - start > timedelta(days=62):
            raise HubSpotError(400, "end must be after start and at most 62 days later")
        busy = conn.execute(
            """select starts_at, ends_at, title, 'internal' from world.owner_busy
               where owner_id = %s and ends_at > %s and starts_at < %s
               union all
               select hs_meeting_start_time, hs_meeting_end_time, hs_meeting_title, 'meeting' from hubspot.meetings
               where hubspot_owner_id = %s and not archived and hs_meeting_outcome not in ('CANCELED')
                 and hs_meeting_end_time > %s and hs_meeting_start_time < %s
               order by 1""",
            (owner_id, start, end, owner_id, start, end),
        ).fetchall()
    tz, wstart, wend = owner
    return json_response(
        {
            "ownerId": str(owner_id),
            "timezone": tz,
            "workingHours": {
                day: [
                    {
                        "start": f"{wstart // 60:02d}:{wstart % 60:02d}",
                        "end": f"{wend // 60:02d}:{wend % 60:02d}",
                    }
                ]
                for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
            },
            "start": iso_ms(start),
            "end": iso_ms(end),
            "busy": [{"start": iso_ms(b[0]), "end": iso_ms(b[1]), "title": b[2], "kind": b[3]} for b in busy],
        }
    )


# ---- admin -----------------------------------------------------------------------------------
async def health(request: Request):
    return json_response({"status": "ok", "service": "hubspot"})


def _admin(request: Request) -> bool:
    return request.headers.get("authorization", "") == f"Bearer {hubspot_state(request).admin_token}"


async def faults(request: Request):
    st = hubspot_state(request)
    if not _admin(request):
        return json_response({"status": "error", "message": "admin token required"}, 401)
    if request.method == "PUT":
        from growthlab.sandbox.web import FaultConfig

        try:
            data = await request.json()
            cfg = FaultConfig.from_dict(data)
        except (ValueError, TypeError) as exc:
            return json_response({"status": "error", "message": str(exc)}, 400)
        st.faults.configure(cfg)
        if st.on_faults_changed is not None:
            await run_in_threadpool(st.on_faults_changed, cfg.as_dict())
    return json_response(st.faults.config.as_dict())


async def clock(request: Request):
    st = hubspot_state(request)

    def read():
        with st.pool.connection() as conn:
            return store.clock_now(conn), store.sim_now(conn)

    now, instant = await run_in_threadpool(read)
    return json_response({"clock": iso_ms(now), "now": iso_ms(instant)})


def build_app(state: HubSpotState) -> Starlette:
    obj = "/crm/v3/objects/{objectType}"
    routes = [
        Route("/__sandbox__/health", health),
        Route("/__sandbox__/faults", faults, methods=["GET", "PUT"]),
        Route("/__sandbox__/clock", clock),
        Route(f"{obj}/batch/read", batch_read, methods=["POST"]),
        Route(f"{obj}/batch/update", batch_update, methods=["POST"]),
        Route(f"{obj}/batch/upsert", batch_upsert, methods=["POST"]),
        Route(f"{obj}/batch/create", batch_create, methods=["POST"]),
        Route(f"{obj}/batch/archive", batch_archive, methods=["POST"]),
        Route(f"{obj}/search", search_objects, methods=["POST"]),
        Route(obj, list_objects, methods=["GET"]),
        Route(obj, create_object, methods=["POST"]),
        Route(f"{obj}/{{objectId}}", get_object, methods=["GET"]),
        Route(f"{obj}/{{objectId}}", update_object, methods=["PATCH"]),
        Route(f"{obj}/{{objectId}}", archive_object, methods=["DELETE"]),
        Route("/crm/v3/owners/", list_owners, methods=["GET"]),
        Route("/crm/v3/owners", list_owners, methods=["GET"]),
        Route("/crm/v3/owners/{ownerId}", get_owner, methods=["GET"]),
        Route("/crm/v3/properties/{objectType}", list_properties, methods=["GET"]),
        Route("/crm/v3/properties/{objectType}", create_property, methods=["POST"]),
        Route("/crm/v3/properties/{objectType}/{propertyName}", list_properties, methods=["GET"]),
        Route(
            "/crm/v4/objects/{objectType}/{objectId}/associations/{toObjectType}", v4_list, methods=["GET"]
        ),
        Route(
            "/crm/v4/objects/{fromObjectType}/{fromObjectId}/associations/default/{toObjectType}/{toObjectId}",
            v4_create_default,
            methods=["PUT"],
        ),
        Route(
            "/crm/v4/objects/{objectType}/{objectId}/associations/{toObjectType}/{toObjectId}",
            v4_create,
            methods=["PUT"],
        ),
        Route(
            "/crm/v4/objects/{objectType}/{objectId}/associations/{toObjectType}/{toObjectId}",
            v4_archive,
            methods=["DELETE"],
        ),
        Route(
            "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/read", v4_batch_read, methods=["POST"]
        ),
        Route(
            "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/create",
            v4_batch_create,
            methods=["POST"],
        ),
        Route(
            "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/associate/default",
            v4_batch_create,
            methods=["POST"],
        ),
        Route(
            "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/archive",
            v4_batch_archive,
            methods=["POST"],
        ),
        Route("/email/public/v1/events", email_events, methods=["GET"]),
        Route("/email/public/v1/campaigns", email_campaigns, methods=["GET"]),
        Route("/email/public/v1/campaigns/by-id", email_campaigns, methods=["GET"]),
        Route("/email/public/v1/campaigns/{campaignId}", email_campaign, methods=["GET"]),
        Route("/sandbox/v1/owners/{ownerId}/calendar", owner_calendar, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.hubspot = state
    app.add_middleware(Gate, state=state)
    return app


__all__ = ["ALL_SCOPES", "READONLY_SCOPES", "HubSpotState", "RateLimits", "build_app", "tokens_from_secrets"]
