"""HubSpot -> raw_hubspot: objects, associations and email events, incrementally and idempotently.

For each CRM object (companies, contacts, deals, meetings, emails; owners are listed whole):

* incremental (a watermark in ops.sync_state): CRM search on the modified-date property
  (`lastmodifieddate` for contacts, `hs_lastmodifieddate` otherwise) from the watermark minus a
  look-back to the data interval's end, sorted ascending; a window whose `total` exceeds the
  10,000 results search can return is split in two, recursively;
* full refresh (first run, or the `full_refresh` option): list every record with `after` paging;
  records HubSpot no longer returns at all are marked archived;
* archived records (listed with `archived=true`) are merged with `archived = true`, never dropped.

Pages stream into the landing table through the COPY loader (never the whole object set in
memory), then the batch is audited (expectations/hubspot.py) and merged into raw_hubspot.<object>
on `id`, and the watermark moves in the same transaction. After an object, its v4 associations of
the records seen are synced (pairs that disappeared are marked `removed`). Email events come from
`/email/public/v1/events` with offset paging on their own `created` watermark.

"Now" is the data interval's end (`as_of`), never the wall clock: the sandbox runs on simulated
time.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from expectations import hubspot as suites
from growthlab.sources.batches import Batch, start_batch
from growthlab.sources.hubspot_api import HubSpotApi, HubSpotError, client_from_connection
from growthlab.sources.landing import BatchLoad, Validator, raw_target
from growthlab.sources.quarantine import Rejected
from growthlab.warehouse.db import connect
from growthlab.warehouse.loader import Column, Target

log = logging.getLogger(__name__)

__all__ = [
    "OBJECTS",
    "HubSpotError",
    "client_from_connection",
    "sync_all",
    "sync_email_events",
    "sync_object",
]

SEARCH_CAP = 10_000
SEARCH_PAGE = 200
LIST_PAGE = 100
ASSOC_BATCH = 100
LOOKBACK = timedelta(minutes=10)
EMAIL_EVENTS_HISTORY = timedelta(days=730)
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$")


@dataclass(frozen=True)
class ObjectSpec:
    name: str
    properties: tuple[str, ...]
    modified_property: str
    associations: tuple[str, ...] = ()  # to-object types, synced from this object


_CONTACT_PROPS = (
    "email", "firstname", "lastname", "jobtitle", "seniority", "job_function", "company", "associatedcompanyid",
    "country", "timezone", "linkedin_url", "lifecyclestage", "hs_lead_status",
    "hs_lifecyclestage_lead_date", "hs_lifecyclestage_marketingqualifiedlead_date",
    "hs_lifecyclestage_salesqualifiedlead_date", "hs_lifecyclestage_opportunity_date",
    "hs_lifecyclestage_customer_date", "hs_analytics_source", "marketing_consent", "hs_email_optout",
    "hubspot_owner_id", "createdate", "lastmodifieddate", "hs_object_id", "growthlab_score",
    "growthlab_grade", "growthlab_reasons", "growthlab_model_version",
)  # fmt: skip
_COMPANY_PROPS = (
    "name", "domain", "industry", "cleantech_segment", "numberofemployees", "annualrevenue", "revenue_band",
    "country", "timezone", "funding_stage", "founded_year", "emissions_intensity", "renewable_share",
    "sbti_status", "esg_disclosure_score", "certifications", "hubspot_owner_id", "lifecyclestage",
    "createdate", "hs_lastmodifieddate", "hs_object_id",
)  # fmt: skip

OBJECTS: dict[str, ObjectSpec] = {
    s.name: s
    for s in (
        ObjectSpec("owners", (), "updatedAt"),
        ObjectSpec("companies", _COMPANY_PROPS, "hs_lastmodifieddate"),
        ObjectSpec("contacts", _CONTACT_PROPS, "lastmodifieddate", ("companies",)),
        ObjectSpec(
            "deals",
            (
                "dealname",
                "amount",
                "dealstage",
                "pipeline",
                "createdate",
                "closedate",
                "hs_lastmodifieddate",
                "hubspot_owner_id",
                "hs_object_id",
            ),
            "hs_lastmodifieddate",
            ("contacts", "companies"),
        ),
        ObjectSpec(
            "meetings",
            (
                "hs_meeting_title",
                "hs_timestamp",
                "hs_meeting_start_time",
                "hs_meeting_end_time",
                "hs_meeting_outcome",
                "hubspot_owner_id",
                "hs_createdate",
                "hs_lastmodifieddate",
                "hs_object_id",
            ),
            "hs_lastmodifieddate",
            ("contacts",),
        ),
        ObjectSpec(
            "emails",
            (
                "hs_timestamp",
                "hs_email_direction",
                "hs_email_subject",
                "hs_email_status",
                "hs_email_headers",
                "hubspot_owner_id",
                "hs_createdate",
                "hs_lastmodifieddate",
                "hs_object_id",
            ),
            "hs_lastmodifieddate",
            ("contacts",),
        ),
    )
}

OBJECT_COLUMNS = (
    Column("id", "text"),
    Column("properties", "jsonb"),
    Column("payload", "jsonb"),
    Column("archived", "boolean"),
    Column("archived_at", "timestamptz"),
    Column("created_at", "timestamptz"),
    Column("updated_at", "timestamptz"),
)
ASSOC_COLUMNS = (
    Column("from_type", "text"),
    Column("from_id", "text"),
    Column("to_type", "text"),
    Column("to_id", "text"),
    Column("association_category", "text"),
    Column("association_type_id", "integer"),
    Column("label", "text"),
    Column("removed", "boolean"),
    Column("removed_at", "timestamptz"),
)
EVENT_COLUMNS = (
    Column("id", "text"),
    Column("event_type", "text"),
    Column("recipient", "text"),
    Column("created_at", "timestamptz"),
    Column("email_campaign_id", "text"),
    Column("filtered_event", "boolean"),
    Column("payload", "jsonb"),
)


def object_target(name: str) -> Target:
    return raw_target(f"raw_hubspot.{name}", OBJECT_COLUMNS, ("id",))


ASSOCIATIONS = raw_target(
    "raw_hubspot.associations",
    ASSOC_COLUMNS,
    ("from_type", "from_id", "to_type", "to_id", "association_category", "association_type_id"),
)
EMAIL_EVENTS = raw_target("raw_hubspot.email_events", EVENT_COLUMNS, ("id",))


# -- records -> rows (pure) ---------------------------------------------------------------------


def _iso_or_reject(value: Any, what: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _ISO.match(value):
        raise ValueError(f"{what} {value!r} is not an ISO 8601 timestamp")
    return value


def object_row(name: str, record: Any) -> tuple | Rejected:
    """A raw_hubspot.<name> row from one API record, or why it cannot be one."""
    if not isinstance(record, dict):
        return Rejected("parse.record", "the record is not a JSON object", "?", record)
    rid = record.get("id")
    if rid in (None, ""):
        return Rejected("id_not_null", "the record has no id", "?", record)
    rid = str(rid)
    try:
        created = _iso_or_reject(record.get("createdAt"), "createdAt")
        updated = _iso_or_reject(record.get("updatedAt"), "updatedAt")
        archived_at = _iso_or_reject(record.get("archivedAt"), "archivedAt")
    except ValueError as exc:
        return Rejected("parse.timestamp", f"{name} {rid}: {exc}", rid, record)
    if name == "owners":
        props = {k: record.get(k) for k in ("email", "firstName", "lastName", "userId", "teams", "type")}
    else:
        props = record.get("properties") or {}
        if not isinstance(props, dict):
            return Rejected("parse.properties", f"{name} {rid}: properties is not an object", rid, record)
    return (rid, props, record, bool(record.get("archived")), archived_at, created, updated)


def association_rows(from_type: str, to_type: str, result: dict) -> list[tuple]:
    """Rows of raw_hubspot.associations from one v4 batch-read result."""
    from_id = str((result.get("from") or {}).get("id"))
    rows = []
    for target in result.get("to") or []:
        to_id = str(target.get("toObjectId"))
        for t in target.get("associationTypes") or [{"category": "HUBSPOT_DEFINED", "typeId": 0}]:
            rows.append(
                (
                    from_type,
                    from_id,
                    to_type,
                    to_id,
                    t.get("category") or "HUBSPOT_DEFINED",
                    int(t.get("typeId") or 0),
                    t.get("label"),
                    False,
                    None,
                )
            )
    return rows


def email_event_row(event: Any) -> tuple | Rejected:
    if not isinstance(event, dict) or not event.get("id"):
        return Rejected("id_not_null", "an email event without id", "?", event)
    eid = str(event["id"])
    try:
        created = datetime.fromtimestamp(int(event["created"]) / 1000, UTC)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return Rejected("parse.timestamp", f"email event {eid}: created {event.get('created')!r}", eid, event)
    campaign = event.get("emailCampaignId")
    return (
        eid,
        event.get("type"),
        (event.get("recipient") or None),
        created,
        None if campaign is None else str(campaign),
        bool(event.get("filteredEvent")),
        event,
    )


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
            return datetime.fromtimestamp(int(value) / 1000, UTC)
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None


# -- sync state ---------------------------------------------------------------------------------


def read_watermark(conn: psycopg.Connection, obj: str) -> datetime | None:
    row = conn.execute(
        "select watermark from ops.sync_state where source = 'hubspot' and object = %s", (obj,)
    ).fetchone()
    conn.commit()
    return row[0] if row else None


def _save_state(
    conn: psycopg.Connection, obj: str, watermark: datetime | None, batch_id: str, full_refresh: bool
) -> None:
    conn.execute(
        """insert into ops.sync_state (source, object, watermark, last_full_refresh_at, last_batch_id, updated_at)
           values ('hubspot', %s, %s, case when %s then now() end, %s, now())
           on conflict (source, object) do update set
               watermark = greatest(ops.sync_state.watermark, excluded.watermark),
               last_full_refresh_at = coalesce(excluded.last_full_refresh_at, ops.sync_state.last_full_refresh_at),
               last_batch_id = excluded.last_batch_id, updated_at = now()""",
        (obj, watermark, full_refresh, batch_id),
    )


# -- pages --------------------------------------------------------------------------------------


def _next_after(page: dict) -> str | None:
    return ((page.get("paging") or {}).get("next") or {}).get("after")


PREFETCH_PAGES = 4


def cursor_pages(
    fetch: Callable[[str | None], dict],
    next_cursor: Callable[[dict], str | None],
    first: dict | None = None,
    depth: int = PREFETCH_PAGES,
) -> Iterator[dict]:
    """Pages of a cursor-paged listing, fetched by a thread that runs up to `depth` pages ahead.

    Each cursor comes with the previous page, so requests stay sequential; the fetching thread
    sends the next request as soon as a page arrives, whatever the caller is doing with earlier
    pages (landing them, waiting for a COPY), so the request chain runs at HubSpot's pace (or the
    rate limit's) and memory holds at most `depth` + 1 pages. An error of the fetch is raised
    here, after the pages before it.
    """
    pages: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(item: tuple) -> bool:
        while not stop.is_set():
            try:
                pages.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            page = first if first is not None else fetch(None)
            while put(("page", page)):
                cursor = next_cursor(page)
                if not cursor:
                    put(("end", None))
                    return
                page = fetch(cursor)
        except BaseException as exc:  # handed to the consumer, raised in its thread
            put(("error", exc))

    thread = threading.Thread(target=run, name="hubspot-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = pages.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        # Done, or the caller stopped early (or failed): a fetcher still in a request ends after
        # it, dropping the page; nobody waits for it.
        stop.set()
        thread.join(timeout=1.0)


def _list_pages(api: HubSpotApi, spec: ObjectSpec, archived: bool) -> Iterator[list]:
    def fetch(after: str | None) -> dict:
        if spec.name == "owners":
            return api.owners_page(after, archived, LIST_PAGE)
        return api.list_page(spec.name, list(spec.properties), after, archived, LIST_PAGE)

    for page in cursor_pages(fetch, _next_after):
        yield page.get("results") or []


def _search_request(spec: ObjectSpec, lo_ms: int, hi_ms: int, after: str | None) -> dict:
    prop = spec.modified_property
    request: dict[str, Any] = {
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": prop, "operator": "GTE", "value": str(lo_ms)},
                    {"propertyName": prop, "operator": "LTE", "value": str(hi_ms)},
                ]
            }
        ],
        "sorts": [{"propertyName": prop, "direction": "ASCENDING"}],
        "properties": list(spec.properties),
        "limit": SEARCH_PAGE,
    }
    if after:
        request["after"] = after
    return request


def _search_pages(api: HubSpotApi, spec: ObjectSpec, lo_ms: int, hi_ms: int, stats: dict) -> Iterator[list]:
    """Records modified in [lo_ms, hi_ms], splitting windows the 10,000-result cap would cut."""
    first = api.search_page(spec.name, _search_request(spec, lo_ms, hi_ms, None))
    total = int(first.get("total") or 0)
    if total > SEARCH_CAP:
        if hi_ms <= lo_ms:
            raise HubSpotError(
                f"{total} {spec.name} were modified within one millisecond ({lo_ms}); search cannot page "
                f"past {SEARCH_CAP}: run hubspot_ingest with full_refresh"
            )
        mid = (lo_ms + hi_ms) // 2
        stats["windows_split"] = stats.get("windows_split", 0) + 1
        log.info(
            "%s: %d results in [%d, %d] exceed the search cap: splitting", spec.name, total, lo_ms, hi_ms
        )
        yield from _search_pages(api, spec, lo_ms, mid, stats)
        yield from _search_pages(api, spec, mid + 1, hi_ms, stats)
        return
    stats["windows"] = stats.get("windows", 0) + 1

    def fetch(after: str | None) -> dict:
        return api.search_page(spec.name, _search_request(spec, lo_ms, hi_ms, after))

    for page in cursor_pages(fetch, _next_after, first=first):
        yield page.get("results") or []


# -- object sync --------------------------------------------------------------------------------


@dataclass
class ObjectResult:
    batch: Batch
    ids: list[str] = field(default_factory=list)
    full_refresh: bool = False
    associations: dict[str, Batch] = field(default_factory=dict)


def sync_object(
    url: str,
    api: HubSpotApi,
    name: str,
    *,
    as_of: datetime,
    full_refresh: bool = False,
    run_id: str | None = None,
    validator: Validator | None = None,
    with_associations: bool = True,
) -> ObjectResult:
    """Sync one object (and its outgoing associations) for the interval ending at `as_of`."""
    spec = OBJECTS[name]
    upper = max(as_of, datetime.now(UTC))  # sanity bound only: list calls return today's records
    with connect(url) as conn:
        watermark = read_watermark(conn, name)
        full = full_refresh or watermark is None or name == "owners"
        batch = start_batch(conn, "hubspot", name, run_id=run_id, interval_end=as_of)
        result = ObjectResult(batch, full_refresh=full)
        stats: dict[str, Any] = {"mode": "full" if full else "incremental"}
        seen_max: list[datetime] = []

        def rows(pages: Iterator[list]) -> Iterator[tuple]:
            for records in pages:
                good, bad = [], []
                for rec in records:
                    row = object_row(name, rec)
                    if isinstance(row, Rejected):
                        bad.append(row)
                        continue
                    good.append(row)
                    result.ids.append(row[0])
                    modified = _parse_time(
                        (row[1] or {}).get(spec.modified_property) if name != "owners" else None
                    )
                    modified = modified or _parse_time(row[6])
                    if modified and (not seen_max or modified > seen_max[0]):
                        seen_max[:] = [modified]
                if bad:
                    load.reject(bad)
                yield from good

        def after_publish(c: psycopg.Connection) -> None:
            new_mark = min(seen_max[0], as_of) if seen_max else None
            if full and name != "owners":
                _mark_vanished(c, name, batch)
            _save_state(c, name, new_mark if new_mark else watermark, batch.batch_id, full)

        with BatchLoad(
            conn,
            url,
            object_target(name),
            suites.object_suite(name, upper),
            batch,
            validator=validator,
            after_publish=after_publish,
        ) as load:
            if full:
                load.land(rows(_list_pages(api, spec, archived=False)))
            else:
                lo = _ms(watermark - LOOKBACK)
                load.land(rows(_search_pages(api, spec, lo, _ms(as_of), stats)))
            load.land(rows(_list_pages(api, spec, archived=True)))
        batch.details.update(stats)
        load.publish()
    log.info("hubspot %s: %s", name, batch.counts.as_dict())
    if with_associations:
        for to_type in spec.associations:
            result.associations[to_type] = sync_associations(
                url, api, name, to_type, result.ids, as_of=as_of, run_id=run_id, validator=validator
            )
    return result


def _mark_vanished(conn: psycopg.Connection, name: str, batch: Batch) -> None:
    """After a full listing: records HubSpot no longer returns at all were deleted there; keep them,
    marked archived (a record quarantined in this batch is not 'vanished')."""
    tbl = sql.Identifier("raw_hubspot", name)
    landing = sql.Identifier("landing", f"raw_hubspot__{name}")
    n = conn.execute(
        sql.SQL(
            """update {t} t set archived = true, archived_at = coalesce(t.archived_at, now()),
                   _batch_id = %(b)s, _synced_at = now()
               where not t.archived
                 and not exists (select 1 from {l} l where l._batch_id = %(b)s and l.id = t.id)
                 and not exists (select 1 from quarantine.rows q where q.batch_id = %(b)s
                                 and q.table_name = %(tn)s and q.row_ref = t.id)"""
        ).format(t=tbl, l=landing),
        {"b": batch.batch_id, "tn": f"raw_hubspot.{name}"},
    ).rowcount
    if n:
        log.warning("hubspot %s: %d records are gone from HubSpot; marked archived", name, n)
        batch.details["vanished_marked_archived"] = n


# -- associations -------------------------------------------------------------------------------


def sync_associations(
    url: str,
    api: HubSpotApi,
    from_type: str,
    to_type: str,
    from_ids: list[str],
    *,
    as_of: datetime,
    run_id: str | None = None,
    validator: Validator | None = None,
) -> Batch:
    """v4 associations of `from_ids`; pairs that disappeared from HubSpot are marked removed."""
    ids = list(dict.fromkeys(from_ids))
    with connect(url) as conn:
        batch = start_batch(
            conn, "hubspot", f"associations.{from_type}.{to_type}", run_id=run_id, interval_end=as_of
        )

        def rows() -> Iterator[tuple]:
            for start in range(0, len(ids), ASSOC_BATCH):
                page = api.associations_batch(from_type, to_type, ids[start : start + ASSOC_BATCH])
                for result in page.get("results") or []:
                    if (result.get("paging") or {}).get("next"):
                        log.warning("%s %s has more than one page of %s associations; only the first is read",
                                    from_type, (result.get("from") or {}).get("id"), to_type)  # fmt: skip
                    yield from association_rows(from_type, to_type, result)

        def mark_removed(c: psycopg.Connection) -> None:
            if not ids:
                return
            c.execute("create temp table if not exists _assoc_from (id text) on commit drop")
            with c.cursor().copy("copy _assoc_from (id) from stdin") as copy:
                for i in ids:
                    copy.write_row((i,))
            n = c.execute(
                """update raw_hubspot.associations a
                   set removed = true, removed_at = %(as_of)s, _batch_id = %(b)s, _synced_at = now()
                   where a.from_type = %(f)s and a.to_type = %(t)s and not a.removed
                     and a.from_id in (select id from _assoc_from)
                     and not exists (
                         select 1 from landing.raw_hubspot__associations l
                         where l._batch_id = %(b)s and l.from_type = a.from_type and l.from_id = a.from_id
                           and l.to_type = a.to_type and l.to_id = a.to_id
                           and l.association_category = a.association_category
                           and l.association_type_id = a.association_type_id)""",
                {"as_of": as_of, "b": batch.batch_id, "f": from_type, "t": to_type},
            ).rowcount
            batch.details["marked_removed"] = n

        with BatchLoad(
            conn,
            url,
            ASSOCIATIONS,
            suites.associations_suite(as_of),
            batch,
            validator=validator,
            after_publish=mark_removed,
        ) as load:
            load.land(rows())
        batch.details["from_ids"] = len(ids)
        load.publish()
    return batch


# -- email events -------------------------------------------------------------------------------


def sync_email_events(
    url: str,
    api: HubSpotApi,
    *,
    as_of: datetime,
    full_refresh: bool = False,
    run_id: str | None = None,
    validator: Validator | None = None,
) -> Batch:
    with connect(url) as conn:
        watermark = None if full_refresh else read_watermark(conn, "email_events")
        start = (watermark - LOOKBACK) if watermark else as_of - EMAIL_EVENTS_HISTORY
        batch = start_batch(conn, "hubspot", "email_events", run_id=run_id, interval_end=as_of)
        batch.details = {"from": start.isoformat(), "to": as_of.isoformat()}
        seen_max: list[datetime] = []

        def fetch(offset: str | None) -> dict:
            return api.email_events_page(_ms(start), _ms(as_of), offset)

        def next_offset(page: dict) -> str | None:
            return page.get("offset") if page.get("hasMore") else None

        def rows() -> Iterator[tuple]:
            for page in cursor_pages(fetch, next_offset):
                good, bad = [], []
                for ev in page.get("events") or []:
                    row = email_event_row(ev)
                    if isinstance(row, Rejected):
                        bad.append(row)
                        continue
                    good.append(row)
                    if not seen_max or row[3] > seen_max[0]:
                        seen_max[:] = [row[3]]
                if bad:
                    load.reject(bad)
                yield from good

        def after_publish(c: psycopg.Connection) -> None:
            _save_state(
                c, "email_events", seen_max[0] if seen_max else watermark, batch.batch_id, full_refresh
            )

        with BatchLoad(
            conn,
            url,
            EMAIL_EVENTS,
            suites.email_events_suite(max(as_of, datetime.now(UTC))),
            batch,
            validator=validator,
            after_publish=after_publish,
        ) as load:
            load.land(rows())
        load.publish()
    log.info("hubspot email_events: %s", batch.counts.as_dict())
    return batch


# -- everything ---------------------------------------------------------------------------------

SYNC_ORDER = ("owners", "companies", "contacts", "deals", "meetings", "emails")


def sync_all(
    url: str,
    api: HubSpotApi,
    *,
    as_of: datetime,
    full_refresh: bool = False,
    run_id: str | None = None,
    validator: Validator | None = None,
) -> dict[str, Batch]:
    """Every object with its associations, then email events (what one hubspot_ingest run does)."""
    out: dict[str, Batch] = {}
    for name in SYNC_ORDER:
        res = sync_object(
            url, api, name, as_of=as_of, full_refresh=full_refresh, run_id=run_id, validator=validator
        )
        out[name] = res.batch
        for to_type, b in res.associations.items():
            out[f"associations.{name}.{to_type}"] = b
    out["email_events"] = sync_email_events(
        url, api, as_of=as_of, full_refresh=full_refresh, run_id=run_id, validator=validator
    )
    return out
