"""`growthlab demo`: the whole pipeline, run through Airflow, on the embedded default.

Every DAG runs with `dag.test()` (real DagRuns in the metadata database, visible in `make airflow`)
in dependency order. Airflow's own output goes to `.growthlab/logs/demo.log`; the terminal gets one
line per run and a summary of what the warehouse holds afterwards.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime

from growthlab.config import Settings, get_settings


def _say(message: str) -> None:
    print(message, flush=True)


def warehouse_summary(url: str) -> list[tuple[str, int]]:
    """(schema.table, rows) for every table of the contract schemas that has rows."""
    from psycopg import sql

    from growthlab.warehouse.db import connect

    rows = []
    with connect(url) as conn:
        tables = conn.execute(
            """
            select table_schema, table_name from information_schema.tables
            where table_type = 'BASE TABLE'
              and table_schema in ('raw_hubspot','raw_linkedin','raw_sendgrid','quarantine','marts','ml','ops')
            order by 1, 2
            """
        ).fetchall()
        for schema, table in tables:
            count = conn.execute(
                sql.SQL("select count(*) from {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
            ).fetchone()[0]
            if count:
                rows.append((f"{schema}.{table}", int(count)))
    return rows


def run_demo(settings: Settings) -> int:
    from growthlab import airflow_env
    from growthlab.airflow_runner import DagRunner, ensure_metadata_db
    from growthlab.warehouse.cli import up
    from growthlab.warehouse.db import resolve_urls

    started = time.monotonic()
    log_file = settings.home / "logs" / "demo.log"
    _say(up(settings))
    airflow_env.apply(settings)
    _say(f"Airflow metadata database: migrating (log: {log_file})")
    ensure_metadata_db(log_file)
    runner = DagRunner(settings.dags_folder, log_file)

    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    plan = [("maintenance_warehouse", today)]
    _say(f"running {len(plan)} DAG run(s) through Airflow (dag.test)")
    for dag_id, logical_date in plan:
        result = runner.run(dag_id, logical_date)
        _say(f"  {result.dag_id:<28} {logical_date:%Y-%m-%d %H:%M}  {result.state:<8} {result.seconds:6.1f}s")

    urls = resolve_urls(settings)
    _say("\nwarehouse tables with rows:")
    for name, count in warehouse_summary(urls.warehouse):
        _say(f"  {name:<45} {count:>10,}")
    _say(
        f"\ndemo finished in {time.monotonic() - started:.0f}s. Look around:\n"
        f'  psql "$(growthlab warehouse url)"      the warehouse (analysts: --role analyst)\n'
        f"  make airflow                           the Airflow UI on http://localhost:8080 with these runs\n"
        f"  make mlflow                            the MLflow UI\n"
        f"  {log_file}   Airflow's task logs of this demo"
    )
    return 0


def _cmd(args: argparse.Namespace) -> int:
    return run_demo(get_settings())


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("demo", help="run the whole pipeline through Airflow on the embedded stack")
    p.set_defaults(func=_cmd)


if __name__ == "__main__":
    sys.exit(run_demo(get_settings()))
