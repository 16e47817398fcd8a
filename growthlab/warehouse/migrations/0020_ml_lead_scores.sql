-- Lead scoring outputs (docs/architecture.md, "ml.lead_scores"), written by ml/score.py.

-- The current score of every active contact (one row per contact; contacts that leave the scored
-- population, e.g. converted, are removed).
create table if not exists ml.lead_scores (
    contact_id       text primary key,
    probability      double precision not null check (probability >= 0 and probability <= 1),
    fit_score        smallint not null check (fit_score between 0 and 100),
    engagement_score smallint not null check (engagement_score between 0 and 100),
    grade            text not null check (grade in ('A', 'B', 'C', 'D')),
    -- top 3 by absolute signed contribution: [{"feature", "value", "contribution", "text"}]
    reasons          jsonb not null default '[]'::jsonb,
    model_version    text not null,
    features_hash    bigint not null,  -- hash of the model's exact inputs
    reasons_hash     bigint not null,  -- same, day counters bucketed: reasons recomputed when it changes
    as_of_date       date not null,
    scored_at        timestamptz not null
);
create index if not exists lead_scores_grade_idx on ml.lead_scores (grade, probability desc);

-- Every scored state of a contact: a row when the contact is first scored, when its reasons
-- inputs or the model version change, or when its grade changes. The score on any day is the
-- latest row at or before it.
create table if not exists ml.lead_score_history (
    contact_id       text not null,
    as_of_date       date not null,
    model_version    text not null,
    reasons_hash     bigint not null,
    probability      double precision not null,
    fit_score        smallint not null,
    engagement_score smallint not null,
    grade            text not null,
    reasons          jsonb not null,
    scored_at        timestamptz not null,
    primary key (contact_id, as_of_date, model_version, reasons_hash)
);
create index if not exists lead_score_history_as_of_idx on ml.lead_score_history (as_of_date);

-- One row per scoring run: what was read, written, explained, and how long it took.
create table if not exists ml.scoring_runs (
    run_id         bigint generated always as identity primary key,
    as_of_date     date not null,
    model_name     text not null,
    model_version  text not null,
    started_at     timestamptz not null,
    finished_at    timestamptz not null,
    rows_scored    integer not null,
    rows_written   integer not null,
    rows_reasoned  integer not null,
    rows_removed   integer not null,
    history_rows   integer not null,
    details        jsonb not null default '{}'::jsonb
);
create index if not exists scoring_runs_as_of_idx on ml.scoring_runs (as_of_date, finished_at desc);

-- Monitoring values per scoring run: PSI per feature and of the score ('__score__') vs training.
create table if not exists ml.monitoring (
    monitoring_id  bigint generated always as identity primary key,
    computed_at    timestamptz not null default now(),
    as_of_date     date not null,
    model_version  text not null,
    metric         text not null,
    subject        text not null,
    value          double precision,
    threshold      double precision,
    details        jsonb not null default '{}'::jsonb,
    unique (as_of_date, model_version, metric, subject)
);

-- What was last pushed to each HubSpot contact, so only changes are pushed again. The pushed
-- columns are null until a push succeeds; a failed push leaves them and records the error.
create table if not exists ml.hubspot_push_state (
    contact_id     text primary key,
    score          smallint,
    grade          text,
    reasons_text   text,
    model_version  text,
    pushed_at      timestamptz,
    last_error     text,
    last_error_at  timestamptz
);
