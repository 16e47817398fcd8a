"""linkedin_ingest: LinkedIn data-export archives from the inbox into raw_linkedin, then matching."""

from __future__ import annotations

from airflow.sdk import Asset, dag, get_current_context, task
from growthlab_airflow.defaults import DEFAULT_ARGS, START_DATE
from growthlab_airflow.hooks import warehouse_url
from growthlab_airflow.ingestion import interval_end

RAW_LINKEDIN = Asset("raw_linkedin")

DOC = """
### linkedin_ingest

Every half hour, picks up the reps' LinkedIn "Get a copy of your data" archives (zip or folder) in
the inbox (`GROWTHLAB_LINKEDIN_INBOX`, default `$GROWTHLAB_HOME/linkedin_inbox`).

1. **ingest_exports**: parses each new archive (Notes preambles, BOM, CRLF, extra or missing
   columns, every export date format), lands its rows, audits them with Great Expectations and
   publishes them into `raw_linkedin.*` on stable row keys (the same or an overlapping export adds
   nothing); rows that cannot be read go to `quarantine.rows`. Done archives are recorded by content
   hash in `raw_linkedin.exports` and moved to `processed/`. An unreadable archive stays in the
   inbox and fails the task with its file, line and reason, after the others are in.
2. **match_contacts**: links connections to HubSpot contacts (email, then normalised name and
   company) in `raw_linkedin.contact_matches`; emits the Asset `raw_linkedin` when anything changed
   (skipped otherwise, so an empty inbox does not rebuild the marts).
"""


@dag(
    dag_id="linkedin_ingest",
    schedule="*/30 * * * *",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["growthlab", "ingestion", "linkedin"],
    doc_md=DOC,
)
def linkedin_ingest():
    @task
    def ingest_exports(run_id=None) -> dict:
        from growthlab.sources.linkedin_ingest import inbox_dir, ingest_inbox

        result = ingest_inbox(
            warehouse_url(),
            inbox_dir(),
            as_of=interval_end(get_current_context()),
            run_id=run_id,
            match=False,
        )
        return {"processed": result.processed, "skipped": result.skipped, "tables": result.tables}

    @task(outlets=[RAW_LINKEDIN])
    def match_contacts(ingested: dict, run_id=None) -> dict:
        from airflow.sdk.exceptions import AirflowSkipException

        from growthlab.sources.linkedin_ingest import refresh_contact_matches

        changes = refresh_contact_matches(
            warehouse_url(), as_of=interval_end(get_current_context()), run_id=run_id
        )
        if not ingested["processed"] and not (changes.added or changes.changed or changes.removed):
            raise AirflowSkipException("no new export and no match changed: nothing to announce")
        return {"matches": changes.total, "added": changes.added, "changed": changes.changed}

    match_contacts(ingest_exports())


linkedin_ingest()
