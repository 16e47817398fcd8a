"""`growthlab sandbox advance --days N`: move the simulated clock; the world reacts to the pipeline.

What the pipeline did since the last advance is read from the servers' state: mail SendGrid
accepted (`sendgrid.messages`), connection requests and messages the LinkedIn adapter queued,
meetings created in HubSpot. Day by day the simulation (the same engine as the history) turns
them into events, replies, acceptances, meeting outcomes, conversions, deals and deal stages;
new contacts arrive. The results are written where the pipeline will find them (HubSpot objects,
SendGrid events for the webhook, LinkedIn adapter events and exports), the clock moves, and the
webhook batches are delivered.

The whole advance is one transaction holding the world lock: API writes wait for it, and a failed
advance changes nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from growthlab.sandbox import catalog, store
from growthlab.sandbox.advance_writer import write_results
from growthlab.sandbox.generate import write_owner_busy
from growthlab.sandbox.population import make_companies, make_contacts, make_owners
from growthlab.sandbox.rng import stream
from growthlab.sandbox.simulation import (
    CH_SENDGRID,
    EV_DELIVERED,
    EV_SENT,
    Ids,
    Recorder,
    Simulator,
    State,
)
from growthlab.sandbox.timeutil import DAY, iso_ms, to_datetime
from growthlab.sandbox.worldstate import LoadedWorld, load_world

log = logging.getLogger(__name__)

MAX_DAYS = 366


def advance(
    database_url: str,
    days: int,
    *,
    inbox: Path | None = None,
    deliver: bool = True,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Advance the world `days` simulated days. Returns a summary of what happened."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"--days must be between 1 and {MAX_DAYS}, got {days}")
    started = time.monotonic()
    with store.open_db(database_url) as conn:
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(%s)", (store.WORLD_LOCK,))
            summary = _advance_locked(conn, days, progress)
        clock_to = store.clock_now(conn)
    if inbox is not None:
        from growthlab.sandbox.linkedin.exports import write_due_exports

        summary["linkedin_exports"] = len(write_due_exports(database_url, inbox))
    if deliver:
        from growthlab.sandbox.sendgrid.webhook import deliver_pending

        summary["webhooks"] = deliver_pending(database_url, force=True)
    summary["clock"] = clock_to.date().isoformat()
    summary["seconds"] = round(time.monotonic() - started, 2)
    return summary


def _advance_locked(conn: psycopg.Connection, days: int, progress) -> dict:
    world = load_world(conn)
    clock = store.clock_now(conn).timestamp()
    end = clock + days * DAY
    n0 = len(world.traits)
    ids = _ids_from_db(conn)
    recorder = Recorder()
    sim = Simulator(world.spec.seed, world.traits, world.state, world.owners, ids, recorder, world.schedule)
    mails = _load_mails(conn, world, end)
    invites = _load_queued(conn, "invitations", world, end)
    messages = _load_queued(conn, "messages", world, end)
    meetings = _load_pipeline_meetings(conn, world, end)
    new_contacts: list[dict] = []
    companies = None
    summary: dict[str, Any] = {
        "days": days,
        "clock_from": to_datetime(clock).date().isoformat(),
        "mails_processed": 0,
        "invitations_sent": 0,
        "linkedin_messages_sent": 0,
        "pipeline_meetings_seen": 0,
    }
    for d in range(days):
        day_start = clock + d * DAY
        day_end = day_start + DAY
        sim.start_day()
        summary["mails_processed"] += _send_mails(sim, mails, day_end)
        summary["invitations_sent"] += _send_invites(sim, invites, day_end)
        summary["linkedin_messages_sent"] += _send_messages(sim, messages, day_end)
        summary["pipeline_meetings_seen"] += _book_pipeline_meetings(sim, meetings, day_end)
        sim.finish_day(day_start)
        if companies is None:
            companies = make_companies(
                world.spec.seed, world.spec.size, make_owners(world.spec.seed, world.spec.size)
            )
        new_contacts.append(_new_contacts(conn, sim, world, companies, day_start, ids))
        if progress:
            progress(f"day {to_datetime(day_start).date()} simulated")
    summary.update(
        write_results(
            conn,
            world,
            sim,
            recorder,
            clock,
            end,
            n0,
            mails,
            invites,
            messages,
            meetings,
            new_contacts,
            companies,
        )
    )
    store.set_clock(conn, to_datetime(end))
    write_owner_busy(
        conn,
        world.spec.seed,
        conn.execute(
            "select owner_id, timezone, workday_start_min, workday_end_min from world.owners order by owner_id"
        ).fetchall(),
        end,
        end + 70 * DAY,
    )
    conn.execute(
        "insert into world.advance_log (clock_from, clock_to, summary) values (%s, %s, %s)",
        (to_datetime(clock), to_datetime(end), Jsonb(summary)),
    )
    return summary


# ---- ids ---------------------------------------------------------------------------------------
# Objects the world creates in `advance` get ids in their own ranges (the APIs use hubspot.object_ids
# from 90,000,000,001), counted from the highest id already there: the same ids whatever the step size.
WORLD_ID_RANGES = {
    "contact": ("hubspot.contacts", 50_000_000_001),
    "email": ("hubspot.emails", 60_000_000_001),
    "meeting": ("hubspot.meetings", 70_000_000_001),
    "deal": ("hubspot.deals", 80_000_000_001),
    "li_message": ("linkedin.messages", 500_000_000_001),
}
ID_RANGE_SPAN = 10_000_000_000


def _ids_from_db(conn: psycopg.Connection) -> Ids:
    starts = {}
    for kind, (table, base) in WORLD_ID_RANGES.items():
        top = conn.execute(
            f"select max(id) from {table} where id >= %s and id < %s", (base, base + ID_RANGE_SPAN)
        ).fetchone()[0]
        starts[kind] = base if top is None else int(top) + 1
    return Ids(starts)


# ---- what the pipeline did ---------------------------------------------------------------------
def _load_mails(conn: psycopg.Connection, world: LoadedWorld, end: float) -> dict:
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "select *, extract(epoch from effective_at)::float8 as at from sendgrid.messages "
            "where status = 'accepted' and effective_at < %s order by effective_at, id",
            (to_datetime(end),),
        ).fetchall()
    position = {e: i for i, e in enumerate(world.emails)}
    owner_emails = set(world.owner_emails)
    for r in rows:
        r["idx"] = position.get(r["to_email"].lower(), -1)
        r["sales"] = r["from_email"].lower() in owner_emails
        angle = (r["custom_args"] or {}).get("gl_angle")
        r["angle"] = catalog.ANGLES.index(angle) if angle in catalog.ANGLES else -1
        try:
            r["step"] = int((r["custom_args"] or {}).get("gl_step", 1))
        except (TypeError, ValueError):
            r["step"] = 1
    return {"rows": rows, "next": 0, "by_id": {r["id"]: r for r in rows}}


def _send_mails(sim: Simulator, mails: dict, day_end: float) -> int:
    rows = mails["rows"]
    start = mails["next"]
    stop = start
    while stop < len(rows) and rows[stop]["at"] < day_end:
        stop += 1
    mails["next"] = stop
    batch = rows[start:stop]
    if not batch:
        return 0
    known = [r for r in batch if r["idx"] >= 0]
    if known:
        sim.send_emails(
            np.array([r["idx"] for r in known]),
            np.array([r["at"] for r in known]),
            np.array([r["id"] for r in known]),
            channel=CH_SENDGRID,
            sales_style=np.array([r["sales"] for r in known]),
            angle=np.array([r["angle"] for r in known]),
            step=np.array([r["step"] for r in known]),
            group=np.array([r["asm_group_id"] or 0 for r in known]),
            bypass_suppressions=np.array([r["bypass_list_management"] for r in known]),
        )
    for r in batch:
        if r["idx"] < 0:
            # Not a contact of the world (a test inbox, a colleague): delivered, nothing more.
            sim.rec.add("external_event", ref=r["id"], at=r["at"] + 2.0, code=EV_SENT)
            sim.rec.add("external_event", ref=r["id"], at=r["at"] + 30.0, code=EV_DELIVERED)
    return len(batch)


def _load_queued(conn: psycopg.Connection, table: str, world: LoadedWorld, end: float) -> dict:
    extra = "message is not null as has_note" if table == "invitations" else "angle"
    rows = conn.execute(
        f"select id, owner_id, contact_id, extract(epoch from scheduled_for)::float8, {extra} "
        f"from linkedin.{table} where status = 'queued' and scheduled_for < %s order by scheduled_for, id",
        (to_datetime(end),),
    ).fetchall()
    pos = (
        world.positions(np.array([r[2] or -1 for r in rows], dtype=np.int64))
        if rows
        else np.zeros(0, dtype=np.int64)
    )
    return {"rows": rows, "pos": pos, "next": 0}


def _due(queue: dict, day_end: float) -> tuple[list, np.ndarray]:
    rows = queue["rows"]
    start = queue["next"]
    stop = start
    while stop < len(rows) and rows[stop][3] < day_end:
        stop += 1
    queue["next"] = stop
    return rows[start:stop], queue["pos"][start:stop]


def _send_invites(sim: Simulator, invites: dict, day_end: float) -> int:
    rows, pos = _due(invites, day_end)
    known = pos >= 0
    if known.any():
        sim.send_li_invites(
            pos[known],
            np.array([r[3] for r, k in zip(rows, known, strict=True) if k]),
            np.array([r[0] for r, k in zip(rows, known, strict=True) if k]),
            np.array([bool(r[4]) for r, k in zip(rows, known, strict=True) if k]),
        )
    return len(rows)


def _send_messages(sim: Simulator, messages: dict, day_end: float) -> int:
    rows, pos = _due(messages, day_end)
    known = pos >= 0
    if known.any():
        angle = [
            catalog.ANGLES.index(r[4]) if r[4] in catalog.ANGLES else -1
            for r, k in zip(rows, known, strict=True)
            if k
        ]
        sim.send_li_messages(
            pos[known],
            np.array([r[3] for r, k in zip(rows, known, strict=True) if k]),
            np.array([r[0] for r, k in zip(rows, known, strict=True) if k]),
            np.array(angle),
        )
    return len(rows)


def _load_pipeline_meetings(conn: psycopg.Connection, world: LoadedWorld, end: float) -> dict:
    rows = conn.execute(
        """
        select m.id, min(a.to_id) as contact_id,
               extract(epoch from coalesce(m.hs_meeting_start_time, m.hs_timestamp))::float8 as start,
               extract(epoch from m.created_at)::float8 as created,
               extract(epoch from coalesce(m.hs_meeting_end_time, coalesce(m.hs_meeting_start_time, m.hs_timestamp)
                       + interval '30 minutes'))::float8 as finish,
               m.hubspot_owner_id,
               exists (
                   select 1 from world.owner_busy b
                   where b.owner_id = m.hubspot_owner_id
                     and b.starts_at < coalesce(m.hs_meeting_end_time, m.hs_meeting_start_time + interval '30 minutes')
                     and b.ends_at > m.hs_meeting_start_time
               ) or exists (
                   select 1 from hubspot.meetings o
                   where o.id <> m.id and not o.archived and o.hubspot_owner_id = m.hubspot_owner_id
                     and o.hs_meeting_start_time < coalesce(m.hs_meeting_end_time, m.hs_meeting_start_time + interval '30 minutes')
                     and o.hs_meeting_end_time > m.hs_meeting_start_time
               ) as conflict
        from hubspot.meetings m
        join hubspot.associations a on a.from_type = 'meetings' and a.from_id = m.id and a.to_type = 'contacts'
        where not m.archived and m.created_at < %s
          and coalesce(m.hs_meeting_start_time, m.hs_timestamp) is not null
          and not exists (select 1 from world.meetings w where w.meeting_id = m.id)
        group by m.id
        order by m.created_at, m.id
        """,
        (to_datetime(end),),
    ).fetchall()
    pos = (
        world.positions(np.array([r[1] for r in rows], dtype=np.int64))
        if rows
        else np.zeros(0, dtype=np.int64)
    )
    return {"rows": rows, "pos": pos, "next": 0}


def _book_pipeline_meetings(sim: Simulator, meetings: dict, day_end: float) -> int:
    rows = meetings["rows"]
    start = meetings["next"]
    stop = start
    while stop < len(rows) and rows[stop][3] < day_end:
        stop += 1
    meetings["next"] = stop
    batch, pos = rows[start:stop], meetings["pos"][start:stop]
    known = pos >= 0
    if known.any():
        chosen = [r for r, k in zip(batch, known, strict=True) if k]
        sim.book_meetings(
            pos[known],
            np.array([r[2] for r in chosen]),
            np.array([r[0] for r in chosen]),
            booked_at=np.array([r[3] for r in chosen]),
            source=1,
            owner_conflict=np.array([bool(r[6]) for r in chosen]),
            duration_min=np.array([max(5.0, (r[4] - r[2]) / 60.0) for r in chosen]),
        )
    return len(batch)


# ---- new contacts ----------------------------------------------------------------------------
def _new_contacts(
    conn: psycopg.Connection, sim: Simulator, world: LoadedWorld, companies, day_start: float, ids: Ids
) -> dict:
    """Inbound contacts of the day (the same rate as in the history's last year)."""
    day_no = int(day_start // DAY)
    rng = stream(world.spec.seed, "new-contacts", day_no)
    rate = world.spec.size.contacts * 0.45 / 365.0
    n = int(rng.poisson(rate))
    if n == 0:
        return {}
    weights = companies.n_contacts.astype(np.float64)
    company_index = rng.choice(len(companies), n, p=weights / weights.sum())
    created = np.round(day_start + np.sort(rng.random(n)) * DAY, 3)
    contacts = make_contacts(
        world.spec.seed,
        companies,
        (0, 0),
        day_start,
        day_start,
        purpose=f"new-contacts-{day_no}",
        created_at=created,
        company_index=company_index,
        first_index=0,
    )
    contacts.id = ids.take("contact", n)
    taken = set(world.emails.tolist())
    emails = []
    for e in contacts.email.astype(str):
        candidate, k = e, 2
        while candidate.lower() in taken:
            local, domain = e.split("@")
            candidate = f"{local}{k}@{domain}"
            k += 1
        taken.add(candidate.lower())
        emails.append(candidate)
    contacts.email = np.array(emails)
    world.emails = np.concatenate([world.emails, np.char.lower(contacts.email.astype(str)).astype(object)])
    from growthlab.sandbox.history import traits_of

    traits = traits_of(contacts, companies)
    positions = sim.extend(traits, State.fresh(contacts.residual, contacts.created_at))
    return {"contacts": contacts, "positions": positions}


def status(conn: psycopg.Connection) -> dict:
    row = conn.execute("select count(*), max(clock_to) from world.advance_log").fetchone()
    return {"advances": row[0], "last_clock": iso_ms(row[1]) if row[1] else None}
