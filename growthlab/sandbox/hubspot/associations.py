"""Associations v4: list, batch read, create (default or typed), archive."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request

from growthlab.sandbox import store
from growthlab.sandbox.hubspot import objects as ob
from growthlab.sandbox.hubspot.crm import association_target
from growthlab.sandbox.hubspot.objects import HubSpotError
from growthlab.sandbox.hubspot.plumbing import (
    WorldWrite,
    batch_inputs,
    batch_response,
    endpoint,
    hubspot_state,
    int_param,
    object_from_path,
    require_scope,
)
from growthlab.sandbox.hubspot.properties import (
    ASSOCIATION_TYPE_NAMES,
    ASSOCIATION_TYPES,
    PRIMARY_TYPE_IDS,
    ObjectType,
)
from growthlab.sandbox.web import json_response

log = logging.getLogger(__name__)


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
    st = hubspot_state(request)
    obj = object_from_path(request)
    to = object_from_path(request, "toObjectType")
    require_scope(request, f"{obj.scope}.read")
    limit = int_param(request, "limit", 500, 500)
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
    st = hubspot_state(request)
    obj = object_from_path(request, "fromObjectType")
    to = object_from_path(request, "toObjectType")
    require_scope(request, f"{obj.scope}.read")
    started = datetime.now(UTC)
    inputs = batch_inputs(body)
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
    return batch_response(results, started, errors)


def _associate(
    conn, from_obj: ObjectType, from_id: int, to_obj: ObjectType, to_id: int, type_ids: list[int], now
) -> None:
    for table_obj, key in ((from_obj, from_id), (to_obj, to_id)):
        if not ob.rows_by_key(conn, table_obj, [str(key)], None):
            raise HubSpotError(404, f"{table_obj.singular} {key} does not exist", "OBJECT_NOT_FOUND")
    for type_id in type_ids:
        if association_target(from_obj.name, type_id) != to_obj.name:
            raise HubSpotError(
                400, f"associationTypeId {type_id} does not link {from_obj.name} to {to_obj.name}"
            )
        ob.add_association(conn, from_obj.name, from_id, to_obj.name, to_id, type_id, now)


@endpoint
def v4_create_default(request: Request, body: Any):
    st = hubspot_state(request)
    obj = object_from_path(request, "fromObjectType")
    to = object_from_path(request, "toObjectType")
    require_scope(request, f"{obj.scope}.write")
    started = datetime.now(UTC)
    from_id, to_id = int(request.path_params["fromObjectId"]), int(request.path_params["toObjectId"])
    type_ids = ASSOCIATION_TYPES.get((obj.name, to.name))
    if not type_ids:
        raise HubSpotError(400, f"{obj.name} cannot be associated with {to.name}")
    with st.pool.connection() as conn, WorldWrite(conn):
        _associate(conn, obj, from_id, to, to_id, [type_ids[0]], store.sim_now(conn))
    return batch_response(
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
    st = hubspot_state(request)
    obj = object_from_path(request)
    to = object_from_path(request, "toObjectType")
    require_scope(request, f"{obj.scope}.write")
    from_id, to_id = int(request.path_params["objectId"]), int(request.path_params["toObjectId"])
    if not isinstance(body, list) or not body:
        raise HubSpotError(
            400, "Invalid input JSON: expected a list of {associationCategory, associationTypeId}"
        )
    type_ids = [int(s.get("associationTypeId")) for s in body]
    with st.pool.connection() as conn, WorldWrite(conn):
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
    st = hubspot_state(request)
    obj = object_from_path(request)
    to = object_from_path(request, "toObjectType")
    require_scope(request, f"{obj.scope}.write")
    with st.pool.connection() as conn, WorldWrite(conn):
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
    st = hubspot_state(request)
    obj = object_from_path(request, "fromObjectType")
    to = object_from_path(request, "toObjectType")
    require_scope(request, f"{obj.scope}.write")
    started = datetime.now(UTC)
    inputs = batch_inputs(body)
    default = request.url.path.endswith("/associate/default")
    results = []
    with st.pool.connection() as conn, WorldWrite(conn):
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
    return batch_response(results, started, ok_status=200 if default else 201)


@endpoint
def v4_batch_archive(request: Request, body: Any):
    st = hubspot_state(request)
    obj = object_from_path(request, "fromObjectType")
    to = object_from_path(request, "toObjectType")
    require_scope(request, f"{obj.scope}.write")
    inputs = batch_inputs(body)
    with st.pool.connection() as conn, WorldWrite(conn):
        for item in inputs:
            from_id = int(item["from"]["id"])
            for target in item.get("to") or []:
                ob.remove_associations(conn, obj.name, from_id, to.name, int(target["id"]))
    return json_response(None, 204)
