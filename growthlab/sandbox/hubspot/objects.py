"""CRM objects in the sandbox database: read, render as HubSpot does, validate writes, search."""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from growthlab.sandbox.hubspot.properties import (
    ASSOCIATION_TYPE_NAMES,
    ASSOCIATION_TYPES,
    BOOL,
    DATETIME,
    ENUM,
    NUMBER,
    STRING,
    ObjectType,
    Prop,
)
from growthlab.sandbox.timeutil import iso_ms, parse_hubspot_time

PORTAL_ID = 24_000_001
SEARCH_MAX_RESULTS = 10_000
SEARCH_MAX_LIMIT = 200
LIST_MAX_LIMIT = 100
BATCH_MAX_INPUTS = 100
MAX_FILTER_GROUPS = 5
MAX_FILTERS_PER_GROUP = 10
MAX_FILTERS_TOTAL = 25
OPERATORS = {
    "EQ",
    "NEQ",
    "LT",
    "LTE",
    "GT",
    "GTE",
    "BETWEEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
}


class HubSpotError(Exception):
    """An error answered with HubSpot's error body."""

    def __init__(self, status: int, message: str, category: str = "VALIDATION_ERROR", **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.category = category
        self.extra = extra

    def body(self) -> dict:
        return {
            "status": "error",
            "message": self.message,
            "correlationId": str(uuid.uuid4()),
            "category": self.category,
            **self.extra,
        }


def not_found(obj: ObjectType | None = None) -> HubSpotError:
    return HubSpotError(404, "resource not found", "OBJECT_NOT_FOUND")


# ---- rendering ---------------------------------------------------------------------------------
def render_value(prop: Prop, value: Any) -> str | None:
    if value is None:
        return None
    if prop.type == DATETIME:
        return iso_ms(value)
    if prop.type == BOOL:
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    return str(value)


MALFORMED_PROPERTIES = {
    "createdate": "2026-02-31T25:61:00.000Z",
    "email": "not-an-email",
    "lastmodifieddate": "yesterday",
    "hs_lifecyclestage_opportunity_date": "sometime",
    "hubspot_owner_id": "owner-???",
}


def render(
    obj: ObjectType, row: dict, props: list[str], *, malformed: bool = False, custom_types: dict | None = None
) -> dict:
    """A record as the CRM v3 API returns it: id, properties (strings), createdAt, updatedAt, archived."""
    properties: dict[str, str | None] = {}
    custom = row.get("custom") or {}
    for name in props:
        prop = obj.prop(name)
        if prop is not None:
            properties[name] = render_value(prop, row.get(prop.column))
        elif custom_types and name in custom_types:
            value = custom.get(name)
            properties[name] = None if value is None else str(value)
    if malformed:
        properties.update(
            {k: v for k, v in MALFORMED_PROPERTIES.items() if k in properties or k in ("email", "createdate")}
        )
    record = {
        "id": str(row["id"]),
        "properties": properties,
        "createdAt": iso_ms(row["created_at"]),
        "updatedAt": iso_ms(row["updated_at"]),
        "archived": bool(row["archived"]),
    }
    if row["archived"] and row.get("archived_at") is not None:
        record["archivedAt"] = iso_ms(row["archived_at"])
    return record


def requested_properties(
    obj: ObjectType, values: list[str] | None, custom_types: dict | None = None
) -> list[str]:
    """Property names from a request (repeated or comma-separated); unknown names are ignored, as HubSpot does."""
    if not values:
        return list(obj.defaults)
    names: list[str] = []
    for value in values:
        names.extend(v.strip() for v in str(value).split(",") if v.strip())
    known = [
        n for n in dict.fromkeys(names) if obj.prop(n) is not None or (custom_types and n in custom_types)
    ]
    for system in ("hs_object_id",):
        if system not in known:
            known.append(system)
    created = obj.props[1].name
    modified = obj.props[2].name
    for name in (created, modified):
        if name not in known:
            known.append(name)
    return known


# ---- reading -----------------------------------------------------------------------------------
def _cursor(conn: psycopg.Connection):
    return conn.cursor(row_factory=dict_row)


def list_page(
    conn: psycopg.Connection, obj: ObjectType, limit: int, after: int | None, archived: bool
) -> tuple[list[dict], int | None]:
    query = sql.SQL("select * from {} where archived = %s and id > %s order by id limit %s").format(
        sql.SQL(obj.table)
    )
    with _cursor(conn) as cur:
        rows = cur.execute(query, (archived, after or 0, limit + 1)).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1]["id"] if more and rows else None)


def rows_by_key(
    conn: psycopg.Connection,
    obj: ObjectType,
    keys: list[str],
    id_property: str | None,
    archived: bool = False,
) -> dict[str, dict]:
    """Records by id (or by a unique property such as email), keyed by the requested key."""
    if not keys:
        return {}
    if id_property in (None, "", "hs_object_id"):
        ids = []
        for k in keys:
            try:
                ids.append(int(k))
            except (TypeError, ValueError):
                continue
        with _cursor(conn) as cur:
            rows = cur.execute(
                sql.SQL("select * from {} where id = any(%s) and archived = %s").format(sql.SQL(obj.table)),
                (ids, archived),
            ).fetchall()
        return {str(r["id"]): r for r in rows}
    prop = obj.prop(id_property)
    if prop is None or id_property not in obj.unique:
        raise HubSpotError(400, f"Property {id_property} is not a unique identifier property for {obj.name}")
    with _cursor(conn) as cur:
        rows = cur.execute(
            sql.SQL("select * from {} where lower({}) = any(%s) and archived = %s").format(
                sql.SQL(obj.table), sql.Identifier(prop.column)
            ),
            ([k.lower() for k in keys], archived),
        ).fetchall()
    by_value = {str(r[prop.column]).lower(): r for r in rows}
    return {k: by_value[k.lower()] for k in keys if k.lower() in by_value}


def associations_for(
    conn: psycopg.Connection, from_type: str, ids: list[int], to_types: list[str]
) -> dict[int, dict[str, list[tuple[int, int]]]]:
    if not ids or not to_types:
        return {}
    rows = conn.execute(
        "select from_id, to_type, to_id, type_id from hubspot.associations "
        "where from_type = %s and from_id = any(%s) and to_type = any(%s) order by from_id, to_type, to_id, type_id",
        (from_type, ids, to_types),
    ).fetchall()
    out: dict[int, dict[str, list[tuple[int, int]]]] = {}
    for from_id, to_type, to_id, type_id in rows:
        out.setdefault(from_id, {}).setdefault(to_type, []).append((to_id, type_id))
    return out


def v3_associations(assocs: dict[str, list[tuple[int, int]]]) -> dict:
    return {
        to_type: {
            "results": [
                {"id": str(to_id), "type": ASSOCIATION_TYPE_NAMES.get(type_id, str(type_id))}
                for to_id, type_id in pairs
            ]
        }
        for to_type, pairs in assocs.items()
    }


# ---- writing -----------------------------------------------------------------------------------
@dataclass
class Invalid:
    name: str
    error: str
    message: str


def parse_values(
    obj: ObjectType, properties: Any, custom_types: dict | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validate input properties: (column values, custom values). Raises HubSpot's VALIDATION_ERROR."""
    if not isinstance(properties, dict):
        raise HubSpotError(
            400, "Invalid input JSON: `properties` must be an object of property names to values"
        )
    columns: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    problems: list[Invalid] = []
    for name, raw in properties.items():
        prop = obj.prop(name)
        if prop is None:
            if custom_types and name in custom_types:
                custom[name] = None if raw in (None, "") else str(raw)
                continue
            problems.append(Invalid(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist'))
            continue
        if prop.read_only:
            problems.append(
                Invalid(
                    name, "READ_ONLY_VALUE", f'"{name}" is a read only property; its value cannot be set.'
                )
            )
            continue
        try:
            columns[prop.column] = _parse(prop, raw)
        except ValueError as exc:
            problems.append(
                Invalid(name, _error_code(prop), f"{raw!r} was not a valid {prop.type} for {name}: {exc}")
            )
    if problems:
        detail = [
            {
                "isValid": False,
                "message": p.message,
                "error": p.error,
                "name": p.name,
                "localizedErrorMessage": p.message,
                "portalId": PORTAL_ID,
            }
            for p in problems
        ]
        raise HubSpotError(400, "Property values were not valid: " + json.dumps(detail))
    return columns, custom


def _error_code(prop: Prop) -> str:
    return {
        NUMBER: "INVALID_INTEGER",
        DATETIME: "INVALID_DATE",
        ENUM: "INVALID_OPTION",
        BOOL: "INVALID_BOOLEAN",
    }.get(prop.type, "INVALID_PROPERTY_VALUE")


def _parse(prop: Prop, raw: Any) -> Any:
    if raw is None or raw == "":
        return None
    if prop.type == STRING:
        return str(raw)
    if prop.type == NUMBER:
        value = float(raw)
        if not math.isfinite(value):
            raise ValueError("not a finite number")
        return value
    if prop.type == DATETIME:
        return parse_hubspot_time(raw)
    if prop.type == BOOL:
        text = str(raw).strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no"):
            return False
        raise ValueError("expected true or false")
    if prop.type == ENUM:
        text = str(raw)
        if prop.options and text not in prop.options:
            raise ValueError(f"allowed options are {', '.join(prop.options)}")
        if prop.name == "hubspot_owner_id":
            return int(float(text))
        return text
    return raw


def update_row(
    conn: psycopg.Connection, obj: ObjectType, object_id: int, columns: dict, custom: dict, now: datetime
) -> dict | None:
    assignments = [sql.SQL("{} = %s").format(sql.Identifier(c)) for c in columns]
    params: list[Any] = list(columns.values())
    assignments.append(sql.SQL("updated_at = %s"))
    params.append(now)
    if custom:
        assignments.append(sql.SQL("custom = custom || %s::jsonb"))
        params.append(json.dumps(custom))
    query = sql.SQL("update {} set {} where id = %s and not archived returning *").format(
        sql.SQL(obj.table), sql.SQL(", ").join(assignments)
    )
    with _cursor(conn) as cur:
        return cur.execute(query, [*params, object_id]).fetchone()


def insert_row(conn: psycopg.Connection, obj: ObjectType, columns: dict, custom: dict, now: datetime) -> dict:
    names = ["id", "created_at", "updated_at", *columns, "custom"]
    query = sql.SQL(
        "insert into {} ({}) values (nextval('hubspot.object_ids'), %s, %s, {}) returning *"
    ).format(
        sql.SQL(obj.table),
        sql.SQL(", ").join(sql.Identifier(n) for n in names),
        sql.SQL(", ").join(sql.Placeholder() for _ in range(len(columns) + 1)),
    )
    with _cursor(conn) as cur:
        return cur.execute(query, [now, now, *columns.values(), json.dumps(custom)]).fetchone()


def archive_rows(conn: psycopg.Connection, obj: ObjectType, ids: list[int], now: datetime) -> int:
    cur = conn.execute(
        sql.SQL(
            "update {} set archived = true, archived_at = %s, updated_at = %s where id = any(%s) and not archived"
        ).format(sql.SQL(obj.table)),
        (now, now, ids),
    )
    return cur.rowcount


def add_association(
    conn: psycopg.Connection,
    from_type: str,
    from_id: int,
    to_type: str,
    to_id: int,
    type_id: int,
    now: datetime,
    category: str = "HUBSPOT_DEFINED",
) -> None:
    reverse = ASSOCIATION_TYPES.get((to_type, from_type), ())
    forward = ASSOCIATION_TYPES.get((from_type, to_type), ())
    pairs = [(from_type, from_id, to_type, to_id, type_id)]
    # Store the inverse direction with the matching type id (same position in the list).
    if type_id in forward and reverse:
        pairs.append((to_type, to_id, from_type, from_id, reverse[forward.index(type_id)]))
    elif reverse:
        pairs.append((to_type, to_id, from_type, from_id, reverse[0]))
    with conn.cursor() as cur:
        cur.executemany(
            "insert into hubspot.associations (from_type, from_id, to_type, to_id, type_id, category, created_at) "
            "values (%s, %s, %s, %s, %s, %s, %s) on conflict do nothing",
            [(*p, category, now) for p in pairs],
        )


def remove_associations(
    conn: psycopg.Connection, from_type: str, from_id: int, to_type: str, to_id: int
) -> int:
    cur = conn.execute(
        "delete from hubspot.associations where (from_type, from_id, to_type, to_id) in ((%s, %s, %s, %s), (%s, %s, %s, %s))",
        (from_type, from_id, to_type, to_id, to_type, to_id, from_type, from_id),
    )
    return cur.rowcount


# ---- search ------------------------------------------------------------------------------------
def _filter_sql(obj: ObjectType, flt: dict, custom_types: dict | None) -> tuple[sql.Composable, list[Any]]:
    if not isinstance(flt, dict):
        raise HubSpotError(400, "Each filter must be an object with propertyName and operator")
    name = flt.get("propertyName")
    operator = str(flt.get("operator", "")).upper()
    if not name:
        raise HubSpotError(400, "A filter is missing propertyName")
    if operator not in OPERATORS:
        raise HubSpotError(
            400, f"Unknown filter operator {operator!r}; use one of {', '.join(sorted(OPERATORS))}"
        )
    prop = obj.prop(name)
    if prop is None:
        if custom_types and name in custom_types:
            prop = Prop(name, STRING, name)
            expr: sql.Composable = sql.SQL("(custom->>{})").format(sql.Literal(name))
        else:
            raise HubSpotError(
                400, f"There was a problem with the request: unknown property {name!r} for {obj.name}"
            )
    else:
        expr = sql.Identifier(prop.column)
    text_like = prop.type in (STRING, ENUM) and prop.name != "hubspot_owner_id"
    cmp_expr = sql.SQL("lower({})").format(expr) if text_like else expr

    def value(v: Any) -> Any:
        if v is None:
            raise HubSpotError(400, f"Filter on {name} with operator {operator} needs a value")
        try:
            if prop.type == NUMBER or prop.name == "hubspot_owner_id":
                return float(v)
            if prop.type == DATETIME:
                return parse_hubspot_time(v)
            if prop.type == BOOL:
                return str(v).lower() == "true"
        except ValueError as exc:
            raise HubSpotError(
                400, f"Filter value {v!r} is not valid for {name} ({prop.type}): {exc}"
            ) from None
        return str(v).lower()

    if operator in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        has = sql.SQL("({} is not null)").format(expr)
        if prop.type == STRING:
            has = sql.SQL("({} is not null and {} <> '')").format(expr, expr)
        return (has if operator == "HAS_PROPERTY" else sql.SQL("not {}").format(has)), []
    if operator in ("IN", "NOT_IN"):
        values = flt.get("values")
        if not isinstance(values, list) or not values:
            raise HubSpotError(
                400, f"Filter on {name} with operator {operator} needs a non-empty `values` list"
            )
        clause = sql.SQL("{} = any(%s)").format(cmp_expr)
        if operator == "NOT_IN":
            clause = sql.SQL("({} is null or not ({} = any(%s)))").format(expr, cmp_expr)
        return clause, [[value(v) for v in values]]
    if operator == "BETWEEN":
        return sql.SQL("({} >= %s and {} <= %s)").format(cmp_expr, cmp_expr), [
            value(flt.get("value")),
            value(flt.get("highValue")),
        ]
    if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        token = str(flt.get("value", "")).lower().replace("%", r"\%").replace("_", r"\_").replace("*", "%")
        pattern = token if "%" in token else f"%{token}%"
        clause = sql.SQL("(coalesce(lower({}::text), '') like %s)").format(expr)
        return (clause if operator == "CONTAINS_TOKEN" else sql.SQL("not {}").format(clause)), [pattern]
    ops = {"EQ": "=", "LT": "<", "LTE": "<=", "GT": ">", "GTE": ">="}
    if operator == "NEQ":
        return sql.SQL("({} is distinct from %s)").format(cmp_expr), [value(flt.get("value"))]
    return sql.SQL("({} {} %s)").format(cmp_expr, sql.SQL(ops[operator])), [value(flt.get("value"))]


def search(
    conn: psycopg.Connection, obj: ObjectType, body: dict, custom_types: dict | None = None
) -> tuple[list[dict], int, int | None]:
    """HubSpot's CRM search: filterGroups (OR of ANDs), query, sorts, limit <= 200, 10,000 results at most."""
    if not isinstance(body, dict):
        raise HubSpotError(400, "Invalid input JSON: the search request must be an object")
    limit = body.get("limit", 10)
    try:
        limit = int(limit)
    except (TypeError, ValueError):
        raise HubSpotError(400, f"limit {limit!r} is not an integer") from None
    if not 0 < limit <= SEARCH_MAX_LIMIT:
        raise HubSpotError(400, f"limit must be between 1 and {SEARCH_MAX_LIMIT}, got {limit}")
    try:
        after = int(body.get("after") or 0)
    except (TypeError, ValueError):
        raise HubSpotError(400, f"after {body.get('after')!r} is not a valid paging cursor") from None
    if after >= SEARCH_MAX_RESULTS:
        raise HubSpotError(
            400,
            f"Search results are limited to {SEARCH_MAX_RESULTS} per query: `after` {after} is past the last page. "
            f"Narrow the query (e.g. a lastmodifieddate range) instead of paging further.",
        )
    groups = body.get("filterGroups") or []
    if len(groups) > MAX_FILTER_GROUPS:
        raise HubSpotError(
            400, f"Too many filter groups ({len(groups)}); at most {MAX_FILTER_GROUPS} are allowed"
        )
    total_filters = 0
    group_clauses: list[sql.Composable] = []
    params: list[Any] = []
    for group in groups:
        filters = (group or {}).get("filters") or []
        if len(filters) > MAX_FILTERS_PER_GROUP:
            raise HubSpotError(
                400,
                f"Too many filters in a group ({len(filters)}); at most {MAX_FILTERS_PER_GROUP} are allowed",
            )
        total_filters += len(filters)
        parts = []
        for flt in filters:
            clause, p = _filter_sql(obj, flt, custom_types)
            parts.append(clause)
            params.extend(p)
        if parts:
            group_clauses.append(sql.SQL("({})").format(sql.SQL(" and ").join(parts)))
    if total_filters > MAX_FILTERS_TOTAL:
        raise HubSpotError(
            400, f"Too many filters ({total_filters}); at most {MAX_FILTERS_TOTAL} are allowed in all groups"
        )
    where: list[sql.Composable] = [sql.SQL("not archived")]
    if group_clauses:
        where.append(sql.SQL("({})").format(sql.SQL(" or ").join(group_clauses)))
    query_text = body.get("query")
    if query_text:
        pattern = f"%{str(query_text).lower()}%"
        text_cols = [
            sql.SQL("coalesce(lower({}), '') like %s").format(sql.Identifier(obj.prop(n).column))
            for n in obj.search_text
        ]
        where.append(sql.SQL("({})").format(sql.SQL(" or ").join(text_cols)))
        params.extend([pattern] * len(text_cols))
    order: list[sql.Composable] = []
    for sort in body.get("sorts") or []:
        if isinstance(sort, str):
            name, direction = sort.lstrip("-"), "desc" if sort.startswith("-") else "asc"
        elif isinstance(sort, dict):
            name = sort.get("propertyName", "")
            direction = (
                "desc" if str(sort.get("direction", "ASCENDING")).upper().startswith("DESC") else "asc"
            )
        else:
            raise HubSpotError(400, "Each sort must be a property name or {propertyName, direction}")
        prop = obj.prop(name)
        if prop is None:
            raise HubSpotError(400, f"Cannot sort by unknown property {name!r}")
        order.append(sql.SQL("{} {} nulls last").format(sql.Identifier(prop.column), sql.SQL(direction)))
    order.append(sql.SQL("id asc"))
    where_sql = sql.SQL(" and ").join(where)
    table = sql.SQL(obj.table)
    total = conn.execute(
        sql.SQL("select count(*) from {} where {}").format(table, where_sql), params
    ).fetchone()[0]
    page_limit = min(limit, SEARCH_MAX_RESULTS - after)
    with _cursor(conn) as cur:
        rows = cur.execute(
            sql.SQL("select * from {} where {} order by {} limit %s offset %s").format(
                table, where_sql, sql.SQL(", ").join(order)
            ),
            [*params, page_limit, after],
        ).fetchall()
    next_after = after + len(rows)
    has_next = next_after < total and next_after < SEARCH_MAX_RESULTS and len(rows) > 0
    return rows, int(total), (next_after if has_next else None)


def utc_now() -> datetime:
    return datetime.now(UTC)
