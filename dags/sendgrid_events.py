"""sendgrid_events: signed Event Webhook batches from the receiver's spool into raw_sendgrid.events."""

from __future__ import annotations

from airflow.sdk import Asset, dag, get_current_context, task
from growthlab_airflow.defaults import DEFAULT_ARGS, START_DATE
from growthlab_airflow.hooks import warehouse_url
from growthlab_airflow.ingestion import interval_end

RAW_SENDGRID = Asset("raw_sendgrid")

DOC = """
### sendgrid_events

Every 15 minutes, loads what the webhook receiver (`growthlab receiver serve`) accepted: signed
SendGrid Event Webhook batches, stored durably in `raw_sendgrid.webhook_batches` before the
receiver answered 200.

**load_events** parses every pending batch, lands the events, audits them with Great Expectations
(event type, email, timestamps, `gl_contact_id` known), merges them into `raw_sendgrid.events`
deduplicated on `sg_event_id` (a redelivered event changes nothing) and marks the batches loaded,
in one transaction. Emits the Asset `raw_sendgrid` when events were loaded (skipped otherwise).
The custom args `gl_campaign`, `gl_step`, `gl_variant`, `gl_angle`, `gl_contact_id`,
`gl_outbox_id` become columns.
"""


@dag(
    dag_id="sendgrid_events",
    schedule="*/15 * * * *",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["growthlab", "ingestion", "sendgrid"],
    doc_md=DOC,
)
def sendgrid_events():
    @task(outlets=[RAW_SENDGRID])
    def load_events(run_id=None) -> dict:
        from airflow.sdk.exceptions import AirflowSkipException

        from growthlab.sources.sendgrid_events import load_spooled_events

        loaded = load_spooled_events(
            warehouse_url(), as_of=interval_end(get_current_context()), run_id=run_id
        )
        counts = loaded.batch.counts.as_dict()
        if loaded.spooled_batches == 0:
            raise AirflowSkipException("no webhook batch waiting")
        return {"webhook_batches": loaded.spooled_batches, **counts}

    load_events()


sendgrid_events()
