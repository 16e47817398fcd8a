"""Daily warehouse maintenance: migrations, access rules, statistics."""

from __future__ import annotations

from airflow.sdk import dag, task
from growthlab_airflow.defaults import DEFAULT_ARGS, START_DATE
from growthlab_airflow.hooks import warehouse_url

DOC = """
### maintenance_warehouse

Keeps the warehouse in the shape the contract promises (docs/architecture.md):

1. **migrate**: applies pending SQL migrations (recorded in `ops.schema_migrations`, each once) and
   re-asserts the analyst grants: `marts` readable, `raw_*`, `ops`, `quarantine` not.
2. **check_access**: fails if the analyst role can read any private schema.
3. **analyze**: refreshes planner statistics of the contract schemas and records the run in
   `ops.audit_log`.

Idempotent: running it twice for the same day changes nothing the second time but the audit row.
"""


@dag(
    dag_id="maintenance_warehouse",
    schedule="@daily",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["growthlab", "maintenance", "warehouse"],
    doc_md=DOC,
)
def maintenance_warehouse():
    @task
    def migrate() -> int:
        from growthlab.warehouse.maintenance import migrate_and_grant

        return migrate_and_grant(warehouse_url())

    @task
    def check_access() -> None:
        from growthlab.warehouse.maintenance import assert_analyst_isolated

        assert_analyst_isolated(warehouse_url())

    @task
    def analyze(data_interval_end=None) -> None:
        from growthlab.warehouse.maintenance import analyze_and_audit

        analyze_and_audit(warehouse_url(), actor="maintenance_warehouse.analyze", as_of=data_interval_end)

    migrate() >> check_access() >> analyze()


maintenance_warehouse()
