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

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from growthlab.sandbox import catalog, content, store
from growthlab.sandbox.generate import lifecycle_columns, message_id_header, truth_table, write_owner_busy
from growthlab.sandbox.hubspot.objects import add_association
from growthlab.sandbox.population import make_companies, make_contacts, make_owners
from growthlab.sandbox.rng import stream
from growthlab.sandbox.sendgrid.events import SUPPRESSION_KIND, event_payload
from growthlab.sandbox.simulation import (
    CH_HS_MARKETING,
    CH_SENDGRID,
    EV_DELIVERED,
    EV_GROUP_UNSUBSCRIBE,
    EV_SENT,
    STAGE,
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
        _write(
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


# ---- writing what happened ---------------------------------------------------------------------
def _write(
    conn, world, sim, rec, clock, end, n0, mails, invites, messages, meetings, new_contacts, companies
) -> dict:
    out: dict[str, int] = {}
    t, s = sim.t, sim.s
    owner_ids = world.owners.owner_id

    # SendGrid: events, suppressions, processed messages.
    by_id = dict(mails["by_id"])
    ev = rec.get("email_event")
    sg_rows, suppress = [], []
    if ev:
        sg = ev["channel"] == CH_SENDGRID
        missing = sorted({int(r) for r in ev["ref"][sg]} - set(by_id))
        by_id.update(_messages_by_id(conn, missing))
        for ref, code, at, aux in zip(
            ev["ref"][sg], ev["code"][sg], ev["at"][sg], ev["aux"][sg], strict=True
        ):
            message = by_id[int(ref)]
            payload = event_payload(message, int(code), float(at), int(aux))
            sg_rows.append(
                (payload["sg_event_id"], int(ref), payload["event"], to_datetime(at), Jsonb(payload))
            )
            if int(code) in SUPPRESSION_KIND:
                group = int(aux) if int(code) == EV_GROUP_UNSUBSCRIBE else 0
                suppress.append(
                    (message["to_email"].lower(), SUPPRESSION_KIND[int(code)], group, to_datetime(at))
                )
    external = rec.get("external_event")
    if external:
        for ref, code, at in zip(external["ref"], external["code"], external["at"], strict=True):
            payload = event_payload(by_id[int(ref)], int(code), float(at))
            sg_rows.append(
                (payload["sg_event_id"], int(ref), payload["event"], to_datetime(at), Jsonb(payload))
            )
    with conn.cursor() as cur:
        cur.executemany(
            "insert into sendgrid.events (sg_event_id, message_id, event, occurred_at, payload) "
            "values (%s, %s, %s, %s, %s) on conflict (sg_event_id) do nothing",
            sg_rows,
        )
        cur.executemany(
            "insert into sendgrid.suppressions (email, kind, group_id, created_at) values (%s, %s, %s, %s) "
            "on conflict do nothing",
            suppress,
        )
        processed = [r for r in mails["rows"][: mails["next"]]]
        cur.executemany(
            "update sendgrid.messages set status = 'processed', contact_id = %s where id = %s",
            [(int(t.contact_id[r["idx"]]) if r["idx"] >= 0 else None, r["id"]) for r in processed],
        )
    out["sendgrid_events"] = len(sg_rows)

    # Replies: HubSpot INCOMING_EMAIL engagements.
    out["replies"] = _write_replies(conn, rec, t, owner_ids, by_id)

    # LinkedIn: sent actions, acceptances, replies.
    out.update(_write_linkedin(conn, rec, t, world, invites, messages, clock))

    # Meetings booked by reps, pipeline meetings seen, outcomes.
    out.update(_write_meetings(conn, rec, t, owner_ids, meetings, companies))

    # Conversions and deals.
    out.update(_write_deals(conn, rec, t, owner_ids, companies, end))

    # New contacts.
    out["new_contacts"] = _write_new_contacts(conn, new_contacts, companies, owner_ids, end)

    # Changed contacts: lifecycle and lead status.
    changed = np.flatnonzero(s.modified_at >= clock)
    if len(changed):
        source = conn.execute(
            "select id, hs_analytics_source from hubspot.contacts where id = any(%s)",
            (t.contact_id[changed].tolist(),),
        ).fetchall()
        src = {r[0]: catalog.LEAD_SOURCES.index(r[1]) if r[1] in catalog.LEAD_SOURCES else 0 for r in source}
        sub = _SubState(s, changed)
        life = lifecycle_columns(
            np.array([src.get(int(c), 0) for c in t.contact_id[changed]]), sub, t.created_at[changed], end
        )
        rows = []
        for k, i in enumerate(changed):
            rows.append(
                (
                    life["lifecyclestage"][k],
                    life["hs_lead_status"][k] or None,
                    *(_dt(life[c][k]) for c in _LIFE_DATES),
                    to_datetime(min(s.modified_at[i], end - 1.0)),
                    int(t.contact_id[i]),
                )
            )
        with conn.cursor() as cur:
            cur.executemany(
                "update hubspot.contacts set lifecyclestage = %s, hs_lead_status = %s, "
                + ", ".join(f"{c} = %s" for c in _LIFE_DATES)
                + ", updated_at = greatest(updated_at, %s) where id = %s",
                rows,
            )
        _update_companies(conn, t, s, changed, end)
    out["contacts_changed"] = len(changed)

    # Truth and state of every contact, and what is still scheduled.
    conn.execute("create temp table advance_state (like world.contacts) on commit drop")
    store.copy_columns(conn, "advance_state", truth_table(t, s))
    conn.execute("delete from world.contacts w using advance_state a where w.contact_id = a.contact_id")
    conn.execute("insert into world.contacts select * from advance_state")
    conn.execute("delete from world.schedule")
    from growthlab.sandbox.generate import write_schedule

    out["scheduled"] = write_schedule(conn, sim.schedule.remaining(), t.contact_id)
    return out


_LIFE_DATES = (
    "hs_lifecyclestage_lead_date",
    "hs_lifecyclestage_marketingqualifiedlead_date",
    "hs_lifecyclestage_salesqualifiedlead_date",
    "hs_lifecyclestage_opportunity_date",
    "hs_lifecyclestage_customer_date",
)


class _SubState:
    """A view of State restricted to some positions (for lifecycle_columns)."""

    def __init__(self, s: State, idx: np.ndarray) -> None:
        for name in (
            "mql_at",
            "sql_at",
            "converted_at",
            "customer_at",
            "sales_touched_at",
            "last_reply_at",
            "hs_optout",
            "hs_bounced",
        ):
            setattr(self, name, getattr(s, name)[idx])


def _dt(value: float):
    return (
        None if value is None or (isinstance(value, float) and np.isnan(value)) else to_datetime(float(value))
    )


def _messages_by_id(conn: psycopg.Connection, ids: list[int]) -> dict[int, dict]:
    if not ids:
        return {}
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        return {
            r["id"]: r
            for r in cur.execute("select * from sendgrid.messages where id = any(%s)", (ids,)).fetchall()
        }


def _write_replies(conn, rec, t, owner_ids, by_id) -> int:
    replies = rec.get("reply")
    if not replies:
        return 0
    sg_refs = [int(r) for r, c in zip(replies["ref"], replies["channel"], strict=True) if c == CH_SENDGRID]
    by_id.update(_messages_by_id(conn, sorted(set(sg_refs) - set(by_id))))
    contact_ids = [int(x) for x in t.contact_id[replies["idx"]]]
    emails = dict(
        conn.execute("select id, email from hubspot.contacts where id = any(%s)", (contact_ids,)).fetchall()
    )
    rows, assoc = [], []
    for ref, channel, idx, at, reply_id in zip(
        replies["ref"], replies["channel"], replies["idx"], replies["at"], replies["reply_id"], strict=True
    ):
        contact_id = int(t.contact_id[idx])
        sender = emails.get(contact_id, "")
        owner_id = int(owner_ids[t.owner[idx]])
        if channel == CH_SENDGRID:
            message = by_id[int(ref)]
            in_reply_to = message["x_message_id"]
            subject = f"Re: {message.get('subject') or ''}".strip()
            to = message["from_email"]
        elif channel == CH_HS_MARKETING:
            in_reply_to = f"<{int(ref)}@hubspot-mail.growthlab-energy.com>"
            subject, to = "Re: your email", "news@growthlab-energy.com"
        else:
            in_reply_to = str(message_id_header(int(ref), contact_id))
            subject, to = "Re: your email", ""
        headers = {
            "Message-ID": f"<reply-{int(reply_id)}@{sender.split('@')[-1]}>",
            "In-Reply-To": in_reply_to,
            "From": sender,
            "To": to,
        }
        when = to_datetime(at)
        rows.append(
            (
                int(reply_id),
                when,
                when,
                when,
                "INCOMING_EMAIL",
                subject,
                content.REPLY_TEXTS[int(reply_id) % len(content.REPLY_TEXTS)],
                "SENT",
                json.dumps(headers),
                owner_id,
            )
        )
        assoc.append((int(reply_id), contact_id, when))
    with conn.cursor() as cur:
        cur.executemany(
            "insert into hubspot.emails (id, created_at, updated_at, hs_timestamp, hs_email_direction, hs_email_subject, "
            "hs_email_text, hs_email_status, hs_email_headers, hubspot_owner_id) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            rows,
        )
    for email_id, contact_id, when in assoc:
        add_association(conn, "emails", email_id, "contacts", contact_id, 198, when)
    return len(rows)


def _write_linkedin(conn, rec, t, world, invites, messages, clock) -> dict:
    out = {}
    sent_inv = invites["rows"][: invites["next"]]
    sent_msg = messages["rows"][: messages["next"]]
    with conn.cursor() as cur:
        cur.executemany(
            "update linkedin.invitations set status = 'sent', sent_at = %s where id = %s",
            [(to_datetime(r[3]), r[0]) for r in sent_inv],
        )
        cur.executemany(
            "update linkedin.messages set status = 'sent', sent_at = %s where id = %s",
            [(to_datetime(r[3]), r[0]) for r in sent_msg],
        )
        cur.executemany(
            "insert into linkedin.adapter_events (occurred_at, type, owner_id, contact_id, profile_url, invitation_id, external_id) "
            "select %s, 'invitation_sent', owner_id, contact_id, profile_url, id, external_id from linkedin.invitations where id = %s",
            [(to_datetime(r[3]), r[0]) for r in sent_inv],
        )
        cur.executemany(
            "insert into linkedin.adapter_events (occurred_at, type, owner_id, contact_id, profile_url, message_id, external_id, text) "
            "select %s, 'message_sent', owner_id, contact_id, profile_url, id, external_id, content from linkedin.messages where id = %s",
            [(to_datetime(r[3]), r[0]) for r in sent_msg],
        )
    accepts = rec.get("li_accept")
    out["linkedin_acceptances"] = 0
    if accepts:
        rows = [(to_datetime(at), int(ref)) for ref, at in zip(accepts["ref"], accepts["at"], strict=True)]
        with conn.cursor() as cur:
            cur.executemany(
                "update linkedin.invitations set status = 'accepted', responded_at = %s where id = %s", rows
            )
            cur.executemany(
                """insert into linkedin.connections (owner_id, contact_id, first_name, last_name, profile_url, email, company,
                       position, connected_at)
                   select i.owner_id, c.id, c.firstname, c.lastname, i.profile_url,
                          case when (i.id %% 97) < 20 then c.email end, c.company, c.jobtitle, %s
                   from linkedin.invitations i join hubspot.contacts c on c.id = i.contact_id where i.id = %s
                   on conflict do nothing""",
                rows,
            )
            cur.executemany(
                "insert into linkedin.adapter_events (occurred_at, type, owner_id, contact_id, profile_url, invitation_id, external_id) "
                "select %s, 'invitation_accepted', owner_id, contact_id, profile_url, id, external_id from linkedin.invitations where id = %s",
                rows,
            )
        out["linkedin_acceptances"] = len(rows)
    li = rec.get("li_message")
    out["linkedin_replies"] = 0
    if li:
        incoming = li["direction"] == 1
        rows = []
        for ref, at, reply_to in zip(
            li["ref"][incoming], li["at"][incoming], li["reply_to"][incoming], strict=True
        ):
            rows.append(
                (
                    int(ref),
                    to_datetime(at),
                    content.LINKEDIN_REPLIES[int(ref) % len(content.LINKEDIN_REPLIES)],
                    int(reply_to),
                )
            )
        with conn.cursor() as cur:
            cur.executemany(
                """insert into linkedin.messages (id, conversation_id, owner_id, contact_id, profile_url, direction, content,
                       requested_at, sent_at, status, source, reply_to)
                   select %s, m.conversation_id, m.owner_id, m.contact_id, m.profile_url, 'in', %s, %s, %s, 'sent', 'world', m.id
                   from linkedin.messages m where m.id = %s""",
                [(r[0], r[2], r[1], r[1], r[3]) for r in rows],
            )
            cur.executemany(
                "insert into linkedin.adapter_events (occurred_at, type, owner_id, contact_id, profile_url, message_id, external_id, text) "
                "select m.sent_at, 'message_received', m.owner_id, m.contact_id, m.profile_url, m.id, o.external_id, m.content "
                "from linkedin.messages m join linkedin.messages o on o.id = m.reply_to where m.id = %s",
                [(r[0],) for r in rows],
            )
        out["linkedin_replies"] = len(rows)
    return out


def _write_meetings(conn, rec, t, owner_ids, meetings, companies) -> dict:
    out = {}
    seen = meetings["rows"][: meetings["next"]]
    with conn.cursor() as cur:
        cur.executemany(
            "insert into world.meetings (meeting_id, contact_id, source) values (%s, %s, 'pipeline') on conflict do nothing",
            [(r[0], r[1]) for r in seen],
        )
    booked = rec.get("meeting")
    out["meetings_booked_by_reps"] = 0
    if booked:
        rows = []
        for ref, idx, owner, booked_at, start, end_ in zip(
            booked["ref"],
            booked["idx"],
            booked["owner"],
            booked["booked_at"],
            booked["start"],
            booked["end"],
            strict=True,
        ):
            company = (
                companies.name[int(t.company_id[idx]) - companies.id[0]] if companies is not None else ""
            )
            rows.append(
                (
                    int(ref),
                    to_datetime(booked_at),
                    to_datetime(booked_at),
                    f"Discovery call: {company}",
                    "Intro call booked after a reply.",
                    to_datetime(start),
                    to_datetime(start),
                    to_datetime(end_),
                    "SCHEDULED",
                    int(owner_ids[owner]),
                    int(t.contact_id[idx]),
                )
            )
        with conn.cursor() as cur:
            cur.executemany(
                "insert into hubspot.meetings (id, created_at, updated_at, hs_meeting_title, hs_meeting_body, hs_timestamp, "
                "hs_meeting_start_time, hs_meeting_end_time, hs_meeting_outcome, hubspot_owner_id) "
                "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [r[:-1] for r in rows],
            )
            cur.executemany(
                "insert into world.meetings (meeting_id, contact_id, source) values (%s, %s, 'rep')",
                [(r[0], r[-1]) for r in rows],
            )
        for r in rows:
            add_association(conn, "meetings", r[0], "contacts", r[-1], 200, r[1])
        out["meetings_booked_by_reps"] = len(rows)
    outcomes = rec.get("meeting_outcome")
    out["meeting_outcomes"] = 0
    if outcomes:
        with conn.cursor() as cur:
            cur.executemany(
                "update hubspot.meetings set hs_meeting_outcome = %s, updated_at = greatest(updated_at, %s) where id = %s",
                [
                    (catalog.MEETING_OUTCOMES[int(o)], to_datetime(at), int(ref))
                    for ref, at, o in zip(outcomes["ref"], outcomes["at"], outcomes["outcome"], strict=True)
                ],
            )
        out["meeting_outcomes"] = len(outcomes["ref"])
    return out


def _write_deals(conn, rec, t, owner_ids, companies, end) -> dict:
    out = {"conversions": 0, "deal_stage_changes": 0}
    conv = rec.get("conversion")
    if conv:
        rows = []
        for deal_id, idx, at, amount, expected in zip(
            conv["deal_id"], conv["idx"], conv["at"], conv["amount"], conv["expected_close"], strict=True
        ):
            company_id = int(t.company_id[idx])
            name = (
                companies.name[company_id - int(companies.id[0])]
                if companies is not None
                else str(company_id)
            )
            segment = catalog.SEGMENTS[int(t.segment[idx])].replace("_", " ")
            when = to_datetime(at)
            rows.append(
                (
                    int(deal_id),
                    when,
                    when,
                    f"{name} - {segment} project",
                    float(amount),
                    "appointmentscheduled",
                    "default",
                    to_datetime(expected),
                    int(owner_ids[t.owner[idx]]),
                    int(t.contact_id[idx]),
                    company_id,
                )
            )
        with conn.cursor() as cur:
            cur.executemany(
                "insert into hubspot.deals (id, created_at, updated_at, dealname, amount, dealstage, pipeline, closedate, "
                "hubspot_owner_id) values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [r[:9] for r in rows],
            )
        for r in rows:
            add_association(conn, "deals", r[0], "contacts", r[9], 3, r[1])
            add_association(conn, "deals", r[0], "companies", r[10], 341, r[1])
            add_association(conn, "deals", r[0], "companies", r[10], 5, r[1])
        out["conversions"] = len(rows)
    stages = rec.get("deal_stage")
    if stages:
        rows = [
            (
                catalog.DEAL_STAGES[int(stage)],
                to_datetime(at),
                to_datetime(at) if int(stage) in (STAGE["closedwon"], STAGE["closedlost"]) else None,
                int(deal_id),
            )
            for deal_id, at, stage in sorted(
                zip(stages["deal_id"], stages["at"], stages["stage"], strict=True), key=lambda x: x[1]
            )
        ]
        with conn.cursor() as cur:
            cur.executemany(
                "update hubspot.deals set dealstage = %s, updated_at = greatest(updated_at, %s), "
                "closedate = coalesce(%s, closedate) where id = %s",
                rows,
            )
        out["deal_stage_changes"] = len(rows)
    return out


def _write_new_contacts(conn, new_contacts: list[dict], companies, owner_ids, end) -> int:
    total = 0
    for batch in new_contacts:
        if not batch:
            continue
        c = batch["contacts"]
        rows = []
        for i in range(len(c)):
            company = int(c.company[i])
            li = f"https://www.linkedin.com/in/{c.linkedin_slug[i]}" if c.linkedin_slug[i] else None
            source = catalog.LEAD_SOURCES[int(c.source[i])]
            stage = "subscriber" if source in ("EMAIL_MARKETING", "SOCIAL_MEDIA") else "lead"
            created = to_datetime(c.created_at[i])
            rows.append(
                (
                    int(c.id[i]),
                    created,
                    created,
                    str(c.email[i]),
                    str(c.first_name[i]),
                    str(c.last_name[i]),
                    str(c.jobtitle[i]),
                    catalog.SENIORITIES[int(c.seniority[i])],
                    catalog.JOB_FUNCTIONS[int(c.function[i])],
                    str(companies.name[company]),
                    int(companies.id[company]),
                    catalog.COUNTRIES[int(c.country[i])].name,
                    catalog.TIMEZONES[int(c.timezone[i])],
                    li,
                    stage,
                    "NEW",
                    created if stage == "lead" else None,
                    source,
                    catalog.CONSENTS[int(c.consent[i])],
                    False,
                    int(owner_ids[companies.owner[company]]),
                )
            )
        with conn.cursor() as cur:
            cur.executemany(
                "insert into hubspot.contacts (id, created_at, updated_at, email, firstname, lastname, jobtitle, seniority, "
                "job_function, company, associatedcompanyid, country, timezone, linkedin_url, lifecyclestage, hs_lead_status, "
                "hs_lifecyclestage_lead_date, hs_analytics_source, marketing_consent, hs_email_optout, hubspot_owner_id) "
                "values (" + ", ".join(["%s"] * 21) + ")",
                rows,
            )
        for r in rows:
            add_association(conn, "contacts", r[0], "companies", r[10], 279, r[1])
            add_association(conn, "contacts", r[0], "companies", r[10], 1, r[1])
        total += len(rows)
    return total


def _update_companies(conn, t, s, changed: np.ndarray, end: float) -> None:
    rows = []
    for i in changed:
        if not np.isnan(s.customer_at[i]) and s.customer_at[i] <= end:
            rows.append(("customer", to_datetime(s.customer_at[i]), int(t.company_id[i])))
        elif not np.isnan(s.converted_at[i]) and s.converted_at[i] <= end:
            rows.append(("opportunity", to_datetime(s.converted_at[i]), int(t.company_id[i])))
    with conn.cursor() as cur:
        cur.executemany(
            "update hubspot.companies set lifecyclestage = case when lifecyclestage = 'customer' then 'customer' else %s end, "
            "updated_at = greatest(updated_at, %s) where id = %s",
            rows,
        )


def status(conn: psycopg.Connection) -> dict:
    row = conn.execute("select count(*), max(clock_to) from world.advance_log").fetchone()
    return {"advances": row[0], "last_clock": iso_ms(row[1]) if row[1] else None}
