"""What every stand-in HubSpot endpoint shares: body parsing, errors, scopes, params, rendering."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from growthlab.sandbox import store
from growthlab.sandbox.hubspot import objects as ob
from growthlab.sandbox.hubspot.gate import HubSpotState
from growthlab.sandbox.hubspot.objects import HubSpotError
from growthlab.sandbox.hubspot.properties import (
    ObjectType,
    object_type,
)
from growthlab.sandbox.timeutil import iso_ms
from growthlab.sandbox.web import json_response

log = logging.getLogger(__name__)


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


def hubspot_state(request: Request) -> HubSpotState:
    return request.app.state.hubspot


def require_scope(request: Request, scope_name: str) -> None:
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


def object_from_path(request: Request, key: str = "objectType") -> ObjectType:
    obj = object_type(request.path_params[key])
    if obj is None:
        raise HubSpotError(
            400,
            f"Unable to infer object type from: {request.path_params[key]}",
            "VALIDATION_ERROR",
        )
    return obj


def multi_param(request: Request, name: str) -> list[str]:
    values: list[str] = []
    for v in request.query_params.getlist(name):
        values.extend(x.strip() for x in v.split(",") if x.strip())
    return values


def int_param(request: Request, name: str, default: int, maximum: int | None = None) -> int:
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


def bool_param(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").lower() == "true"


def custom_types(conn, obj: ObjectType) -> dict:
    return (store.get_meta(conn, "custom_properties", {}) or {}).get(obj.name, {})


def render_rows(
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


class WorldWrite:
    def __init__(self, conn) -> None:
        self.conn = conn

    def __enter__(self):
        self.tx = self.conn.transaction()
        self.tx.__enter__()
        self.conn.execute("select pg_advisory_xact_lock_shared(%s)", (store.WORLD_LOCK,))
        return self.conn

    def __exit__(self, *exc):
        return self.tx.__exit__(*exc)


def write_props(obj: ObjectType, names, custom: dict) -> list[str]:
    """Properties a write answers with: the object's defaults and the ones written."""
    return ob.requested_properties(obj, [*obj.defaults, *names], custom)


def batch_inputs(body: Any) -> list:
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


def batch_response(results: list, started: datetime, errors: list | None = None, ok_status: int = 200):
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


def missing_error(obj: ObjectType, ids: list[str]) -> dict:
    return {
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": f"Could not get some {obj.singular.upper()} objects, they may be deleted or not exist. Check that ids are valid.",
        "context": {"ids": ids},
        "errors": [],
        "links": {},
    }
