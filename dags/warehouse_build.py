"""warehouse_build: dbt staging -> marts through Cosmos, whenever a raw schema is updated."""

from __future__ import annotations

from airflow.sdk import Asset, dag, task
from cosmos import DbtTaskGroup
from growthlab_airflow.defaults import DEFAULT_ARGS, START_DATE
from growthlab_airflow.hooks import warehouse_url

from growthlab.transform.cosmos_build import DBT_DEFAULT_ARGS, run_watcher_producer_first, task_group_kwargs
from growthlab.transform.vars import AS_OF_DATE_TEMPLATE

MARTS = Asset("marts")

DOC = """
### warehouse_build

Builds the dbt project (`dbt_project/`) into `staging`, `intermediate` and `marts` whenever
ingestion updates `raw_hubspot`, `raw_linkedin` or `raw_sendgrid` (any of them).

* **dbt**: one task per model and seed (Cosmos `DbtTaskGroup`); each model's tests and unit tests
  run with it, so a failing test fails that model's task and its dependants are `upstream_failed`.
* **publish**: checks every mart exists, records the build in `ops.audit_log` and emits the
  `marts` Asset that lead scoring and campaigns are scheduled on. It never runs after a failure.

`lead_features` is built as of the run's date (`data_interval_end`, else the logical date; override
with the run conf `{"as_of_date": "YYYY-MM-DD"}`). Incremental models make a rerun cheap and
idempotent. Conventions and measurements: docs/architecture.md, "dbt".
"""


@dag(
    dag_id="warehouse_build",
    schedule=(Asset("raw_hubspot") | Asset("raw_linkedin") | Asset("raw_sendgrid")),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["growthlab", "dbt", "warehouse"],
    doc_md=DOC,
)
def warehouse_build():
    dbt = DbtTaskGroup(group_id="dbt", default_args=DBT_DEFAULT_ARGS, **task_group_kwargs())
    run_watcher_producer_first(dbt)

    @task(outlets=[MARTS])
    def publish(as_of_date: str, run_id=None) -> dict:
        from growthlab.transform.publish import record_build

        record = record_build(warehouse_url(), "warehouse_build.publish", as_of_date, run_id)
        return {"as_of_date": record.as_of_date, "rows": record.rows}

    dbt >> publish(as_of_date=AS_OF_DATE_TEMPLATE)


warehouse_build()
