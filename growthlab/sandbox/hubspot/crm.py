"""CRM v3 objects (list, get, create, update, archive, batch, search), owners and properties."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request

from growthlab.sandbox import store
from growthlab.sandbox.hubspot import objects as ob
from growthlab.sandbox.hubspot.gate import (
    HubSpotState,
)
from growthlab.sandbox.hubspot.objects import HubSpotError
from growthlab.sandbox.hubspot.plumbing import (
    WorldWrite,
    batch_inputs,
    batch_response,
    bool_param,
    custom_types,
    endpoint,
    hubspot_state,
    int_param,
    missing_error,
    multi_param,
    object_from_path,
    render_rows,
    require_scope,
    write_props,
)
from growthlab.sandbox.hubspot.properties import (
    ASSOCIATION_TYPES,
    ObjectType,
)
from growthlab.sandbox.timeutil import iso_ms
from growthlab.sandbox.web import json_response

log = logging.getLogger(__name__)


# ---- CRM objects -----------------------------------------------------------------------------
@endpoint
def list_objects(request: Request, body: Any):
    st = hubspot_state(request)
    obj = object_from_path(request)
    require_scope(request, f"{obj.scope}.read")
    limit = int_param(request, "limit", 10, ob.LIST_MAX_LIMIT)
    after_raw = request.query_params.get("after")
    try:
        after = int(after_raw) if after_raw else None
    except ValueError:
        raise HubSpotError(400, f"after={after_raw!r} is not a valid paging cursor") from None
    archived = bool_param(request, "archived")
    with st.pool.connection() as conn:
        custom = custom_types(conn, obj)
        props = ob.requested_properties(obj, multi_param(request, "properties"), custom)
        rows, next_after = ob.list_page(conn, obj, limit, after, archived)
        results = render_rows(st, conn, obj, rows, props, custom, multi_param(request, "associations"))
    body_out: dict[str, Any] = {"results": results}
    if next_after is not None:
        token = str(next_after)
        body_out["paging"] = {"next": {"after": token, "link": f"?after={token}"}}
    return json_response(body_out)


@endpoint
def get_object(request: Request, body: Any):
    st = hubspot_state(request)
    obj = object_from_path(request)
    require_scope(request, f"{obj.scope}.read")
    key = request.path_params["objectId"]
    with st.pool.connection() as conn:
        custom = custom_types(conn, obj)
        props = ob.requested_properties(obj, multi_param(request, "properties"), custom)
        found = ob.rows_by_key(
            conn, obj, [key], request.query_params.get("idProperty"), bool_param(request, "archived")
        )
        if key not in found:
            raise ob.not_found(obj)
        return json_response(
            render_rows(st, conn, obj, [found[key]], props, custom, multi_param(request, "associations"))[0]
        )


def _create(conn, st: HubSpotState, obj: ObjectType, item: dict, now: datetime) -> dict:
    if not isinstance(item, dict):
        raise HubSpotError(400, "Invalid input JSON: each input must be an object with `properties`")
    custom = custom_types(conn, obj)
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
        to_type = association_target(obj.name, type_id)
        if to_type is None:
            raise HubSpotError(400, f"associationTypeId {type_id} is not valid from {obj.name}")
        ob.add_association(conn, obj.name, row["id"], to_type, int(to_id), type_id, now)
    return row


def association_target(from_type: str, type_id: int) -> str | None:
    for (a, b), ids in ASSOCIATION_TYPES.items():
        if a == from_type and type_id in ids:
            return b
    return None


@endpoint
def create_object(request: Request, body: Any):
    st = hubspot_state(request)
    obj = object_from_path(request)
    require_scope(request, f"{obj.scope}.write")
    with st.pool.connection() as conn, WorldWrite(conn):
        now = store.sim_now(conn)
        row = _create(conn, st, obj, body or {}, now)
        props = write_props(obj, list((body or {}).get("properties", {}).keys()), custom_types(conn, obj))
        return json_response(ob.render(obj, row, props, custom_types=custom_types(conn, obj)), 201)


@endpoint
def update_object(request: Request, body: Any):
    st = hubspot_state(request)
    obj = object_from_path(request)
    require_scope(request, f"{obj.scope}.write")
    key = request.path_params["objectId"]
    with st.pool.connection() as conn, WorldWrite(conn):
        custom = custom_types(conn, obj)
        found = ob.rows_by_key(conn, obj, [key], request.query_params.get("idProperty"))
        if key not in found:
            raise ob.not_found(obj)
        columns, custom_values = ob.parse_values(obj, (body or {}).get("properties"), custom)
        row = ob.update_row(conn, obj, found[key]["id"], columns, custom_values, store.sim_now(conn))
        props = write_props(obj, list((body or {}).get("properties", {}).keys()), custom)
        return json_response(ob.render(obj, row, props, custom_types=custom))


@endpoint
def archive_object(request: Request, body: Any):
    st = hubspot_state(request)
    obj = object_from_path(request)
    require_scope(request, f"{obj.scope}.write")
    try:
        object_id = int(request.path_params["objectId"])
    except ValueError:
        raise ob.not_found(obj) from None
    with st.pool.connection() as conn, WorldWrite(conn):
        ob.archive_rows(conn, obj, [object_id], store.sim_now(conn))
    return json_response(None, 204)


@endpoint
def batch_read(request: Request, body: Any):
    st = hubspot_state(request)
    obj = object_from_path(request)
    require_scope(request, f"{obj.scope}.read")
    started = datetime.now(UTC)
    inputs = batch_inputs(body)
    keys = [str((i or {}).get("id")) for i in inputs]
    with st.pool.connection() as conn:
        custom = custom_types(conn, obj)
        props = ob.requested_properties(obj, body.get("properties") or None, custom)
        found = ob.rows_by_key(conn, obj, keys, body.get("idProperty"), bool(body.get("archived", False)))
        rows = [found[k] for k in dict.fromkeys(keys) if k in found]
        results = render_rows(st, conn, obj, rows, props, custom)
    missing = [k for k in dict.fromkeys(keys) if k not in found]
    return batch_response(results, started, [missing_error(obj, missing)] if missing else None)


@endpoint
def batch_update(request: Request, body: Any):
    st = hubspot_state(request)
    obj = object_from_path(request)
    require_scope(request, f"{obj.scope}.write")
    started = datetime.now(UTC)
    inputs = batch_inputs(body)
    results, missing = [], []
    with st.pool.connection() as conn, WorldWrite(conn):
        custom = custom_types(conn, obj)
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
            props = write_props(obj, [p for item in inputs for p in (item.get("properties") or {})], custom)
            results.append(ob.render(obj, row, props, custom_types=custom))
    return batch_response(results, started, [missing_error(obj, missing)] if missing else None)


@endpoint
def batch_upsert(request: Request, body: Any):
    st = hubspot_state(request)
    obj = object_from_path(request)
    require_scope(request, f"{obj.scope}.write")
    started = datetime.now(UTC)
    inputs = batch_inputs(body)
    results = []
    with st.pool.connection() as conn, WorldWrite(conn):
        custom = custom_types(conn, obj)
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
            props = write_props(
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
    return batch_response(results, started)


@endpoint
def batch_create(request: Request, body: Any):
    st = hubspot_state(request)
    obj = object_from_path(request)
    require_scope(request, f"{obj.scope}.write")
    started = datetime.now(UTC)
    inputs = batch_inputs(body)
    results = []
    with st.pool.connection() as conn, WorldWrite(conn):
        now = store.sim_now(conn)
        custom = custom_types(conn, obj)
        for item in inputs:
            row = _create(conn, st, obj, item, now)
            props = write_props(obj, list((item.get("properties") or {}).keys()), custom)
            results.append(ob.render(obj, row, props, custom_types=custom))
    return batch_response(results, started, ok_status=201)


@endpoint
def batch_archive(request: Request, body: Any):
    st = hubspot_state(request)
    obj = object_from_path(request)
    require_scope(request, f"{obj.scope}.write")
    inputs = batch_inputs(body)
    ids = []
    for item in inputs:
        try:
            ids.append(int((item or {}).get("id")))
        except (TypeError, ValueError):
            continue
    with st.pool.connection() as conn, WorldWrite(conn):
        ob.archive_rows(conn, obj, ids, store.sim_now(conn))
    return json_response(None, 204)


@endpoint
def search_objects(request: Request, body: Any):
    st = hubspot_state(request)
    obj = object_from_path(request)
    require_scope(request, f"{obj.scope}.read")
    with st.pool.connection() as conn:
        custom = custom_types(conn, obj)
        rows, total, next_after = ob.search(conn, obj, body or {}, custom)
        props = ob.requested_properties(obj, (body or {}).get("properties") or None, custom)
        results = render_rows(st, conn, obj, rows, props, custom)
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
    st = hubspot_state(request)
    require_scope(request, "crm.objects.owners.read")
    limit = int_param(request, "limit", 100, 500)
    after = int(request.query_params.get("after") or 0)
    email = request.query_params.get("email")
    archived = bool_param(request, "archived")
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
    st = hubspot_state(request)
    require_scope(request, "crm.objects.owners.read")
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
    st = hubspot_state(request)
    obj = object_from_path(request)
    require_scope(request, f"{obj.scope}.read")
    with st.pool.connection() as conn:
        custom = custom_types(conn, obj)
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
    st = hubspot_state(request)
    obj = object_from_path(request)
    require_scope(request, f"{obj.scope}.write")
    if not isinstance(body, dict) or not body.get("name") or not body.get("type"):
        raise HubSpotError(
            400, "A property needs at least `name`, `label`, `type`, `fieldType` and `groupName`"
        )
    name = str(body["name"])
    if obj.prop(name) is not None:
        raise HubSpotError(409, f"A property named '{name}' already exists.", "OBJECT_ALREADY_EXISTS")
    with st.pool.connection() as conn, WorldWrite(conn):
        all_custom = store.get_meta(conn, "custom_properties", {}) or {}
        mine = all_custom.setdefault(obj.name, {})
        if name in mine:
            raise HubSpotError(409, f"A property named '{name}' already exists.", "OBJECT_ALREADY_EXISTS")
        mine[name] = str(body["type"])
        store.set_meta(conn, "custom_properties", all_custom)
    return json_response(
        _property_json(obj, name, str(body["type"]), str(body.get("fieldType", "text")), custom=True), 201
    )
