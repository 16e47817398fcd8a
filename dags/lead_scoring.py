"""Scores every active contact whenever the marts are rebuilt; drift checks; HubSpot push."""

from __future__ import annotations

from airflow.sdk import Asset, dag, task
from growthlab_airflow.defaults import DEFAULT_ARGS, START_DATE
from growthlab_airflow.hooks import warehouse_url

DOC = """
### lead_scoring

Runs when `warehouse_build` updates the `marts` Asset (ml/score.py, docs/architecture.md).

1. **score**: loads `models:/lead_scoring@champion`, streams the contacts of the newest as-of date of
   `marts.lead_features` (at or before the run's date) with COPY in chunks, predicts probability,
   fit and engagement scores and grade, recomputes the top-3 reasons (TreeSHAP) only where the
   inputs or the model version changed, and merges into `ml.lead_scores` and
   `ml.lead_score_history`; PSI per feature and of the score vs training data goes to `ml.monitoring`.
   Skipped while no champion is registered.
2. **check_drift**: PSI above GROWTHLAB_ML_PSI_ALERT (0.25) raises one `ops.alerts` row and a warning.
3. **push_to_hubspot**: batch-updates (<= 100 per call) the HubSpot properties `growthlab_score`,
   `growthlab_grade`, `growthlab_reasons`, `growthlab_model_version` of the contacts whose values
   changed since the last push. Skipped when the `hubspot` connection has no token.

Idempotent: a second run on the same marts writes nothing and pushes nothing.
"""


@dag(
    dag_id="lead_scoring",
    schedule=[Asset("marts")],
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["growthlab", "ml", "lead_scoring"],
    doc_md=DOC,
)
def lead_scoring():
    @task
    def score(data_interval_end=None, logical_date=None) -> dict:
        from ml.airflow_tasks import score_task

        return score_task(warehouse_url(), data_interval_end or logical_date)

    @task
    def check_drift(scored: dict) -> list:
        from ml.airflow_tasks import drift_task

        return drift_task(warehouse_url(), scored)

    @task
    def push_to_hubspot(scored: dict) -> dict:
        from airflow.sdk import BaseHook

        from ml.airflow_tasks import push_task

        conn = BaseHook.get_connection("hubspot")
        return push_task(warehouse_url(), conn.host, conn.password)

    scored = score()
    check_drift(scored)
    push_to_hubspot(scored)


lead_scoring()
