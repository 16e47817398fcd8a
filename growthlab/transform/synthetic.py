"""A synthetic raw warehouse of any size, generated inside Postgres, for the dbt build benchmark.

The sandbox world is faithful but goes through the stand-in APIs and ingestion, which is the
right path for tests and the demo and far too slow for a million contacts. This module writes the
raw tables directly with set-based SQL (`generate_series`, `random()` after `setseed`), in the
shapes of docs/architecture.md "Raw tables": HubSpot properties as strings in jsonb, HubSpot email
events with `sentBy`, SendGrid events with the `gl_*` custom args, replies with `In-Reply-To`,
LinkedIn connections, invitations and messages, and the associations between them.

It is not a behavioural model (the sandbox is): rates are plausible constants, so the marts have
realistic sizes and shapes, not a learnable signal.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date

from growthlab.warehouse.db import connect

log = logging.getLogger(__name__)

BATCH = "synthetic"


@dataclass(frozen=True)
class SyntheticSpec:
    contacts: int
    today: date = date(2026, 8, 31)
    seed: float = 0.42
    sendgrid_sends_per_contact: int = 5
    hubspot_sends_per_contact: int = 3
    history_days: int = 365

    @property
    def companies(self) -> int:
        return max(1, self.contacts // 5)


RAW_TABLES = (
    "raw_hubspot.companies",
    "raw_hubspot.contacts",
    "raw_hubspot.deals",
    "raw_hubspot.meetings",
    "raw_hubspot.emails",
    "raw_hubspot.owners",
    "raw_hubspot.associations",
    "raw_hubspot.email_events",
    "raw_linkedin.contact_matches",
    "raw_linkedin.connections",
    "raw_linkedin.invitations",
    "raw_linkedin.messages",
    "raw_linkedin.profiles",
    "raw_sendgrid.events",
)


def _statements(spec: SyntheticSpec) -> list[tuple[str, str]]:
    today = spec.today.isoformat()
    hist = spec.history_days
    n_companies = spec.companies
    return [
        (
            "owners",
            f"""
            insert into raw_hubspot.owners (id, properties, payload, created_at, updated_at, _synced_at, _batch_id)
            select i::text,
                   jsonb_build_object('email', 'rep' || i || '@growthlab-energy.test', 'firstName', 'Rep',
                                      'lastName', 'Number' || i, 'userId', (1000 + i)::text),
                   jsonb_build_object('id', i::text),
                   '{today}'::timestamptz - interval '3 years', '{today}'::timestamptz - interval '3 years',
                   now(), '{BATCH}'
            from generate_series(1, 8) as i
            """,
        ),
        (
            "companies",
            f"""
            insert into raw_hubspot.companies (id, properties, payload, created_at, updated_at, _synced_at, _batch_id)
            select i::text, p, jsonb_build_object('id', i::text, 'properties', p),
                   (p ->> 'createdate')::timestamptz, (p ->> 'createdate')::timestamptz, now(), '{BATCH}'
            from (
                select i, jsonb_build_object(
                    'name', 'Company ' || i,
                    'domain', 'company' || i || '.test',
                    'cleantech_segment', (array['solar','wind','storage','ev_charging','hydrogen','heat_pumps',
                        'carbon_management','circular_materials','grid_software','building_efficiency'])[1 + (i % 10)],
                    'numberofemployees', (10 + floor(random() * 5000))::int::text,
                    'annualrevenue', (floor(random() * 500000000))::bigint::text,
                    'revenue_band', (array['<1M','1-10M','10-50M','50-250M','250M-1B','>1B'])[1 + floor(random() * 6)::int],
                    'country', (array['United States','Germany','United Kingdom','France','Canada','Netherlands',
                        'Australia','India','Japan','Brazil'])[1 + floor(random() * 10)::int],
                    'funding_stage', (array['bootstrapped','seed','series_a','series_b','series_c_plus','public',
                        'pe_backed'])[1 + floor(random() * 7)::int],
                    'founded_year', (1980 + floor(random() * 45))::int::text,
                    'emissions_intensity', round((random() * 400)::numeric, 1)::text,
                    'renewable_share', round((random() * 100)::numeric, 1)::text,
                    'sbti_status', (array['none','committed','targets_set','net_zero_committed'])[1 + floor(random() * 4)::int],
                    'esg_disclosure_score', floor(random() * 100)::int::text,
                    'certifications', (array['', 'b_corp', 'iso_14001', 'b_corp;iso_14001', 'iso_50001;leed'])[1 + floor(random() * 5)::int],
                    'hubspot_owner_id', (1 + i % 8)::text,
                    'lifecyclestage', 'lead',
                    'createdate', to_char(('{today}'::timestamptz - (random() * interval '1500 days')) at time zone 'UTC',
                                          'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
                ) as p
                from generate_series(1, {n_companies}) as i
            ) as companies
            """,
        ),
        (
            "contacts",
            f"""
            insert into raw_hubspot.contacts (id, properties, payload, created_at, updated_at, _synced_at, _batch_id)
            select i::text, p, jsonb_build_object('id', i::text, 'properties', p),
                   (p ->> 'createdate')::timestamptz, (p ->> 'lastmodifieddate')::timestamptz, now(), '{BATCH}'
            from (
                select i, created, converted, jsonb_strip_nulls(jsonb_build_object(
                    'email', 'contact' || i || '@company' || (1 + i % {n_companies}) || '.test',
                    'firstname', (array['Ada','Ben','Chloe','Dan','Eva','Finn','Grace','Hugo'])[1 + i % 8],
                    'lastname', 'Person' || i,
                    'jobtitle', 'Head of Something',
                    'seniority', (array['c_level','vp','director','manager','individual_contributor'])[1 + floor(random() * 5)::int],
                    'job_function', (array['executive','sustainability','operations','engineering','procurement',
                        'finance','marketing'])[1 + floor(random() * 7)::int],
                    'company', 'Company ' || (1 + i % {n_companies}),
                    'associatedcompanyid', (1 + i % {n_companies})::text,
                    'country', (array['United States','Germany','United Kingdom','France','Canada'])[1 + floor(random() * 5)::int],
                    'timezone', 'Europe/Berlin',
                    'linkedin_url', 'https://www.linkedin.com/in/person-' || i,
                    'lifecyclestage', case when converted is not null then 'opportunity' else 'lead' end,
                    'hs_lifecyclestage_lead_date', to_char(created at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                    'hs_lifecyclestage_opportunity_date', to_char(converted at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                    'hs_analytics_source', (array['ORGANIC_SEARCH','PAID_SEARCH','EMAIL_MARKETING','SOCIAL_MEDIA',
                        'REFERRALS','OTHER_CAMPAIGNS','DIRECT_TRAFFIC','OFFLINE'])[1 + floor(random() * 8)::int],
                    'marketing_consent', (array['granted','unknown','unknown','denied'])[1 + floor(random() * 4)::int],
                    'hs_email_optout', case when random() < 0.01 then 'true' else 'false' end,
                    'hubspot_owner_id', (1 + i % 8)::text,
                    'createdate', to_char(created at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                    'lastmodifieddate', to_char(greatest(created, coalesce(converted, created)) at time zone 'UTC',
                                                'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
                )) as p
                from (
                    select i, created,
                           case when random() < 0.06
                                then created + random() * least('{today}'::timestamptz - created, interval '365 days')
                           end as converted
                    from (
                        select i, '{today}'::timestamptz - (random() * interval '900 days') as created
                        from generate_series(1, {spec.contacts}) as i
                    ) as c
                ) as c
            ) as contacts
            """,
        ),
        (
            "contact associations",
            f"""
            insert into raw_hubspot.associations (from_type, from_id, to_type, to_id, association_type_id,
                                                  _synced_at, _batch_id)
            select 'contacts', id, 'companies', properties ->> 'associatedcompanyid', 1, now(), '{BATCH}'
            from raw_hubspot.contacts
            """,
        ),
        (
            "deals",
            f"""
            insert into raw_hubspot.deals (id, properties, payload, created_at, updated_at, _synced_at, _batch_id)
            select c.id, p, jsonb_build_object('id', c.id, 'properties', p), opp, opp, now(), '{BATCH}'
            from (
                select id, (properties ->> 'hs_lifecyclestage_opportunity_date')::timestamptz as opp
                from raw_hubspot.contacts
                where properties ? 'hs_lifecyclestage_opportunity_date'
            ) as c
            cross join lateral (
                select jsonb_build_object(
                    'dealname', 'Deal ' || c.id,
                    'amount', (5000 + floor(random() * 200000))::int::text,
                    'dealstage', stage,
                    'pipeline', 'default',
                    'createdate', to_char(c.opp at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                    'closedate', to_char((c.opp + interval '60 days') at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                    'hubspot_owner_id', '1'
                ) as p
                from (select (array['appointmentscheduled','qualifiedtobuy','presentationscheduled','contractsent',
                             'closedwon','closedlost'])[1 + floor(random() * 6)::int] as stage) as s
            ) as deal
            """,
        ),
        (
            "deal associations",
            f"""
            insert into raw_hubspot.associations (from_type, from_id, to_type, to_id, association_type_id,
                                                  _synced_at, _batch_id)
            select 'deals', d.id, 'contacts', d.id, 3, now(), '{BATCH}' from raw_hubspot.deals as d
            union all
            select 'deals', d.id, 'companies', c.properties ->> 'associatedcompanyid', 5, now(), '{BATCH}'
            from raw_hubspot.deals as d join raw_hubspot.contacts as c on c.id = d.id
            """,
        ),
        (
            "sends",
            f"""
            create temporary table synthetic_sends as
            select
                row_number() over () as send_no,
                c.id as contact_id,
                c.properties ->> 'email' as email,
                s.k,
                s.k <= {spec.sendgrid_sends_per_contact} as via_sendgrid,
                greatest(c.created_at, '{today}'::timestamptz - interval '{hist} days')
                    + random() * ('{today}'::timestamptz - greatest(c.created_at, '{today}'::timestamptz - interval '{hist} days'))
                    as sent_at,
                random() as r_deliver, random() as r_open, random() as r_machine, random() as r_click,
                random() as r_reply, random() as r_unsub
            from raw_hubspot.contacts as c
            cross join generate_series(1, {spec.sendgrid_sends_per_contact + spec.hubspot_sends_per_contact}) as s(k)
            """,
        ),
        (
            "sendgrid events",
            f"""
            insert into raw_sendgrid.events (sg_event_id, event, email, event_at, sg_message_id, sg_machine_open,
                gl_campaign, gl_step, gl_variant, gl_angle, gl_contact_id, gl_outbox_id, payload, received_at,
                _synced_at, _batch_id)
            select
                'sg' || send_no || '-' || ev.event || ev.n, ev.event, email, ev.at,
                'msg' || (send_no / 500) || '.filter' || send_no, ev.machine,
                'campaign_' || (1 + send_no % 4), (1 + (k - 1) % 3)::text, (array['a','b'])[1 + send_no % 2],
                (array['cost_savings','emissions_reduction','compliance','case_study'])[1 + send_no % 4],
                contact_id, send_no::text,
                jsonb_build_object('event', ev.event, 'email', email, 'timestamp', extract(epoch from ev.at)::bigint,
                                   'sg_event_id', 'sg' || send_no || '-' || ev.event || ev.n),
                ev.at, now(), '{BATCH}'
            from synthetic_sends
            cross join lateral (
                values
                    ('processed', 0, sent_at, null::boolean, true),
                    ('delivered', 0, sent_at + interval '1 minute', null, r_deliver < 0.96),
                    ('bounce', 0, sent_at + interval '2 minutes', null, r_deliver >= 0.98),
                    ('open', 1, sent_at + interval '3 hours', r_machine < 0.35, r_deliver < 0.96 and r_open < 0.40),
                    ('open', 2, sent_at + interval '27 hours', false, r_deliver < 0.96 and r_open < 0.12),
                    ('click', 0, sent_at + interval '4 hours', null, r_deliver < 0.96 and r_open < 0.40 and r_click < 0.15),
                    ('unsubscribe', 0, sent_at + interval '5 hours', null, r_deliver < 0.96 and r_unsub < 0.004)
            ) as ev(event, n, at, machine, happens)
            where via_sendgrid and ev.happens
            """,
        ),
        (
            "hubspot email events",
            f"""
            insert into raw_hubspot.email_events (id, event_type, recipient, created_at, email_campaign_id,
                filtered_event, payload, _synced_at, _batch_id)
            select
                case when ev.event = 'SENT' then 'h' || send_no else 'h' || send_no || '-' || ev.event || ev.n end,
                ev.event, email, ev.at, (9000 + send_no % 6)::text, coalesce(ev.machine, false),
                jsonb_strip_nulls(jsonb_build_object(
                    'id', case when ev.event = 'SENT' then 'h' || send_no else 'h' || send_no || '-' || ev.event || ev.n end,
                    'type', ev.event, 'recipient', email, 'created', (extract(epoch from ev.at) * 1000)::bigint,
                    'emailCampaignId', 9000 + send_no % 6, 'filteredEvent', coalesce(ev.machine, false),
                    'sentBy', jsonb_build_object('id', 'h' || send_no, 'created', (extract(epoch from sent_at) * 1000)::bigint),
                    'url', case when ev.event = 'CLICK' then 'https://growthlab-energy.test/case-study' end,
                    'portalSubscriptionStatus', case when ev.event = 'STATUSCHANGE' then 'UNSUBSCRIBED' end
                )),
                now(), '{BATCH}'
            from synthetic_sends
            cross join lateral (
                values
                    ('SENT', 0, sent_at, null::boolean, true),
                    ('DELIVERED', 0, sent_at + interval '1 minute', null, r_deliver < 0.97),
                    ('BOUNCE', 0, sent_at + interval '2 minutes', null, r_deliver >= 0.985),
                    ('OPEN', 1, sent_at + interval '2 hours', r_machine < 0.35, r_deliver < 0.97 and r_open < 0.35),
                    ('CLICK', 0, sent_at + interval '3 hours', null, r_deliver < 0.97 and r_open < 0.35 and r_click < 0.12),
                    ('STATUSCHANGE', 0, sent_at + interval '4 hours', null, r_deliver < 0.97 and r_unsub < 0.003)
            ) as ev(event, n, at, machine, happens)
            where not via_sendgrid and ev.happens
            """,
        ),
        (
            "replies",
            f"""
            insert into raw_hubspot.emails (id, properties, payload, created_at, updated_at, _synced_at, _batch_id)
            select id, p, jsonb_build_object('id', id, 'properties', p), at, at, now(), '{BATCH}'
            from (
                select 'r' || send_no as id, sent_at + interval '20 hours' as at, jsonb_build_object(
                    'hs_timestamp', to_char((sent_at + interval '20 hours') at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                    'hs_email_direction', 'INCOMING_EMAIL',
                    'hs_email_subject', 'Re: your email',
                    'hs_email_status', 'SENT',
                    'hs_email_headers', case when via_sendgrid
                        then json_build_object('In-Reply-To', '<msg' || (send_no / 500) || '>')::text
                        else '{{}}' end,
                    'hubspot_owner_id', '1'
                ) as p
                from synthetic_sends where r_reply < 0.02 and r_deliver < 0.96
                union all
                select 'a' || send_no, sent_at + interval '26 hours', jsonb_build_object(
                    'hs_timestamp', to_char((sent_at + interval '26 hours') at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                    'hs_email_direction', 'EMAIL',
                    'hs_email_subject', 'Re: Re: your email',
                    'hs_email_status', 'SENT',
                    'hs_email_headers', json_build_object('Message-ID', '<a' || send_no || '@growthlab-energy.test>')::text,
                    'hubspot_owner_id', '1'
                )
                from synthetic_sends where r_reply < 0.01 and r_deliver < 0.96
            ) as e
            """,
        ),
        (
            "reply associations",
            f"""
            insert into raw_hubspot.associations (from_type, from_id, to_type, to_id, association_type_id,
                                                  _synced_at, _batch_id)
            select 'emails', prefix || send_no, 'contacts', contact_id, 198, now(), '{BATCH}'
            from synthetic_sends
            cross join (values ('r', 0.02), ('a', 0.01)) as k(prefix, share)
            where r_reply < share and r_deliver < 0.96
            """,
        ),
        (
            "meetings",
            f"""
            insert into raw_hubspot.meetings (id, properties, payload, created_at, updated_at, _synced_at, _batch_id)
            select 'm' || id, p, jsonb_build_object('id', 'm' || id, 'properties', p), booked, booked, now(), '{BATCH}'
            from (
                select id, booked, jsonb_build_object(
                    'hs_meeting_title', 'Intro call',
                    'hs_timestamp', to_char((booked + interval '5 days') at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                    'hs_meeting_start_time', to_char((booked + interval '5 days') at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                    'hs_meeting_end_time', to_char((booked + interval '5 days 30 minutes') at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                    'hs_meeting_outcome', (array['COMPLETED','COMPLETED','NO_SHOW','CANCELED','SCHEDULED'])[1 + floor(random() * 5)::int],
                    'hs_createdate', to_char(booked at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                    'hubspot_owner_id', '2'
                ) as p
                from (
                    select id, '{today}'::timestamptz - random() * interval '{hist} days' as booked
                    from raw_hubspot.contacts where random() < 0.03
                ) as m
            ) as meetings;
            insert into raw_hubspot.associations (from_type, from_id, to_type, to_id, association_type_id,
                                                  _synced_at, _batch_id)
            select 'meetings', id, 'contacts', substr(id, 2), 200, now(), '{BATCH}' from raw_hubspot.meetings
            """,
        ),
        (
            "linkedin",
            f"""
            insert into raw_linkedin.profiles (row_key, export_owner, first_name, last_name, headline,
                _source_file, _source_line, _export_id, _exported_at, _synced_at, _batch_id)
            values ('p-rep-one', 'rep-one', 'Rep', 'One', 'Energy transition partner', 'Profile.csv', 2, 'e1',
                    '{today}'::timestamptz, now(), '{BATCH}'),
                   ('p-rep-two', 'rep-two', 'Rep', 'Two', 'Energy transition partner', 'Profile.csv', 2, 'e2',
                    '{today}'::timestamptz, now(), '{BATCH}');
            create temporary table synthetic_linkedin as
            select c.id as contact_id, c.properties ->> 'email' as email,
                   'https://www.linkedin.com/in/person-' || c.id as url,
                   (array['rep-one','rep-two'])[1 + (c.id::bigint % 2)::int] as rep,
                   '{today}'::timestamptz - random() * interval '{hist} days' as invited_at,
                   random() as r_accept, random() as r_reply
            from raw_hubspot.contacts as c where random() < 0.10;
            insert into raw_linkedin.invitations (row_key, export_owner, from_name, to_name, sent_at, direction,
                inviter_profile_url, invitee_profile_url, _source_file, _source_line, _export_id, _exported_at,
                _synced_at, _batch_id)
            select 'i' || contact_id, rep, 'Rep', 'Person ' || contact_id, invited_at, 'OUTGOING',
                   'https://www.linkedin.com/in/' || rep, url, 'Invitations.csv', 2, 'e1', '{today}'::timestamptz,
                   now(), '{BATCH}'
            from synthetic_linkedin;
            insert into raw_linkedin.connections (row_key, export_owner, first_name, last_name, profile_url, email,
                company, position, connected_on, _source_file, _source_line, _export_id, _exported_at, _synced_at,
                _batch_id)
            select 'c' || contact_id, rep, 'Person', contact_id, url, case when r_accept < 0.3 then email end,
                   'Company', 'Head of Something', (invited_at + interval '2 days')::date, 'Connections.csv', 5,
                   'e1', '{today}'::timestamptz, now(), '{BATCH}'
            from synthetic_linkedin where r_accept < 0.6;
            insert into raw_linkedin.contact_matches (connection_row_key, contact_id, match_method, confidence,
                matched_at, _batch_id)
            select 'c' || contact_id, contact_id, 'email', 1.0, now(), '{BATCH}'
            from synthetic_linkedin where r_accept < 0.3;
            insert into raw_linkedin.messages (row_key, export_owner, conversation_id, from_name, sender_profile_url,
                to_names, recipient_profile_urls, sent_at, content, folder, is_draft, _source_file, _source_line,
                _export_id, _exported_at, _synced_at, _batch_id)
            select 'ms' || contact_id, rep, 'conv-' || contact_id, 'Rep One', 'https://www.linkedin.com/in/' || rep,
                   'Person ' || contact_id, array[url], invited_at + interval '3 days', 'Thanks for connecting',
                   'INBOX', false, 'messages.csv', 2, 'e1', '{today}'::timestamptz, now(), '{BATCH}'
            from synthetic_linkedin where r_accept < 0.6 and invited_at + interval '3 days' < '{today}'::timestamptz
            union all
            select 'mr' || contact_id, rep, 'conv-' || contact_id, 'Person ' || contact_id, url,
                   'Rep', array['https://www.linkedin.com/in/' || rep], invited_at + interval '4 days', 'Happy to talk',
                   'INBOX', false, 'messages.csv', 3, 'e1', '{today}'::timestamptz, now(), '{BATCH}'
            from synthetic_linkedin
            where r_accept < 0.6 and r_reply < 0.3 and invited_at + interval '4 days' < '{today}'::timestamptz
            """,
        ),
    ]


# The tables that take millions of rows: their indexes are dropped for the load and built again
# after it (one sort per index instead of a B-tree insert per row: about 3x faster at 100k contacts).
BULK_TABLES = ("raw_sendgrid.events", "raw_hubspot.email_events")


def _drop_indexes(conn, tables: tuple[str, ...]) -> list[str]:
    """Drop the indexes (primary keys included) of `tables`; returns the statements that restore them.

    The definitions are read from the catalog, so the restored indexes are exactly the migrations'.
    """
    restore: list[str] = []
    for table in tables:
        constraints = conn.execute(
            """select conname, pg_get_constraintdef(oid) from pg_constraint
               where conrelid = %s::regclass and contype in ('p', 'u')""",
            (table,),
        ).fetchall()
        referenced = conn.execute(
            "select count(*) from pg_constraint where confrelid = %s::regclass", (table,)
        ).fetchone()[0]
        if referenced:  # a foreign key needs the unique index: keep this table's indexes
            continue
        indexes = conn.execute(
            """select i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) from pg_index as i
               where i.indrelid = %s::regclass
                 and not exists (select 1 from pg_constraint as c where c.conindid = i.indexrelid)""",
            (table,),
        ).fetchall()
        for name, definition in constraints:
            conn.execute(f'alter table {table} drop constraint "{name}"')
            restore.append(f'alter table {table} add constraint "{name}" {definition}')
        for name, definition in indexes:
            conn.execute(f"drop index {name}")
            restore.append(definition)
    return restore


def load_synthetic_raw(url: str, spec: SyntheticSpec) -> dict[str, float]:
    """Empty the raw tables and fill them for `spec`. Returns seconds per step.

    One transaction: a failed load leaves the raw tables (and their indexes) as they were.
    """
    timings: dict[str, float] = {}
    with connect(url, autocommit=True) as conn, conn.transaction():
        conn.execute("set local synchronous_commit = off")
        # setseed makes random() repeatable per session, as long as no parallel worker draws.
        conn.execute("set local max_parallel_workers_per_gather = 0")
        conn.execute("set local maintenance_work_mem = '512MB'")
        conn.execute(f"truncate {', '.join(RAW_TABLES)}")
        restore = _drop_indexes(conn, BULK_TABLES)
        conn.execute("select setseed(%s)", (spec.seed,))
        for name, statement in _statements(spec):
            started = time.monotonic()
            conn.execute(statement)
            timings[name] = round(time.monotonic() - started, 2)
            log.info("synthetic raw: %s in %.1fs", name, timings[name])
        started = time.monotonic()
        for statement in restore:
            conn.execute(statement)
        timings["indexes"] = round(time.monotonic() - started, 2)
        log.info("synthetic raw: indexes in %.1fs", timings["indexes"])
        conn.execute(f"analyze {', '.join(RAW_TABLES)}")
    return timings


def append_new_events(url: str, fraction: float = 0.01, today: date | None = None) -> int:
    """Add `fraction` x the current event count as newly synced events (a later sync).

    Half are events of new SendGrid sends on the day after `today`, half are late clicks on sends of
    the last two weeks (they must update those sends). A later LinkedIn export adds 1% new
    invitations, connections and messages. Returns the number of email events added.
    """
    with connect(url, autocommit=True) as conn:
        total = conn.execute(
            "select (select count(*) from raw_sendgrid.events) + (select count(*) from raw_hubspot.email_events)"
        ).fetchone()[0]
        target = max(2, int(total * fraction))
        day = (today or date(2026, 8, 31)).isoformat()
        tag = f"{time.time_ns():x}"  # every call adds new events, never a key seen before
        before = conn.execute("select count(*) from raw_sendgrid.events").fetchone()[0]
        # New sends: processed + delivered + some opens (about 2.5 events per send).
        conn.execute(
            f"""
            insert into raw_sendgrid.events (sg_event_id, event, email, event_at, sg_message_id, sg_machine_open,
                gl_campaign, gl_step, gl_variant, gl_angle, gl_contact_id, gl_outbox_id, payload, received_at,
                _synced_at, _batch_id)
            select 'new{tag}-' || n || '-' || ev.event, ev.event, c.properties ->> 'email', ev.at,
                   'newmsg{tag}' || n || '.filter0', ev.machine, 'campaign_1', '1', 'a', 'cost_savings', c.id,
                   'new{tag}-' || n,
                   jsonb_build_object('event', ev.event), ev.at, now(), 'synthetic-2'
            from (
                select n, (1 + (n * 7919) %% (select count(*) from raw_hubspot.contacts))::text as contact_id
                from generate_series(1, %s) as n
            ) as picks
            join raw_hubspot.contacts as c on c.id = picks.contact_id
            cross join lateral (
                values ('processed', '{day}'::timestamptz + interval '1 day 9 hours', null::boolean),
                       ('delivered', '{day}'::timestamptz + interval '1 day 9 hours 1 minute', null),
                       ('open', '{day}'::timestamptz + interval '1 day 11 hours', n %% 2 = 0)
            ) as ev(event, at, machine)
            where ev.event <> 'open' or n %% 3 = 0
            """,
            (max(1, target // 5),),
        )
        # Late events on existing sends: clicks two days after delivery on sends of the last 14 days
        # (first by event id) until the target is reached; synced now, dated in the past.
        added = conn.execute("select count(*) from raw_sendgrid.events").fetchone()[0] - before
        conn.execute(
            f"""
            insert into raw_sendgrid.events (sg_event_id, event, email, event_at, sg_message_id, sg_machine_open,
                gl_campaign, gl_step, gl_variant, gl_angle, gl_contact_id, gl_outbox_id, payload, received_at,
                _synced_at, _batch_id)
            select 'late{tag}-' || sg_event_id, 'click', email, event_at + interval '2 days', sg_message_id, null,
                   gl_campaign, gl_step, gl_variant, gl_angle, gl_contact_id, gl_outbox_id,
                   jsonb_build_object('event', 'click'), now(), now(), 'synthetic-2'
            from raw_sendgrid.events
            where event = 'delivered' and _batch_id = 'synthetic'
              and event_at >= '{day}'::timestamptz - interval '14 days'
            order by sg_event_id
            limit %s
            """,
            (max(1, target - added),),
        )
        after = conn.execute("select count(*) from raw_sendgrid.events").fetchone()[0]
        conn.execute("analyze raw_sendgrid.events")
        with conn.transaction():
            _append_linkedin_export(conn, day, tag)
    return int(after - before)


def _append_linkedin_export(conn, day: str, tag: str) -> None:
    """A later LinkedIn export: a few new invitations (some accepted, with a thank-you message) and
    replies in existing conversations, synced now, as ingestion would append them."""
    conn.execute(
        f"""
        create temporary table synthetic_linkedin_new on commit drop as
        select c.id as contact_id, c.properties ->> 'email' as email,
               'https://www.linkedin.com/in/person-' || c.id as url,
               (array['rep-one','rep-two'])[1 + (c.id::bigint % 2)::int] as rep,
               '{day}'::timestamptz + interval '1 day 10 hours' as invited_at
        from raw_hubspot.contacts as c
        where not exists (select 1 from raw_linkedin.invitations as i where i.row_key = 'i' || c.id)
        order by c.id
        limit greatest(1, (select count(*) / 100 from raw_linkedin.invitations))
        """
    )
    conn.execute(
        f"""
        insert into raw_linkedin.invitations (row_key, export_owner, from_name, to_name, sent_at, direction,
            inviter_profile_url, invitee_profile_url, _source_file, _source_line, _export_id, _exported_at,
            _synced_at, _batch_id)
        select 'i' || contact_id, rep, 'Rep', 'Person ' || contact_id, invited_at, 'OUTGOING',
               'https://www.linkedin.com/in/' || rep, url, 'Invitations.csv', 2, 'e{tag}', now(), now(), 'synthetic-2'
        from synthetic_linkedin_new;
        insert into raw_linkedin.connections (row_key, export_owner, first_name, last_name, profile_url, email,
            company, position, connected_on, _source_file, _source_line, _export_id, _exported_at, _synced_at,
            _batch_id)
        select 'c' || contact_id, rep, 'Person', contact_id, url, email, 'Company', 'Head of Something',
               '{day}'::date + 1, 'Connections.csv', 5, 'e{tag}', now(), now(), 'synthetic-2'
        from synthetic_linkedin_new where contact_id::bigint % 2 = 0;
        insert into raw_linkedin.messages (row_key, export_owner, conversation_id, from_name, sender_profile_url,
            to_names, recipient_profile_urls, sent_at, content, folder, is_draft, _source_file, _source_line,
            _export_id, _exported_at, _synced_at, _batch_id)
        select 'ms' || contact_id, rep, 'conv-' || contact_id, 'Rep One', 'https://www.linkedin.com/in/' || rep,
               'Person ' || contact_id, array[url], invited_at + interval '2 hours', 'Thanks for connecting',
               'INBOX', false, 'messages.csv', 2, 'e{tag}', now(), now(), 'synthetic-2'
        from synthetic_linkedin_new where contact_id::bigint % 2 = 0;
        insert into raw_linkedin.messages (row_key, export_owner, conversation_id, from_name, sender_profile_url,
            to_names, recipient_profile_urls, sent_at, content, folder, is_draft, _source_file, _source_line,
            _export_id, _exported_at, _synced_at, _batch_id)
        select 'mr{tag}-' || m.row_key, m.export_owner, m.conversation_id, m.to_names, m.recipient_profile_urls[1],
               'Rep', array[m.sender_profile_url], '{day}'::timestamptz + interval '1 day 8 hours', 'Sounds good',
               'INBOX', false, 'messages.csv', 4, 'e{tag}', now(), now(), 'synthetic-2'
        from raw_linkedin.messages as m
        where m.row_key like 'ms%' and m._batch_id = 'synthetic'
        order by m.row_key
        limit greatest(1, (select count(*) / 100 from raw_linkedin.messages))
        """
    )
    conn.execute("analyze raw_linkedin.invitations, raw_linkedin.connections, raw_linkedin.messages")
