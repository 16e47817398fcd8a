-- The LinkedIn staging tables are incremental (docs/architecture.md "dbt"): each build re-reads
-- the raw rows synced after the newest `_synced_at` it holds. These indexes find them without a
-- scan of the whole export history.
create index if not exists connections_synced_at_idx on raw_linkedin.connections (_synced_at);
create index if not exists invitations_synced_at_idx on raw_linkedin.invitations (_synced_at);
create index if not exists messages_synced_at_idx on raw_linkedin.messages (_synced_at);
