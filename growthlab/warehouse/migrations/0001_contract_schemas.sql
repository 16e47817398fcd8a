-- The schemas of the warehouse contract (../../docs/architecture.md). dbt owns staging,
-- intermediate and marts; they are created here so that grants exist before the first build.
create schema if not exists raw_hubspot;
create schema if not exists raw_linkedin;
create schema if not exists raw_sendgrid;
create schema if not exists quarantine;
create schema if not exists ml;
create schema if not exists ops;
create schema if not exists staging;
create schema if not exists intermediate;
create schema if not exists marts;

-- Who did what to whom: every send, suppression, promotion and maintenance action.
create table if not exists ops.audit_log (
    audit_id     bigint generated always as identity primary key,
    occurred_at  timestamptz not null default now(),
    actor        text not null,           -- dag_id.task_id, a CLI command, or a user
    action       text not null,           -- e.g. email.sent, contact.suppressed, model.promoted
    subject_type text,
    subject_id   text,
    details      jsonb not null default '{}'::jsonb
);
create index if not exists audit_log_subject_idx on ops.audit_log (subject_type, subject_id);
create index if not exists audit_log_action_time_idx on ops.audit_log (action, occurred_at);

-- Alerts raised by any task (drift, metric drops, data-quality failures).
create table if not exists ops.alerts (
    alert_id    bigint generated always as identity primary key,
    raised_at   timestamptz not null default now(),
    source      text not null,
    severity    text not null check (severity in ('info', 'warning', 'critical')),
    message     text not null,
    details     jsonb not null default '{}'::jsonb,
    resolved_at timestamptz
);
