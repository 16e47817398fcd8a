-- LinkedIn "Get a copy of your data" exports (docs/architecture.md "LinkedIn exports").
-- Every row has a stable row_key (sha256 of the exporting member and the row's natural key, plus
-- an occurrence number for identical rows), so the same or overlapping exports add nothing.
-- Unknown columns land in `extra`; _source_file/_source_line point at the CSV line;
-- _exported_at orders exports so an older archive never overwrites a newer one.

create table if not exists raw_linkedin.exports (
    export_id        text primary key,                -- sha256 of the archive's CSV contents
    export_owner     text not null,
    archive_name     text not null,
    exported_at      timestamptz,
    files            jsonb not null default '{}'::jsonb, -- {file: {rows_in, loaded, quarantined}}
    rows_in          bigint not null default 0,
    rows_loaded      bigint not null default 0,
    rows_quarantined bigint not null default 0,
    processed_at     timestamptz not null default now(),
    _batch_id        text not null
);

create table if not exists raw_linkedin.profiles (
    row_key            text primary key,
    export_owner       text not null,
    first_name         text,
    last_name          text,
    maiden_name        text,
    address            text,
    birth_date         text,                          -- as exported: "Jan 1", "1 Jan 1990", ...
    headline           text,
    summary            text,
    industry           text,
    zip_code           text,
    geo_location       text,
    twitter_handles    text,
    websites           text,
    instant_messengers text,
    extra              jsonb not null default '{}'::jsonb,
    _source_file       text not null,
    _source_line       integer not null,
    _export_id         text not null,
    _exported_at       timestamptz,
    _synced_at         timestamptz not null,
    _batch_id          text not null
);

create table if not exists raw_linkedin.connections (
    row_key       text primary key,
    export_owner  text not null,
    first_name    text,
    last_name     text,
    profile_url   text,                               -- normalised https://www.linkedin.com/in/<slug>
    email         text,                               -- lower-cased; often empty
    company       text,
    position      text,
    connected_on  date,
    extra         jsonb not null default '{}'::jsonb,
    _source_file  text not null,
    _source_line  integer not null,
    _export_id    text not null,
    _exported_at  timestamptz,
    _synced_at    timestamptz not null,
    _batch_id     text not null
);
create index if not exists connections_owner_idx on raw_linkedin.connections (export_owner);
create index if not exists connections_email_idx on raw_linkedin.connections (email);

create table if not exists raw_linkedin.invitations (
    row_key             text primary key,
    export_owner        text not null,
    from_name           text,
    to_name             text,
    sent_at             timestamptz,
    message             text,
    direction           text,                         -- OUTGOING | INCOMING
    inviter_profile_url text,
    invitee_profile_url text,
    extra               jsonb not null default '{}'::jsonb,
    _source_file        text not null,
    _source_line        integer not null,
    _export_id          text not null,
    _exported_at        timestamptz,
    _synced_at          timestamptz not null,
    _batch_id           text not null
);

create table if not exists raw_linkedin.messages (
    row_key                text primary key,
    export_owner           text not null,
    conversation_id        text,
    conversation_title     text,
    from_name              text,
    sender_profile_url     text,
    to_names               text,
    recipient_profile_urls text[],
    sent_at                timestamptz,
    subject                text,
    content                text,
    folder                 text,
    is_draft               boolean,
    attachments            text,
    extra                  jsonb not null default '{}'::jsonb,
    _source_file           text not null,
    _source_line           integer not null,
    _export_id             text not null,
    _exported_at           timestamptz,
    _synced_at             timestamptz not null,
    _batch_id              text not null
);
create index if not exists messages_conversation_idx on raw_linkedin.messages (conversation_id, sent_at);

create table if not exists raw_linkedin.positions (
    row_key      text primary key,
    export_owner text not null,
    company_name text,
    title        text,
    description  text,
    location     text,
    started_on   date,                                -- first day of the month exported ("Aug 2023")
    finished_on  date,                                -- null: current position
    extra        jsonb not null default '{}'::jsonb,
    _source_file text not null,
    _source_line integer not null,
    _export_id   text not null,
    _exported_at timestamptz,
    _synced_at   timestamptz not null,
    _batch_id    text not null
);

create table if not exists raw_linkedin.shares (
    row_key          text primary key,
    export_owner     text not null,
    shared_at        timestamptz,
    share_link       text,
    share_commentary text,                            -- LinkedIn's per-line quoting undone
    shared_url       text,
    media_url        text,
    visibility       text,
    extra            jsonb not null default '{}'::jsonb,
    _source_file     text not null,
    _source_line     integer not null,
    _export_id       text not null,
    _exported_at     timestamptz,
    _synced_at       timestamptz not null,
    _batch_id        text not null
);

-- Connections linked to HubSpot contacts: by email first, then normalised name + company.
create table if not exists raw_linkedin.contact_matches (
    connection_row_key text primary key references raw_linkedin.connections (row_key),
    contact_id         text not null,                 -- raw_hubspot.contacts.id
    match_method       text not null check (match_method in ('email', 'name_company')),
    confidence         numeric(4, 3) not null check (confidence > 0 and confidence <= 1),
    matched_at         timestamptz not null,
    _batch_id          text not null
);
create index if not exists contact_matches_contact_idx on raw_linkedin.contact_matches (contact_id);
