-- HubSpot records as received (docs/architecture.md "The HubSpot portal"). One table per CRM
-- object: the id, every requested property as strings (properties), the whole record (payload),
-- the archive flag and the record's own timestamps. A merge only rewrites a row whose payload or
-- archive flag changed, so _synced_at / _batch_id name the sync that last changed it.

do $$
declare
    obj text;
begin
    foreach obj in array array['companies', 'contacts', 'deals', 'meetings', 'emails', 'owners'] loop
        execute format($f$
            create table if not exists raw_hubspot.%1$I (
                id          text primary key,
                properties  jsonb not null default '{}'::jsonb,
                payload     jsonb not null,
                archived    boolean not null default false,
                archived_at timestamptz,
                created_at  timestamptz,
                updated_at  timestamptz,
                _synced_at  timestamptz not null,
                _batch_id   text not null
            )$f$, obj);
        execute format('create index if not exists %1$I on raw_hubspot.%2$I (updated_at)',
                       obj || '_updated_at_idx', obj);
    end loop;
end
$$;

-- CRM v4 associations between synced objects. A pair that disappears from HubSpot is kept and
-- marked removed (removed_at), never deleted.
create table if not exists raw_hubspot.associations (
    from_type            text not null,               -- contacts, companies, deals, meetings, emails
    from_id              text not null,
    to_type              text not null,
    to_id                text not null,
    association_category text not null default 'HUBSPOT_DEFINED',
    association_type_id  integer not null,
    label                text,
    removed              boolean not null default false,
    removed_at           timestamptz,
    _synced_at           timestamptz not null,
    _batch_id            text not null,
    primary key (from_type, from_id, to_type, to_id, association_category, association_type_id)
);
create index if not exists associations_to_idx on raw_hubspot.associations (to_type, to_id);

-- Marketing email events (/email/public/v1/events).
create table if not exists raw_hubspot.email_events (
    id                text primary key,
    event_type        text not null,                  -- SENT, DELIVERED, OPEN, CLICK, ...
    recipient         text,
    created_at        timestamptz not null,
    email_campaign_id text,
    filtered_event    boolean not null default false, -- machine opens (Apple MPP)
    payload           jsonb not null,
    _synced_at        timestamptz not null,
    _batch_id         text not null
);
create index if not exists email_events_created_idx on raw_hubspot.email_events (created_at);
