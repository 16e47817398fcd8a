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

import asyncio
import base64
import json
import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route

from growthlab.sandbox import store
from growthlab.sandbox.hubspot import objects as ob
from growthlab.sandbox.hubspot.objects import HubSpotError
from growthlab.sandbox.hubspot.properties import (
    ASSOCIATION_TYPE_NAMES,
    ASSOCIATION_TYPES,
    OBJECT_TYPES,
    PRIMARY_TYPE_IDS,
    ObjectType,
    object_type,
)
from growthlab.sandbox.timeutil import iso_ms, parse_hubspot_time
from growthlab.sandbox.web import DbPool, FaultInjector, RateLimiter, json_response

log = logging.getLogger(__name__)

ALL_SCOPES = frozenset(
    {
        *(f"crm.objects.{o}.{rw}" for o in ("contacts", "companies", "deals") for rw in ("read", "write")),
        "crm.objects.owners.read",
        *(f"crm.schemas.{o}.{rw}" for o in ("contacts", "companies", "deals") for rw in ("read", "write")),
        "content",
        "sales-email-read",
    }
)
READONLY_SCOPES = frozenset(s for s in ALL_SCOPES if not s.endswith(".write"))


@dataclass
class RateLimits:
    enabled: bool = True
    per_10s: int = 190
    search_per_s: int = 5
    daily: int = 650_000

    @classmethod
    def from_dict(cls, data: dict | None) -> RateLimits:
        return cls(**(data or {}))


@dataclass
class HubSpotState:
    pool: DbPool
    tokens: dict[str, frozenset[str]]
    admin_token: str
    faults: FaultInjector
    limits: RateLimits = field(default_factory=RateLimits)
    limiter: RateLimiter = field(default_factory=RateLimiter)
    malformed_contact_id: int | None = None
    on_faults_changed: Callable[[dict], None] | None = None


def _error(status: int, message: str, category: str, **extra) -> Any:
    return json_response(HubSpotError(status, message, category, **extra).body(), status)


# ---- gate: auth, rate limits, faults ---------------------------------------------------------
class Gate:
    """ASGI middleware: bearer token, rate limits (with HubSpot's headers), fault injection."""

    def __init__(self, app, state: HubSpotState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/__sandbox__"):
            await self.app(scope, receive, send)
            return
        st = self.state
        token = _bearer(scope)
        if token is None or token not in st.tokens:
            response = _error(
                401,
                "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can "
                "find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                "INVALID_AUTHENTICATION",
            )
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["scopes"] = st.tokens[token]
        headers: dict[str, str] = {}
        if st.limits.enabled:
            key = f"token:{token[-12:]}"
            ok_daily, daily_left, _ = st.limiter.hit(key + ":daily", st.limits.daily, 86400.0)
            if scope["path"].endswith("/search"):
                ok, left, wait = st.limiter.hit(key + ":search", st.limits.search_per_s, 1.0)
                policy, window_ms, limit = "SECONDLY", 1000, st.limits.search_per_s
            else:
                ok, left, wait = st.limiter.hit(key, st.limits.per_10s, 10.0)
                policy, window_ms, limit = "TEN_SECONDLY_ROLLING", 10000, st.limits.per_10s
            if not scope["path"].endswith("/search"):
                headers = _limit_headers(limit, left, window_ms, st.limits.daily, daily_left)
            else:
                headers = _limit_headers(
                    st.limits.per_10s,
                    max(0, st.limits.per_10s - st.limiter.count(key, 10.0)),
                    10000,
                    st.limits.daily,
                    daily_left,
                )
            if not ok or not ok_daily:
                if not ok_daily:
                    policy, wait = "DAILY", 3600.0
                await _rate_limited(scope, receive, send, policy, wait, headers)
                return
        fault = st.faults.decide()
        if fault == "429":
            await _rate_limited(
                scope,
                receive,
                send,
                "TEN_SECONDLY_ROLLING",
                1.0,
                headers or _limit_headers(190, 0, 10000, 650000, 0),
            )
            return
        if fault == "drop":
            server = getattr(scope.get("app").state, "server_thread", None) if scope.get("app") else None
            if server is None or not server.abort(scope.get("client")):
                response = _error(502, "Bad Gateway", "INTERNAL_ERROR")
                await response(scope, receive, send)
            return
        if fault == "5xx":
            status = st.faults.status_5xx()
            response = _error(status, "An internal error occurred.", "INTERNAL_ERROR")
            await response(scope, receive, send)
            return
        if fault == "slow":
            await asyncio.sleep(st.faults.config.slow_seconds)

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start" and headers:
                message = dict(message)
                message["headers"] = [
                    *message.get("headers", []),
                    *((k.lower().encode(), v.encode()) for k, v in headers.items()),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _bearer(scope) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"authorization":
            text = value.decode("latin-1").strip()
            if text.lower().startswith("bearer "):
                return text[7:].strip()
    return None


def _limit_headers(limit: int, left: int, window_ms: int, daily: int, daily_left: int) -> dict[str, str]:
    return {
        "X-HubSpot-RateLimit-Max": str(limit),
        "X-HubSpot-RateLimit-Remaining": str(max(0, left)),
        "X-HubSpot-RateLimit-Interval-Milliseconds": str(window_ms),
        "X-HubSpot-RateLimit-Daily": str(daily),
        "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, daily_left)),
    }


async def _rate_limited(scope, receive, send, policy: str, wait: float, headers: dict[str, str]) -> None:
    body = {
        "status": "error",
        "message": f"You have reached your {policy.lower()} limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": str(uuid.uuid4()),
        "policyName": policy,
        "groupName": "publicapi:private-app:sandbox",
    }
    response = json_response(body, 429, {**headers, "Retry-After": str(max(1, math.ceil(wait)))})
    await response(scope, receive, send)


# ---- endpoint plumbing -----------------------------------------------------------------------
def endpoint(fn):
    """Async wrapper: read the JSON body, run the sync handler in a thread, map errors."""

    async def wrapper(request: Request):
        body: Any = None
        if request.method in ("POST", "PUT", "PATCH"):
            raw = await request.body()
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    return json_response(
                        HubSpotError(400, "Invalid input JSON on line 1: the body is not JSON").body(), 400
                    )
        try:
            return await run_in_threadpool(fn, request, body)
        except HubSpotError as exc:
            return json_response(exc.body(), exc.status)
        except Exception:
            log.exception("sandbox HubSpot: %s %s failed", request.method, request.url.path)
            return json_response(
                HubSpotError(500, "An internal error occurred.", "INTERNAL_ERROR").body(), 500
            )

    wrapper.__name__ = fn.__name__
    return wrapper


def _state(request: Request) -> HubSpotState:
    return request.app.state.hubspot


def _require(request: Request, scope_name: str) -> None:
    scopes = request.scope.get("state", {}).get("scopes", frozenset())
    if scope_name not in scopes:
        raise HubSpotError(
            403,
            "This app hasn't been granted all required scopes to make this call. Read more about required scopes "
            "here: https://developers.hubspot.com/scopes.",
            "MISSING_SCOPES",
            errors=[
                {
                    "message": "One or more of the following scopes are required.",
                    "context": {"requiredGranularScopes": [scope_name]},
                }
            ],
            links={"scopes": "https://developers.hubspot.com/scopes"},
        )


def _object(request: Request, key: str = "objectType") -> ObjectType:
    obj = object_type(request.path_params[key])
    if obj is None:
        raise HubSpotError(
            400,
            f"Unable to infer object type from: {request.path_params[key]}",
            "VALIDATION_ERROR",
        )
    return obj


def _multi(request: Request, name: str) -> list[str]:
    values: list[str] = []
    for v in request.query_params.getlist(name):
        values.extend(x.strip() for x in v.split(",") if x.strip())
    return values


def _int_param(request: Request, name: str, default: int, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise HubSpotError(400, f"Query parameter {name}={raw!r} is not an integer") from None
    if value < 1 or (maximum is not None and value > maximum):
        raise HubSpotError(400, f"Query parameter {name}={value} must be between 1 and {maximum}")
    return value


def _bool_param(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").lower() == "true"


def _custom_types(conn, obj: ObjectType) -> dict:
    return (store.get_meta(conn, "custom_properties", {}) or {}).get(obj.name, {})


def _render_rows(
    st: HubSpotState,
    conn,
    obj: ObjectType,
    rows: list[dict],
    props: list[str],
    custom: dict,
    assoc_types: list[str] | None = None,
) -> list[dict]:
    assocs = {}
    if assoc_types:
        targets = [object_type(t).name for t in assoc_types if object_type(t) is not None]
        assocs = ob.associations_for(conn, obj.name, [r["id"] for r in rows], targets)
    out = []
    malformed = st.faults.config.malformed and obj.name == "contacts"
    for row in rows:
        record = ob.render(
            obj, row, props, malformed=malformed and row["id"] == st.malformed_contact_id, custom_types=custom
        )
        if assoc_types and assocs.get(row["id"]):
            record["associations"] = ob.v3_associations(assocs[row["id"]])
        out.append(record)
    return out


class _Tx:
    def __init__(self, conn) -> None:
        self.conn = conn

    def __enter__(self):
        self.tx = self.conn.transaction()
        self.tx.__enter__()
        self.conn.execute("select pg_advisory_xact_lock_shared(%s)", (store.WORLD_LOCK,))
        return self.conn

    def __exit__(self, *exc):
        return self.tx.__exit__(*exc)


def _write_props(obj: ObjectType, names, custom: dict) -> list[str]:
    """Properties a write answers with: the object's defaults and the ones written."""
    return ob.requested_properties(obj, [*obj.defaults, *names], custom)


def _batch_inputs(body: Any) -> list:
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise HubSpotError(400, "Invalid input JSON: expected an object with an `inputs` array")
    inputs = body["inputs"]
    if len(inputs) > ob.BATCH_MAX_INPUTS:
        raise HubSpotError(
            400,
            f"Batch input size of {len(inputs)} exceeds the limit of {ob.BATCH_MAX_INPUTS} inputs per request; "
            f"split the request into batches of {ob.BATCH_MAX_INPUTS}.",
        )
    return inputs


def _batch_response(results: list, started: datetime, errors: list | None = None, ok_status: int = 200):
    body = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": iso_ms(started),
        "completedAt": iso_ms(datetime.now(UTC)),
    }
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
        return json_response(body, 207)
    return json_response(body, ok_status)


def _missing_error(obj: ObjectType, ids: list[str]) -> dict:
    return {
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": f"Could not get some {obj.singular.upper()} objects, they may be deleted or not exist. Check that ids are valid.",
        "context": {"ids": ids},
        "errors": [],
        "links": {},
    }


# ---- CRM objects -----------------------------------------------------------------------------
@endpoint
def list_objects(request: Request, body: Any):
    st = _state(request)
    obj = _object(request)
    _require(request, f"{obj.scope}.read")
    limit = _int_param(request, "limit", 10, ob.LIST_MAX_LIMIT)
    after_raw = request.query_params.get("after")
    try:
        after = int(after_raw) if after_raw else None
    except ValueError:
        raise HubSpotError(400, f"after={after_raw!r} is not a valid paging cursor") from None
    archived = _bool_param(request, "archived")
    with st.pool.connection() as conn:
        custom = _custom_types(conn, obj)
        props = ob.requested_properties(obj, _multi(request, "properties"), custom)
        rows, next_after = ob.list_page(conn, obj, limit, after, archived)
        results = _render_rows(st, conn, obj, rows, props, custom, _multi(request, "associations"))
    body_out: dict[str, Any] = {"results": results}
    if next_after is not None:
        token = str(next_after)
        body_out["paging"] = {"next": {"after": token, "link": f"?after={token}"}}
    return json_response(body_out)


@endpoint
def get_object(request: Request, body: Any):
    st = _state(request)
    obj = _object(request)
    _require(request, f"{obj.scope}.read")
    key = request.path_params["objectId"]
    with st.pool.connection() as conn:
        custom = _custom_types(conn, obj)
        props = ob.requested_properties(obj, _multi(request, "properties"), custom)
        found = ob.rows_by_key(
            conn, obj, [key], request.query_params.get("idProperty"), _bool_param(request, "archived")
        )
        if key not in found:
            raise ob.not_found(obj)
        return json_response(
            _render_rows(st, conn, obj, [found[key]], props, custom, _multi(request, "associations"))[0]
        )


def _create(conn, st: HubSpotState, obj: ObjectType, item: dict, now: datetime) -> dict:
    if not isinstance(item, dict):
        raise HubSpotError(400, "Invalid input JSON: each input must be an object with `properties`")
    custom = _custom_types(conn, obj)
    columns, custom_values = ob.parse_values(obj, item.get("properties") or {}, custom)
    for unique in obj.unique:
        prop = obj.prop(unique)
        value = columns.get(prop.column)
        if value and ob.rows_by_key(conn, obj, [str(value)], unique):
            existing = ob.rows_by_key(conn, obj, [str(value)], unique)[str(value)]
            raise HubSpotError(
                409,
                f"{obj.singular.capitalize()} already exists. Existing ID: {existing['id']}",
                "CONFLICT",
            )
    row = ob.insert_row(conn, obj, columns, custom_values, now)
    for assoc in item.get("associations") or []:
        to = (assoc or {}).get("to", {}) or {}
        types = (assoc or {}).get("types") or []
        to_id = to.get("id")
        if to_id is None or not types:
            raise HubSpotError(
                400, "Each association needs `to.id` and `types` [{associationCategory, associationTypeId}]"
            )
        type_id = int(types[0].get("associationTypeId"))
        to_type = _type_target(obj.name, type_id)
        if to_type is None:
            raise HubSpotError(400, f"associationTypeId {type_id} is not valid from {obj.name}")
        ob.add_association(conn, obj.name, row["id"], to_type, int(to_id), type_id, now)
    return row


def _type_target(from_type: str, type_id: int) -> str | None:
    for (a, b), ids in ASSOCIATION_TYPES.items():
        if a == from_type and type_id in ids:
            return b
    return None


@endpoint
def create_object(request: Request, body: Any):
    st = _state(request)
    obj = _object(request)
    _require(request, f"{obj.scope}.write")
    with st.pool.connection() as conn, _Tx(conn):
        now = store.sim_now(conn)
        row = _create(conn, st, obj, body or {}, now)
        props = _write_props(obj, list((body or {}).get("properties", {}).keys()), _custom_types(conn, obj))
        return json_response(ob.render(obj, row, props, custom_types=_custom_types(conn, obj)), 201)


@endpoint
def update_object(request: Request, body: Any):
    st = _state(request)
    obj = _object(request)
    _require(request, f"{obj.scope}.write")
    key = request.path_params["objectId"]
    with st.pool.connection() as conn, _Tx(conn):
        custom = _custom_types(conn, obj)
        found = ob.rows_by_key(conn, obj, [key], request.query_params.get("idProperty"))
        if key not in found:
            raise ob.not_found(obj)
        columns, custom_values = ob.parse_values(obj, (body or {}).get("properties"), custom)
        row = ob.update_row(conn, obj, found[key]["id"], columns, custom_values, store.sim_now(conn))
        props = _write_props(obj, list((body or {}).get("properties", {}).keys()), custom)
        return json_response(ob.render(obj, row, props, custom_types=custom))


@endpoint
def archive_object(request: Request, body: Any):
    st = _state(request)
    obj = _object(request)
    _require(request, f"{obj.scope}.write")
    try:
        object_id = int(request.path_params["objectId"])
    except ValueError:
        raise ob.not_found(obj) from None
    with st.pool.connection() as conn, _Tx(conn):
        ob.archive_rows(conn, obj, [object_id], store.sim_now(conn))
    return json_response(None, 204)


@endpoint
def batch_read(request: Request, body: Any):
    st = _state(request)
    obj = _object(request)
    _require(request, f"{obj.scope}.read")
    started = datetime.now(UTC)
    inputs = _batch_inputs(body)
    keys = [str((i or {}).get("id")) for i in inputs]
    with st.pool.connection() as conn:
        custom = _custom_types(conn, obj)
        props = ob.requested_properties(obj, body.get("properties") or None, custom)
        found = ob.rows_by_key(conn, obj, keys, body.get("idProperty"), bool(body.get("archived", False)))
        rows = [found[k] for k in dict.fromkeys(keys) if k in found]
        results = _render_rows(st, conn, obj, rows, props, custom)
    missing = [k for k in dict.fromkeys(keys) if k not in found]
    return _batch_response(results, started, [_missing_error(obj, missing)] if missing else None)


@endpoint
def batch_update(request: Request, body: Any):
    st = _state(request)
    obj = _object(request)
    _require(request, f"{obj.scope}.write")
    started = datetime.now(UTC)
    inputs = _batch_inputs(body)
    results, missing = [], []
    with st.pool.connection() as conn, _Tx(conn):
        custom = _custom_types(conn, obj)
        now = store.sim_now(conn)
        parsed = []
        for item in inputs:
            if not isinstance(item, dict) or "id" not in item:
                raise HubSpotError(400, "Invalid input JSON: each input needs `id` and `properties`")
            parsed.append(
                (
                    str(item["id"]),
                    item.get("idProperty"),
                    *ob.parse_values(obj, item.get("properties"), custom),
                )
            )
        for key, id_property, columns, custom_values in parsed:
            found = ob.rows_by_key(conn, obj, [key], id_property)
            if key not in found:
                missing.append(key)
                continue
            row = ob.update_row(conn, obj, found[key]["id"], columns, custom_values, now)
            props = _write_props(obj, [p for item in inputs for p in (item.get("properties") or {})], custom)
            results.append(ob.render(obj, row, props, custom_types=custom))
    return _batch_response(results, started, [_missing_error(obj, missing)] if missing else None)


@endpoint
def batch_upsert(request: Request, body: Any):
    st = _state(request)
    obj = _object(request)
    _require(request, f"{obj.scope}.write")
    started = datetime.now(UTC)
    inputs = _batch_inputs(body)
    results = []
    with st.pool.connection() as conn, _Tx(conn):
        custom = _custom_types(conn, obj)
        now = store.sim_now(conn)
        for item in inputs:
            if not isinstance(item, dict) or "id" not in item:
                raise HubSpotError(
                    400, "Invalid input JSON: each upsert input needs `id`, `idProperty` and `properties`"
                )
            id_property = item.get("idProperty")
            key = str(item["id"])
            columns, custom_values = ob.parse_values(obj, item.get("properties") or {}, custom)
            found = ob.rows_by_key(conn, obj, [key], id_property)
            props = _write_props(
                obj, [*(item.get("properties") or {}), *([id_property] if id_property else [])], custom
            )
            if key in found:
                row = ob.update_row(conn, obj, found[key]["id"], columns, custom_values, now)
                record = ob.render(obj, row, props, custom_types=custom)
                record["new"] = False
            else:
                if id_property and id_property not in ("hs_object_id",):
                    prop = obj.prop(id_property)
                    if prop is None or id_property not in obj.unique:
                        raise HubSpotError(400, f"{id_property} is not a unique property of {obj.name}")
                    columns[prop.column] = key
                else:
                    raise HubSpotError(
                        400, "Upsert by record id needs an existing record; use idProperty to create"
                    )
                row = ob.insert_row(conn, obj, columns, custom_values, now)
                record = ob.render(obj, row, props, custom_types=custom)
                record["new"] = True
            results.append(record)
    return _batch_response(results, started)


@endpoint
def batch_create(request: Request, body: Any):
    st = _state(request)
    obj = _object(request)
    _require(request, f"{obj.scope}.write")
    started = datetime.now(UTC)
    inputs = _batch_inputs(body)
    results = []
    with st.pool.connection() as conn, _Tx(conn):
        now = store.sim_now(conn)
        custom = _custom_types(conn, obj)
        for item in inputs:
            row = _create(conn, st, obj, item, now)
            props = _write_props(obj, list((item.get("properties") or {}).keys()), custom)
            results.append(ob.render(obj, row, props, custom_types=custom))
    return _batch_response(results, started, ok_status=201)


@endpoint
def batch_archive(request: Request, body: Any):
    st = _state(request)
    obj = _object(request)
    _require(request, f"{obj.scope}.write")
    inputs = _batch_inputs(body)
    ids = []
    for item in inputs:
        try:
            ids.append(int((item or {}).get("id")))
        except (TypeError, ValueError):
            continue
    with st.pool.connection() as conn, _Tx(conn):
        ob.archive_rows(conn, obj, ids, store.sim_now(conn))
    return json_response(None, 204)


@endpoint
def search_objects(request: Request, body: Any):
    st = _state(request)
    obj = _object(request)
    _require(request, f"{obj.scope}.read")
    with st.pool.connection() as conn:
        custom = _custom_types(conn, obj)
        rows, total, next_after = ob.search(conn, obj, body or {}, custom)
        props = ob.requested_properties(obj, (body or {}).get("properties") or None, custom)
        results = _render_rows(st, conn, obj, rows, props, custom)
    out: dict[str, Any] = {"total": total, "results": results}
    if next_after is not None:
        out["paging"] = {"next": {"after": str(next_after), "link": f"?after={next_after}"}}
    return json_response(out)


# ---- owners ----------------------------------------------------------------------------------
def _owner(row) -> dict:
    oid, email, first, last, user_id, teams, created, updated, archived = row
    return {
        "id": str(oid),
        "email": email,
        "type": "PERSON",
        "firstName": first,
        "lastName": last,
        "userId": int(user_id),
        "userIdIncludingInactive": int(user_id),
        "createdAt": iso_ms(created),
        "updatedAt": iso_ms(updated),
        "archived": bool(archived),
        "teams": teams,
    }


_OWNER_COLUMNS = "id, email, first_name, last_name, user_id, teams, created_at, updated_at, archived"


@endpoint
def list_owners(request: Request, body: Any):
    st = _state(request)
    _require(request, "crm.objects.owners.read")
    limit = _int_param(request, "limit", 100, 500)
    after = int(request.query_params.get("after") or 0)
    email = request.query_params.get("email")
    archived = _bool_param(request, "archived")
    with st.pool.connection() as conn:
        rows = conn.execute(
            f"select {_OWNER_COLUMNS} from hubspot.owners where archived = %s and id > %s "
            "and (%s::text is null or lower(email) = lower(%s::text)) order by id limit %s",
            (archived, after, email, email, limit + 1),
        ).fetchall()
    out: dict[str, Any] = {"results": [_owner(r) for r in rows[:limit]]}
    if len(rows) > limit:
        out["paging"] = {"next": {"after": str(rows[limit - 1][0]), "link": f"?after={rows[limit - 1][0]}"}}
    return json_response(out)


@endpoint
def get_owner(request: Request, body: Any):
    st = _state(request)
    _require(request, "crm.objects.owners.read")
    key = request.path_params["ownerId"]
    column = "user_id" if request.query_params.get("idProperty") == "userId" else "id"
    try:
        value = int(key)
    except ValueError:
        raise HubSpotError(404, "resource not found", "OBJECT_NOT_FOUND") from None
    with st.pool.connection() as conn:
        row = conn.execute(
            f"select {_OWNER_COLUMNS} from hubspot.owners where {column} = %s", (value,)
        ).fetchone()
    if row is None:
        raise HubSpotError(404, "resource not found", "OBJECT_NOT_FOUND")
    return json_response(_owner(row))


# ---- associations v4 -------------------------------------------------------------------------
def _spec(type_id: int) -> dict:
    return {
        "category": "HUBSPOT_DEFINED",
        "typeId": int(type_id),
        "label": "Primary" if type_id in PRIMARY_TYPE_IDS else None,
    }


def _group_targets(pairs: list[tuple[int, int]]) -> list[dict]:
    grouped: dict[int, list[int]] = {}
    for to_id, type_id in pairs:
        grouped.setdefault(to_id, []).append(type_id)
    return [
        {"toObjectId": to_id, "associationTypes": [_spec(t) for t in types]}
        for to_id, types in grouped.items()
    ]


@endpoint
def v4_list(request: Request, body: Any):
    st = _state(request)
    obj = _object(request)
    to = _object(request, "toObjectType")
    _require(request, f"{obj.scope}.read")
    limit = _int_param(request, "limit", 500, 500)
    after = int(request.query_params.get("after") or 0)
    try:
        object_id = int(request.path_params["objectId"])
    except ValueError:
        raise ob.not_found(obj) from None
    with st.pool.connection() as conn:
        pairs = (
            ob.associations_for(conn, obj.name, [object_id], [to.name]).get(object_id, {}).get(to.name, [])
        )
    targets = [t for t in _group_targets(pairs) if t["toObjectId"] > after]
    out: dict[str, Any] = {"results": targets[:limit]}
    if len(targets) > limit:
        nxt = str(targets[limit - 1]["toObjectId"])
        out["paging"] = {"next": {"after": nxt, "link": f"?after={nxt}"}}
    return json_response(out)


@endpoint
def v4_batch_read(request: Request, body: Any):
    st = _state(request)
    obj = _object(request, "fromObjectType")
    to = _object(request, "toObjectType")
    _require(request, f"{obj.scope}.read")
    started = datetime.now(UTC)
    inputs = _batch_inputs(body)
    ids = []
    for item in inputs:
        try:
            ids.append(int((item or {}).get("id")))
        except (TypeError, ValueError):
            continue
    with st.pool.connection() as conn:
        found = ob.associations_for(conn, obj.name, ids, [to.name])
    results = [
        {"from": {"id": str(i)}, "to": _group_targets(found[i][to.name])}
        for i in dict.fromkeys(ids)
        if found.get(i, {}).get(to.name)
    ]
    missing = [str(i) for i in dict.fromkeys(ids) if not found.get(i, {}).get(to.name)]
    errors = None
    if missing:
        errors = [
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                "message": f"No {to.singular} is associated with {obj.singular} {', '.join(missing)}.",
                "context": {"fromObjectId": missing},
                "errors": [],
                "links": {},
            }
        ]
    return _batch_response(results, started, errors)


def _associate(
    conn, from_obj: ObjectType, from_id: int, to_obj: ObjectType, to_id: int, type_ids: list[int], now
) -> None:
    for table_obj, key in ((from_obj, from_id), (to_obj, to_id)):
        if not ob.rows_by_key(conn, table_obj, [str(key)], None):
            raise HubSpotError(404, f"{table_obj.singular} {key} does not exist", "OBJECT_NOT_FOUND")
    for type_id in type_ids:
        if _type_target(from_obj.name, type_id) != to_obj.name:
            raise HubSpotError(
                400, f"associationTypeId {type_id} does not link {from_obj.name} to {to_obj.name}"
            )
        ob.add_association(conn, from_obj.name, from_id, to_obj.name, to_id, type_id, now)


@endpoint
def v4_create_default(request: Request, body: Any):
    st = _state(request)
    obj = _object(request, "fromObjectType")
    to = _object(request, "toObjectType")
    _require(request, f"{obj.scope}.write")
    started = datetime.now(UTC)
    from_id, to_id = int(request.path_params["fromObjectId"]), int(request.path_params["toObjectId"])
    type_ids = ASSOCIATION_TYPES.get((obj.name, to.name))
    if not type_ids:
        raise HubSpotError(400, f"{obj.name} cannot be associated with {to.name}")
    with st.pool.connection() as conn, _Tx(conn):
        _associate(conn, obj, from_id, to, to_id, [type_ids[0]], store.sim_now(conn))
    return _batch_response(
        [
            {
                "from": {"id": str(from_id)},
                "to": {"id": str(to_id)},
                "associationSpec": {
                    "associationCategory": "HUBSPOT_DEFINED",
                    "associationTypeId": type_ids[0],
                },
            }
        ],
        started,
    )


@endpoint
def v4_create(request: Request, body: Any):
    st = _state(request)
    obj = _object(request)
    to = _object(request, "toObjectType")
    _require(request, f"{obj.scope}.write")
    from_id, to_id = int(request.path_params["objectId"]), int(request.path_params["toObjectId"])
    if not isinstance(body, list) or not body:
        raise HubSpotError(
            400, "Invalid input JSON: expected a list of {associationCategory, associationTypeId}"
        )
    type_ids = [int(s.get("associationTypeId")) for s in body]
    with st.pool.connection() as conn, _Tx(conn):
        _associate(conn, obj, from_id, to, to_id, type_ids, store.sim_now(conn))
    labels = [ASSOCIATION_TYPE_NAMES.get(t, "") for t in type_ids if t in PRIMARY_TYPE_IDS]
    return json_response(
        {
            "fromObjectTypeId": obj.type_id,
            "fromObjectId": from_id,
            "toObjectTypeId": to.type_id,
            "toObjectId": to_id,
            "labels": ["Primary" for _ in labels],
        },
        201,
    )


@endpoint
def v4_archive(request: Request, body: Any):
    st = _state(request)
    obj = _object(request)
    to = _object(request, "toObjectType")
    _require(request, f"{obj.scope}.write")
    with st.pool.connection() as conn, _Tx(conn):
        ob.remove_associations(
            conn,
            obj.name,
            int(request.path_params["objectId"]),
            to.name,
            int(request.path_params["toObjectId"]),
        )
    return json_response(None, 204)


@endpoint
def v4_batch_create(request: Request, body: Any):
    st = _state(request)
    obj = _object(request, "fromObjectType")
    to = _object(request, "toObjectType")
    _require(request, f"{obj.scope}.write")
    started = datetime.now(UTC)
    inputs = _batch_inputs(body)
    default = request.url.path.endswith("/associate/default")
    results = []
    with st.pool.connection() as conn, _Tx(conn):
        now = store.sim_now(conn)
        for item in inputs:
            from_id = int(item["from"]["id"])
            to_id = int(item["to"]["id"])
            type_ids = (
                [ASSOCIATION_TYPES[(obj.name, to.name)][0]]
                if default
                else [int(t["associationTypeId"]) for t in item.get("types") or []]
            )
            _associate(conn, obj, from_id, to, to_id, type_ids, now)
            if default:
                results.append(
                    {
                        "from": {"id": str(from_id)},
                        "to": {"id": str(to_id)},
                        "associationSpec": {
                            "associationCategory": "HUBSPOT_DEFINED",
                            "associationTypeId": type_ids[0],
                        },
                    }
                )
            else:
                results.append(
                    {
                        "fromObjectTypeId": obj.type_id,
                        "fromObjectId": from_id,
                        "toObjectTypeId": to.type_id,
                        "toObjectId": to_id,
                        "labels": [],
                    }
                )
    return _batch_response(results, started, ok_status=200 if default else 201)


@endpoint
def v4_batch_archive(request: Request, body: Any):
    st = _state(request)
    obj = _object(request, "fromObjectType")
    to = _object(request, "toObjectType")
    _require(request, f"{obj.scope}.write")
    inputs = _batch_inputs(body)
    with st.pool.connection() as conn, _Tx(conn):
        for item in inputs:
            from_id = int(item["from"]["id"])
            for target in item.get("to") or []:
                ob.remove_associations(conn, obj.name, from_id, to.name, int(target["id"]))
    return json_response(None, 204)


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
    st = _state(request)
    _require(request, "content")
    q = request.query_params
    limit = _int_param(request, "limit", 100, 1000)
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
    st = _state(request)
    _require(request, "content")
    limit = _int_param(request, "limit", 250, 1000)
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
    st = _state(request)
    _require(request, "content")
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


# ---- properties ------------------------------------------------------------------------------
def _property_json(
    obj: ObjectType, name: str, type_: str, field_type: str, options=(), calculated=False, custom=False
) -> dict:
    return {
        "name": name,
        "label": name.replace("_", " ").capitalize(),
        "type": type_,
        "fieldType": field_type,
        "description": "",
        "groupName": "growthlab" if custom or name.startswith("growthlab") else f"{obj.singular}information",
        "options": [
            {"label": o, "value": o, "displayOrder": i, "hidden": False} for i, o in enumerate(options)
        ],
        "displayOrder": -1,
        "calculated": calculated,
        "externalOptions": False,
        "hasUniqueValue": name in obj.unique,
        "hidden": False,
        "hubspotDefined": not custom and not name.startswith("growthlab"),
        "modificationMetadata": {
            "archivable": custom,
            "readOnlyDefinition": not custom,
            "readOnlyValue": calculated,
        },
        "formField": not calculated,
        "archived": False,
    }


@endpoint
def list_properties(request: Request, body: Any):
    st = _state(request)
    obj = _object(request)
    _require(request, f"{obj.scope}.read")
    with st.pool.connection() as conn:
        custom = _custom_types(conn, obj)
    results = [
        _property_json(
            obj, p.name, "datetime" if p.type == "datetime" else p.type, p.field_type, p.options, p.read_only
        )
        for p in obj.props
    ]
    results += [_property_json(obj, name, t, "text", custom=True) for name, t in custom.items()]
    name = request.path_params.get("propertyName")
    if name:
        match = [r for r in results if r["name"] == name]
        if not match:
            raise HubSpotError(404, f"Unable to find property {name} for {obj.name}", "OBJECT_NOT_FOUND")
        return json_response(match[0])
    return json_response({"results": results})


@endpoint
def create_property(request: Request, body: Any):
    st = _state(request)
    obj = _object(request)
    _require(request, f"{obj.scope}.write")
    if not isinstance(body, dict) or not body.get("name") or not body.get("type"):
        raise HubSpotError(
            400, "A property needs at least `name`, `label`, `type`, `fieldType` and `groupName`"
        )
    name = str(body["name"])
    if obj.prop(name) is not None:
        raise HubSpotError(409, f"A property named '{name}' already exists.", "OBJECT_ALREADY_EXISTS")
    with st.pool.connection() as conn, _Tx(conn):
        all_custom = store.get_meta(conn, "custom_properties", {}) or {}
        mine = all_custom.setdefault(obj.name, {})
        if name in mine:
            raise HubSpotError(409, f"A property named '{name}' already exists.", "OBJECT_ALREADY_EXISTS")
        mine[name] = str(body["type"])
        store.set_meta(conn, "custom_properties", all_custom)
    return json_response(
        _property_json(obj, name, str(body["type"]), str(body.get("fieldType", "text")), custom=True), 201
    )


# ---- owners' calendars (sandbox-specific) ----------------------------------------------------
@endpoint
def owner_calendar(request: Request, body: Any):
    st = _state(request)
    _require(request, "crm.objects.owners.read")
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
    return request.headers.get("authorization", "") == f"Bearer {_state(request).admin_token}"


async def faults(request: Request):
    st = _state(request)
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
    st = _state(request)

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


def tokens_from_secrets(secrets: dict) -> dict[str, frozenset[str]]:
    return {secrets["hubspot_token"]: ALL_SCOPES, secrets["hubspot_readonly_token"]: READONLY_SCOPES}


__all__ = ["OBJECT_TYPES", "HubSpotState", "RateLimits", "build_app", "tokens_from_secrets"]
