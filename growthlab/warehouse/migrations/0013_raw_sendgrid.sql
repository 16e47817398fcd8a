-- SendGrid Event Webhook (docs/architecture.md "SendGrid mail and events").
-- The receiver writes each signed, accepted POST to webhook_batches before it answers 2xx
-- (the body hash is the key: a redelivered batch is stored once); the sendgrid_events DAG loads
-- pending batches into events, deduplicated on sg_event_id.

create table if not exists raw_sendgrid.webhook_batches (
    body_sha256  text primary key,
    body         bytea not null,                      -- the exact signed request body
    signature    text not null,
    signed_at    bigint not null,                     -- X-Twilio-Email-Event-Webhook-Timestamp
    event_count  integer not null,
    received_at  timestamptz not null default now(),
    times_received integer not null default 1,
    loaded_at    timestamptz,                         -- null: waiting for the DAG
    _batch_id    text                                 -- the load that took it
);
create index if not exists webhook_batches_pending_idx on raw_sendgrid.webhook_batches (received_at)
    where loaded_at is null;

create table if not exists raw_sendgrid.events (
    sg_event_id     text primary key,
    event           text not null,                    -- processed, delivered, open, click, ...
    email           text,
    event_at        timestamptz not null,             -- the event's `timestamp`
    sg_message_id   text,
    sg_machine_open boolean,                          -- Apple MPP machine open (open events)
    gl_campaign     text,
    gl_step         text,
    gl_variant      text,
    gl_angle        text,
    gl_contact_id   text,
    gl_outbox_id    text,
    payload         jsonb not null,
    received_at     timestamptz not null,
    _synced_at      timestamptz not null,
    _batch_id       text not null
);
create index if not exists events_event_at_idx on raw_sendgrid.events (event_at);
create index if not exists events_outbox_idx on raw_sendgrid.events (gl_outbox_id);
