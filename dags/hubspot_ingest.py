"""hubspot_ingest: HubSpot CRM objects, associations and email events into raw_hubspot, hourly."""

from __future__ import annotations

from airflow.sdk import Asset, Param, dag, get_current_context, task
from growthlab_airflow.defaults import DEFAULT_ARGS, START_DATE
from growthlab_airflow.hooks import warehouse_url
from growthlab_airflow.ingestion import hubspot_client, interval_end

RAW_HUBSPOT = Asset("raw_hubspot")
OBJECTS = ["owners", "companies", "contacts", "deals", "meetings", "emails"]

DOC = """
### hubspot_ingest

Reads HubSpot through the real `hubspot-api-client` (connection `hubspot`) into `raw_hubspot`.

1. **sync_object** (one mapped task per object, one at a time to share the rate limit): CRM
   search on the modified date from the `ops.sync_state` watermark to the run's
   `data_interval_end` (windows over 10,000 results are split), or a full listing on the first run
   or with the param `full_refresh`; archived records are listed too and kept, marked archived.
   Then the object's v4 associations. Each page is COPYed into `landing`, audited by Great
   Expectations (bad rows to `quarantine.rows`, a systemic failure fails the task and publishes
   nothing), merged on `id`, and the watermark moves, all in one transaction.
2. **sync_email_events**: `/email/public/v1/events` with offset paging, on its own watermark.
3. **report**: the run's batches from `ops.ingest_batches`; emits the Asset `raw_hubspot`.

Requests are paced from the `X-HubSpot-RateLimit-*` headers; 429, 5xx, timeouts and dropped
connections are retried with capped backoff; other 4xx fail with HubSpot's message. Rerunning an
interval adds nothing. Status by hand: `growthlab ingest status`.
"""


@dag(
    dag_id="hubspot_ingest",
    schedule="@hourly",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params={
        "full_refresh": Param(False, type="boolean", description="list every record instead of searching")
    },
    tags=["growthlab", "ingestion", "hubspot"],
    doc_md=DOC,
)
def hubspot_ingest():
    @task(max_active_tis_per_dagrun=1)
    def sync_object(name: str, params=None, run_id=None) -> dict:
        from growthlab.sources.hubspot import sync_object as sync

        result = sync(
            warehouse_url(),
            hubspot_client(),
            name,
            as_of=interval_end(get_current_context()),
            full_refresh=bool(params["full_refresh"]),
            run_id=run_id,
        )
        return {name: result.batch.counts.as_dict()} | {
            f"associations.{k}": b.counts.as_dict() for k, b in result.associations.items()
        }

    @task
    def sync_email_events(params=None, run_id=None) -> dict:
        from growthlab.sources.hubspot import sync_email_events as sync

        batch = sync(
            warehouse_url(),
            hubspot_client(),
            as_of=interval_end(get_current_context()),
            full_refresh=bool(params["full_refresh"]),
            run_id=run_id,
        )
        return batch.counts.as_dict()

    @task(outlets=[RAW_HUBSPOT])
    def report(run_id=None) -> list[dict]:
        from growthlab.sources.reporting import run_batches

        return run_batches(warehouse_url(), "hubspot", run_id)

    synced = sync_object.expand(name=OBJECTS)
    events = sync_email_events()
    synced >> events >> report()


hubspot_ingest()
