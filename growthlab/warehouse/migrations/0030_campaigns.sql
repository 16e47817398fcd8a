-- Email campaigns (docs/architecture.md, "Email campaigns"): the catalog mirrored from
-- campaigns/*.yaml, enrollments, the outbox with its send batches, suppression, follow-up
-- opportunities for owners, and privacy requests.

-- The catalog, as loaded from version control (one row per campaign file; a removed file is retired).
create table if not exists ops.campaigns (
    campaign_id        text primary key,
    name               text not null,
    status             text not null check (status in ('active', 'paused', 'draft', 'retired')),
    consent_policy     text not null check (consent_policy in ('standard', 'strict')),
    source_file        text not null,
    definition         jsonb not null,
    definition_sha256  text not null,                  -- of the YAML and every template it uses
    loaded_at          timestamptz not null default now(),
    updated_at         timestamptz not null default now()
);

create table if not exists ops.campaign_steps (
    campaign_id  text not null references ops.campaigns (campaign_id) on delete cascade,
    step_id      text not null,
    step_number  integer not null,                   -- 1 = first touch; custom_args gl_step
    follows_step text,                                 -- null: the first step
    wait_days    double precision,
    condition    text check (condition in ('no_open', 'opened_no_click', 'clicked_no_reply', 'no_reply')),
    primary key (campaign_id, step_id)
);

create table if not exists ops.campaign_variants (
    campaign_id     text not null,
    step_id         text not null,
    variant_id      text not null,
    angle           text not null,
    template        text not null,                     -- path under campaigns/templates/
    weight          double precision not null check (weight > 0),
    template_sha256 text not null,
    primary key (campaign_id, step_id, variant_id),
    foreign key (campaign_id, step_id) references ops.campaign_steps (campaign_id, step_id) on delete cascade
);

-- One row per contact per campaign, ever: a contact never re-enters a campaign it went through.
create table if not exists ops.campaign_enrollments (
    enrollment_id    bigint generated always as identity primary key,
    campaign_id      text not null references ops.campaigns (campaign_id),
    contact_id       text not null,
    company_id       text,
    status           text not null default 'active' check (status in ('active', 'completed', 'stopped')),
    enrolled_at      timestamptz not null,             -- the planning run's logical time
    score_at_enrollment double precision,
    grade_at_enrollment text,
    last_step_id     text,                             -- the last step planned for this contact
    stopped_reason   text,                             -- replied, company_replied, suppressed:<reason>, ...
    ended_at         timestamptz,                      -- logical time it completed or stopped
    updated_at       timestamptz not null default now(),
    unique (campaign_id, contact_id)
);
create index if not exists campaign_enrollments_contact_idx on ops.campaign_enrollments (contact_id);
create index if not exists campaign_enrollments_active_company_idx
    on ops.campaign_enrollments (company_id) where status = 'active';

-- One row per SendGrid request. The status is the per-batch idempotency marker:
-- claimed (rows reserved, nothing sent) -> posting (the request may have reached SendGrid)
-- -> accepted (202 recorded) | rejected (4xx, rows released or failed) | released (never posted)
-- | confirmed (an ambiguous batch proven accepted by its events) | not_accepted (proven not
-- accepted: no events although SendGrid reported later ones).
create table if not exists ops.send_batches (
    batch_id      uuid primary key,
    campaign_id   text not null references ops.campaigns (campaign_id),
    status        text not null check (status in
                  ('claimed', 'posting', 'accepted', 'rejected', 'released', 'confirmed', 'not_accepted')),
    message_count integer not null,
    claimed_by    text not null,                       -- dag_id.task_id / run id, or the CLI
    run_now       timestamptz not null,                -- the claiming run's logical time
    latest_send_at timestamptz not null,               -- the latest send_at in the request
    claimed_at    timestamptz not null default now(),
    posted_at     timestamptz,
    finished_at   timestamptz,
    http_status   integer,
    x_message_id  text,
    error         text,
    resolution    text                                 -- how an ambiguous batch was settled
);
create index if not exists send_batches_open_idx on ops.send_batches (status)
    where status in ('claimed', 'posting');

-- One row per intended email; written before SendGrid is called. idempotency_key =
-- campaign:step:contact, so planning twice never makes a second email.
create table if not exists ops.outbox (
    outbox_id          bigint generated always as identity primary key,
    idempotency_key    text not null unique,
    campaign_id        text not null references ops.campaigns (campaign_id),
    step_id            text not null,
    variant_id         text not null,
    angle              text not null,
    enrollment_id      bigint not null references ops.campaign_enrollments (enrollment_id),
    contact_id         text not null,
    company_id         text,
    to_email           text,                           -- null after a GDPR erasure
    to_name            text,
    email_sha256       text not null,
    recipient_timezone text not null,
    due_at             timestamptz not null,           -- when the sequence wanted it
    scheduled_at       timestamptz not null,           -- due_at moved into the sending window
    planned_at         timestamptz not null,           -- the planning run's logical time
    status             text not null default 'planned'
                       check (status in ('planned', 'ready', 'sending', 'sent', 'failed', 'cancelled')),
    status_reason      text,
    subject            text,
    body_html          text,
    body_text          text,
    headers            jsonb,
    generator          text,                           -- template | llm:<model>
    generator_note     text,                           -- e.g. why the LLM draft was not used
    generated_at       timestamptz,
    batch_id           uuid references ops.send_batches (batch_id),
    attempts           integer not null default 0,
    sent_at            timestamptz,                    -- delivery time asked of SendGrid (send_at or now)
    sg_message_id      text,                           -- X-Message-Id of the request
    -- engagement, maintained from raw_sendgrid.events (by gl_outbox_id) and HubSpot replies
    processed_at       timestamptz,
    delivered_at       timestamptz,
    opened_at          timestamptz,                    -- first human open (machine opens excluded)
    machine_opened_at  timestamptz,
    clicked_at         timestamptz,
    replied_at         timestamptz,
    bounced_at         timestamptz,
    dropped_at         timestamptz,
    spam_reported_at   timestamptz,
    unsubscribed_at    timestamptz,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now()
);
create index if not exists outbox_status_scheduled_idx on ops.outbox (status, scheduled_at);
create index if not exists outbox_contact_idx on ops.outbox (contact_id);
create index if not exists outbox_enrollment_idx on ops.outbox (enrollment_id);
create index if not exists outbox_batch_idx on ops.outbox (batch_id);
create index if not exists outbox_message_idx on ops.outbox (sg_message_id);
create index if not exists outbox_email_hash_idx on ops.outbox (email_sha256);

-- Addresses nobody may email, for any campaign or channel (scope 'all'). Keyed by the sha256 of
-- the lower-cased address so an erased contact stays suppressed without keeping the address.
create table if not exists ops.suppression (
    email_sha256  text not null,
    reason        text not null check (reason in ('unsubscribe', 'group_unsubscribe', 'bounce', 'spamreport',
                  'dropped', 'gdpr_erasure', 'hs_email_optout', 'manual')),
    contact_id    text,
    scope         text not null default 'all' check (scope in ('all', 'email')),
    source        text not null,                       -- sendgrid_event, hubspot_reply, unsubscribe_link, cli
    source_ref    text,                                -- e.g. the sg_event_id
    suppressed_at timestamptz not null,                -- when it happened (event time)
    recorded_at   timestamptz not null default now(),
    details       jsonb not null default '{}'::jsonb,
    primary key (email_sha256, reason)
);
create index if not exists suppression_contact_idx on ops.suppression (contact_id);

-- A reply to a campaign email: a task for the contact's owner in HubSpot.
create table if not exists ops.followup_opportunities (
    opportunity_id  bigint generated always as identity primary key,
    reply_ref       text not null unique,              -- the HubSpot email id of the reply
    contact_id      text not null,
    company_id      text,
    campaign_id     text,
    outbox_id       bigint references ops.outbox (outbox_id),
    replied_at      timestamptz not null,
    owner_id        text,
    status          text not null default 'pending' check (status in ('pending', 'created', 'failed')),
    hubspot_task_id text,
    attempts        integer not null default 0,
    error           text,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now()
);

-- Privacy requests (GDPR erasure): processed by `growthlab campaigns forget`; other channels read
-- ops.suppression (scope 'all').
create table if not exists ops.privacy_requests (
    request_id    bigint generated always as identity primary key,
    email_sha256  text not null,
    kind          text not null check (kind in ('erasure')),
    requested_by  text not null,
    requested_at  timestamptz not null default now(),
    processed_at  timestamptz,
    details       jsonb not null default '{}'::jsonb
);
