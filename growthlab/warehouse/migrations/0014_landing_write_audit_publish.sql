-- Write-audit-publish: every load lands in landing.<schema>__<table> first (unlogged, permissive:
-- no keys, no NOT NULL), Great Expectations audits the landed batch there, failing rows move to
-- quarantine.rows, and only then is the batch merged into the raw table. A systemic failure leaves
-- the raw table untouched. `_seq` orders the landed rows (the last version of a key wins).

create schema if not exists landing;

do $$
declare
    t record;
    col record;
    landing_name text;
begin
    for t in
        select table_schema, table_name
        from information_schema.tables
        where table_type = 'BASE TABLE'
          and (table_schema, table_name) in (
              ('raw_hubspot', 'companies'), ('raw_hubspot', 'contacts'), ('raw_hubspot', 'deals'),
              ('raw_hubspot', 'meetings'), ('raw_hubspot', 'emails'), ('raw_hubspot', 'owners'),
              ('raw_hubspot', 'associations'), ('raw_hubspot', 'email_events'),
              ('raw_linkedin', 'profiles'), ('raw_linkedin', 'connections'), ('raw_linkedin', 'invitations'),
              ('raw_linkedin', 'messages'), ('raw_linkedin', 'positions'), ('raw_linkedin', 'shares'),
              ('raw_sendgrid', 'events'))
    loop
        landing_name := t.table_schema || '__' || t.table_name;
        execute format('create unlogged table if not exists landing.%I (like %I.%I including defaults)',
                       landing_name, t.table_schema, t.table_name);
        for col in
            select column_name from information_schema.columns
            where table_schema = 'landing' and table_name = landing_name and is_nullable = 'NO'
        loop
            execute format('alter table landing.%I alter column %I drop not null', landing_name, col.column_name);
        end loop;
        execute format('alter table landing.%I add column if not exists _seq bigint generated always as identity',
                       landing_name);
        execute format('create index if not exists %I on landing.%I (_batch_id, _seq)',
                       landing_name || '_batch_idx', landing_name);
    end loop;
end
$$;

-- Referential checks warn (recorded, nothing moves): an association may point at an object the
-- next sync brings.
alter table ops.validation_results drop constraint if exists validation_results_severity_check;
alter table ops.validation_results add constraint validation_results_severity_check
    check (severity in ('row', 'systemic', 'warn'));
