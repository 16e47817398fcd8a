-- The sandbox database: the simulated world, its ground truth and the state of the stand-in
-- servers. Only the sandbox, tests, benchmarks and evaluation read it; never the pipeline.
-- Tables are created without secondary indexes; indexes.sql adds them after the bulk load.

create schema if not exists world;
create schema if not exists hubspot;
create schema if not exists sendgrid;
create schema if not exists linkedin;

-- ---- world: meta, clock, truth ---------------------------------------------------------------
create table if not exists world.meta (
    key   text primary key,
    value jsonb not null
);

create table if not exists world.clock (
    id     integer primary key default 1 check (id = 1),
    now    timestamptz not null,            -- simulated time (start of the current simulated day)
    set_at timestamptz not null default now() -- real time the clock was last moved
);

create table if not exists world.owners (
    owner_id          bigint primary key,
    region            text not null,
    timezone          text not null,
    linkedin_slug     text not null,
    workday_start_min integer not null,
    workday_end_min   integer not null,
    export_zip        boolean not null,
    export_crlf       boolean not null,
    export_bom        boolean not null,
    export_extra_cols boolean not null,
    export_weekday    integer not null
);

-- Owners' calendars: internal busy blocks (meetings in HubSpot count too).
create table if not exists world.owner_busy (
    owner_id  bigint not null,
    starts_at timestamptz not null,
    ends_at   timestamptz not null,
    title     text not null
);

-- One row per contact: the hidden truth and the simulation state.
create table if not exists world.contacts (
    contact_id      bigint primary key,
    company_id      bigint not null,
    owner_index     integer not null,
    segment         smallint not null,
    seniority       smallint not null,
    job_function    smallint not null,
    region          smallint not null,
    timezone        smallint not null,
    revenue_band    smallint not null,
    fit             double precision not null,
    latent          double precision not null,
    responsiveness  double precision not null,
    apple_mail      boolean not null,
    invalid_email   boolean not null,
    consent_ok      boolean not null,
    has_linkedin    boolean not null,
    created_at      timestamptz not null,
    residual        double precision not null,
    warmth          double precision not null,
    fatigue         double precision not null,
    last_touch_at   timestamptz,
    converted_at    timestamptz,
    hs_optout       boolean not null,
    hs_bounced      boolean not null,
    hs_spam         boolean not null,
    sales_touched_at timestamptz,
    li_invited      boolean not null,
    li_connected    boolean not null,
    last_reply_at   timestamptz,
    mql_at          timestamptz,
    sql_at          timestamptz,
    customer_at     timestamptz
);

-- Items the world has decided but not yet shown (an open tomorrow, an acceptance next week, a
-- deal closing next month). `contact_id` identifies the contact; see simulation.Items.
create table if not exists world.schedule (
    kind       smallint not null,
    due_at     timestamptz not null,
    contact_id bigint not null,
    ref        bigint not null,
    code       smallint not null,
    channel    smallint not null,
    aux        bigint not null
);

-- Meetings the world knows about (booked by its reps, or seen in HubSpot after the pipeline booked them).
create table if not exists world.meetings (
    meeting_id bigint primary key,
    contact_id bigint not null,
    source     text not null            -- rep, pipeline
);

-- What `advance` did, one row per call.
create table if not exists world.advance_log (
    id          bigserial primary key,
    started_at  timestamptz not null default now(),
    clock_from  timestamptz not null,
    clock_to    timestamptz not null,
    summary     jsonb not null default '{}'::jsonb
);

-- ---- hubspot ---------------------------------------------------------------------------------
create table if not exists hubspot.owners (
    id          bigint primary key,
    email       text not null,
    first_name  text not null,
    last_name   text not null,
    user_id     bigint not null,
    teams       jsonb not null default '[]'::jsonb,
    created_at  timestamptz not null,
    updated_at  timestamptz not null,
    archived    boolean not null default false
);

create sequence if not exists hubspot.object_ids start 90000000001;

create table if not exists hubspot.companies (
    id                   bigint primary key,
    created_at           timestamptz not null,
    updated_at           timestamptz not null,
    archived             boolean not null default false,
    archived_at          timestamptz,
    name                 text,
    domain               text,
    industry             text,
    cleantech_segment    text,
    numberofemployees    bigint,
    annualrevenue        double precision,
    revenue_band         text,
    country              text,
    timezone             text,
    funding_stage        text,
    founded_year         integer,
    emissions_intensity  double precision,
    renewable_share      double precision,
    sbti_status          text,
    esg_disclosure_score double precision,
    certifications       text,
    hubspot_owner_id     bigint,
    lifecyclestage       text,
    custom               jsonb not null default '{}'::jsonb
);

create table if not exists hubspot.contacts (
    id                                          bigint primary key,
    created_at                                  timestamptz not null,
    updated_at                                  timestamptz not null,
    archived                                    boolean not null default false,
    archived_at                                 timestamptz,
    email                                       text,
    firstname                                   text,
    lastname                                    text,
    jobtitle                                    text,
    seniority                                   text,
    job_function                                text,
    company                                     text,
    associatedcompanyid                         bigint,
    country                                     text,
    timezone                                    text,
    linkedin_url                                text,
    lifecyclestage                              text,
    hs_lead_status                              text,
    hs_lifecyclestage_lead_date                 timestamptz,
    hs_lifecyclestage_marketingqualifiedlead_date timestamptz,
    hs_lifecyclestage_salesqualifiedlead_date   timestamptz,
    hs_lifecyclestage_opportunity_date          timestamptz,
    hs_lifecyclestage_customer_date             timestamptz,
    hs_analytics_source                         text,
    marketing_consent                           text,
    hs_email_optout                             boolean,
    hubspot_owner_id                            bigint,
    growthlab_score                             double precision,
    growthlab_grade                             text,
    growthlab_reasons                           text,
    growthlab_model_version                     text,
    custom                                      jsonb not null default '{}'::jsonb
);

create table if not exists hubspot.deals (
    id               bigint primary key,
    created_at       timestamptz not null,
    updated_at       timestamptz not null,
    archived         boolean not null default false,
    archived_at      timestamptz,
    dealname         text,
    amount           double precision,
    dealstage        text,
    pipeline         text,
    closedate        timestamptz,
    hubspot_owner_id bigint,
    custom           jsonb not null default '{}'::jsonb
);

create table if not exists hubspot.meetings (
    id                    bigint primary key,
    created_at            timestamptz not null,
    updated_at            timestamptz not null,
    archived              boolean not null default false,
    archived_at           timestamptz,
    hs_meeting_title      text,
    hs_meeting_body       text,
    hs_timestamp          timestamptz,
    hs_meeting_start_time timestamptz,
    hs_meeting_end_time   timestamptz,
    hs_meeting_outcome    text,
    hubspot_owner_id      bigint,
    custom                jsonb not null default '{}'::jsonb
);

create table if not exists hubspot.emails (
    id                 bigint primary key,
    created_at         timestamptz not null,
    updated_at         timestamptz not null,
    archived           boolean not null default false,
    archived_at        timestamptz,
    hs_timestamp       timestamptz,
    hs_email_direction text,
    hs_email_subject   text,
    hs_email_text      text,
    hs_email_status    text,
    hs_email_headers   text,
    hubspot_owner_id   bigint,
    custom             jsonb not null default '{}'::jsonb
);

create table if not exists hubspot.tasks (
    id                 bigint primary key,
    created_at         timestamptz not null,
    updated_at         timestamptz not null,
    archived           boolean not null default false,
    archived_at        timestamptz,
    hs_task_subject    text,
    hs_task_body       text,
    hs_timestamp       timestamptz,
    hs_task_status     text,
    hs_task_priority   text,
    hs_task_type       text,
    hubspot_owner_id   bigint,
    custom             jsonb not null default '{}'::jsonb
);

-- Associations v4, both directions stored.
create table if not exists hubspot.associations (
    from_type  text not null,
    from_id    bigint not null,
    to_type    text not null,
    to_id      bigint not null,
    type_id    integer not null,
    category   text not null default 'HUBSPOT_DEFINED',
    created_at timestamptz not null
);

create table if not exists hubspot.email_campaigns (
    id       bigint primary key,
    name     text not null,
    subject  text not null,
    angle    text not null,
    sent_at  timestamptz,
    app_id   integer not null default 113,
    type     text not null default 'BATCH_EMAIL'
);

-- HubSpot's email events API (marketing email history). `created` is epoch milliseconds.
create table if not exists hubspot.email_events (
    id          bigint not null,
    created     bigint not null,
    type        text not null,
    recipient   text not null,
    campaign_id bigint not null,
    sent_by_id  bigint not null,
    sent_by_at  bigint not null,
    filtered    boolean not null default false,
    detail      text,
    contact_id  bigint
);

-- ---- sendgrid --------------------------------------------------------------------------------
-- One row per recipient of every accepted mail: the sandbox's log of what it accepted.
create table if not exists sendgrid.messages (
    id                  bigserial primary key,
    x_message_id        text not null,
    sg_message_id       text not null unique,
    personalization     integer not null,
    recipient_kind      text not null,          -- to, cc, bcc
    to_email            text not null,
    to_name             text,
    from_email          text not null,
    from_name           text,
    subject             text,
    categories          text[] not null default '{}',
    custom_args         jsonb not null default '{}'::jsonb,
    headers             jsonb not null default '{}'::jsonb,
    content_types       text[] not null default '{}',
    template_id         text,
    asm_group_id        integer,
    bypass_list_management boolean not null default false,
    send_at             timestamptz,
    batch_id            text,
    accepted_at         timestamptz not null,   -- simulated time
    accepted_real_at    timestamptz not null default now(),
    effective_at        timestamptz not null,   -- coalesce(send_at, accepted_at)
    status              text not null default 'accepted', -- accepted | processed
    contact_id          bigint
);

create table if not exists sendgrid.suppressions (
    email      text not null,
    kind       text not null,                   -- bounce, spamreport, unsubscribe, group_unsubscribe
    group_id   integer not null default 0,
    created_at timestamptz not null,
    primary key (email, kind, group_id)
);

create table if not exists sendgrid.events (
    sg_event_id  text primary key,
    message_id   bigint not null,
    event        text not null,
    occurred_at  timestamptz not null,
    payload      jsonb not null,
    delivery_id  bigint
);

create table if not exists sendgrid.deliveries (
    id              bigserial primary key,
    created_at      timestamptz not null default now(),
    url             text not null,
    event_count     integer not null,
    payload         text not null,
    attempts        integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    delivered_at    timestamptz,
    last_status     integer,
    last_error      text
);

-- ---- linkedin --------------------------------------------------------------------------------
create table if not exists linkedin.connections (
    owner_id     bigint not null,
    contact_id   bigint,
    first_name   text not null,
    last_name    text not null,
    profile_url  text not null,
    email        text,
    company      text,
    position     text,
    connected_at timestamptz not null,
    primary key (owner_id, profile_url)
);

create table if not exists linkedin.invitations (
    id            bigint primary key,
    owner_id      bigint not null,
    contact_id    bigint,
    profile_url   text not null,
    direction     text not null default 'OUTGOING',
    message       text,
    requested_at  timestamptz not null,
    scheduled_for timestamptz,
    sent_at       timestamptz,
    status        text not null,             -- queued, sent, accepted, withdrawn
    responded_at  timestamptz,
    source        text not null,             -- history, adapter
    external_id   text unique
);

create table if not exists linkedin.messages (
    id              bigint primary key,
    conversation_id text not null,
    owner_id        bigint not null,
    contact_id      bigint,
    profile_url     text not null,
    direction       text not null,           -- out, in
    content         text not null,
    angle           text,
    requested_at    timestamptz not null,
    scheduled_for   timestamptz,
    sent_at         timestamptz,
    status          text not null,           -- queued, sent
    source          text not null,
    external_id     text unique,
    reply_to        bigint
);

create table if not exists linkedin.shares (
    id          bigserial primary key,
    owner_id    bigint not null,
    posted_at   timestamptz not null,
    share_urn   text not null,
    commentary  text,
    shared_url  text,
    media_url   text,
    visibility  text not null,
    source      text not null
);

create table if not exists linkedin.adapter_events (
    id            bigserial primary key,
    occurred_at   timestamptz not null,
    type          text not null,
    owner_id      bigint not null,
    contact_id    bigint,
    profile_url   text,
    invitation_id bigint,
    message_id    bigint,
    external_id   text,
    text          text
);

create table if not exists linkedin.exports (
    id          bigserial primary key,
    owner_id    bigint not null,
    exported_at timestamptz not null,
    path        text not null,
    written_at  timestamptz not null default now()
);

create sequence if not exists linkedin.object_ids start 900000000001;
