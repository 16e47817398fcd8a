"""What one `advance` writes: its simulated outcomes, where the pipeline will find them.

SendGrid events and suppressions, HubSpot replies, meetings, deals and lifecycle changes, new
contacts, LinkedIn acceptances, replies and adapter events, and the world's own state (truth and
what is still scheduled). Called inside the advance's transaction.
"""

from __future__ import annotations

import json

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from growthlab.sandbox import catalog, content, store
from growthlab.sandbox.history_tables import (
    hubspot_event_columns,
    lifecycle_columns,
    message_id_header,
    truth_table,
    write_schedule,
)
from growthlab.sandbox.hubspot.objects import add_association
from growthlab.sandbox.sendgrid.events import SUPPRESSION_KIND, event_payload
from growthlab.sandbox.simulation import CH_HS_MARKETING, CH_SENDGRID, EV_GROUP_UNSUBSCRIBE, STAGE, State
from growthlab.sandbox.timeutil import to_datetime


def write_results(
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
    out["hubspot_email_events"] = _write_hubspot_email_events(conn, ev, world, t) if ev else 0
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
                    bool(s.hs_optout[i]),
                    to_datetime(min(s.modified_at[i], end - 1.0)),
                    int(t.contact_id[i]),
                )
            )
        with conn.cursor() as cur:
            cur.executemany(
                "update hubspot.contacts set lifecyclestage = %s, hs_lead_status = %s, "
                + ", ".join(f"{c} = %s" for c in _LIFE_DATES)
                + ", hs_email_optout = %s, updated_at = greatest(updated_at, %s) where id = %s",
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


# Email events API rows the world adds while advancing (late opens and clicks of the history's
# newsletters): ids counted from the highest in this range, like the other world-made objects.
HUBSPOT_EVENT_ID_BASE = 3_000_000_000_000


def _write_hubspot_email_events(conn, ev: dict, world, t) -> int:
    hs = ev["channel"] == CH_HS_MARKETING
    if not hs.any():
        return 0
    ref, idx, at, code, aux = ev["ref"][hs], ev["idx"][hs], ev["at"][hs], ev["code"][hs], ev["aux"][hs]
    sent = {
        r[0]: (r[1], r[2])
        for r in conn.execute(
            "select id, campaign_id, sent_by_at from hubspot.email_events where type = 'SENT' and id = any(%s)",
            (sorted({int(x) for x in ref}),),
        )
    }
    known = np.array([int(r) in sent for r in ref])
    ref, idx, at, code, aux = ref[known], idx[known], at[known], code[known], aux[known]
    if len(ref) == 0:
        return 0
    top = conn.execute(
        "select max(id) from hubspot.email_events where id >= %s and id < %s",
        (HUBSPOT_EVENT_ID_BASE, HUBSPOT_EVENT_ID_BASE + 10**12),
    ).fetchone()[0]
    first = HUBSPOT_EVENT_ID_BASE if top is None else int(top) + 1
    order = np.lexsort((aux, code, ref, at))
    ref, idx, at, code, aux = ref[order], idx[order], at[order], code[order], aux[order]
    columns = hubspot_event_columns(
        first + np.arange(len(ref)),
        at,
        code,
        aux,
        world.emails[idx],
        [sent[int(r)][0] for r in ref],
        ref,
        np.array([sent[int(r)][1] for r in ref], dtype=np.float64) / 1000.0,
        t.contact_id[idx],
    )
    return store.copy_columns(conn, "hubspot.email_events", columns)


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
