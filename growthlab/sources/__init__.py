"""Sources: HubSpot, LinkedIn exports and SendGrid events into the raw schemas.

Every load goes the same way (landing.py): records -> rows (pure, per source) -> COPY into a
landing table -> Great Expectations audit (expectations/) -> failing rows to quarantine.rows ->
MERGE into the raw table, recorded in ops.ingest_batches with rows_in = loaded + quarantined.
"""
