-- Ingestion bookkeeping (docs/architecture.md, "Warehouse contract"): batches, sync watermarks,
-- data-quality results and the quarantine. Every load is one row in ops.ingest_batches and obeys
-- rows_in = rows_loaded + rows_quarantined once it has succeeded.

create table if not exists ops.ingest_batches (
    batch_id            text primary key,              -- e.g. hubspot.contacts.20260831T0900.3f9c2a1b
    source              text not null,                 -- hubspot | linkedin | sendgrid
    object              text not null,                 -- contacts, connections, events, ...
    run_id              text,                          -- Airflow run id (or the CLI command)
    data_interval_start timestamptz,
    data_interval_end   timestamptz,
    rows_in             bigint not null default 0,     -- records received from the source
    rows_loaded         bigint not null default 0,     -- records merged into the raw table
    rows_quarantined    bigint not null default 0,     -- records moved to quarantine.rows
    rows_inserted       bigint not null default 0,     -- of rows_loaded: new keys
    rows_updated        bigint not null default 0,     -- of rows_loaded: changed payload
    started_at          timestamptz not null default now(),
    finished_at         timestamptz,
    status              text not null default 'running'
                        check (status in ('running', 'succeeded', 'failed')),
    error               text,
    details             jsonb not null default '{}'::jsonb,
    constraint ingest_batches_balanced check (
        status <> 'succeeded' or rows_in = rows_loaded + rows_quarantined
    )
);
create index if not exists ingest_batches_source_idx on ops.ingest_batches (source, object, started_at);

-- Incremental state per source object: the high watermark of what was loaded completely.
create table if not exists ops.sync_state (
    source              text not null,
    object              text not null,
    watermark           timestamptz,                  -- max(updated_at) loaded completely
    cursor              text,                         -- opaque resume point (e.g. an offset token)
    last_full_refresh_at timestamptz,
    last_batch_id       text,
    updated_at          timestamptz not null default now(),
    primary key (source, object)
);

-- Great Expectations results, one row per expectation per validation.
create table if not exists ops.validation_results (
    result_id          bigint generated always as identity primary key,
    validation_id      text not null,                 -- one GX run over one table and batch
    batch_id           text,
    source             text not null,
    table_name         text not null,                 -- schema.table validated
    suite              text not null,
    expectation        text not null,                 -- GX expectation type
    column_name        text,
    rule               text not null,                 -- growthlab rule name (also in quarantine.rows)
    severity           text not null check (severity in ('row', 'systemic')),
    success            boolean not null,
    element_count      bigint,
    unexpected_count   bigint,
    unexpected_percent double precision,
    details            jsonb not null default '{}'::jsonb,
    validated_at       timestamptz not null default now()
);
create index if not exists validation_results_table_idx on ops.validation_results (table_name, validated_at);
create index if not exists validation_results_batch_idx on ops.validation_results (batch_id);

-- Rejected records: nothing is dropped silently. One row per (table, record, rule); seeing the same
-- bad record again refreshes it instead of duplicating it.
create table if not exists quarantine.rows (
    quarantine_id  bigint generated always as identity primary key,
    source         text not null,
    table_name     text not null,                     -- the raw table the record was meant for
    rule           text not null,                     -- e.g. parse.date, email_format, key_not_null
    reason         text not null,                     -- human-readable: what is wrong, where
    row_ref        text not null,                     -- record id, or file:line for files
    payload        jsonb not null,                    -- the record as received
    batch_id       text,
    first_seen_at  timestamptz not null default now(),
    quarantined_at timestamptz not null default now(),
    times_seen     integer not null default 1,
    unique (source, table_name, row_ref, rule)
);
create index if not exists quarantine_rows_batch_idx on quarantine.rows (batch_id);
create index if not exists quarantine_rows_table_idx on quarantine.rows (table_name, quarantined_at);
