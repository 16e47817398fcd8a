"""Email campaigns and follow-up sequences through SendGrid, hourly."""

from __future__ import annotations

from airflow.sdk import BaseHook, Param, dag, task
from growthlab_airflow.defaults import DEFAULT_ARGS, START_DATE
from growthlab_airflow.hooks import warehouse_url

DOC = """
### email_campaigns

Runs the campaigns defined in `campaigns/*.yaml` (docs/architecture.md, "Email campaigns"):

1. **load_campaigns**: validates every campaign file and template (a problem fails here with
   `file:line: reason`, before anything is planned or sent) and mirrors them into `ops.campaigns`.
2. **plan**: folds new SendGrid events and HubSpot replies into `ops.outbox` (opens, clicks,
   replies; unsubscribes, bounces and spam reports suppress), stops sequences after replies (also
   the colleagues' at the same company) and suppressions, enrols new contacts from the marts and
   `ml.lead_scores`, and schedules due follow-ups in each recipient's sending window.
3. **generate**: writes each planned email (template or LLM generator) with its unsubscribe link,
   List-Unsubscribe headers and postal address.
4. **send**: settles batches a crash left open, re-checks suppression and consent, and sends what is
   due before the next run through the `sendgrid` connection, exactly once (`ops.send_batches`).
5. **reconcile**: settles open batches from SendGrid's events and turns replies into HubSpot tasks
   for the owners. Runs even when sending failed; `watcher` then marks the run failed.

"Now" is the run's `data_interval_end`. Rerunning an interval sends nothing new.
Param `send_ahead_hours` (default 1, the schedule's cadence; at most 72) sets how far ahead mail is
handed to SendGrid with `send_at`; a daily run would use 24.
"""


def _credentials(conn_id: str) -> tuple[str | None, str | None]:
    conn = BaseHook.get_connection(conn_id)
    return conn.host, conn.password


@dag(
    dag_id="email_campaigns",
    schedule="@hourly",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["growthlab", "campaigns", "email", "sendgrid"],
    doc_md=DOC,
    params={"send_ahead_hours": Param(1.0, type="number", minimum=0, maximum=72)},
)
def email_campaigns():
    @task
    def load_campaigns() -> dict:
        from airflow.sdk.exceptions import AirflowFailException

        from growthlab.campaigns import pipeline
        from growthlab.campaigns.validation import CatalogError

        try:
            return pipeline.load_campaigns(warehouse_url(), "email_campaigns.load_campaigns")
        except CatalogError as exc:  # a broken file does not fix itself: fail now, no retries
            raise AirflowFailException(str(exc)) from None

    @task
    def plan(data_interval_end=None) -> dict:
        from growthlab.campaigns import pipeline

        return pipeline.plan(warehouse_url(), data_interval_end, "email_campaigns.plan")

    @task
    def generate(data_interval_end=None) -> dict:
        from growthlab.campaigns import pipeline
        from growthlab.config import get_settings

        return pipeline.generate(
            warehouse_url(), data_interval_end, "email_campaigns.generate", get_settings().home
        )

    @task
    def send(data_interval_end=None, params=None) -> dict:
        from datetime import timedelta

        from growthlab.campaigns import pipeline
        from growthlab.campaigns.sender import SendOptions

        client = pipeline.sendgrid_client(*_credentials("sendgrid"))
        options = SendOptions(ahead=timedelta(hours=float(params["send_ahead_hours"])))
        return pipeline.send(warehouse_url(), client, data_interval_end, "email_campaigns.send", options)

    @task(trigger_rule="all_done")
    def reconcile(data_interval_end=None) -> dict:
        from growthlab.campaigns import pipeline
        from growthlab.campaigns.followup import hubspot_client

        host, token = _credentials("hubspot")
        hubspot = hubspot_client(host, token) if token else None  # without a token replies wait in ops
        return pipeline.reconcile(warehouse_url(), data_interval_end, "email_campaigns.reconcile", hubspot)

    @task(trigger_rule="one_failed")
    def watcher() -> None:
        """Fails the run when any task failed (reconcile runs anyway and would otherwise make it green).

        AirflowFailException: no retries, whatever the defaults say.
        """
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException("a task of this run failed; see its log")

    steps = [load_campaigns(), plan(), generate(), send(), reconcile()]
    steps[0] >> steps[1] >> steps[2] >> steps[3] >> steps[4]
    steps >> watcher()


email_campaigns()
