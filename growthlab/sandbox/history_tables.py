"""The tables a simulated block of the history becomes: HubSpot objects, events, LinkedIn, truth.

Everything here turns the simulation's records (simulation.Recorder) and final state into
columns and COPYs them; `advance` reuses the pieces that also describe its own writes
(lifecycle_columns, truth_table, write_schedule, message_id_header, conversation_ids).
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING

import numpy as np
import psycopg
import pyarrow as pa

from growthlab.sandbox import catalog, content, store
from growthlab.sandbox.history import BlockHistory
from growthlab.sandbox.hubspot.properties import ASSOCIATION_TYPES
from growthlab.sandbox.population import COMPANY_ID_BASE, Companies, Contacts, Owners
from growthlab.sandbox.rng import stream
from growthlab.sandbox.simulation import (
    CH_HS_MARKETING,
    CH_HS_SALES,
    DROP_BOUNCED,
    EV_CLICK,
    EV_DROPPED,
    EV_OPEN,
    EV_UNSUBSCRIBE,
    OUT_SCHEDULED,
    Items,
)
from growthlab.sandbox.timeutil import DAY

if TYPE_CHECKING:
    from growthlab.sandbox.generate import WorldSpec

HUBSPOT_EVENT_TYPES = np.array(
    [
        "SENT",
        "DELIVERED",
        "DEFERRED",
        "BOUNCE",
        "DROPPED",
        "OPEN",
        "CLICK",
        "SPAMREPORT",
        "STATUSCHANGE",
        "STATUSCHANGE",
        "",
    ],
    dtype=object,
)
CLICK_URLS = np.array(
    [
        "https://www.growthlab-energy.com/pricing",
        "https://www.growthlab-energy.com/case-studies",
        "https://www.growthlab-energy.com/blog/scope-3",
        "https://www.growthlab-energy.com/demo",
        "https://www.growthlab-energy.com/csrd-guide",
        "https://www.growthlab-energy.com/roi-calculator",
        "https://www.growthlab-energy.com/webinar",
    ],
    dtype=object,
)


def write_block(
    conn: psycopg.Connection,
    spec: WorldSpec,
    owners: Owners,
    companies: Companies,
    block: tuple[int, int],
    contacts: Contacts,
    history: BlockHistory,
    blasts,
) -> dict[str, int]:
    counts: dict[str, int] = {}
    rec = history.recorder
    s = history.state
    t = history.traits
    today = spec.today_ts
    co = contacts.company
    owner_ids = owners.id[companies.owner[co]]
    emails_lower = np.char.lower(contacts.email.astype(str))

    # deals (final state as of today)
    conv = rec.get("conversion")
    stages = rec.get("deal_stage")
    deal_rows = _deals(conv, stages, t, companies, owners, today)
    counts["deals"] = store.copy_columns(conn, "hubspot.deals", deal_rows["table"])

    # contacts
    counts["contacts"] = store.copy_columns(
        conn, "hubspot.contacts", _contacts_table(contacts, companies, s, owner_ids, today)
    )
    counts["companies"] = store.copy_columns(
        conn, "hubspot.companies", _companies_table(spec, companies, block, contacts, s, owners)
    )

    # engagements
    meetings = _meetings(rec, t, companies, owners, today)
    counts["meetings"] = store.copy_columns(conn, "hubspot.meetings", meetings["table"])
    store.copy_columns(
        conn,
        "world.meetings",
        {
            "meeting_id": meetings["id"],
            "contact_id": meetings["contact_id"],
            "source": np.full(len(meetings["id"]), "rep", dtype=object),
        },
    )
    emails = _emails(rec, contacts, companies, owners, t)
    counts["emails"] = store.copy_columns(conn, "hubspot.emails", emails["table"])

    # associations
    assoc = [
        ("contacts", contacts.id, "companies", companies.id[co], contacts.created_at),
        ("deals", deal_rows["id"], "contacts", deal_rows["contact_id"], deal_rows["created"]),
        ("deals", deal_rows["id"], "companies", deal_rows["company_id"], deal_rows["created"]),
        ("meetings", meetings["id"], "contacts", meetings["contact_id"], meetings["created"]),
        ("emails", emails["id"], "contacts", emails["contact_id"], emails["created"]),
    ]
    counts["associations"] = sum(write_associations(conn, *a) for a in assoc)

    # HubSpot marketing email events
    counts["email_events"] = store.copy_columns(
        conn, "hubspot.email_events", _email_events(rec, history, contacts, emails_lower)
    )

    # LinkedIn
    counts.update(_linkedin(conn, rec, contacts, companies, owners, t))

    # truth and pending items
    counts["truth"] = store.copy_columns(conn, "world.contacts", truth_table(t, s))
    pending = history.pending.remaining()
    counts["scheduled"] = write_schedule(conn, pending, t.contact_id)
    return counts


def write_associations(
    conn: psycopg.Connection, from_type: str, from_ids, to_type: str, to_ids, created
) -> int:
    from_ids = np.asarray(from_ids, dtype=np.int64)
    if len(from_ids) == 0:
        return 0
    to_ids = np.asarray(to_ids, dtype=np.int64)
    created = np.asarray(created, dtype=np.float64)
    n = 0
    for (a, b), (fi, ti) in (
        ((from_type, to_type), (from_ids, to_ids)),
        ((to_type, from_type), (to_ids, from_ids)),
    ):
        for type_id in ASSOCIATION_TYPES[(a, b)]:
            n += store.copy_columns(
                conn,
                "hubspot.associations",
                {
                    "from_type": np.full(len(fi), a, dtype=object),
                    "from_id": fi,
                    "to_type": np.full(len(fi), b, dtype=object),
                    "to_id": ti,
                    "type_id": np.full(len(fi), type_id, dtype=np.int32),
                    "created_at": store.ts(created),
                },
            )
    return n


def lifecycle_columns(
    contacts_source: np.ndarray, s, created_at: np.ndarray, today: float
) -> dict[str, np.ndarray]:
    """Lifecycle stage, its dates and the lead status from the simulation state."""
    n = len(created_at)
    subscriber_source = np.isin(
        contacts_source,
        [catalog.LEAD_SOURCES.index("EMAIL_MARKETING"), catalog.LEAD_SOURCES.index("SOCIAL_MEDIA")],
    )

    def known(x):
        return ~np.isnan(x) & (x <= today)

    stage = np.where(subscriber_source, "subscriber", "lead").astype(object)
    stage = np.where(known(s.mql_at), "marketingqualifiedlead", stage)
    stage = np.where(known(s.sql_at), "salesqualifiedlead", stage)
    stage = np.where(known(s.converted_at), "opportunity", stage)
    stage = np.where(known(s.customer_at), "customer", stage)
    lead_date = np.where(subscriber_source, s.mql_at, created_at)
    status = np.full(n, "NEW", dtype=object)
    status = np.where(~np.isnan(s.sales_touched_at), "ATTEMPTED_TO_CONTACT", status)
    status = np.where(~np.isnan(s.last_reply_at), "CONNECTED", status)
    status = np.where(s.hs_optout | s.hs_bounced, "UNQUALIFIED", status)
    status = np.where(known(s.converted_at), "OPEN_DEAL", status)
    status = np.where(known(s.customer_at), "", status)

    def clip(x):
        return np.where(known(x), x, np.nan)

    return {
        "lifecyclestage": stage,
        "hs_lead_status": status,
        "hs_lifecyclestage_lead_date": clip(lead_date),
        "hs_lifecyclestage_marketingqualifiedlead_date": clip(s.mql_at),
        "hs_lifecyclestage_salesqualifiedlead_date": clip(s.sql_at),
        "hs_lifecyclestage_opportunity_date": clip(s.converted_at),
        "hs_lifecyclestage_customer_date": clip(s.customer_at),
    }


def _contacts_table(contacts: Contacts, companies: Companies, s, owner_ids: np.ndarray, today: float) -> dict:
    co = contacts.company
    life = lifecycle_columns(contacts.source, s, contacts.created_at, today)
    updated = np.fmax(
        contacts.created_at, np.where(s.modified_at <= today, s.modified_at, contacts.created_at)
    )
    li = np.where(
        contacts.linkedin_slug != "",
        np.char.add("https://www.linkedin.com/in/", contacts.linkedin_slug.astype(str)),
        "",
    )
    return {
        "id": contacts.id,
        "created_at": store.ts(contacts.created_at),
        "updated_at": store.ts(updated),
        "email": contacts.email.astype(object),
        "firstname": contacts.first_name.astype(object),
        "lastname": contacts.last_name.astype(object),
        "jobtitle": contacts.jobtitle.astype(object),
        "seniority": np.array(catalog.SENIORITIES, dtype=object)[contacts.seniority],
        "job_function": np.array(catalog.JOB_FUNCTIONS, dtype=object)[contacts.function],
        "company": companies.name[co].astype(object),
        "associatedcompanyid": companies.id[co],
        "country": np.array([c.name for c in catalog.COUNTRIES], dtype=object)[contacts.country],
        "timezone": np.array(catalog.TIMEZONES, dtype=object)[contacts.timezone],
        "linkedin_url": store.texts(li),
        "lifecyclestage": life["lifecyclestage"],
        "hs_lead_status": store.texts(life["hs_lead_status"]),
        "hs_lifecyclestage_lead_date": store.ts(life["hs_lifecyclestage_lead_date"]),
        "hs_lifecyclestage_marketingqualifiedlead_date": store.ts(
            life["hs_lifecyclestage_marketingqualifiedlead_date"]
        ),
        "hs_lifecyclestage_salesqualifiedlead_date": store.ts(
            life["hs_lifecyclestage_salesqualifiedlead_date"]
        ),
        "hs_lifecyclestage_opportunity_date": store.ts(life["hs_lifecyclestage_opportunity_date"]),
        "hs_lifecyclestage_customer_date": store.ts(life["hs_lifecyclestage_customer_date"]),
        "hs_analytics_source": np.array(catalog.LEAD_SOURCES, dtype=object)[contacts.source],
        "marketing_consent": np.array(catalog.CONSENTS, dtype=object)[contacts.consent],
        "hs_email_optout": s.hs_optout,
        "hubspot_owner_id": owner_ids,
    }


def _companies_table(
    spec: WorldSpec, companies: Companies, block, contacts: Contacts, s, owners: Owners
) -> dict:
    a, b = block
    ids = np.arange(a, b)
    local = contacts.company - a
    today = spec.today_ts
    first_created = np.full(b - a, np.inf)
    np.minimum.at(first_created, local, contacts.created_at)
    rng = stream(spec.seed, "company-created", a)
    created = first_created - rng.integers(1, 30, b - a) * DAY - rng.random(b - a) * DAY
    conv = np.where(s.converted_at <= today, s.converted_at, np.nan)
    cust = np.where(s.customer_at <= today, s.customer_at, np.nan)
    any_conv = np.zeros(b - a, dtype=bool)
    any_cust = np.zeros(b - a, dtype=bool)
    np.logical_or.at(any_conv, local, ~np.isnan(conv))
    np.logical_or.at(any_cust, local, ~np.isnan(cust))
    last_change = np.full(b - a, -np.inf)
    np.maximum.at(last_change, local, np.nan_to_num(np.fmax(conv, cust), nan=-np.inf))
    updated = np.maximum(created, last_change)
    lifecycle = np.where(any_cust, "customer", np.where(any_conv, "opportunity", "lead")).astype(object)
    certs = companies.certifications[ids]
    cert_text = np.array(
        [";".join(c for c, on in zip(catalog.CERTIFICATIONS, row, strict=True) if on) for row in certs],
        dtype=object,
    )
    seg = companies.segment[ids]
    return {
        "id": companies.id[ids],
        "created_at": store.ts(created),
        "updated_at": store.ts(updated),
        "name": companies.name[ids].astype(object),
        "domain": companies.domain[ids].astype(object),
        "industry": np.array([catalog.SEGMENT_INDUSTRY[catalog.SEGMENTS[g]] for g in seg], dtype=object),
        "cleantech_segment": np.array(catalog.SEGMENTS, dtype=object)[seg],
        "numberofemployees": companies.employees[ids],
        "annualrevenue": companies.annual_revenue[ids],
        "revenue_band": np.array(catalog.REVENUE_BANDS, dtype=object)[companies.revenue_band[ids]],
        "country": np.array([c.name for c in catalog.COUNTRIES], dtype=object)[companies.country[ids]],
        "timezone": np.array(catalog.TIMEZONES, dtype=object)[companies.timezone[ids]],
        "funding_stage": np.array(catalog.FUNDING_STAGES, dtype=object)[companies.funding[ids]],
        "founded_year": companies.founded_year[ids],
        "emissions_intensity": companies.emissions_intensity[ids],
        "renewable_share": companies.renewable_share[ids],
        "sbti_status": np.array(catalog.SBTI_STATUSES, dtype=object)[companies.sbti[ids]],
        "esg_disclosure_score": companies.esg_score[ids],
        "certifications": store.texts(cert_text),
        "hubspot_owner_id": owners.id[companies.owner[ids]],
        "lifecyclestage": lifecycle,
    }


def _deals(conv: dict, stages: dict, t, companies: Companies, owners: Owners, today: float) -> dict:
    if not conv:
        empty = np.zeros(0, dtype=np.int64)
        return {
            "table": {"id": empty},
            "id": empty,
            "contact_id": empty,
            "company_id": empty,
            "created": np.zeros(0),
        }
    deal_id = conv["deal_id"]
    idx = conv["idx"]
    order = np.argsort(deal_id)
    deal_id, idx = deal_id[order], idx[order]
    created = conv["at"][order]
    amount = conv["amount"][order]
    expected = conv["expected_close"][order]
    stage = np.zeros(len(deal_id), dtype=np.int64)
    updated = created.copy()
    closed_at = np.full(len(deal_id), np.nan)
    if stages:
        seen = stages["at"] <= today
        st_deal, st_at, st_stage = stages["deal_id"][seen], stages["at"][seen], stages["stage"][seen]
        o = np.lexsort((st_at, st_deal))
        st_deal, st_at, st_stage = st_deal[o], st_at[o], st_stage[o]
        last = np.r_[st_deal[1:] != st_deal[:-1], True]
        pos = np.searchsorted(deal_id, st_deal[last])
        stage[pos] = st_stage[last]
        updated[pos] = st_at[last]
        is_closed = np.isin(st_stage[last], [5, 6])
        closed_at[pos[is_closed]] = st_at[last][is_closed]
    company_id = t.company_id[idx]
    company_name = _company_names_by_id(companies, company_id)
    segment = np.array(catalog.SEGMENTS, dtype=object)[t.segment[idx]]
    dealname = np.char.add(
        np.char.add(company_name.astype(str), " - "), np.char.replace(segment.astype(str), "_", " ")
    )
    dealname = np.char.add(dealname, " project")
    table = {
        "id": deal_id,
        "created_at": store.ts(created),
        "updated_at": store.ts(updated),
        "dealname": dealname.astype(object),
        "amount": amount,
        "dealstage": np.array(catalog.DEAL_STAGES, dtype=object)[stage],
        "pipeline": np.full(len(deal_id), "default", dtype=object),
        "closedate": store.ts(np.where(np.isnan(closed_at), expected, closed_at)),
        "hubspot_owner_id": owners.id[t.owner[idx]],
    }
    return {
        "table": table,
        "id": deal_id,
        "contact_id": t.contact_id[idx],
        "company_id": company_id,
        "created": created,
    }


def _company_names_by_id(companies: Companies, company_ids: np.ndarray) -> np.ndarray:
    return companies.name[np.asarray(company_ids) - COMPANY_ID_BASE]


def _meetings(rec, t, companies: Companies, owners: Owners, today: float) -> dict:
    m = rec.get("meeting")
    if not m:
        empty = np.zeros(0, dtype=np.int64)
        return {"table": {"id": empty}, "id": empty, "contact_id": empty, "created": np.zeros(0)}
    outcome = np.full(len(m["ref"]), OUT_SCHEDULED, dtype=np.int64)
    updated = np.asarray(m["booked_at"], dtype=np.float64).copy()
    out = rec.get("meeting_outcome")
    if out:
        seen = out["at"] <= today
        order = np.argsort(m["ref"])
        pos = order[np.searchsorted(m["ref"][order], out["ref"][seen])]
        outcome[pos] = out["outcome"][seen]
        updated[pos] = out["at"][seen]
    idx = m["idx"]
    names = _company_names_by_id(companies, t.company_id[idx])
    title = np.char.add("Discovery call: ", names.astype(str)).astype(object)
    table = {
        "id": m["ref"],
        "created_at": store.ts(m["booked_at"]),
        "updated_at": store.ts(updated),
        "hs_meeting_title": title,
        "hs_meeting_body": np.full(len(idx), "Intro call booked after a reply.", dtype=object),
        "hs_timestamp": store.ts(m["start"]),
        "hs_meeting_start_time": store.ts(m["start"]),
        "hs_meeting_end_time": store.ts(m["end"]),
        "hs_meeting_outcome": np.array(catalog.MEETING_OUTCOMES, dtype=object)[outcome],
        "hubspot_owner_id": owners.id[m["owner"]],
    }
    return {"table": table, "id": m["ref"], "contact_id": t.contact_id[idx], "created": m["booked_at"]}


def message_id_header(ref: int | np.ndarray, contact_id: int | np.ndarray) -> np.ndarray:
    return np.char.add(
        np.char.add(
            np.char.add("<", np.asarray(ref).astype(str)),
            np.char.add(".", np.asarray(contact_id).astype(str)),
        ),
        "@mail.growthlab-energy.com>",
    )


def _emails(rec, contacts: Contacts, companies: Companies, owners: Owners, t) -> dict:
    sends = rec.get("email_send")
    replies = rec.get("reply")
    ids, contact_ids, created, parts = [], [], [], []
    if sends:
        sales = sends["channel"] == CH_HS_SALES
        ref, idx, at, angle = (
            sends["ref"][sales],
            sends["idx"][sales],
            sends["at"][sales],
            sends["angle"][sales],
        )
        owner = t.owner[idx]
        company = _company_names_by_id(companies, t.company_id[idx])
        subject = np.array(
            [
                content.SALES_SUBJECTS[content.angle_name(a)].format(company=c)
                for a, c in zip(angle, company, strict=True)
            ],
            dtype=object,
        )
        step = sends["step"][sales]
        subject = np.where(step > 1, np.char.add("Re: ", subject.astype(str)), subject).astype(object)
        mid = message_id_header(ref, t.contact_id[idx])
        headers = np.array(
            [
                json.dumps({"Message-ID": m, "From": owners.email[o], "To": contacts.email[i]})
                for m, o, i in zip(mid, owner, idx, strict=True)
            ],
            dtype=object,
        )
        parts.append(
            {
                "id": ref,
                "created_at": store.ts(at),
                "updated_at": store.ts(at),
                "hs_timestamp": store.ts(at),
                "hs_email_direction": np.full(len(ref), "EMAIL", dtype=object),
                "hs_email_subject": subject,
                "hs_email_text": np.full(len(ref), "", dtype=object),
                "hs_email_status": np.full(len(ref), "SENT", dtype=object),
                "hs_email_headers": headers,
                "hubspot_owner_id": owners.id[owner],
            }
        )
        ids.append(ref)
        contact_ids.append(t.contact_id[idx])
        created.append(at)
    if replies:
        ref, idx, at, rid = replies["ref"], replies["idx"], replies["at"], replies["reply_id"]
        in_reply = np.where(
            replies["channel"] == CH_HS_MARKETING,
            np.char.add(np.char.add("<", ref.astype(str)), "@hubspot-mail.growthlab-energy.com>"),
            message_id_header(ref, t.contact_id[idx]),
        )
        owner = t.owner[idx]
        text = content.pick(content.REPLY_TEXTS, rid)
        headers = np.array(
            [
                json.dumps(
                    {
                        "Message-ID": f"<reply-{r}@{contacts.email[i].split('@')[1]}>",
                        "In-Reply-To": irt,
                        "From": contacts.email[i],
                        "To": owners.email[o],
                    }
                )
                for r, irt, i, o in zip(rid, in_reply, idx, owner, strict=True)
            ],
            dtype=object,
        )
        parts.append(
            {
                "id": rid,
                "created_at": store.ts(at),
                "updated_at": store.ts(at),
                "hs_timestamp": store.ts(at),
                "hs_email_direction": np.full(len(rid), "INCOMING_EMAIL", dtype=object),
                "hs_email_subject": np.full(len(rid), "Re: your email", dtype=object),
                "hs_email_text": text,
                "hs_email_status": np.full(len(rid), "SENT", dtype=object),
                "hs_email_headers": headers,
                "hubspot_owner_id": owners.id[owner],
            }
        )
        ids.append(rid)
        contact_ids.append(t.contact_id[idx])
        created.append(at)
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return {"table": {"id": empty}, "id": empty, "contact_id": empty, "created": np.zeros(0)}

    table = {
        k: pa.concat_arrays([pa.array(p[k]) if not isinstance(p[k], pa.Array) else p[k] for p in parts])
        for k in parts[0]
    }
    return {
        "table": table,
        "id": np.concatenate(ids),
        "contact_id": np.concatenate(contact_ids),
        "created": np.concatenate(created),
    }


def _email_events(rec, history: BlockHistory, contacts: Contacts, emails_lower: np.ndarray) -> dict:
    ev = rec.get("email_event")
    sends = rec.get("email_send")
    camp = rec.get("campaign_send")
    if not ev:
        return {"id": np.zeros(0, dtype=np.int64)}
    hs = ev["channel"] == CH_HS_MARKETING
    ref, idx, at, code, aux = ev["ref"][hs], ev["idx"][hs], ev["at"][hs], ev["code"][hs], ev["aux"][hs]
    mk = sends["channel"] == CH_HS_MARKETING
    send_ref, send_at = sends["ref"][mk], sends["at"][mk]
    order = np.argsort(send_ref)
    send_ref, send_at = send_ref[order], send_at[order]
    pos = np.searchsorted(send_ref, ref)
    sent_by_at = send_at[pos]
    corder = np.argsort(camp["ref"])
    campaign = camp["campaign"][corder][np.searchsorted(camp["ref"][corder], ref)]
    ids = history.ids.take("email_event", len(ref))
    ids = np.where(code == 0, ref, ids)  # a SENT event's id is its send's ref
    return hubspot_event_columns(
        ids, at, code, aux, emails_lower[idx], campaign, ref, sent_by_at, contacts.id[idx]
    )


def hubspot_event_columns(ids, at, code, aux, recipients, campaign, sent_by, sent_by_at, contact_ids) -> dict:
    """Rows of hubspot.email_events (the email events API) from simulated email event records."""
    detail = np.full(len(ids), None, dtype=object)
    click = code == EV_CLICK
    detail[click] = CLICK_URLS[aux[click] % len(CLICK_URLS)]
    dropped = code == EV_DROPPED
    detail[dropped] = np.where(aux[dropped] == DROP_BOUNCED, "PREVIOUSLY_BOUNCED", "PREVIOUS_SPAM")
    detail[code == 3] = "HARD_BOUNCE"
    detail[code == EV_UNSUBSCRIBE] = "UNSUBSCRIBED"
    detail[code == 7] = "SPAMREPORT"
    return {
        "id": np.asarray(ids, dtype=np.int64),
        "created": np.round(np.asarray(at) * 1000).astype(np.int64),
        "type": HUBSPOT_EVENT_TYPES[code],
        "recipient": np.asarray(recipients).astype(object),
        "campaign_id": np.asarray(campaign, dtype=np.int64),
        "sent_by_id": np.asarray(sent_by, dtype=np.int64),
        "sent_by_at": np.round(np.asarray(sent_by_at) * 1000).astype(np.int64),
        "filtered": (code == EV_OPEN) & (aux == 1),
        "detail": store.texts(detail),
        "contact_id": np.asarray(contact_ids, dtype=np.int64),
    }


def _linkedin(conn, rec, contacts: Contacts, companies: Companies, owners: Owners, t) -> dict[str, int]:
    counts = {}
    inv = rec.get("li_invite")
    acc = rec.get("li_accept")
    if not inv:
        return counts
    idx = inv["idx"]
    url = np.char.add("https://www.linkedin.com/in/", contacts.linkedin_slug[idx].astype(str))
    accepted_at = np.full(len(idx), np.nan)
    if acc:
        order = np.argsort(inv["ref"])
        pos = order[np.searchsorted(inv["ref"][order], acc["ref"])]
        accepted_at[pos] = acc["at"]
    first = contacts.first_name[idx].astype(str)
    company = _company_names_by_id(companies, t.company_id[idx]).astype(str)
    notes = np.array(
        [
            content.LINKEDIN_NOTES[r % len(content.LINKEDIN_NOTES)].format(first=f, company=c)
            if note
            else None
            for r, f, c, note in zip(inv["ref"], first, company, inv["has_note"], strict=True)
        ],
        dtype=object,
    )
    owner_id = owners.id[t.owner[idx]]
    status = np.where(np.isnan(accepted_at), "sent", "accepted").astype(object)
    counts["li_invitations"] = store.copy_columns(
        conn,
        "linkedin.invitations",
        {
            "id": inv["ref"],
            "owner_id": owner_id,
            "contact_id": t.contact_id[idx],
            "profile_url": url.astype(object),
            "message": store.texts(notes),
            "requested_at": store.ts(inv["at"]),
            "sent_at": store.ts(inv["at"]),
            "status": status,
            "responded_at": store.ts(accepted_at),
            "source": np.full(len(idx), "history", dtype=object),
        },
    )
    if acc:
        a_idx = acc["idx"]
        shares_email = hash_share(acc["ref"])
        counts["li_connections"] = store.copy_columns(
            conn,
            "linkedin.connections",
            {
                "owner_id": owners.id[t.owner[a_idx]],
                "contact_id": t.contact_id[a_idx],
                "first_name": contacts.first_name[a_idx].astype(object),
                "last_name": contacts.last_name[a_idx].astype(object),
                "profile_url": np.char.add(
                    "https://www.linkedin.com/in/", contacts.linkedin_slug[a_idx].astype(str)
                ).astype(object),
                "email": store.texts(np.where(shares_email, contacts.email[a_idx], "")),
                "company": _company_names_by_id(companies, t.company_id[a_idx]).astype(object),
                "position": contacts.jobtitle[a_idx].astype(object),
                "connected_at": store.ts(acc["at"]),
            },
        )
    msgs = rec.get("li_message")
    if msgs:
        m_idx = msgs["idx"]
        m_owner = owners.id[t.owner[m_idx]]
        direction = np.where(msgs["direction"] == 0, "out", "in").astype(object)
        first = contacts.first_name[m_idx].astype(str)
        company = _company_names_by_id(companies, t.company_id[m_idx]).astype(str)
        text = np.array(
            [
                content.LINKEDIN_MESSAGES[content.angle_name(int(a))].format(first=f, company=c)
                if d == 0
                else content.LINKEDIN_REPLIES[int(r) % len(content.LINKEDIN_REPLIES)]
                for a, f, c, d, r in zip(
                    msgs["angle"], first, company, msgs["direction"], msgs["ref"], strict=True
                )
            ],
            dtype=object,
        )
        counts["li_messages"] = store.copy_columns(
            conn,
            "linkedin.messages",
            {
                "id": msgs["ref"],
                "conversation_id": conversation_ids(m_owner, t.contact_id[m_idx]).astype(object),
                "owner_id": m_owner,
                "contact_id": t.contact_id[m_idx],
                "profile_url": np.char.add(
                    "https://www.linkedin.com/in/", contacts.linkedin_slug[m_idx].astype(str)
                ).astype(object),
                "direction": direction,
                "content": text,
                "angle": store.texts(
                    np.array(
                        [content.angle_name(int(a)) if a >= 0 else "" for a in msgs["angle"]], dtype=object
                    )
                ),
                "requested_at": store.ts(msgs["at"]),
                "sent_at": store.ts(msgs["at"]),
                "status": np.full(len(m_idx), "sent", dtype=object),
                "source": np.full(len(m_idx), "history", dtype=object),
                "reply_to": np.where(msgs["reply_to"] > 0, msgs["reply_to"], 0),
            },
        )
    return counts


def hash_share(keys: np.ndarray) -> np.ndarray:
    """About a fifth of connections let their connections see their email address."""
    return (np.asarray(keys, dtype=np.int64) * 2654435761 % 97) < 20


def conversation_ids(owner_ids: np.ndarray, contact_ids: np.ndarray) -> np.ndarray:
    return np.array(
        [
            "2-" + base64.b64encode(f"conversation-{o}-{c}".encode()).decode()
            for o, c in zip(np.asarray(owner_ids), np.asarray(contact_ids), strict=True)
        ]
    )


def truth_table(t, s) -> dict:
    return {
        "contact_id": t.contact_id,
        "company_id": t.company_id,
        "owner_index": t.owner.astype(np.int32),
        "segment": t.segment.astype(np.int16),
        "seniority": t.seniority.astype(np.int16),
        "job_function": t.function.astype(np.int16),
        "region": t.region.astype(np.int16),
        "timezone": t.timezone.astype(np.int16),
        "revenue_band": t.revenue_band.astype(np.int16),
        "fit": t.fit,
        "latent": t.latent,
        "responsiveness": t.responsiveness,
        "apple_mail": t.apple,
        "invalid_email": t.invalid_email,
        "consent_ok": t.consent_ok,
        "has_linkedin": t.has_linkedin,
        "created_at": store.ts(t.created_at),
        "residual": s.residual,
        "warmth": s.warmth,
        "fatigue": s.fatigue,
        "last_touch_at": store.ts(s.last_touch),
        "converted_at": store.ts(s.converted_at),
        "hs_optout": s.hs_optout,
        "hs_bounced": s.hs_bounced,
        "hs_spam": s.hs_spam,
        "sales_touched_at": store.ts(s.sales_touched_at),
        "li_invited": s.li_invited,
        "li_connected": s.li_connected,
        "last_reply_at": store.ts(s.last_reply_at),
        "mql_at": store.ts(s.mql_at),
        "sql_at": store.ts(s.sql_at),
        "customer_at": store.ts(s.customer_at),
    }


def write_schedule(conn: psycopg.Connection, items: Items, contact_ids: np.ndarray) -> int:
    if len(items) == 0:
        return 0
    return store.copy_columns(
        conn,
        "world.schedule",
        {
            "kind": items.kind.astype(np.int16),
            "due_at": store.ts(items.at),
            "contact_id": contact_ids[items.idx],
            "ref": items.ref,
            "code": items.code,
            "channel": items.channel.astype(np.int16),
            "aux": items.aux,
        },
    )
